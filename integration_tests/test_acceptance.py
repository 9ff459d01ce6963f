"""Airbyte's standard connector tests, driven by acceptance-test-config.yml, against the simulator.

`TestSourceAvidtrak` is the CDK's `SourceTestSuiteBase`: spec, check (valid and wrong pin),
discover, basic read (records validate against the schemas, strictness `high`), full refresh,
and the Docker image tests (marker `image_tests`, which need `--connector-image`). Each
scenario reads its config (integration_tests/configs/) as the `acceptance_simulator`
fixture rewrote it for the session: aimed at a simulator on a port the system picked, so
test processes run side by side (pytest-xdist) and need no manual step.

The CDK does not run the `incremental` section; `TestIncrementalSection` runs it here, as the
Connector Acceptance Tests did: two sequential reads, and a read from a future state.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Mapping

import pytest
import yaml
from airbyte_cdk.models import (
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    ConfiguredAirbyteCatalogSerializer,
    Type,
)
from airbyte_cdk.test import entrypoint_wrapper
from airbyte_cdk.test.models import ConnectorTestScenario
from airbyte_cdk.test.standard_tests import SourceTestSuiteBase

from integration_tests.conftest import scenario_config, scenario_config_dir
from source_avidtrak.source import SourceAvidtrak

CONNECTOR_ROOT = Path(__file__).resolve().parent.parent
ACCEPTANCE_TEST_CONFIG = CONNECTOR_ROOT / "acceptance-test-config.yml"
CURSOR_FIELD = "call_date"

pytestmark = pytest.mark.usefixtures("acceptance_simulator")


class TestSourceAvidtrak(SourceTestSuiteBase):
    """The CDK's standard source tests; scenarios come from acceptance-test-config.yml."""

    connector = SourceAvidtrak
    connector_name = "source-avidtrak"

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return CONNECTOR_ROOT

    @classmethod
    def get_scenarios(cls) -> List[ConnectorTestScenario]:
        """acceptance-test-config.yml's scenarios, each reading its config from the session's copy."""
        return [
            scenario.model_copy(update={"config_path": scenario_config_dir() / scenario.config_path.name})
            if scenario.config_path is not None
            else scenario
            for scenario in super().get_scenarios()
        ]


def incremental_entries() -> List[Dict[str, Any]]:
    config = yaml.safe_load(ACCEPTANCE_TEST_CONFIG.read_text())
    return config["acceptance_tests"]["incremental"]["tests"]


def load_json(relative_path: str) -> Any:
    return json.loads((CONNECTOR_ROOT / relative_path).read_text())


def read(
    entry: Mapping[str, Any], state: List[AirbyteStateMessage] | None = None
) -> entrypoint_wrapper.EntrypointOutput:
    catalog = ConfiguredAirbyteCatalogSerializer.load(load_json(entry["configured_catalog_path"]))
    config = scenario_config(Path(entry["config_path"]).name)
    output = entrypoint_wrapper.read(SourceAvidtrak(), config, catalog, state)
    assert not output.errors, output.get_formatted_error_message()
    return output


def final_states(output: entrypoint_wrapper.EntrypointOutput) -> Dict[str, AirbyteStateMessage]:
    """Each stream's last STATE message: the state the platform would store."""
    return {message.stream.stream_descriptor.name: message for message in (m.state for m in output.state_messages)}


def cursors_of(state: AirbyteStateMessage) -> Dict[str | None, datetime]:
    """Account -> cursor of a per-account state; {None: cursor} for the single-account form."""
    value = state.stream.stream_state.__dict__
    if "states" not in value:
        return {None: datetime.fromisoformat(value[CURSOR_FIELD])}
    return {
        entry["partition"]["account"]: datetime.fromisoformat(entry["cursor"][CURSOR_FIELD])
        for entry in value["states"]
    }


@pytest.mark.parametrize("entry", incremental_entries(), ids=lambda entry: Path(entry["config_path"]).stem)
class TestIncrementalSection:
    def test_given_state_of_a_read_when_read_again_then_records_are_no_older_than_threshold(self, entry) -> None:
        first = read(entry)
        states = final_states(first)
        assert set(states) == {
            stream["stream"]["name"] for stream in load_json(entry["configured_catalog_path"])["streams"]
        }
        assert first.records, "the first read must return records, or the second proves nothing"

        second = read(entry, list(states.values()))

        threshold = timedelta(days=entry["threshold_days"])
        for record in (message.record for message in second.records):
            floor = cursors_of(states[record.stream])[record.data["account"]] - threshold
            assert datetime.fromisoformat(record.data[CURSOR_FIELD]).date() >= floor.date(), record
        assert len(second.records) < len(first.records), "the second read must not start over"

    def test_given_future_state_when_read_then_no_records_and_state_not_moved_back(self, entry) -> None:
        future = [
            AirbyteStateMessageSerializer.load(message)
            for message in load_json(entry["future_state"]["future_state_path"])
        ]

        output = read(entry, future)

        assert output.records == []
        given = {message.stream.stream_descriptor.name: cursors_of(message) for message in future}
        states = final_states(output)
        assert set(states) == set(given), "every stream must still emit its state"
        for stream, state in states.items():
            final = cursors_of(state)
            for account, cursor in given[stream].items():
                # The single-account form (account None) is the main account's cursor.
                moved_to = min(final.values()) if account is None else final[account]
                assert moved_to >= cursor, f"{stream}: state of {account} moved back to {moved_to}"
        assert [m for m in output.get_message_by_types([Type.TRACE]) if m.trace.error is not None] == []

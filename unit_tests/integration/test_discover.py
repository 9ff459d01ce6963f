"""discover over the real entrypoint: only the selected reports, each keyed by (account, call_id), cursor call_date."""

import json
from pathlib import Path

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover
from airbyte_cdk.test.models.outcome import ExpectedOutcome

import source_avidtrak
from unit_tests.integration.config_builder import GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS, ConfigBuilder
from unit_tests.integration.harness import error_traces, source

SCHEMAS = Path(source_avidtrak.__file__).parent / "schemas"


def streams(output):
    return {stream.name: stream for stream in output.catalog.catalog.streams}


@pytest.mark.parametrize(
    "builder, expected",
    [
        (ConfigBuilder(), {GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS}),
        (ConfigBuilder().with_reports(GEOGRAPHICAL_DATA), {GEOGRAPHICAL_DATA}),
        (ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS), {OFFLINE_PORTAL_CALLS}),
    ],
)
def test_given_selected_reports_when_discover_then_only_those_streams_without_requests(builder, expected, http_mocker):
    output = discover(source(), builder.build())

    assert set(streams(output)) == expected


@pytest.mark.parametrize("report", [GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS])
def test_given_report_when_discover_then_account_and_call_id_key_call_date_cursor_and_file_schema(report, http_mocker):
    stream = streams(discover(source(), ConfigBuilder().with_reports(report).build()))[report]

    # The same key with or without client accounts: adding a client later does not change it.
    assert stream.source_defined_primary_key == [["account"], ["call_id"]]
    assert stream.default_cursor_field == ["call_date"]
    assert stream.source_defined_cursor is True
    assert set(stream.supported_sync_modes) == {SyncMode.full_refresh, SyncMode.incremental}
    schema = json.loads((SCHEMAS / f"{report}.json").read_text(encoding="utf-8"))
    assert stream.json_schema["properties"] == schema["properties"]


def test_given_config_error_when_discover_then_config_error_trace(http_mocker):
    output = discover(
        source(),
        ConfigBuilder().with_base_url("http://avidtrak.com").build(),
        expected_outcome=ExpectedOutcome.EXPECT_EXCEPTION,
    )

    errors = error_traces(output)
    assert [error.failure_type.value for error in errors] == ["config_error"]
    assert "The Base URL must use https://" in errors[0].message

"""Runs the real connector entrypoint against HttpMocker with a frozen clock and fast retries."""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer, ConfiguredAirbyteCatalog, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, make_file, read
from airbyte_cdk.test.models.outcome import ExpectedOutcome
from airbyte_cdk.test.state_builder import StateBuilder

from source_avidtrak import SourceAvidtrak
from source_avidtrak.errors import RetryPolicy
from unit_tests.cdk_test_kit import run_check as cdk_run_check
from unit_tests.skipping_time import SkippingTime

FROZEN_NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)  # today is 2026-11-26 in UTC
# Production's waits (no sleep is real: conftest patches the CDK's, SkippingTime skips the budget's),
# with fewer retries so that a failing case needs fewer mocked answers.
FAST_RETRY = RetryPolicy(max_retries=2, connect_timeout_seconds=5, read_timeout_seconds=5)


def frozen_clock(now: datetime = FROZEN_NOW):
    return lambda: now


def source(now: datetime = FROZEN_NOW) -> SourceAvidtrak:
    return SourceAvidtrak(clock=frozen_clock(now), retry_policy=FAST_RETRY, timing=SkippingTime().timing())


def catalog(*streams: str, sync_mode: SyncMode = SyncMode.full_refresh) -> ConfiguredAirbyteCatalog:
    builder = CatalogBuilder()
    for name in streams:
        builder.with_stream(
            ConfiguredAirbyteStreamBuilder()
            .with_name(name)
            .with_sync_mode(sync_mode)
            .with_primary_key([["account"], ["call_id"]])
        )
    return builder.build()


def run_read(
    config: Mapping[str, Any],
    *streams: str,
    sync_mode: SyncMode = SyncMode.full_refresh,
    state: Optional[Dict[str, Mapping[str, Any]]] = None,
    expect_failure: bool = False,
    now: datetime = FROZEN_NOW,
) -> EntrypointOutput:
    state_messages = None
    if state is not None:
        builder = StateBuilder()
        for name, value in state.items():
            builder.with_stream_state(name, value)
        state_messages = builder.build()
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    configured = catalog(*streams, sync_mode=sync_mode)
    return read(source(now), dict(config), configured, state_messages, expected_outcome=outcome)


def run_check(config: Mapping[str, Any], now: datetime = FROZEN_NOW) -> EntrypointOutput:
    """`check` through the real entrypoint (this CDK's entrypoint_wrapper has no public check())."""
    with tempfile.TemporaryDirectory() as folder:
        config_path = make_file(Path(folder) / "config.json", dict(config))
        return cdk_run_check(source(now), config_path)


def record_data(output: EntrypointOutput, stream: Optional[str] = None) -> List[Dict[str, Any]]:
    return [message.record.data for message in output.records if stream is None or message.record.stream == stream]


def raw_states(output: EntrypointOutput, stream: str) -> List[Dict[str, Any]]:
    """Each STATE of `stream` as emitted: `{"states": [{"partition": ..., "cursor": ...}, ...]}`."""
    return [
        message.state.stream.stream_state.__dict__
        for message in output.state_messages
        if message.state.stream.stream_descriptor.name == stream
    ]


def state_values(output: EntrypointOutput, stream: str, account: str = "main") -> List[Dict[str, Any]]:
    """Each STATE's cursor for `account` ({} where it has none yet)."""
    values = []
    for state in raw_states(output, stream):
        cursors = [entry["cursor"] for entry in state["states"] if entry["partition"] == {"account": account}]
        assert len(cursors) <= 1, state
        values.append(cursors[0] if cursors else {})
    return values


def error_traces(output: EntrypointOutput) -> List[Any]:
    return [message.trace.error for message in output.errors]


def log_lines(output: EntrypointOutput) -> List[str]:
    return [message.log.message for message in output.logs]


def serialized(messages: List[AirbyteMessage]) -> str:
    return "\n".join(json.dumps(AirbyteMessageSerializer.dump(message)) for message in messages)

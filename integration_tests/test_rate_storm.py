"""AvidTrak's 429s, read in-process from the simulator with time running SCALE times faster.

The rate budget's clock and sleep (sync.Timing) and the CDK's retry sleeps run on a clock
SCALE times faster than the wall, so a Retry-After of 1 s costs 1/SCALE s here and the
figures below are in AvidTrak's seconds. The policy itself is proven on a fake clock in
unit_tests/test_rate_budget.py; these prove the wiring with real HTTP and real threads.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Dict, Tuple

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read
from airbyte_cdk.test.models.outcome import ExpectedOutcome

from integration_tests.conftest import STREAMS, make_config, specific_range
from integration_tests.simulator import AvidTrakSimulator, Fault
from source_avidtrak import SourceAvidtrak
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.sync import Timing
from unit_tests.cdk_test_kit import patch_retry_sleeps

SCALE = 20.0
FIRST, LAST = dt.date(2024, 5, 1), dt.date(2024, 5, 30)
WORKERS = 10


class FastTime:
    """Time SCALE times faster: for the budget (monotonic, sleep) and the CDK's `time.sleep`."""

    @staticmethod
    def monotonic() -> float:
        return time.monotonic() * SCALE

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(max(seconds, 0.0) / SCALE)


@pytest.fixture
def fast_time(monkeypatch: pytest.MonkeyPatch) -> FastTime:
    patch_retry_sleeps(monkeypatch, FastTime())
    return FastTime()


def read_all(simulator: AvidTrakSimulator, expect_failure: bool = False) -> Tuple[EntrypointOutput, float]:
    """A full-refresh read of both reports; (output, wall in AvidTrak's seconds)."""
    catalog = CatalogBuilder()
    for name in STREAMS:
        catalog.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(SyncMode.full_refresh))
    config: Dict[str, Any] = make_config(simulator.base_url, specific_range(FIRST, LAST), num_workers=WORKERS)
    source = SourceAvidtrak(retry_policy=RetryPolicy(), timing=Timing(FastTime.monotonic, FastTime.sleep))
    outcome = ExpectedOutcome.EXPECT_EXCEPTION if expect_failure else ExpectedOutcome.EXPECT_SUCCESS
    started = time.monotonic()
    output = read(source, config, catalog.build(), expected_outcome=outcome)
    return output, (time.monotonic() - started) * SCALE


def expected_records(simulator: AvidTrakSimulator) -> int:
    return sum(len(simulator.rows(stream, FIRST, LAST)) for stream in STREAMS)


def test_given_a_storm_of_429s_at_the_start_when_ten_workers_read_then_every_record_within_30_s_more(fast_time):
    with AvidTrakSimulator(calls_per_day=30, empty_day_ratio=0) as quiet:
        quiet_output, quiet_wall = read_all(quiet)
    with AvidTrakSimulator(calls_per_day=30, empty_day_ratio=0) as stormy:
        stormy.add_fault(Fault("rate_limit", times=30, retry_after="1"))
        output, wall = read_all(stormy)

        assert len(output.records) == expected_records(stormy) == len(quiet_output.records)
        assert output.errors == []
        assert sum(1 for entry in stormy.requests if entry["fault"] == "rate_limit") == 30
    assert wall - quiet_wall <= 30, (wall, quiet_wall)


def test_given_retry_after_of_a_day_when_read_then_one_transient_error_at_once_saying_so(fast_time):
    with AvidTrakSimulator(calls_per_day=30, empty_day_ratio=0) as simulator:
        simulator.add_fault(Fault("rate_limit", times=None, retry_after="86400"))
        output, wall = read_all(simulator, expect_failure=True)

    assert output.records == []
    errors = [message.trace.error for message in output.errors]
    assert len(errors) == 1 and errors[0].failure_type.value == "transient_error"
    assert "86400 s" in errors[0].message and "resumes from the saved state" in errors[0].message
    assert wall < RetryPolicy().cap_seconds, wall  # stopped at once, not after a retry cap of waiting


@pytest.mark.parametrize("workers, window_days", [(1, 1), (2, 1), (3, None)])
def test_given_number_of_workers_when_read_then_never_more_requests_at_once(workers, window_days):
    """The worker slots (cursor.py), not the CDK's pool, bound the sync: the pool has a thread
    per partition generator on top of the workers."""
    with AvidTrakSimulator(calls_per_day=30, empty_day_ratio=0, latency_s=0.02) as simulator:
        catalog = CatalogBuilder()
        for name in STREAMS:
            catalog.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(SyncMode.incremental))
        config = make_config(simulator.base_url, specific_range(FIRST, LAST), num_workers=workers)
        if window_days:
            config["window_days"] = window_days
        output = read(SourceAvidtrak(), config, catalog.build())

        assert len(output.records) == expected_records(simulator) and output.errors == []
        assert simulator.max_in_flight <= workers
        if window_days:  # 60 windows of a page each: every worker busy at some point
            assert simulator.max_in_flight == workers

"""Issue 18's targets against the simulator, in-process: requests near AvidTrak's paging floor,
a daily sync of one request per account and report, every worker busy for one big account,
and STATE that stays small. Times are the bench's (bench/agency.py); these prove the counts.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any, Dict, List, Optional, Tuple

import pytest
from airbyte_cdk.models import AirbyteStateMessage, SyncMode
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, read

from integration_tests.conftest import PIN, STREAMS
from integration_tests.simulator import AvidTrakSimulator
from source_avidtrak import SourceAvidtrak

TODAY = date(2026, 6, 30)
BACKFILL_DAYS, CALLS_PER_DAY, ACCOUNTS, WORKERS = 180, 10, 20, 10
PAGE = 500


def at(day: date):
    return lambda: datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def clients(count: int) -> Dict[str, str]:
    return {f"client-{number:02d}": f"client-pin-{number:02d}" for number in range(1, count)}


def config(simulator: AvidTrakSimulator, days_back: int, **extra: Any) -> Dict[str, Any]:
    return {
        "pin_code": PIN,
        "base_url": simulator.base_url,
        "client_accounts": [{"name": name, "pin_code": pin} for name, pin in simulator_clients(simulator).items()],
        "num_workers": WORKERS,
        "duration": {
            "mode": "date_range",
            "date_from": {"mode": "relative", "date_from_offset": days_back},
            "date_to": {"mode": "relative", "date_to_offset": 1},
        },
        **extra,
    }


def simulator_clients(simulator: AvidTrakSimulator) -> Dict[str, str]:
    return {label: next(iter(account.pins)) for label, account in simulator.clients.items()}


def incremental_read(
    simulator: AvidTrakSimulator,
    settings: Dict[str, Any],
    today: date,
    state: Optional[List[AirbyteStateMessage]] = None,
) -> EntrypointOutput:
    catalog = CatalogBuilder()
    for name in STREAMS:
        catalog.with_stream(ConfiguredAirbyteStreamBuilder().with_name(name).with_sync_mode(SyncMode.incremental))
    return read(SourceAvidtrak(clock=at(today)), settings, catalog.build(), state)


def expected_keys(simulator: AvidTrakSimulator, first: date, last: date) -> Dict[str, List[Tuple[str, str]]]:
    keys: Dict[str, List[Tuple[str, str]]] = {}
    for stream in STREAMS:
        keys[stream] = [("main", row["call_id"]) for row in simulator.rows(stream, first, last)]
        for label in simulator.clients:
            keys[stream] += [(label, row["call_id"]) for row in simulator.rows(stream, first, last, client=label)]
    return keys


def emitted_keys(output: EntrypointOutput) -> Dict[str, List[Tuple[str, str]]]:
    keys: Dict[str, List[Tuple[str, str]]] = {stream: [] for stream in STREAMS}
    for message in output.records:
        keys[message.record.stream].append((message.record.data["account"], message.record.data["call_id"]))
    return keys


def paging_floor(simulator: AvidTrakSimulator, first: date, last: date) -> int:
    """The fewest requests AvidTrak's paging allows: per account and report, ceil(rows / page)."""
    accounts: List[Optional[str]] = [None, *simulator.clients]
    return sum(
        max(1, math.ceil(len(simulator.rows(stream, first, last, client=label)) / PAGE))
        for stream in STREAMS
        for label in accounts
    )


@pytest.fixture(scope="module")
def agency():
    with AvidTrakSimulator(calls_per_day=CALLS_PER_DAY, empty_day_ratio=0, clients=clients(ACCOUNTS)) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def backfill(agency) -> EntrypointOutput:
    before = agency.stats["requests"]
    output = incremental_read(agency, config(agency, BACKFILL_DAYS), TODAY)
    output.requests = agency.stats["requests"] - before  # type: ignore[attr-defined]
    return output


def test_given_a_backfill_of_twenty_small_accounts_then_within_twice_the_paging_floor_every_record_once(
    agency, backfill
):
    first, last = TODAY - timedelta(days=BACKFILL_DAYS), TODAY - timedelta(days=1)

    assert backfill.errors == []
    emitted = emitted_keys(backfill)
    for stream, keys in expected_keys(agency, first, last).items():
        assert len(emitted[stream]) == len(set(emitted[stream])), f"{stream}: a record twice"
        assert set(emitted[stream]) == set(keys), stream
    floor = paging_floor(agency, first, last)
    assert backfill.requests <= 2 * floor, (backfill.requests, floor)  # type: ignore[attr-defined]


def test_given_the_backfill_then_state_is_two_small_messages_with_every_accounts_cursor(backfill):
    states = backfill.state_messages

    assert len(states) == len(STREAMS)  # the reads end within STATE_INTERVAL_SECONDS: one at each stream's end
    for message in states:
        entries = message.state.stream.stream_state.__dict__["states"]
        assert len(entries) == ACCOUNTS
        assert {entry["cursor"]["call_date"] for entry in entries} == {f"{TODAY - timedelta(days=1)}T23:59:59"}


def test_given_the_backfills_state_when_the_next_days_sync_then_one_request_per_account_and_report(agency, backfill):
    before = agency.stats["requests"]

    output = incremental_read(
        agency,
        config(agency, BACKFILL_DAYS, lookback_days=1),
        TODAY + timedelta(days=1),
        [message.state for message in backfill.state_messages],
    )

    assert output.errors == []
    assert agency.stats["requests"] - before == ACCOUNTS * len(STREAMS)
    # The cursor is the end of TODAY - 1; one day of lookback starts the day before it.
    yesterday, first = TODAY, TODAY - timedelta(days=2)
    for stream, keys in expected_keys(agency, first, yesterday).items():
        assert set(emitted_keys(output)[stream]) == set(keys), stream


def test_given_one_big_account_and_ten_workers_then_every_worker_reads_and_requests_stay_within_twice_the_floor():
    # 100 ms a response: the workers wait on AvidTrak, not on the CPU, as against a real server.
    with AvidTrakSimulator(calls_per_day=600, empty_day_ratio=0, latency_s=0.1) as simulator:
        settings = config(simulator, 30)
        output = incremental_read(simulator, settings, TODAY)

        first, last = TODAY - timedelta(days=30), TODAY - timedelta(days=1)
        assert output.errors == [] and len(output.records) == sum(
            len(k) for k in expected_keys(simulator, first, last).values()
        )
        assert simulator.max_in_flight == WORKERS  # no parallelism lost to larger windows
        # Split to keep ten workers busy, at the cost of some partly filled pages (Window Days 1: 120).
        assert simulator.stats["requests"] <= 2 * paging_floor(simulator, first, last)

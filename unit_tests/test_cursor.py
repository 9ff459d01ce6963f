"""cursor.py: the slicer that sizes windows from the data, the cursor that only moves over an
account's windows finished in order, the worker slots, and STATE at most once a minute.

`drive` plays a read without HTTP: it takes each slice the cursor hands out, "reads" the
rows a synthetic account has in that window, and closes it, counting requests as AvidTrak's
paging would (one per page of 500, at least one per window).
"""

from __future__ import annotations

import math
import threading
from datetime import date, timedelta
from typing import Any, Callable, Dict, List, Mapping, Optional

import pytest
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository

from source_avidtrak.account_state import SavedState
from source_avidtrak.components import DatetimeWindow, Window
from source_avidtrak.config import Account, parse_settings
from source_avidtrak.cursor import STATE_INTERVAL_SECONDS, AccountCursor, WorkerSlots
from source_avidtrak.failures import Failures
from unit_tests.integration.config_builder import ConfigBuilder

TODAY = date(2026, 11, 26)
ACCOUNT_C7 = Account("c-7", "pin-7")
PAGE = 500


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Closed:
    def __init__(self, stream_slice: Mapping[str, Any]) -> None:
        self._slice = stream_slice

    def to_slice(self) -> Mapping[str, Any]:
        return self._slice


def entry(account: str, call_date: str) -> dict:
    return {"partition": {"account": account}, "cursor": {"call_date": call_date}}


def make_cursor(
    builder: ConfigBuilder,
    accounts: List[str],
    cursors: Optional[Dict[str, Dict[str, str]]] = None,
    incremental: bool = True,
    workers: int = 10,
    slots: Optional[WorkerSlots] = None,
    failures: Optional[Failures] = None,
    clock: Optional[Clock] = None,
) -> tuple:
    settings = parse_settings(builder.with_num_workers(workers).build())
    repository = InMemoryMessageRepository()
    saved = SavedState({name: (cursors or {}).get(name, {}) for name in accounts}, [], []) if incremental else None
    cursor = AccountCursor(
        "offline_portal_calls",
        DatetimeWindow(settings),
        TODAY,
        accounts,
        saved,
        slots or WorkerSlots(workers),
        failures or Failures(),
        ConnectorStateManager(),
        repository,
        clock or Clock(),
    )
    return cursor, repository


def emitted(repository: InMemoryMessageRepository) -> list:
    return [message.state.stream.stream_state.__dict__ for message in repository.consume_queue()]


def drive(cursor: AccountCursor, rows_per_day: Callable[[str, date], int]) -> Dict[str, int]:
    """Reads every slice, in the order handed out; returns requests per account."""
    requests: Dict[str, int] = {}
    for stream_slice in cursor.stream_slices():
        window = Window.from_slice(stream_slice)
        account = stream_slice["account"]
        rows = sum(rows_per_day(account, window.first_day + timedelta(days=n)) for n in range(window.days))
        pages = max(1, math.ceil(rows / PAGE)) if rows % PAGE else rows // PAGE + 1
        for page in range(pages):
            cursor.count_rows(stream_slice, min(PAGE, rows - page * PAGE))
        cursor.close_partition(Closed(stream_slice))
        requests[account] = requests.get(account, 0) + pages
    return requests


def floor(rows: int) -> int:
    return math.ceil(rows / PAGE)


def test_given_a_backfill_of_twenty_small_accounts_then_requests_within_twice_the_paging_floor():
    accounts = [f"a{n}" for n in range(20)]
    first = TODAY - timedelta(days=180)
    cursor, _ = make_cursor(ConfigBuilder().with_date_range(first.isoformat(), "2026-11-25"), accounts)

    requests = drive(cursor, lambda account, day: 10)

    paging_floor = 20 * floor(180 * 10)
    assert sum(requests.values()) <= 2 * paging_floor, (sum(requests.values()), paging_floor)
    assert state_days_covered(cursor) == dict.fromkeys(accounts, "2026-11-25T23:59:59")


def test_given_a_daily_sync_with_a_day_of_lookback_then_one_request_per_account():
    accounts = [f"a{n}" for n in range(20)]
    yesterday = "2026-11-24T23:59:59"
    cursor, _ = make_cursor(
        ConfigBuilder().with_date_range("2026-06-01", "2026-11-25").with_lookback_days(1),
        accounts,
        {name: {"call_date": yesterday} for name in accounts},
    )

    requests = drive(cursor, lambda account, day: 10)

    assert requests == dict.fromkeys(accounts, 1)


def test_given_one_big_account_and_ten_workers_then_its_range_is_split_to_keep_every_worker_busy():
    cursor, _ = make_cursor(ConfigBuilder().with_date_range("2026-10-27", "2026-11-25"), ["main"])

    first_ten = [Window.from_slice(s) for _, s in zip(range(10), cursor.stream_slices(), strict=False)]

    assert len(first_ten) == 10 and all(window.days <= 3 for window in first_ten)


def test_given_dense_data_then_windows_shrink_to_about_the_target_pages():
    cursor, _ = make_cursor(ConfigBuilder().with_date_range("2026-08-01", "2026-11-25"), ["main"], workers=1)
    sizes: List[int] = []
    for stream_slice in cursor.stream_slices():
        window = Window.from_slice(stream_slice)
        sizes.append(window.days)
        cursor.count_rows(stream_slice, 2000 * window.days)
        cursor.close_partition(Closed(stream_slice))

    assert sizes[0] == 7  # a probe: nothing is known yet
    assert set(sizes[1:]) == {1}  # 2,000 rows a day fill the 4 target pages in one day


def test_given_an_account_quiet_at_first_then_windows_grow_at_most_fourfold():
    cursor, _ = make_cursor(ConfigBuilder().with_date_range("2025-11-26", "2026-11-25"), ["main"], workers=1)

    sizes = []
    for stream_slice in cursor.stream_slices():
        sizes.append(Window.from_slice(stream_slice).days)
        cursor.close_partition(Closed(stream_slice))  # no rows at all

    assert sizes[:4] == [7, 28, 112, 218]


def test_given_window_days_then_fixed_windows_round_robin_over_the_accounts():
    cursor, _ = make_cursor(
        ConfigBuilder().with_date_range("2026-11-20", "2026-11-22").with_window_days(1),
        ["main", "c-7", "c-8"],
        {"c-7": {"call_date": "2026-11-22T10:00:00"}},
    )

    slices = list(cursor.stream_slices())

    # c-7 resumes at its cursor's day minus one day of lookback (11-21). Round robin: no
    # account waits for another to finish.
    assert [(s["account"], s["start"][:10]) for s in slices] == [
        ("main", "2026-11-20"),
        ("c-7", "2026-11-21"),
        ("c-8", "2026-11-20"),
        ("main", "2026-11-21"),
        ("c-7", "2026-11-22"),
        ("c-8", "2026-11-21"),
        ("main", "2026-11-22"),
        ("c-8", "2026-11-22"),
    ]


def state_days_covered(cursor: AccountCursor) -> Dict[str, str]:
    return {entry["partition"]["account"]: entry["cursor"]["call_date"] for entry in cursor.state["states"]}


def test_given_windows_closing_out_of_order_then_each_cursor_moves_only_over_its_contiguous_windows():
    clock = Clock()
    cursor, repository = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-03").with_window_days(1),
        ["agency", "c-7"],
        {"c-7": {"call_date": "2026-10-31T23:59:59"}},
        clock=clock,
    )
    slices = {(s["account"], s["start"][:10]): s for s in cursor.stream_slices()}

    clock.now += STATE_INTERVAL_SECONDS
    cursor.close_partition(Closed(slices[("agency", "2026-11-02")]))  # ahead of 11-01: nothing moves
    assert emitted(repository) == []
    cursor.close_partition(Closed(slices[("agency", "2026-11-01")]))  # 11-01 and 11-02 are done

    assert emitted(repository) == [
        {"states": [entry("agency", "2026-11-02T23:59:59"), entry("c-7", "2026-10-31T23:59:59")]}
    ]


def test_given_a_window_that_failed_then_no_cursor_ever_passes_it():
    cursor, _ = make_cursor(ConfigBuilder().with_date_range("2026-11-01", "2026-11-03").with_window_days(1), ["main"])
    first, second, third = list(cursor.stream_slices())

    cursor.close_partition(Closed(first))
    cursor.abandon(second)
    cursor.close_partition(Closed(third))

    assert state_days_covered(cursor) == {"main": "2026-11-01T23:59:59"}


def test_given_the_lookback_window_completes_then_the_cursor_never_moves_below_the_saved_one():
    cursor, repository = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-25").with_window_days(1).with_lookback_days(1),
        ["agency"],
        {"agency": {"call_date": "2026-11-24T08:00:00"}},
    )
    first = next(iter(cursor.stream_slices()))
    assert first["start"] == "2026-11-23T00:00:00"

    cursor.close_partition(Closed(first))
    cursor.ensure_at_least_one_state_emitted()

    assert emitted(repository) == [{"states": [entry("agency", "2026-11-24T08:00:00")]}]


def test_given_windows_closing_fast_then_state_at_most_once_an_interval_plus_the_last_at_the_end():
    clock = Clock()
    cursor, repository = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-20").with_window_days(1), ["main"], clock=clock
    )

    for stream_slice in cursor.stream_slices():
        clock.now += STATE_INTERVAL_SECONDS / 4
        cursor.close_partition(Closed(stream_slice))
    cursor.ensure_at_least_one_state_emitted()

    states = [state["states"][0]["cursor"]["call_date"][:10] for state in emitted(repository)]
    # 20 windows over 5 intervals: one STATE each interval, then the final one.
    assert states == ["2026-11-04", "2026-11-08", "2026-11-12", "2026-11-16", "2026-11-20", "2026-11-20"]


def test_given_full_refresh_then_no_cursor_state_only_the_cdks_final_marker():
    cursor, repository = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-02"), ["main"], incremental=False
    )
    for stream_slice in cursor.stream_slices():
        cursor.close_partition(Closed(stream_slice))
    cursor.ensure_at_least_one_state_emitted()

    assert emitted(repository) == [{"__ab_no_cursor_state_message": True}]


def test_given_an_account_stops_then_no_new_window_of_it_is_handed_out():
    failures = Failures()
    cursor, _ = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-05").with_window_days(1),
        ["main", "c-7"],
        failures=failures,
    )
    handed: List[str] = []
    for stream_slice in cursor.stream_slices():
        handed.append(stream_slice["account"])
        if len(handed) == 2:
            failures.window_failed(ACCOUNT_C7, RuntimeError("boom"), "")

    assert handed.count("c-7") == 1 and handed.count("main") == 5


def test_given_every_slot_taken_then_the_slicer_waits_for_a_window_to_finish_and_close_frees_it():
    slots = WorkerSlots(2)
    cursor, _ = make_cursor(
        ConfigBuilder().with_date_range("2026-11-01", "2026-11-05").with_window_days(1), ["main"], slots=slots
    )
    handed: List[Any] = []
    slicing = threading.Thread(target=lambda: handed.extend(cursor.stream_slices()), daemon=True)
    slicing.start()
    slicing.join(0.2)
    assert len(handed) == 2 and slicing.is_alive()  # waiting for a slot

    cursor.close_partition(Closed(handed[0]))
    slicing.join(0.2)
    assert len(handed) == 3

    slots.close()  # the read ended: the waiting slicer returns
    slicing.join(5)
    assert not slicing.is_alive() and len(handed) == 3


@pytest.mark.parametrize("workers", [1, 3, 10])
def test_given_any_workers_when_a_year_is_read_then_every_day_exactly_once_in_order_per_account(workers):
    cursor, _ = make_cursor(
        ConfigBuilder().with_date_range("2025-11-26", "2026-11-25"), ["main", "c-7"], workers=workers
    )
    days: Dict[str, List[date]] = {"main": [], "c-7": []}
    for stream_slice in cursor.stream_slices():
        window = Window.from_slice(stream_slice)
        days[stream_slice["account"]] += [window.first_day + timedelta(days=n) for n in range(window.days)]
        cursor.count_rows(stream_slice, 37 * window.days)
        cursor.close_partition(Closed(stream_slice))

    expected = [date(2025, 11, 26) + timedelta(days=n) for n in range(365)]
    assert days == {"main": expected, "c-7": expected}

"""account_state: reading every state form into per-account cursors, and the cursor that only
moves over an account's windows completed in order."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, List

import pytest
from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository

from source_avidtrak.account_state import AccountWindowCursor, cursors_by_account, read_cursors
from source_avidtrak.components import Window
from source_avidtrak.config import ConfigError, parse_settings
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.streams import OfflinePortalCalls
from unit_tests.integration.config_builder import ConfigBuilder

SETTINGS = parse_settings(
    ConfigBuilder()
    .with_account_name("agency")
    .with_client_account("c-7", "p7")
    .with_client_account("c-8", "p8")
    .build()
)


def entry(account: str, call_date: str) -> dict:
    return {"partition": {"account": account}, "cursor": {"call_date": call_date}}


def test_given_no_state_then_no_account_has_a_cursor():
    assert cursors_by_account(None, SETTINGS) == {"agency": {}, "c-7": {}, "c-8": {}}


def test_given_the_single_account_form_then_it_is_the_pin_code_accounts_cursor():
    cursors = cursors_by_account({"call_date": "2026-11-24T10:00:00Z"}, SETTINGS)

    assert cursors == {"agency": {"call_date": "2026-11-24T10:00:00"}, "c-7": {}, "c-8": {}}


def test_given_per_account_state_then_each_cursor_and_removed_accounts_dropped():
    state = {"states": [entry("c-8", "2026-11-20T23:59:59"), entry("gone", "2026-11-01T23:59:59")]}

    assert cursors_by_account(state, SETTINGS) == {"agency": {}, "c-7": {}, "c-8": {"call_date": "2026-11-20T23:59:59"}}
    assert read_cursors(state, SETTINGS)[1] == ["gone"]


@pytest.mark.parametrize(
    "state, found",
    [
        ({"states": {"agency": {}}}, "'states' is not a list"),
        ({"states": [{"cursor": {"call_date": "2026-11-20T23:59:59"}}]}, "an entry that is not {'partition'"),
        ({"states": [{"partition": {"account": "c-7"}, "cursor": "2026-11-20"}]}, "an entry that is not"),
        ({"states": [entry("c-7", "last week")]}, "call_date='last week', which is not a date-time"),
    ],
)
def test_given_a_malformed_state_then_config_error_saying_how_to_reset(state: Any, found: str):
    with pytest.raises(ConfigError) as raised:
        cursors_by_account(state, SETTINGS)

    assert found in raised.value.message and "Reset the stream's state" in raised.value.message


class Closed:
    def __init__(self, account: str, window: Window) -> None:
        self._slice = window.as_slice(account)

    def to_slice(self):
        return self._slice


def days(first: str, count: int) -> List[Window]:
    start = date.fromisoformat(first)
    return [Window(start + timedelta(days=n), start + timedelta(days=n)) for n in range(count)]


def cursor_with(windows: dict, cursors: dict) -> tuple:
    repository = InMemoryMessageRepository()
    cursor = AccountWindowCursor("s", None, windows, cursors, ConnectorStateManager(), repository)
    return cursor, repository


def emitted(repository) -> list:
    return [message.state.stream.stream_state.__dict__ for message in repository.consume_queue()]


def test_given_windows_closing_out_of_order_then_each_cursor_moves_only_over_its_contiguous_windows():
    windows = {"agency": days("2026-11-01", 3), "c-7": days("2026-11-01", 2), "c-8": []}
    cursor, repository = cursor_with(windows, {"c-8": {"call_date": "2026-10-31T23:59:59"}})

    cursor.close_partition(Closed("agency", windows["agency"][1]))  # ahead of window 1: nothing moves
    assert emitted(repository) == []
    cursor.close_partition(Closed("c-7", windows["c-7"][0]))
    cursor.close_partition(Closed("agency", windows["agency"][0]))  # windows 1 and 2 now done

    assert emitted(repository) == [
        {"states": [entry("c-7", "2026-11-01T23:59:59"), entry("c-8", "2026-10-31T23:59:59")]},
        {
            "states": [
                entry("agency", "2026-11-02T23:59:59"),
                entry("c-7", "2026-11-01T23:59:59"),
                entry("c-8", "2026-10-31T23:59:59"),
            ]
        },
    ]


def test_given_the_lookback_window_completes_then_the_cursor_never_moves_below_the_saved_one():
    windows = {"agency": days("2026-11-23", 3), "c-7": [], "c-8": []}
    cursor, repository = cursor_with(windows, {"agency": {"call_date": "2026-11-24T08:00:00"}})

    cursor.close_partition(Closed("agency", windows["agency"][0]))  # 11-23: before the saved cursor
    cursor.close_partition(Closed("agency", windows["agency"][1]))
    cursor.ensure_at_least_one_state_emitted()

    assert emitted(repository) == [
        {"states": [entry("agency", "2026-11-24T23:59:59")]},
        {"states": [entry("agency", "2026-11-24T23:59:59")]},
    ]


def test_given_three_accounts_when_slices_generated_then_their_windows_alternate():
    config = ConfigBuilder().with_client_account("c-7", "p7").with_client_account("c-8", "p8")
    settings = parse_settings(config.with_date_range("2026-11-20", "2026-11-22").build())
    stream = OfflinePortalCalls(settings, date(2026, 11, 26), RetryPolicy())
    state = {"states": [entry("c-7", "2026-11-22T10:00:00")]}

    slices = list(stream.stream_slices(sync_mode=SyncMode.incremental, stream_state=state))

    # c-7 resumes at its cursor's day minus one day of lookback (11-21); the others have no
    # cursor: the configured range. Round robin: no account waits for another to finish.
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

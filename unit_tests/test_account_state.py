"""account_state: reading every state form the connector has written into per-account cursors."""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional

import pytest

from source_avidtrak.account_state import CursorState, read_cursors
from source_avidtrak.config import ConfigError, parse_settings
from unit_tests.integration.config_builder import ConfigBuilder

SETTINGS = parse_settings(
    ConfigBuilder()
    .with_account_name("agency")
    .with_client_account("c-7", "p7")
    .with_client_account("c-8", "p8")
    .build()
)


def cursors_by_account(state: Optional[Mapping[str, Any]], settings: Any) -> Dict[str, CursorState]:
    return read_cursors(state, settings).cursors


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
    assert read_cursors(state, SETTINGS).dropped == ["gone"]


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


@pytest.mark.parametrize(
    "state, ignored",
    [
        ({"updated_at": "2026-11-20T00:00:00"}, ["updated_at"]),
        ({"states": [{"partition": {"account": "c-7"}, "cursor": {"updated_at": "2026-11-20"}}]}, ["updated_at"]),
        ({"states": [], "cursor_date": "x"}, ["cursor_date"]),
    ],
)
def test_given_a_state_of_another_shape_then_no_cursor_and_its_keys_named_for_the_warning(state: Any, ignored: list):
    saved = read_cursors(state, SETTINGS)

    assert saved.cursors == {"agency": {}, "c-7": {}, "c-8": {}}
    assert saved.ignored == ignored


def test_given_the_full_refresh_marker_then_no_cursor_and_nothing_to_warn_about():
    saved = read_cursors({"__ab_no_cursor_state_message": True}, SETTINGS)

    assert saved.cursors == {"agency": {}, "c-7": {}, "c-8": {}} and saved.ignored == []

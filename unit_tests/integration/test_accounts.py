"""Agency accounts over the real entrypoint and HttpMocker: one request per window per account,
each with that account's pin, records tagged with the account, a cursor per account in state."""

from __future__ import annotations

from typing import Optional

from airbyte_cdk.models import FailureType, Status, SyncMode, Type
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest

from unit_tests.integration.config_builder import OFFLINE_PORTAL_CALLS, PIN_CODE, ConfigBuilder
from unit_tests.integration.harness import error_traces, raw_states, record_data, run_check, run_read, serialized
from unit_tests.integration.request_builder import AvidTrakRequestBuilder
from unit_tests.integration.response_builder import AvidTrakResponseBuilder, row

CLIENT_7_PIN = "client-7 pin/+&="  # characters that URL-encode differently
CLIENT_8_PIN = "8888-client-eight"


def offline(day: str, pin: str = PIN_CODE, last_day: Optional[str] = None, per_page: int = 500) -> HttpRequest:
    builder = AvidTrakRequestBuilder.report(OFFLINE_PORTAL_CALLS).with_window(day, last_day or day)
    return builder.with_pin_code(pin).with_per_page(per_page).build()


def calls(*call_ids: str, day: str = "2026-11-24"):
    data = [row(OFFLINE_PORTAL_CALLS, call_id=call_id, call_date=f"{day} 10:00:00") for call_id in call_ids]
    return AvidTrakResponseBuilder.success(*data).build()


def rejected():
    return AvidTrakResponseBuilder.error(4, "Authentication Failed").build()


def agency() -> ConfigBuilder:
    return (
        ConfigBuilder()
        .with_window_days(1)
        .with_reports(OFFLINE_PORTAL_CALLS)
        .with_account_name("agency")
        .with_client_account("client-7", CLIENT_7_PIN)
        .with_client_account("client-8", CLIENT_8_PIN)
    )


def by_account(output) -> dict:
    """Account -> its call ids, sorted: windows run in parallel, so records arrive in any order."""
    found: dict = {}
    for record in record_data(output):
        found.setdefault(record["account"], []).append(record["call_id"])
    return {account: sorted(ids) for account, ids in found.items()}


def cursors(state: dict) -> dict:
    return {entry["partition"]["account"]: entry["cursor"]["call_date"] for entry in state["states"]}


def test_given_three_accounts_when_read_then_each_window_once_per_account_with_its_pin_and_records_tagged(
    http_mocker: HttpMocker,
):
    http_mocker.get(offline("2026-11-24"), calls("C-1", "C-2"))
    http_mocker.get(offline("2026-11-24", CLIENT_7_PIN), calls("C-1"))  # the same call id in another account
    http_mocker.get(offline("2026-11-24", CLIENT_8_PIN), AvidTrakResponseBuilder.no_data().build())

    output = run_read(agency().with_single_date("2026-11-24").build(), OFFLINE_PORTAL_CALLS)

    assert by_account(output) == {"agency": ["C-1", "C-2"], "client-7": ["C-1"]}
    assert error_traces(output) == []


def test_given_no_client_accounts_when_read_then_records_carry_the_default_account_name(http_mocker: HttpMocker):
    http_mocker.get(offline("2026-11-24"), calls("C-1"))

    output = run_read(
        ConfigBuilder().with_window_days(1).with_reports(OFFLINE_PORTAL_CALLS).with_single_date("2026-11-24").build(),
        OFFLINE_PORTAL_CALLS,
    )

    assert [record["account"] for record in record_data(output)] == ["main"]


def test_given_incremental_when_read_then_state_keeps_a_cursor_per_account(http_mocker: HttpMocker):
    for pin in (PIN_CODE, CLIENT_7_PIN, CLIENT_8_PIN):
        for day in ("2026-11-23", "2026-11-24"):
            http_mocker.get(offline(day, pin), calls("C-1", day=day))

    output = run_read(
        agency().with_date_range("2026-11-23", "2026-11-24").build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
    )

    final = raw_states(output, OFFLINE_PORTAL_CALLS)[-1]
    assert final == {
        "states": [
            {"partition": {"account": name}, "cursor": {"call_date": "2026-11-24T23:59:59"}}
            for name in ("agency", "client-7", "client-8")
        ]
    }


def test_given_state_per_account_when_read_then_each_account_resumes_from_its_own_cursor(http_mocker: HttpMocker):
    # lookback_days 0: agency resumes on 11-24, client-7 on 11-22; client-8 has no cursor: the configured range.
    http_mocker.get(offline("2026-11-24", PIN_CODE), calls("A-1"))
    for day in ("2026-11-22", "2026-11-23", "2026-11-24"):
        http_mocker.get(offline(day, CLIENT_7_PIN), calls(f"S-{day}", day=day))
    for day in ("2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23", "2026-11-24"):
        http_mocker.get(offline(day, CLIENT_8_PIN), calls(f"E-{day}", day=day))
    state = {
        "states": [
            {"partition": {"account": "agency"}, "cursor": {"call_date": "2026-11-24T08:00:00"}},
            {"partition": {"account": "client-7"}, "cursor": {"call_date": "2026-11-22T23:59:59"}},
        ]
    }

    output = run_read(
        agency().with_date_range("2026-11-20", "2026-11-24").with_lookback_days(0).build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: state},
    )

    assert {account: len(ids) for account, ids in by_account(output).items()} == {
        "agency": 1,
        "client-7": 3,
        "client-8": 5,
    }
    assert cursors(raw_states(output, OFFLINE_PORTAL_CALLS)[-1]) == {
        "agency": "2026-11-24T23:59:59",
        "client-7": "2026-11-24T23:59:59",
        "client-8": "2026-11-24T23:59:59",
    }


def test_given_single_account_state_when_read_with_clients_then_it_is_the_pin_code_accounts_cursor(
    http_mocker: HttpMocker,
):
    http_mocker.get(offline("2026-11-24", PIN_CODE), calls("A-1"))
    http_mocker.get(offline("2026-11-23", CLIENT_7_PIN), calls("S-1", day="2026-11-23"))
    http_mocker.get(offline("2026-11-24", CLIENT_7_PIN), calls("S-2"))

    output = run_read(
        ConfigBuilder()
        .with_window_days(1)
        .with_reports(OFFLINE_PORTAL_CALLS)
        .with_client_account("client-7", CLIENT_7_PIN)
        .with_date_range("2026-11-23", "2026-11-24")
        .with_lookback_days(0)
        .build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: {"call_date": "2026-11-24T09:00:00"}},  # the form before client accounts
    )

    assert by_account(output) == {"main": ["A-1"], "client-7": ["S-1", "S-2"]}
    assert cursors(raw_states(output, OFFLINE_PORTAL_CALLS)[-1]) == {
        "main": "2026-11-24T23:59:59",
        "client-7": "2026-11-24T23:59:59",
    }


def test_given_state_of_a_removed_account_when_read_then_it_is_dropped(http_mocker: HttpMocker):
    http_mocker.get(offline("2026-11-24"), calls("A-1"))
    state = {
        "states": [
            {"partition": {"account": "main"}, "cursor": {"call_date": "2026-11-24T00:00:00"}},
            {"partition": {"account": "gone"}, "cursor": {"call_date": "2026-11-20T23:59:59"}},
        ]
    }

    output = run_read(
        ConfigBuilder()
        .with_window_days(1)
        .with_reports(OFFLINE_PORTAL_CALLS)
        .with_date_range("2026-11-20", "2026-11-24")
        .with_lookback_days(0)
        .build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: state},
    )

    assert raw_states(output, OFFLINE_PORTAL_CALLS)[-1] == {
        "states": [{"partition": {"account": "main"}, "cursor": {"call_date": "2026-11-24T23:59:59"}}]
    }
    dropped = [m for m in output.logs if "no longer configured, dropped: 'gone'" in m.log.message]
    assert len(dropped) == 1  # once per stream and sync


def test_given_a_rejected_client_pin_when_read_then_that_account_stops_the_others_complete_and_sync_fails_naming_it(
    http_mocker: HttpMocker,
):
    days = ("2026-11-22", "2026-11-23", "2026-11-24")
    for day in days:
        http_mocker.get(offline(day, PIN_CODE), calls(f"A-{day}", day=day))
        http_mocker.get(offline(day, CLIENT_8_PIN), calls(f"E-{day}", day=day))
    http_mocker.get(offline("2026-11-22", CLIENT_7_PIN), rejected())  # its other windows are never asked for

    output = run_read(
        agency().with_date_range("2026-11-22", "2026-11-24").with_num_workers(1).build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        expect_failure=True,
    )

    assert {account: len(ids) for account, ids in by_account(output).items()} == {"agency": 3, "client-8": 3}
    assert cursors(raw_states(output, OFFLINE_PORTAL_CALLS)[-1]) == {
        "agency": "2026-11-24T23:59:59",
        "client-8": "2026-11-24T23:59:59",
    }
    errors = error_traces(output)
    assert len(errors) == 1 and errors[0].failure_type == FailureType.config_error
    assert errors[0].message.startswith("AvidTrak rejected the pin code of account 'client-7' (code 4")
    text = serialized(output.get_message_by_types(list(Type)))
    assert CLIENT_7_PIN not in text and "client-7%20pin" not in text and "client-7+pin" not in text


def test_given_two_rejected_client_pins_when_check_then_failed_naming_both_and_no_pin(http_mocker: HttpMocker):
    yesterday = "2026-11-25"
    http_mocker.get(offline(yesterday, PIN_CODE, per_page=1), calls("A-1", day=yesterday))
    http_mocker.get(offline(yesterday, CLIENT_7_PIN, per_page=1), rejected())
    http_mocker.get(offline(yesterday, CLIENT_8_PIN, per_page=1), rejected())

    output = run_check(agency().build())

    status = output.connection_status_messages[-1].connectionStatus
    assert status.status == Status.FAILED
    assert status.message.startswith(
        "2 of 3 accounts failed the check. (1) AvidTrak rejected the pin code of account 'client-7'"
    )
    assert "(2) AvidTrak rejected the pin code of account 'client-8'" in status.message
    text = serialized(output.get_message_by_types(list(Type)))
    assert all(pin not in text for pin in (PIN_CODE, CLIENT_7_PIN, CLIENT_8_PIN))


def test_given_every_pin_accepted_when_check_then_one_request_per_account_and_succeeded(http_mocker: HttpMocker):
    yesterday = "2026-11-25"
    for pin in (PIN_CODE, CLIENT_7_PIN, CLIENT_8_PIN):
        http_mocker.get(offline(yesterday, pin, per_page=1), calls("A-1", day=yesterday))

    output = run_check(agency().build())

    assert output.connection_status_messages[-1].connectionStatus.status == Status.SUCCEEDED


def test_given_one_account_down_when_read_then_the_others_complete_and_one_transient_error_names_it(
    http_mocker: HttpMocker,
):
    unavailable = AvidTrakResponseBuilder.raw("<html>503</html>", 503).build()
    for day in ("2026-11-23", "2026-11-24"):
        http_mocker.get(offline(day, PIN_CODE), calls(f"A-{day}", day=day))
        http_mocker.get(offline(day, CLIENT_8_PIN), calls(f"E-{day}", day=day))
    http_mocker.get(offline("2026-11-23", CLIENT_7_PIN), [unavailable] * 3)  # one request and two retries

    output = run_read(
        agency().with_date_range("2026-11-23", "2026-11-24").with_num_workers(1).build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        expect_failure=True,
    )

    assert {account: len(ids) for account, ids in by_account(output).items()} == {"agency": 2, "client-8": 2}
    assert set(cursors(raw_states(output, OFFLINE_PORTAL_CALLS)[-1])) == {"agency", "client-8"}
    [error] = error_traces(output)
    assert error.failure_type == FailureType.transient_error
    assert error.message.startswith("Account 'client-7': AvidTrak answered HTTP 503 for report offline_portal_calls")

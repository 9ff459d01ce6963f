"""read over the real entrypoint: the exact requests per Duration mode, paging and state.

Every request is mocked with its full query string (HttpMocker compares all parameters),
and HttpMocker is strict: an unexpected request fails the read, an unused mock fails the test.
"""

import threading
from datetime import date
from typing import Optional

from airbyte_cdk.models import SyncMode
from airbyte_cdk.sources.connector_state_manager import ConnectorStateManager
from airbyte_cdk.sources.message import InMemoryMessageRepository
from airbyte_cdk.test.mock_http import HttpRequest

from source_avidtrak.components import DatetimeWindow
from source_avidtrak.config import parse_settings
from source_avidtrak.cursor import AccountCursor, WorkerSlots
from source_avidtrak.errors import RetryPolicy
from source_avidtrak.failures import Failures
from source_avidtrak.rate_budget import AvidTrakBudget
from source_avidtrak.streams import STREAM_CLASSES
from unit_tests.integration.config_builder import (
    API_URL,
    GEOGRAPHICAL_DATA,
    OFFLINE_PORTAL_CALLS,
    PIN_CODE,
    ConfigBuilder,
)
from unit_tests.integration.harness import error_traces, log_lines, raw_states, record_data, run_read, state_values
from unit_tests.integration.request_builder import AvidTrakRequestBuilder
from unit_tests.integration.response_builder import AvidTrakResponseBuilder, row, rows

NO_CURSOR_STATE = {"__ab_no_cursor_state_message": True}


def offline(first_day: str, last_day: Optional[str] = None, page: int = 1, per_page: int = 500) -> HttpRequest:
    builder = AvidTrakRequestBuilder.report(OFFLINE_PORTAL_CALLS).with_window(first_day, last_day or first_day)
    return builder.with_page(page).with_per_page(per_page).build()


def config() -> ConfigBuilder:
    """Windows of one day: these cases assert each day's request (windows sized by the data below)."""
    return ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS).with_num_workers(1).with_window_days(1)


def ok(*data) -> object:
    return AvidTrakResponseBuilder.success(*data).build()


def no_data() -> object:
    return AvidTrakResponseBuilder.no_data().build()


def test_given_default_duration_when_read_then_sends_exact_query_for_yesterday(http_mocker):
    http_mocker.get(
        HttpRequest(
            API_URL,
            query_params={
                "pincode": PIN_CODE,
                "method": "offline_portal_calls",
                "format": "json",
                "startdate": "2026-11-25 00:00:00",
                "enddate": "2026-11-25 23:59:59",
                "use_paging": "TRUE",
                "perpage": "500",
                "page": "1",
            },
        ),
        ok(row(OFFLINE_PORTAL_CALLS)),
    )

    output = run_read(ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS).build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["OPC-2001"]
    assert record_data(output)[0]["duration"] == 187
    assert error_traces(output) == []


def test_given_single_specific_date_when_read_then_requests_that_day(http_mocker):
    http_mocker.get(offline("2026-11-01"), ok(row(OFFLINE_PORTAL_CALLS, call_date="2026-11-01 08:00:00")))

    output = run_read(config().with_single_date("2026-11-01").build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_date"] for record in record_data(output)] == ["2026-11-01T08:00:00"]


def test_given_single_relative_date_offset_0_when_read_then_requests_today(http_mocker):
    http_mocker.get(offline("2026-11-26"), no_data())

    output = run_read(config().with_single_date(0).build(), OFFLINE_PORTAL_CALLS)

    assert record_data(output) == [] and error_traces(output) == []


def test_given_specific_range_and_window_days_when_read_then_windows_in_order(http_mocker):
    http_mocker.get(offline("2026-11-20", "2026-11-21"), ok(*rows(OFFLINE_PORTAL_CALLS, 1, day="2026-11-20")))
    http_mocker.get(offline("2026-11-22"), ok(*rows(OFFLINE_PORTAL_CALLS, 1, day="2026-11-22", first_id=2)))

    builder = config().with_date_range("2026-11-20", "2026-11-22").with_window_days(2)

    output = run_read(builder.build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["C-1", "C-2"]


def test_given_domo_relative_range_10_to_5_when_read_then_six_daily_requests(http_mocker):
    for day in range(16, 22):
        http_mocker.get(offline(f"2026-11-{day}"), no_data())

    output = run_read(config().with_date_range(10, 5).build(), OFFLINE_PORTAL_CALLS)

    assert error_traces(output) == []


def test_given_mixed_range_specific_to_relative_when_read_then_one_window_to_yesterday(http_mocker):
    http_mocker.get(offline("2026-11-23", "2026-11-25"), no_data())

    output = run_read(config().with_date_range("2026-11-23", 1).with_window_days(7).build(), OFFLINE_PORTAL_CALLS)

    assert error_traces(output) == []


def test_given_east_of_utc_time_zone_when_read_then_yesterday_is_local(http_mocker):
    """12:00 UTC on the 26th is 01:00 on the 27th in Auckland (NZDT, UTC+13)."""
    http_mocker.get(offline("2026-11-26"), no_data())

    output = run_read(config().with_timezone("Pacific/Auckland").build(), OFFLINE_PORTAL_CALLS)

    assert error_traces(output) == []


def test_given_full_first_page_when_read_then_second_page_requested_and_short_page_ends(http_mocker):
    http_mocker.get(offline("2026-11-25", per_page=2), ok(*rows(OFFLINE_PORTAL_CALLS, 2)))
    http_mocker.get(offline("2026-11-25", page=2, per_page=2), ok(*rows(OFFLINE_PORTAL_CALLS, 1, first_id=3)))

    output = run_read(config().with_page_size(2).build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["C-1", "C-2", "C-3"]


def test_given_short_first_page_when_read_then_no_second_page(http_mocker):
    http_mocker.get(offline("2026-11-25", per_page=2), ok(*rows(OFFLINE_PORTAL_CALLS, 1)))

    output = run_read(config().with_page_size(2).build(), OFFLINE_PORTAL_CALLS)

    assert len(record_data(output)) == 1 and error_traces(output) == []


def test_given_code_0_on_second_page_when_read_then_paging_ends_without_failure(http_mocker):
    http_mocker.get(offline("2026-11-25", per_page=2), ok(*rows(OFFLINE_PORTAL_CALLS, 2)))
    http_mocker.get(offline("2026-11-25", page=2, per_page=2), no_data())

    output = run_read(config().with_page_size(2).build(), OFFLINE_PORTAL_CALLS)

    assert len(record_data(output)) == 2 and error_traces(output) == []
    assert not any("no calls for" in line for line in log_lines(output))


def test_given_success_with_empty_data_on_second_page_when_read_then_paging_ends(http_mocker):
    http_mocker.get(offline("2026-11-25", per_page=2), ok(*rows(OFFLINE_PORTAL_CALLS, 2)))
    http_mocker.get(offline("2026-11-25", page=2, per_page=2), ok())

    output = run_read(config().with_page_size(2).build(), OFFLINE_PORTAL_CALLS)

    assert len(record_data(output)) == 2 and error_traces(output) == []


def test_given_both_reports_when_read_then_each_stream_gets_its_own_method(http_mocker):
    http_mocker.get(offline("2026-11-25"), ok(row(OFFLINE_PORTAL_CALLS)))
    geographical = AvidTrakRequestBuilder.report(GEOGRAPHICAL_DATA).with_day("2026-11-25").build()
    escaped = AvidTrakResponseBuilder.success(row(GEOGRAPHICAL_DATA)).with_escaped_slashes()
    http_mocker.get(geographical, escaped.build())

    output = run_read(ConfigBuilder().build(), GEOGRAPHICAL_DATA, OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output, GEOGRAPHICAL_DATA)] == ["GD-1001"]
    assert [record["call_id"] for record in record_data(output, OFFLINE_PORTAL_CALLS)] == ["OPC-2001"]
    assert record_data(output, GEOGRAPHICAL_DATA)[0]["zip"] == "02108"


def test_given_incremental_read_shorter_than_the_state_interval_then_one_state_at_the_stream_end(http_mocker):
    http_mocker.get(
        offline("2026-11-20"),
        ok(
            row(OFFLINE_PORTAL_CALLS, call_id="a", call_date="2026-11-20 10:00:00"),
            row(OFFLINE_PORTAL_CALLS, call_id="b", call_date="2026-11-20 08:00:00"),
        ),
    )
    http_mocker.get(offline("2026-11-21"), no_data())
    http_mocker.get(offline("2026-11-22"), ok(row(OFFLINE_PORTAL_CALLS, call_id="c", call_date="2026-11-22 07:30:05")))

    output = run_read(
        config().with_date_range("2026-11-20", "2026-11-22").build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
    )

    # Each window moved the cursor, but STATE leaves at most every STATE_INTERVAL_SECONDS
    # (cursor.py) and when the stream ends: the fake clock never got that far.
    assert state_values(output, OFFLINE_PORTAL_CALLS) == [{"call_date": "2026-11-22T23:59:59"}]


def test_given_a_report_without_calls_when_incremental_read_then_state_still_advances(http_mocker):
    for day in ("2026-11-20", "2026-11-21"):
        http_mocker.get(offline(day), no_data())

    output = run_read(
        config().with_date_range("2026-11-20", "2026-11-21").build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
    )

    assert record_data(output) == []
    assert state_values(output, OFFLINE_PORTAL_CALLS)[-1] == {"call_date": "2026-11-21T23:59:59"}


def test_given_state_when_incremental_read_then_starts_at_state_day_minus_lookback(http_mocker):
    http_mocker.get(offline("2026-11-20", "2026-11-22"), ok(row(OFFLINE_PORTAL_CALLS, call_date="2026-11-21 09:00:00")))
    http_mocker.get(offline("2026-11-23", "2026-11-25"), ok(row(OFFLINE_PORTAL_CALLS, call_date="2026-11-24 18:00:00")))
    builder = config().with_date_range(10, 1).with_lookback_days(2).with_window_days(3)

    output = run_read(
        builder.build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: {"call_date": "2026-11-22T08:00:00"}},
    )

    assert len(record_data(output)) == 2
    assert state_values(output, OFFLINE_PORTAL_CALLS)[-1] == {"call_date": "2026-11-25T23:59:59"}
    states = [state["call_date"] for state in state_values(output, OFFLINE_PORTAL_CALLS)]
    assert states == sorted(states) and states[0] >= "2026-11-22T08:00:00"  # never goes back


def test_given_state_past_configured_end_when_incremental_read_then_no_request_and_state_kept(http_mocker):
    builder = config().with_date_range("2026-11-01", "2026-11-10")

    output = run_read(
        builder.build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: {"call_date": "2026-11-20T10:00:00"}},
    )

    assert error_traces(output) == []
    assert state_values(output, OFFLINE_PORTAL_CALLS) == [{"call_date": "2026-11-20T10:00:00"}]
    assert any("nothing to read" in line for line in log_lines(output))


def test_given_invalid_state_when_incremental_read_then_config_error_before_any_request(http_mocker):
    output = run_read(
        config().build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: {"call_date": "last tuesday"}},
        expect_failure=True,
    )

    assert [error.failure_type.value for error in error_traces(output)] == ["config_error"]
    assert "Reset the stream's state" in error_traces(output)[0].message


def test_given_full_refresh_with_state_when_read_then_configured_range_and_no_cursor_state(http_mocker):
    http_mocker.get(offline("2026-11-25"), ok(row(OFFLINE_PORTAL_CALLS)))

    output = run_read(
        config().build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.full_refresh,
        state={OFFLINE_PORTAL_CALLS: {"call_date": "2026-11-25T23:00:00"}},
    )

    assert len(record_data(output)) == 1
    assert raw_states(output, OFFLINE_PORTAL_CALLS) == [NO_CURSOR_STATE]


def test_given_three_workers_and_five_windows_when_incremental_read_then_final_state_is_the_range_end(http_mocker):
    for day in range(20, 25):
        call = row(OFFLINE_PORTAL_CALLS, call_id=str(day), call_date=f"2026-11-{day} 12:00:00")
        http_mocker.get(offline(f"2026-11-{day}"), ok(call))

    builder = config().with_num_workers(3).with_date_range("2026-11-20", "2026-11-24")

    output = run_read(builder.build(), OFFLINE_PORTAL_CALLS, sync_mode=SyncMode.incremental)

    assert sorted(record["call_id"] for record in record_data(output)) == ["20", "21", "22", "23", "24"]
    states = [state["call_date"] for state in state_values(output, OFFLINE_PORTAL_CALLS)]
    assert states == sorted(states)  # never moves back, whatever order the windows finish in
    assert states[-1] == "2026-11-24T23:59:59"


def test_given_numbers_where_the_schema_says_string_when_read_then_every_value_matches_its_schema_type(http_mocker):
    numeric = row(OFFLINE_PORTAL_CALLS, call_id=12345, caller_number=4015550100, duration=61)
    http_mocker.get(offline("2026-11-25"), ok(numeric))

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS)

    [record] = record_data(output)
    assert (record["call_id"], record["caller_number"], record["duration"]) == ("12345", "4015550100", 61)
    assert error_traces(output) == []


def test_given_data_as_an_object_keyed_by_index_when_read_then_rows_in_key_order(http_mocker):
    """PHP's json_encode sends a non-sequential array as {"0": ..., "1": ...}."""
    first, second, third = (row(OFFLINE_PORTAL_CALLS, call_id=f"OPC-{n}") for n in (1, 2, 3))
    body = AvidTrakResponseBuilder.success().with_data({"10": third, "2": second, "0": first})
    http_mocker.get(offline("2026-11-25"), body.build())

    output = run_read(config().build(), OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["OPC-1", "OPC-2", "OPC-3"]
    assert error_traces(output) == []


def test_given_report_method_overridden_when_read_then_requests_carry_that_method(http_mocker):
    request = AvidTrakRequestBuilder.report("offline_calls_v2").with_window("2026-11-25", "2026-11-25").build()
    http_mocker.get(request, ok(row(OFFLINE_PORTAL_CALLS)))
    settings = config().build()
    settings["report_methods"] = {"offline_portal_calls": "offline_calls_v2"}

    output = run_read(settings, OFFLINE_PORTAL_CALLS)

    assert [record["call_id"] for record in record_data(output)] == ["OPC-2001"]


def test_given_default_window_days_when_read_then_a_short_range_is_one_window_and_one_request(http_mocker):
    http_mocker.get(
        offline("2026-11-20", "2026-11-25"),
        ok(row(OFFLINE_PORTAL_CALLS, call_id="a", call_date="2026-11-21 10:00:00")),
    )

    output = run_read(
        ConfigBuilder().with_reports(OFFLINE_PORTAL_CALLS).with_date_range("2026-11-20", "2026-11-25").build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
    )

    assert [record["call_id"] for record in record_data(output)] == ["a"]
    assert state_values(output, OFFLINE_PORTAL_CALLS) == [{"call_date": "2026-11-25T23:59:59"}]


def test_given_a_reader_that_stops_mid_window_then_the_window_frees_its_worker_slot(http_mocker):
    settings = parse_settings(config().with_date_range("2026-11-20", "2026-11-20").build())
    slots, failures = WorkerSlots(1), Failures()
    cursor = AccountCursor(
        OFFLINE_PORTAL_CALLS,
        DatetimeWindow(settings),
        date(2026, 11, 26),
        ["main"],
        None,
        slots,
        failures,
        ConnectorStateManager(),
        InMemoryMessageRepository(),
    )
    stream = STREAM_CLASSES[OFFLINE_PORTAL_CALLS](settings, AvidTrakBudget(None, RetryPolicy()), failures, cursor)
    http_mocker.get(offline("2026-11-20"), ok(*rows(OFFLINE_PORTAL_CALLS, 2)))
    [window] = list(cursor.stream_slices())  # it holds the only slot

    records = stream.read_records(SyncMode.full_refresh, stream_slice=window)
    next(iter(records))
    records.close()  # type: ignore[attr-defined]  # the reader went away mid-window

    taken: list = []
    waiter = threading.Thread(target=lambda: taken.append(slots.take()), daemon=True)
    waiter.start()
    waiter.join(5)
    assert taken == [True], "the slot was not freed: the slicer would wait forever"


def test_given_a_state_with_another_cursor_key_when_read_then_a_warning_and_the_configured_range(http_mocker):
    http_mocker.get(offline("2026-11-24"), ok(row(OFFLINE_PORTAL_CALLS, call_id="a", call_date="2026-11-24 09:00:00")))

    output = run_read(
        config().with_single_date("2026-11-24").build(),
        OFFLINE_PORTAL_CALLS,
        sync_mode=SyncMode.incremental,
        state={OFFLINE_PORTAL_CALLS: {"updated_at": "2026-11-30T00:00:00"}},
    )

    assert [record["call_id"] for record in record_data(output)] == ["a"]
    warnings = [log.log.message for log in output.logs if log.log.level.value == "WARN"]
    assert len(warnings) == 1 and "'updated_at'" in warnings[0] and "'call_date'" in warnings[0]

"""Every invalid config fails before any request reaches AvidTrak.

`check` answers FAILED with a message that names the field and what to enter; `read`
ends with a config_error TRACE carrying the same message; the simulator's request log
stays empty. Values the spec's JSON schema already rejects (bounds, types, required
keys) carry the CDK's validation message, which quotes the value and the bound; the
rest come from config.parse_settings.
"""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType, Status

from integration_tests.fault_support import (
    GEO,
    PIN,
    config,
    last_error,
    run_check,
    run_connector,
    run_read,
    source,
    state,
    write_args,
)
from integration_tests.simulator import AvidTrakSimulator


def date_range(first: dict, last: dict) -> dict:
    return {"mode": "date_range", "date_from": first, "date_to": last}


def specific_from(day: str) -> dict:
    return {"mode": "specific", "specific_date_from": day}


def specific_to(day: str) -> dict:
    return {"mode": "specific", "specific_date_to": day}


def relative_from(days: int) -> dict:
    return {"mode": "relative", "date_from_offset": days}


def relative_to(days: int) -> dict:
    return {"mode": "relative", "date_to_offset": days}


def single(report_date: dict) -> dict:
    return {"mode": "single_date", "report_date": report_date}


# case -> (config overrides, text the message must contain). Today is 2026-11-10 (UTC).
INVALID = {
    "specific_from_after_to": (
        {"duration": date_range(specific_from("2026-11-05"), specific_to("2026-11-01"))},
        "Date From (2026-11-05, 2026-11-05) is after Date To (2026-11-01, 2026-11-01). Swap them",
    ),
    "relative_from_after_to": (
        {"duration": date_range(relative_from(2), relative_to(5))},
        "Date From (2 days back, 2026-11-08) is after Date To (5 days back, 2026-11-05)",
    ),
    "specific_from_after_relative_to": (
        {"duration": date_range(specific_from("2026-11-09"), relative_to(3))},
        "Date From (2026-11-09, 2026-11-09) is after Date To (3 days back, 2026-11-07)",
    ),
    "date_to_in_future": (
        {"duration": date_range(specific_from("2026-11-01"), specific_to("2026-11-11"))},
        "Date To (2026-11-11) is in the future: today is 2026-11-10 in UTC",
    ),
    "date_to_future_in_time_zone_east_of_utc": (
        # 12:00 UTC is 02:00 on 2026-11-11 at UTC+14: "today" there is already the 11th
        {"duration": single({"mode": "specific", "specific_date": "2026-11-12"}), "timezone": "Pacific/Kiritimati"},
        "Date To (2026-11-12) is in the future: today is 2026-11-11 in Pacific/Kiritimati",
    ),
    "negative_offset": (
        {"duration": date_range(relative_from(-1), relative_to(0))},
        "-1 is less than the minimum of 0",
    ),
    "huge_from_offset": (
        {"duration": date_range(relative_from(100_000), relative_to(0))},
        "100000 is greater than the maximum of 3650",
    ),
    "huge_to_offset": (
        {"duration": date_range(relative_from(5), relative_to(3651))},
        "3651 is greater than the maximum of 3650",
    ),
    "offset_not_a_number": (
        {"duration": date_range(relative_from("10"), relative_to(0))},
        "'10' is not of type 'integer'",
    ),
    "february_30": (
        {"duration": date_range(specific_from("2026-02-30"), specific_to("2026-03-01"))},
        "Date From '2026-02-30' is not a real date: use YYYY-MM-DD",
    ),
    "month_13": (
        {"duration": single({"mode": "specific", "specific_date": "2026-13-01"})},
        "Report Date '2026-13-01' is not a real date: use YYYY-MM-DD",
    ),
    "february_29_in_common_year": (
        {"duration": date_range(specific_from("2026-01-01"), specific_to("2025-02-29"))},
        "Date To '2025-02-29' is not a real date",
    ),
    "date_not_iso": (
        {"duration": date_range(specific_from("11/01/2026"), specific_to("2026-11-02"))},
        "11/01/2026",
    ),
    "negative_single_date_offset": (
        {"duration": single({"mode": "relative", "date_offset": -3})},
        "Report Date offset must be a whole number of days back from 0 to 3650; got -3",
    ),
    "unknown_time_zone": ({"timezone": "Mars/Olympus_Mons"}, "Unknown Time Zone 'Mars/Olympus_Mons'. Use an IANA name"),
    "time_zone_path": ({"timezone": "../../etc/passwd"}, "Unknown Time Zone '../../etc/passwd'"),
    "time_zone_lowercase": ({"timezone": "america/new_york"}, "Unknown Time Zone 'america/new_york'"),
    "empty_pin": ({"pin_code": ""}, "'' should be non-empty"),
    "blank_pin": ({"pin_code": "   "}, "The Pin Code is empty. Enter the pin code AvidTrak gave you"),
    "pin_not_a_string": ({"pin_code": 12345}, "is not of type 'string'"),
    "base_url_ftp": ({"base_url": "ftp://avidtrak.com"}, "'ftp://avidtrak.com' does not match '^https?://'"),
    "base_url_no_scheme": ({"base_url": "avidtrak.com"}, "'avidtrak.com' does not match '^https?://'"),
    "base_url_no_host": (
        {"base_url": "https:///webservice/api.php"},
        "The Base URL must start with https:// and name a host",
    ),
    "base_url_credentials": (
        {"base_url": "https://agency:secret@avidtrak.com"},
        "The Base URL must not contain a user name or password",
    ),
    "base_url_query": ({"base_url": "https://avidtrak.com/?pincode=1"}, "must not contain a query string or fragment"),
    "base_url_empty_query": ({"base_url": "https://avidtrak.com/?"}, "must not contain a query string or fragment"),
    "base_url_fragment": ({"base_url": "https://avidtrak.com/#calls"}, "must not contain a query string or fragment"),
    "base_url_plain_http": ({"base_url": "http://avidtrak.com"}, "The Base URL must use https://"),
    "base_url_http_localhost_lookalike": (
        {"base_url": "http://localhost.example.com"},
        "The Base URL must use https://",
    ),
    "base_url_http_loopback_lookalike": (
        {"base_url": "http://127.0.0.1.example.com"},
        "The Base URL must use https://",
    ),
    "base_url_port_out_of_range": (
        {"base_url": "https://avidtrak.com:99999"},
        "The Base URL is not a valid URL (Port out of range",
    ),
    "base_url_space_in_host": ({"base_url": "https://avid trak.com"}, "The Base URL is not a valid URL"),
    "base_url_empty_label": ({"base_url": "https://avidtrak..com"}, "The Base URL is not a valid URL"),
    "base_url_broken_ipv6": ({"base_url": "https://[::1"}, "The Base URL is not a valid URL (Invalid IPv6 URL)"),
    "unknown_report": ({"reports": ["calls"]}, "'calls' is not one of ['geographical_data', 'offline_portal_calls']"),
    "no_report": ({"reports": []}, "[] should be non-empty"),
    "window_days_0": ({"window_days": 0}, "0 is less than the minimum of 1"),
    "lookback_days_31": ({"lookback_days": 31}, "31 is greater than the maximum of 30"),
    "page_size_501": ({"page_size": 501}, "501 is greater than the maximum of 500"),
    "num_workers_11": ({"num_workers": 11}, "11 is greater than the maximum of 10"),
}


# In process (the CDK's own entrypoint, as the test wrapper runs it) the CDK validates the
# config against the spec before the connector sees it. For a bad value inside a oneOf
# option, jsonschema's best_match then names the other option's `mode` const ("'relative'
# was expected"). The `source-avidtrak` command runs the connector's checks first
# (run.AvidTrakEntrypoint): the CLI tests below show the actionable message for these.
SCHEMA_FIRST_IN_PROCESS = {"date_not_iso", "negative_single_date_offset"}
CASES = sorted(set(INVALID) - SCHEMA_FIRST_IN_PROCESS)


# Where the CLI's message (the connector's own check, run first) differs from the in-process one.
CLI_MESSAGES = {
    "lookback_days_31": "Lookback Days must be a whole number from 0 to 30; got 31.",
    "empty_pin": "The Pin Code is empty. Enter the pin code AvidTrak gave you",
}


@pytest.fixture(scope="module")
def sim():
    with AvidTrakSimulator(pins=(PIN,)) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh_request_log(sim):
    sim.clear_requests()


def invalid_config(sim, case: str) -> dict:
    settings = config(sim.base_url)
    settings.update(INVALID[case][0])
    return settings


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_check_then_failed_with_actionable_message_and_no_request(sim, case, tmp_path):
    output = run_check(source(), invalid_config(sim, case), tmp_path)

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert INVALID[case][1] in status.connectionStatus.message
    assert all(e.trace.error.failure_type == FailureType.config_error for e in output.errors)
    assert sim.requests == []


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_read_then_config_error_trace_and_no_request(sim, case):
    output = run_read(source(), invalid_config(sim, case))

    assert output.records == [] and sim.requests == []
    assert last_error(output).failure_type == FailureType.config_error
    assert INVALID[case][1] in last_error(output).message


@pytest.mark.parametrize("case", sorted(SCHEMA_FIRST_IN_PROCESS))
def test_given_value_the_schema_rejects_inside_a_oneof_when_check_in_process_then_failed_before_any_request(
    sim, case, tmp_path
):
    output = run_check(source(), invalid_config(sim, case), tmp_path)

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert status.connectionStatus.message.startswith("Config validation error")
    assert sim.requests == []


def test_given_state_that_is_not_a_date_when_read_then_config_error_naming_the_reset(sim):
    output = run_read(source(), config(sim.base_url), states=state(**{GEO: "not-a-date"}))

    assert last_error(output).failure_type == FailureType.config_error
    assert "The saved state has call_date='not-a-date'" in last_error(output).message
    assert "Reset the stream's state" in last_error(output).message
    assert sim.requests == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_given_plain_http_on_loopback_host_when_check_then_succeeded(sim, host, tmp_path):
    """The control: a valid config does reach the server, so the table's empty logs mean something."""
    base_url = sim.base_url.replace("127.0.0.1", host)

    output = run_check(source(), config(base_url), tmp_path)

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED
    assert len(sim.requests) == 1


@pytest.mark.parametrize("case", sorted(SCHEMA_FIRST_IN_PROCESS) + ["lookback_days_31", "empty_pin"])
def test_given_invalid_config_when_cli_check_then_failed_with_the_connectors_message(sim, case, tmp_path):
    completed = run_connector(write_args(tmp_path, "check", invalid_config(sim, case)))

    [status] = [m["connectionStatus"] for m in completed.messages if m["type"] == "CONNECTION_STATUS"]
    assert status["status"] == "FAILED"
    assert CLI_MESSAGES.get(case, INVALID[case][1]) in status["message"]
    assert sim.requests == []


@pytest.mark.parametrize("case", sorted(SCHEMA_FIRST_IN_PROCESS))
def test_given_invalid_config_when_cli_read_then_config_error_with_the_connectors_message(sim, case, tmp_path):
    completed = run_connector(write_args(tmp_path, "read", invalid_config(sim, case)))

    assert completed.returncode != 0 and completed.records == [] and sim.requests == []
    assert completed.errors[-1]["failure_type"] == "config_error"
    assert INVALID[case][1] in completed.errors[-1]["message"]

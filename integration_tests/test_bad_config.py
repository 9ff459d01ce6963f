"""Every invalid config fails before any request reaches AvidTrak.

`check` answers FAILED with a message that names the field and what to enter; `read`
ends with a config_error TRACE carrying the same message; the simulator's request log
stays empty. Values the spec's JSON schema already rejects (bounds, types, required
keys) carry the CDK's validation message, which quotes the value and the bound; the
rest come from config.parse_settings.
"""

from __future__ import annotations

import pytest
from airbyte_cdk.models import FailureType, Status, Type
from airbyte_cdk.test.entrypoint_wrapper import discover

from integration_tests.fault_support import (
    GEO,
    PIN,
    catalog,
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
        "Date From (2026-11-05) is after Date To (2026-11-01). Swap them",
    ),
    "relative_from_after_to": (
        {"duration": date_range(relative_from(2), relative_to(5))},
        "Date From (2 days back, 2026-11-08) is after Date To (5 days back, 2026-11-05)",
    ),
    "specific_from_after_relative_to": (
        {"duration": date_range(specific_from("2026-11-09"), relative_to(3))},
        "Date From (2026-11-09) is after Date To (3 days back, 2026-11-07)",
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
        "Date From offset must be a whole number of days back from 0 to 3650; got -1.",
    ),
    "huge_from_offset": (
        {"duration": date_range(relative_from(100_000), relative_to(0))},
        "Date From offset must be a whole number of days back from 0 to 3650; got 100000.",
    ),
    "huge_to_offset": (
        {"duration": date_range(relative_from(5), relative_to(3651))},
        "Date To offset must be a whole number of days back from 0 to 3650; got 3651.",
    ),
    "offset_not_a_number": (
        {"duration": date_range(relative_from("10"), relative_to(0))},
        "Date From offset must be a whole number of days back from 0 to 3650; got '10'.",
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
        "Date From '11/01/2026' is not a real date: use YYYY-MM-DD",
    ),
    "date_without_leading_zeros": (
        {"duration": single({"mode": "specific", "specific_date": "2026-1-5"})},
        "Report Date '2026-1-5' is not a real date: use YYYY-MM-DD",
    ),
    "negative_single_date_offset": (
        {"duration": single({"mode": "relative", "date_offset": -3})},
        "Report Date offset must be a whole number of days back from 0 to 3650; got -3",
    ),
    "unknown_time_zone": ({"timezone": "Mars/Olympus_Mons"}, "Unknown Time Zone 'Mars/Olympus_Mons'. Use an IANA name"),
    "time_zone_path": ({"timezone": "../../etc/passwd"}, "Unknown Time Zone '../../etc/passwd'"),
    "time_zone_lowercase": ({"timezone": "america/new_york"}, "Unknown Time Zone 'america/new_york'"),
    "empty_pin": ({"pin_code": ""}, "The Pin Code is empty. Enter the pin code AvidTrak gave you"),
    "blank_pin": ({"pin_code": "   "}, "The Pin Code is empty. Enter the pin code AvidTrak gave you"),
    "pin_not_a_string": ({"pin_code": 12345}, "The Pin Code must be text (a JSON string in quotes)"),
    "base_url_ftp": ({"base_url": "ftp://avidtrak.com"}, "The Base URL must start with https:// and name a host"),
    "base_url_no_scheme": ({"base_url": "avidtrak.com"}, "The Base URL must start with https:// and name a host"),
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
    "unknown_report": (
        {"reports": ["calls"]},
        "Unknown Report 'calls'. Choose from: geographical_data, offline_portal_calls.",
    ),
    "no_report": ({"reports": []}, "Select at least one Report: geographical_data, offline_portal_calls."),
    "window_days_0": ({"window_days": 0}, "Window Days must be a whole number from 1 to 31; got 0."),
    "lookback_days_31": ({"lookback_days": 31}, "Lookback Days must be a whole number from 0 to 30; got 31."),
    "page_size_501": ({"page_size": 501}, "Page Size must be a whole number from 1 to 500; got 501."),
    "num_workers_11": ({"num_workers": 11}, "Number of Workers must be a whole number from 1 to 10; got 11."),
    "pin_key_misspelled": ("pin", "The Pin Code is missing: the config has no 'pin_code'; it has 'pin' instead."),
    "date_key_misspelled": (
        {"duration": date_range({"mode": "specific", "specific_date": "2026-11-01"}, specific_to("2026-11-02"))},
        "Date From is a specific date but has no 'specific_date_from'; it has 'specific_date' instead. "
        "Rename the key to 'specific_date_from'.",
    ),
    "offset_key_misspelled": (
        {"duration": single({"mode": "relative", "offset": 2})},
        "Report Date is a relative date but has no 'date_offset'; it has 'offset' instead.",
    ),
    "account_name_blank": ({"account_name": "  "}, "Account Name must be a non-empty label, e.g. 'main'"),
    "client_name_duplicate": (
        {"account_name": "Agency", "client_accounts": [{"name": "agency", "pin_code": "client-pin-1"}]},
        "Client Accounts: the name 'agency' is used twice (names are compared ignoring case, 'Agency' is the "
        "other). Give every account its own name.",
    ),
    "client_pin_equals_main": (
        {"client_accounts": [{"name": "client-7", "pin_code": PIN}]},
        "Client Accounts: account 'client-7' has the same pin code as account 'main'. Each AvidTrak account has "
        "a pin code of its own: enter that client's pin code.",
    ),
    "client_pins_duplicate": (
        {"client_accounts": [{"name": "c-1", "pin_code": "client-pin-1"}, {"name": "c-2", "pin_code": "client-pin-1"}]},
        "Client Accounts: account 'c-2' has the same pin code as account 'c-1'.",
    ),
    "client_name_empty": (
        {"client_accounts": [{"name": "", "pin_code": "client-pin-1"}]},
        "Client account 1 has an empty name. Give it a label, e.g. the client's name.",
    ),
    "client_name_missing": (
        {"client_accounts": [{"pin_code": "client-pin-1"}]},
        "Client account 1 has no 'name'. Add it.",
    ),
    "client_pin_key_misspelled": (
        {"client_accounts": [{"name": "client-7", "pin": "client-pin-1"}]},
        "Client account 1 ('client-7') has no 'pin_code'; it has 'pin' instead. Rename the key to 'pin_code'.",
    ),
}


# `check` is the one command where the CDK validates the config against spec.yaml before
# the connector sees it, in every entrypoint (AirbyteEntrypoint.check). Where the schema
# rejects the value, check carries the CDK's message (it quotes the value and the bound);
# discover and read run the connector's checks first and carry the table's message.
CDK_FIRST_IN_CHECK = {
    "empty_pin": "'' should be non-empty",
    "pin_not_a_string": "is not of type 'string'",
    "base_url_ftp": "'ftp://avidtrak.com' does not match '^https?://'",
    "base_url_no_scheme": "'avidtrak.com' does not match '^https?://'",
    "unknown_report": "'calls' is not one of ['geographical_data', 'offline_portal_calls']",
    "no_report": "[] should be non-empty",
    "window_days_0": "0 is less than the minimum of 1",
    "lookback_days_31": "31 is greater than the maximum of 30",
    "page_size_501": "501 is greater than the maximum of 500",
    "num_workers_11": "11 is greater than the maximum of 10",
    "offset_not_a_number": "'10' is not of type 'integer'",
    "pin_key_misspelled": "'pin_code' is a required property",
    "date_key_misspelled": "Config validation error: 'relative' was expected",
    "offset_key_misspelled": "Config validation error: ",
    "client_name_empty": "'' should be non-empty",
    "client_name_missing": "'name' is a required property",
    "client_pin_key_misspelled": "'pin_code' is a required property",
}
CASES = sorted(INVALID)
# The console script is `launch(SourceAvidtrak(), argv)` on the real clock, the launch tests'
# code path: one case for each source of message (the connector's checks inside an option,
# at the top level, on the Base URL, a misspelled key; the CDK's schema first in check).
CONSOLE_SCRIPT_CASES = [
    "client_pin_equals_main",
    "date_not_iso",
    "negative_single_date_offset",
    "blank_pin",
    "lookback_days_31",
    "base_url_query",
    "date_key_misspelled",
    "pin_key_misspelled",
    "unknown_report",
]


def check_message(case: str) -> str:
    return CDK_FIRST_IN_CHECK.get(case, INVALID[case][1])


@pytest.fixture(scope="module")
def sim():
    with AvidTrakSimulator(pins=(PIN,)) as simulator:
        yield simulator


@pytest.fixture(autouse=True)
def fresh_request_log(sim):
    sim.clear_requests()


def invalid_config(sim, case: str) -> dict:
    settings = config(sim.base_url)
    overrides = INVALID[case][0]
    if overrides == "pin":  # the key itself misspelled
        settings["pin"] = settings.pop("pin_code")
    else:
        settings.update(overrides)
    return settings


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_check_then_failed_with_actionable_message_and_no_request(sim, case, tmp_path):
    output = run_check(source(), invalid_config(sim, case), tmp_path)

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert check_message(case) in status.connectionStatus.message
    assert all(e.trace.error.failure_type == FailureType.config_error for e in output.errors)
    assert sim.requests == []


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_read_then_config_error_trace_and_no_request(sim, case):
    output = run_read(source(), invalid_config(sim, case))

    assert output.records == [] and sim.requests == []
    assert last_error(output).failure_type == FailureType.config_error
    assert INVALID[case][1] in last_error(output).message


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_discover_then_config_error_with_the_connectors_message(sim, case):
    output = discover(source(), invalid_config(sim, case), expecting_exception=True)

    assert output.get_message_by_types([Type.CATALOG]) == []
    assert last_error(output).failure_type == FailureType.config_error
    assert INVALID[case][1] in last_error(output).message
    assert sim.requests == []


def outcome_of_check(output) -> tuple:
    [status] = output.connection_status_messages
    return status.connectionStatus.status.name, status.connectionStatus.message


def outcome_of_check_process(completed) -> tuple:
    [status] = [m["connectionStatus"] for m in completed.messages if m["type"] == "CONNECTION_STATUS"]
    return status["status"], status["message"]


def outcome_of_read(output) -> tuple:
    error = last_error(output)
    return error.failure_type.name, error.message


def outcome_of_read_process(completed) -> tuple:
    assert completed.returncode != 0 and completed.records == []
    return completed.errors[-1]["failure_type"], completed.errors[-1]["message"]


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_check_through_launch_then_same_answer_as_the_test_wrapper(sim, case, tmp_path):
    """`launch(SourceAvidtrak(), args)` in a process of its own (frozen clock, fast retries)."""
    in_process = outcome_of_check(run_check(source(), invalid_config(sim, case), tmp_path))
    launched = outcome_of_check_process(
        run_connector(write_args(tmp_path / "launch", "check", invalid_config(sim, case)), launcher=True)
    )

    assert launched == in_process == ("FAILED", in_process[1]) and check_message(case) in launched[1]
    assert sim.requests == []


@pytest.mark.parametrize("case", CASES)
def test_given_invalid_config_when_read_through_launch_then_same_error_as_the_test_wrapper(sim, case, tmp_path):
    in_process = outcome_of_read(run_read(source(), invalid_config(sim, case)))
    launched = outcome_of_read_process(
        run_connector(write_args(tmp_path / "launch", "read", invalid_config(sim, case)), launcher=True)
    )

    assert launched == in_process == ("config_error", in_process[1]) and INVALID[case][1] in launched[1]
    assert sim.requests == []


@pytest.mark.parametrize("case", CONSOLE_SCRIPT_CASES)
def test_given_invalid_config_when_console_script_then_same_answers_as_the_test_wrapper(sim, case, tmp_path):
    """The installed `source-avidtrak` command, on the real clock: check and read."""
    check_in_process = outcome_of_check(run_check(source(), invalid_config(sim, case), tmp_path))
    read_in_process = outcome_of_read(run_read(source(), invalid_config(sim, case)))

    check = outcome_of_check_process(run_connector(write_args(tmp_path / "check", "check", invalid_config(sim, case))))
    read = outcome_of_read_process(run_connector(write_args(tmp_path / "read", "read", invalid_config(sim, case))))

    assert check == check_in_process and read == read_in_process
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


def test_given_catalog_with_a_stream_the_config_does_not_offer_when_read_then_config_error_listing_the_offer(sim):
    output = run_read(source(), config(sim.base_url, reports=(GEO,)), catalog(GEO, "geographical_dat"))

    assert output.records == [] and sim.requests == []
    assert last_error(output).failure_type == FailureType.config_error
    assert last_error(output).message == (
        "The catalog asks for stream 'geographical_dat', which this config does not offer. It offers: "
        "geographical_data (the reports selected under Report). Select the report in the config, or run "
        "discover and use its streams."
    )

"""Every invalid config fails before any request reaches AvidTrak, alike in check, discover and read.

The connector's checks run in `SourceAvidtrak.configure`, which the CDK's entrypoint calls
before anything else, so each command ends with one config_error TRACE carrying the same
message (check emits no CONNECTION_STATUS), and the simulator's request log stays empty.
Each row names the field the message must name and the fix it must give; the wording
around them is not the contract. The runs are in-process (the CDK's entrypoint_wrapper);
one console-script run shows the process emits the same.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Tuple, Union

import pytest
from airbyte_cdk.entrypoint import launch
from airbyte_cdk.models import FailureType, Status, Type
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, make_file

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
from source_avidtrak.config import ConfigError

Overrides = Union[Dict[str, Any], Callable[[Dict[str, Any]], None]]


def date_range(first: Any, last: Any) -> dict:
    return {"mode": "date_range", "date_from": first, "date_to": last}


def specific_from(day: str) -> dict:
    return {"mode": "specific", "specific_date_from": day}


def specific_to(day: str) -> dict:
    return {"mode": "specific", "specific_date_to": day}


def relative_from(days: Any) -> dict:
    return {"mode": "relative", "date_from_offset": days}


def relative_to(days: int) -> dict:
    return {"mode": "relative", "date_to_offset": days}


def single(report_date: dict) -> dict:
    return {"mode": "single_date", "report_date": report_date}


def rename_pin_key(to: str) -> Callable[[Dict[str, Any]], None]:
    def rename(settings: Dict[str, Any]) -> None:
        settings[to] = settings.pop("pin_code")

    return rename


BAD_BASE_URL = "Enter the URL of your AvidTrak instance as https://host"
WHOLE_NUMBER = "must be a whole number from"
NOT_A_DATE = "is not a real date: use YYYY-MM-DD"
OFFSET = "offset must be a whole number of days back from 0 to 3650"
IANA = "Use an IANA name"

# case -> (config overrides, the field the message names, the fix it gives). Today is 2026-11-10 (UTC).
INVALID: Dict[str, Tuple[Overrides, str, str]] = {
    # The mistakes of issue 19: the CDK's schema check used to answer check first.
    "date_from_ofset": (
        {"duration": date_range({"mode": "relative", "date_from_ofset": 3}, relative_to(1))},
        "Date From is a relative date but has no 'date_from_offset'; it has 'date_from_ofset'",
        "Rename the key to 'date_from_offset'.",
    ),
    "pincode": (rename_pin_key("pincode"), "no 'pin_code'; it has 'pincode'", "Rename the key to 'pin_code'."),
    "date_from_a_number": (
        {"duration": date_range(7, relative_to(1))},
        "Date From",
        "must be a specific date or a relative number of days back",
    ),
    "reports_a_string": ({"reports": GEO}, "Report must be a list", '["geographical_data"]'),
    # Dates and offsets.
    "specific_from_after_to": (
        {"duration": date_range(specific_from("2026-11-05"), specific_to("2026-11-01"))},
        "Date From (2026-11-05) is after Date To (2026-11-01)",
        "Swap them",
    ),
    "relative_from_after_to": (
        {"duration": date_range(relative_from(1), relative_to(5))},
        "Date From (1 day back, 2026-11-09) is after Date To (5 days back, 2026-11-05)",
        "give Date From Offset the larger number of days back",
    ),
    "specific_from_after_relative_to": (
        {"duration": date_range(specific_from("2026-11-09"), relative_to(3))},
        "Date From (2026-11-09) is after Date To (3 days back, 2026-11-07)",
        "Swap them",
    ),
    "date_to_in_future": (
        {"duration": date_range(specific_from("2026-11-01"), specific_to("2026-11-11"))},
        "Date To (2026-11-11) is in the future: today is 2026-11-10 in UTC",
        "Pick a date on or before today",
    ),
    "date_to_future_in_time_zone_east_of_utc": (
        # 12:00 UTC is 02:00 on 2026-11-11 at UTC+14: "today" there is already the 11th
        {"duration": single({"mode": "specific", "specific_date": "2026-11-12"}), "timezone": "Pacific/Kiritimati"},
        "Date To (2026-11-12) is in the future: today is 2026-11-11 in Pacific/Kiritimati",
        "Pick a date on or before today",
    ),
    "negative_offset": ({"duration": date_range(relative_from(-1), relative_to(0))}, "Date From", OFFSET + "; got -1"),
    "huge_from_offset": (
        {"duration": date_range(relative_from(100_000), relative_to(0))},
        "Date From",
        OFFSET + "; got 100000",
    ),
    "huge_to_offset": ({"duration": date_range(relative_from(5), relative_to(3651))}, "Date To", OFFSET + "; got 3651"),
    "offset_not_a_number": (
        {"duration": date_range(relative_from("10"), relative_to(0))},
        "Date From",
        OFFSET + "; got '10'",
    ),
    "february_30": (
        {"duration": date_range(specific_from("2026-02-30"), specific_to("2026-03-01"))},
        "Date From '2026-02-30'",
        NOT_A_DATE,
    ),
    "month_13": ({"duration": single({"mode": "specific", "specific_date": "2026-13-01"})}, "Report Date", NOT_A_DATE),
    "february_29_in_common_year": (
        {"duration": date_range(specific_from("2026-01-01"), specific_to("2025-02-29"))},
        "Date To '2025-02-29'",
        NOT_A_DATE,
    ),
    "date_not_iso": (
        {"duration": date_range(specific_from("11/01/2026"), specific_to("2026-11-02"))},
        "Date From '11/01/2026'",
        NOT_A_DATE,
    ),
    "date_without_leading_zeros": (
        {"duration": single({"mode": "specific", "specific_date": "2026-1-5"})},
        "Report Date '2026-1-5'",
        NOT_A_DATE,
    ),
    "negative_single_date_offset": (
        {"duration": single({"mode": "relative", "date_offset": -3})},
        "Report Date",
        OFFSET + "; got -3",
    ),
    "date_key_misspelled": (
        {"duration": date_range({"mode": "specific", "specific_date": "2026-11-01"}, specific_to("2026-11-02"))},
        "Date From is a specific date but has no 'specific_date_from'; it has 'specific_date'",
        "Rename the key to 'specific_date_from'.",
    ),
    "offset_key_misspelled": (
        {"duration": single({"mode": "relative", "offset": 2})},
        "Report Date is a relative date but has no 'date_offset'; it has 'offset'",
        "Rename the key to 'date_offset'.",
    ),
    "duration_without_mode": ({"duration": {}}, "Duration has no 'mode'", "Add one of: yesterday"),
    # Time zone.
    "unknown_time_zone": ({"timezone": "Mars/Olympus_Mons"}, "Unknown Time Zone 'Mars/Olympus_Mons'", IANA),
    "time_zone_path": ({"timezone": "../../etc/passwd"}, "Unknown Time Zone '../../etc/passwd'", IANA),
    "time_zone_lowercase": ({"timezone": "america/new_york"}, "Unknown Time Zone 'america/new_york'", IANA),
    "time_zone_null": ({"timezone": None}, "Time Zone is null", "Leave the key 'timezone' out to use its default"),
    # Pin code.
    "empty_pin": ({"pin_code": ""}, "The Pin Code is empty", "Enter the pin code AvidTrak gave you"),
    "blank_pin": ({"pin_code": "   "}, "The Pin Code is empty", "Enter the pin code AvidTrak gave you"),
    "pin_not_a_string": ({"pin_code": 12345}, "The Pin Code must be text", "a JSON string in quotes"),
    "pin_key_misspelled": (rename_pin_key("pin"), "The Pin Code is missing", "Rename the key to 'pin_code'."),
    # Base URL.
    "base_url_ftp": ({"base_url": "ftp://avidtrak.com"}, "The Base URL must start with https://", BAD_BASE_URL),
    "base_url_no_scheme": ({"base_url": "avidtrak.com"}, "The Base URL must start with https://", BAD_BASE_URL),
    "base_url_no_host": ({"base_url": "https:///webservice/api.php"}, "The Base URL", "name a host"),
    "base_url_not_text": ({"base_url": 443}, "The Base URL must be text", "e.g. https://avidtrak.com"),
    "base_url_credentials": (
        {"base_url": "https://agency:secret@avidtrak.com"},
        "The Base URL must not contain a user name or password",
        BAD_BASE_URL,
    ),
    "base_url_query": ({"base_url": "https://avidtrak.com/?pincode=1"}, "query string or fragment", BAD_BASE_URL),
    "base_url_empty_query": ({"base_url": "https://avidtrak.com/?"}, "query string or fragment", BAD_BASE_URL),
    "base_url_fragment": ({"base_url": "https://avidtrak.com/#calls"}, "query string or fragment", BAD_BASE_URL),
    "base_url_plain_http": ({"base_url": "http://avidtrak.com"}, "The Base URL must use https://", BAD_BASE_URL),
    "base_url_http_localhost_lookalike": (
        {"base_url": "http://localhost.example.com"},
        "The Base URL must use https://",
        BAD_BASE_URL,
    ),
    "base_url_http_loopback_lookalike": (
        {"base_url": "http://127.0.0.1.example.com"},
        "The Base URL must use https://",
        BAD_BASE_URL,
    ),
    "base_url_port_out_of_range": (
        {"base_url": "https://avidtrak.com:99999"},
        "The Base URL is not a valid URL (Port out of range",
        BAD_BASE_URL,
    ),
    "base_url_space_in_host": ({"base_url": "https://avid trak.com"}, "The Base URL is not a valid URL", BAD_BASE_URL),
    "base_url_empty_label": ({"base_url": "https://avidtrak..com"}, "The Base URL is not a valid URL", BAD_BASE_URL),
    "base_url_broken_ipv6": ({"base_url": "https://[::1"}, "The Base URL is not a valid URL", BAD_BASE_URL),
    # Reports and the Advanced integers.
    "unknown_report": ({"reports": ["calls"]}, "Unknown Report 'calls'", "Choose from: geographical_data"),
    "no_report": ({"reports": []}, "Report", "Select at least one Report: geographical_data, offline_portal_calls"),
    "report_twice": ({"reports": [GEO, GEO]}, "Report lists 'geographical_data' twice", "Select each report once"),
    "window_days_0": ({"window_days": 0}, "Window Days", WHOLE_NUMBER + " 1 to 31; got 0"),
    "lookback_days_31": ({"lookback_days": 31}, "Lookback Days", WHOLE_NUMBER + " 0 to 30; got 31"),
    "page_size_501": ({"page_size": 501}, "Page Size", WHOLE_NUMBER + " 1 to 500; got 501"),
    "num_workers_11": ({"num_workers": 11}, "Number of Workers", WHOLE_NUMBER + " 1 to 10; got 11"),
    "requests_per_second_0": ({"requests_per_second": 0}, "Requests Per Second", "a number greater than 0"),
    "report_method_with_space": (
        {"report_methods": {GEO: "geo data"}},
        "Report Method Names > Geographical Data",
        "a method name without spaces",
    ),
    # Accounts.
    "account_name_blank": ({"account_name": "  "}, "Account Name must be a non-empty label", "leave it out"),
    "client_name_duplicate": (
        {"account_name": "Agency", "client_accounts": [{"name": "agency", "pin_code": "client-pin-1"}]},
        "Client Accounts: the name 'agency' is used twice",
        "Give every account its own name",
    ),
    "client_pin_equals_main": (
        {"client_accounts": [{"name": "client-7", "pin_code": PIN}]},
        "account 'client-7' has the same pin code as account 'main'",
        "enter that client's pin code",
    ),
    "client_pins_duplicate": (
        {"client_accounts": [{"name": "c-1", "pin_code": "client-pin-1"}, {"name": "c-2", "pin_code": "client-pin-1"}]},
        "account 'c-2' has the same pin code as account 'c-1'",
        "enter that client's pin code",
    ),
    "client_name_empty": (
        {"client_accounts": [{"name": "", "pin_code": "client-pin-1"}]},
        "Client account 1 has an empty name",
        "Give it a label",
    ),
    "client_name_missing": (
        {"client_accounts": [{"pin_code": "client-pin-1"}]},
        "Client account 1",
        "no 'name'. Add it",
    ),
    "client_pin_not_text": (
        {"client_accounts": [{"name": "client-7", "pin_code": 98765}]},
        "Client account 1 ('client-7'): the pin code must be text",
        "a JSON string in quotes",
    ),
    "client_pin_key_misspelled": (
        {"client_accounts": [{"name": "client-7", "pin": "client-pin-1"}]},
        "Client account 1 ('client-7') has no 'pin_code'; it has 'pin'",
        "Rename the key to 'pin_code'.",
    ),
    "client_accounts_not_a_list": ({"client_accounts": {"name": "c"}}, "Client Accounts must be a list", '"name"'),
}
# Values a pin code could be mistaken for: no message may echo them.
SECRETS = (PIN, "client-pin-1", "98765", "12345")


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
    if callable(overrides):
        overrides(settings)
    else:
        settings.update(overrides)
    return settings


def config_error(output: EntrypointOutput) -> str:
    """The one config_error TRACE a failed command ends with; check emits no CONNECTION_STATUS."""
    assert output.connection_status_messages == []
    assert output.get_message_by_types([Type.CATALOG]) == [] and output.records == []
    [error] = [message.trace.error for message in output.errors]
    assert error.failure_type == FailureType.config_error
    return error.message


@pytest.mark.parametrize("case", sorted(INVALID))
def test_given_invalid_config_when_check_discover_read_then_one_config_error_naming_the_field_and_the_fix(
    sim, case, tmp_path
):
    settings = invalid_config(sim, case)
    _, field, fix = INVALID[case]

    check = config_error(run_check(source(), settings, tmp_path))
    discovered = config_error(discover(source(), settings, expecting_exception=True))
    read = config_error(run_read(source(), settings))

    assert check == discovered == read
    assert field in check and fix in check
    assert not any(secret in check for secret in SECRETS)
    assert sim.requests == []


def test_given_invalid_config_when_console_script_or_launch_then_what_the_test_wrapper_shows(sim, tmp_path, capsys):
    """The console script's process: the same TRACE, exit status 1 and no CONNECTION_STATUS.

    In-process, the CDK's `launch` raises the ConfigError; a process's excepthook (installed
    by the CDK's entrypoint) turns it into that TRACE, after a FATAL log line.
    """
    settings = invalid_config(sim, "date_from_ofset")
    in_process = config_error(run_check(source(), settings, tmp_path))

    completed = run_connector(write_args(tmp_path / "check", "check", settings))

    assert completed.returncode == 1
    assert [m for m in completed.messages if m["type"] == "CONNECTION_STATUS"] == []
    assert [(e["failure_type"], e["message"]) for e in completed.errors] == [("config_error", in_process)]
    with pytest.raises(ConfigError) as raised:
        launch(source(), ["check", "--config", make_file(tmp_path / "launch.json", settings)])
    assert raised.value.message == in_process
    assert "CONNECTION_STATUS" not in capsys.readouterr().out
    assert sim.requests == []


def log_lines(output: EntrypointOutput, level: str) -> list:
    return [message.log.message for message in output.logs if message.log.level.name == level]


def test_given_an_unknown_key_when_each_command_then_one_warning_naming_the_nearest_key_and_the_command_runs(
    sim, tmp_path
):
    settings = config(sim.base_url, lookback_day=5)
    del settings["lookback_days"]

    outputs = {
        "check": run_check(source(), settings, tmp_path),
        "discover": discover(source(), settings),
        "read": run_read(source(), settings),
    }

    for command, output in outputs.items():
        [warning] = [line for line in log_lines(output, "WARN") if "lookback_day" in line]
        assert "'lookback_day'" in warning and "ignored" in warning, command
        assert "Did you mean 'lookback_days' (Lookback Days)?" in warning, command
        assert output.errors == [], command
    [status] = outputs["check"].connection_status_messages
    assert status.connectionStatus.status == Status.SUCCEEDED
    assert outputs["read"].records


def test_given_base_url_when_each_command_then_the_api_url_is_logged_once_without_the_pin(sim, tmp_path):
    settings = config(sim.base_url + "/webservice")
    outputs = [run_check(source(), settings, tmp_path), discover(source(), settings), run_read(source(), settings)]

    for output in outputs:
        lines = [line for line in log_lines(output, "INFO") if "AvidTrak API URL" in line]
        assert lines == [f"AvidTrak API URL: {sim.api_url}"]
    assert all(PIN not in message.log.message for output in outputs for message in output.logs)


def test_given_base_url_with_a_wrong_path_when_check_and_read_then_the_message_shows_the_url_called(sim, tmp_path):
    """The simulator answers only at /webservice/api.php: elsewhere a 404 HTML page, as a web server would."""
    settings = config(sim.base_url + "/portal")
    called = f"{sim.base_url}/portal/webservice/api.php"

    [status] = run_check(source(), settings, tmp_path).connection_status_messages
    read = last_error(run_read(source(), settings))

    assert status.connectionStatus.status == Status.FAILED
    assert read.failure_type == FailureType.config_error
    for message in (status.connectionStatus.message, read.message):
        assert "Check the Base URL" in message and f"the connector called {called}." in message
        assert PIN not in message
    assert sim.requests == []  # its log holds API requests only: none reached /webservice/api.php


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

"""The connector's commands against the simulator, over real HTTP on 127.0.0.1.

Every command runs through the CDK's entrypoint in this process, as the console script
runs it (connector_runner); the last section runs the installed `source-avidtrak` once per
command and requires the same messages and exit status. Each read is compared with the rows the simulator serves for exactly the expected days
(`simulator.rows`), and the simulator's request log with exactly the expected windows and
pages. Relative dates count back from today in UTC; the tests accept the today of either
side of the run, so a run across midnight still checks one consistent answer.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date, timedelta
from typing import Any, Dict, Iterable, List, Mapping, Sequence, Tuple

import pytest

from integration_tests.conftest import (
    STREAMS,
    WRONG_PIN,
    Connector,
    ConnectorRun,
    configured_catalog,
    make_config,
    specific_range,
    utc_today,
)
from integration_tests.simulator import AvidTrakSimulator
from source_avidtrak import spec_schema

Window = Tuple[date, date]
GEO, OFFLINE = STREAMS
DEFAULT_PAGE_SIZE = 500
LEAP_WEEK = (date(2024, 2, 26), date(2024, 3, 2))  # month end and a leap day


def day_windows(first: date, last: date, window_days: int = 1) -> List[Window]:
    """The windows the contract asks for: contiguous, `window_days` long, the last cut short."""
    windows, step = [], timedelta(days=window_days)
    while first <= last:
        windows.append((first, min(first + step - timedelta(days=1), last)))
        first += step
    return windows


def expected_record(row: Mapping[str, str]) -> Dict[str, Any]:
    """The contract's typing, written out independently of the connector's RecordTyper.

    "" is "no value": the connector makes it null, and the CDK's message serializer then
    leaves top-level nulls out of the RECORD's data (a destination reads a missing field as
    null), so on the wire an empty value is an absent key.
    """
    record: Dict[str, Any] = {key: value for key, value in row.items() if value != ""}
    record["account"] = "main"  # no client accounts: the default Account Name
    record["call_date"] = record["call_date"].replace(" ", "T")
    for name, convert in (("duration", int), ("latitude", float), ("longitude", float)):
        if name in record:
            record[name] = convert(record[name])
    return record


def expected_rows(simulator: AvidTrakSimulator, stream: str, windows: Iterable[Window]) -> List[Dict[str, str]]:
    return [row for first, last in windows for row in simulator.rows(stream, first, last)]


def expected_requests(
    simulator: AvidTrakSimulator, windows: Sequence[Window], page_size: int, streams: Sequence[str] = STREAMS
) -> Counter:
    """(method, startdate, enddate, page) of every request: a window of n rows takes n // size + 1 pages."""
    requests: Counter = Counter()
    for stream in streams:
        for first, last in windows:
            pages = len(simulator.rows(stream, first, last)) // page_size + 1
            for page in range(1, pages + 1):
                requests[(stream, f"{first} 00:00:00", f"{last} 23:59:59", page)] += 1
    return requests


def logged_requests(simulator: AvidTrakSimulator) -> Counter:
    return Counter(
        (entry["method"], entry["startdate"], entry["enddate"], entry["page"]) for entry in simulator.requests
    )


def requested_windows(simulator: AvidTrakSimulator) -> List[Window]:
    pairs = {(entry["startdate"][:10], entry["enddate"][:10]) for entry in simulator.requests}
    return sorted((date.fromisoformat(first), date.fromisoformat(last)) for first, last in pairs)


def assert_typed(records: Sequence[Mapping[str, Any]]) -> None:
    """`==` cannot tell 12 from 12.0: the JSON types are checked one by one."""
    for record in records:
        assert "T" in record["call_date"] and " " not in record["call_date"], record
        assert record.get("duration") is None or type(record["duration"]) is int, record
        for name in ("latitude", "longitude"):
            assert record.get(name) is None or type(record[name]) is float, record
        assert "" not in record.values() and None not in record.values(), record


def assert_read_matches(
    run: ConnectorRun,
    simulator: AvidTrakSimulator,
    windows: Sequence[Window],
    page_size: int = DEFAULT_PAGE_SIZE,
    streams: Sequence[str] = STREAMS,
) -> int:
    """Records equal the simulator's rows for `windows`, typed, once each; requests exactly the
    expected ones. Returns the number of records, so callers can rule out a vacuous pass."""
    assert run.returncode == 0 and not run.errors, run.describe()
    assert {record["stream"] for record in run.records} <= set(streams)
    for stream in streams:
        records = run.records_of(stream)
        call_ids = [record["call_id"] for record in records]
        assert len(call_ids) == len(set(call_ids)), f"{stream}: duplicate records"
        expected = [expected_record(row) for row in expected_rows(simulator, stream, windows)]
        assert sorted(records, key=lambda r: r["call_id"]) == sorted(expected, key=lambda r: r["call_id"])
        assert_typed(records)
    assert logged_requests(simulator) == expected_requests(simulator, windows, page_size, streams)
    assert all(entry["perpage"] == page_size and entry["pin_valid"] for entry in simulator.requests)
    return len(run.records)


def windows_for_either_today(simulator: AvidTrakSimulator, windows_for, before: date, after: date) -> List[Window]:
    """The windows the run asked for, checked against those of the today before or after it."""
    asked = requested_windows(simulator)
    candidates = [windows_for(today) for today in sorted({before, after})]
    assert asked in candidates, f"requested {asked}, expected one of {candidates}"
    return asked


# spec, check, discover


def test_when_spec_then_one_spec_with_every_config_key(connector: Connector) -> None:
    run = connector.run("spec")

    assert run.returncode == 0, run.describe()
    specs = run.of_type("SPEC")
    assert len(specs) == 1
    properties = specs[0]["spec"]["connectionSpecification"]["properties"]
    assert properties.keys() == spec_schema.config_keys()
    assert specs[0]["spec"]["connectionSpecification"] == spec_schema.connection_specification()
    assert properties["pin_code"]["airbyte_secret"] is True
    assert properties["client_accounts"]["items"]["properties"]["pin_code"]["airbyte_secret"] is True


@pytest.mark.parametrize("success_code", [1, 200])
def test_given_valid_pin_when_check_then_succeeded_after_one_small_request(
    connector: Connector, simulators, success_code: int
) -> None:
    simulator = simulators.get(success_code=success_code)
    before = utc_today()

    run = connector.run("check", make_config(simulator.base_url, {"mode": "yesterday"}))

    assert run.connection_status == {"status": "SUCCEEDED"}, run.describe()
    (request,) = simulator.requests
    yesterdays = {(before - timedelta(days=1)).isoformat(), (utc_today() - timedelta(days=1)).isoformat()}
    assert request["startdate"][:10] in yesterdays and request["enddate"][:10] == request["startdate"][:10]
    assert (request["method"], request["perpage"], request["page"], request["pin_valid"]) == (GEO, 1, 1, True)


@pytest.mark.parametrize("auth_failed_code", [4, 401])
def test_given_wrong_pin_when_check_then_failed_with_rejected_pin_message(
    connector: Connector, simulators, auth_failed_code: int
) -> None:
    simulator = simulators.get(auth_failed_code=auth_failed_code)
    config = make_config(simulator.base_url, {"mode": "yesterday"}, pin_code=WRONG_PIN)

    run = connector.run("check", config)

    status = run.connection_status
    assert status["status"] == "FAILED", run.describe()
    assert "AvidTrak rejected the pin code" in status["message"]
    assert f"code {auth_failed_code}" in status["message"]
    assert [entry["pin_valid"] for entry in simulator.requests] == [False]


def test_given_wrong_pin_when_read_then_config_error_and_no_records(connector: Connector, simulator) -> None:
    config = make_config(simulator.base_url, specific_range(date(2025, 1, 1), date(2025, 1, 2)), pin_code=WRONG_PIN)

    run = connector.run("read", config, configured_catalog())

    assert run.returncode != 0 and not run.records
    assert run.errors and run.errors[-1]["failure_type"] == "config_error", run.describe()
    assert any("AvidTrak rejected the pin code" in error["message"] for error in run.errors)


@pytest.mark.parametrize(
    "reports, streams",
    [(None, list(STREAMS)), ([OFFLINE], [OFFLINE]), ([GEO], [GEO])],
    ids=["default-both", "offline-only", "geographical-only"],
)
def test_given_reports_when_discover_then_exactly_those_streams(
    connector: Connector, simulator, reports, streams
) -> None:
    overrides = {} if reports is None else {"reports": reports}

    run = connector.run("discover", make_config(simulator.base_url, {"mode": "yesterday"}, **overrides))

    catalog = run.catalog
    assert [stream["name"] for stream in catalog["streams"]] == streams
    for stream in catalog["streams"]:
        assert stream["source_defined_primary_key"] == [["account"], ["call_id"]]
        assert stream["default_cursor_field"] == ["call_date"] and stream["source_defined_cursor"] is True
        assert set(stream["supported_sync_modes"]) == {"full_refresh", "incremental"}
    assert simulator.requests == [], "discover must not call the API"


# full refresh, one test per Duration option. Tests that name the windows asked for set
# window_days=1; unset, windows are sized by the data (unit_tests/test_cursor.py), as in the
# reads that compare records only.


def test_given_yesterday_when_full_refresh_then_exactly_yesterdays_calls(connector: Connector, simulator) -> None:
    before = utc_today()

    run = connector.run("read", make_config(simulator.base_url, {"mode": "yesterday"}), configured_catalog())

    yesterday = lambda today: [(today - timedelta(days=1),) * 2]  # noqa: E731
    windows = windows_for_either_today(simulator, yesterday, before, utc_today())
    assert_read_matches(run, simulator, windows)


def test_given_single_specific_date_when_full_refresh_then_that_day_only(connector: Connector, simulator) -> None:
    day = date(2025, 3, 1)
    duration = {"mode": "single_date", "report_date": {"mode": "specific", "specific_date": day.isoformat()}}

    run = connector.run("read", make_config(simulator.base_url, duration), configured_catalog())

    assert assert_read_matches(run, simulator, [(day, day)]) > 0


def test_given_single_relative_date_when_full_refresh_then_the_day_that_many_days_back(
    connector: Connector, simulator
) -> None:
    duration = {"mode": "single_date", "report_date": {"mode": "relative", "date_offset": 400}}
    before = utc_today()

    run = connector.run("read", make_config(simulator.base_url, duration), configured_catalog())

    windows = windows_for_either_today(
        simulator, lambda today: [(today - timedelta(days=400),) * 2], before, utc_today()
    )
    assert_read_matches(run, simulator, windows)


def test_given_specific_range_over_a_leap_day_when_full_refresh_then_one_window_per_day_with_paging(
    connector: Connector, simulator
) -> None:
    config = make_config(simulator.base_url, specific_range(*LEAP_WEEK), page_size=7, window_days=1)

    run = connector.run("read", config, configured_catalog())

    windows = day_windows(*LEAP_WEEK)
    assert len(windows) == 6 and (date(2024, 2, 29),) * 2 in windows
    assert assert_read_matches(run, simulator, windows, page_size=7) > 0
    assert max(entry["page"] for entry in simulator.requests) >= 3, "page_size 7 should need several pages"


def test_given_relative_range_when_full_refresh_then_from_ten_to_five_days_back(
    connector: Connector, simulator
) -> None:
    duration = {
        "mode": "date_range",
        "date_from": {"mode": "relative", "date_from_offset": 10},
        "date_to": {"mode": "relative", "date_to_offset": 5},
    }
    before = utc_today()

    run = connector.run("read", make_config(simulator.base_url, duration, window_days=1), configured_catalog())

    expected = lambda today: day_windows(today - timedelta(days=10), today - timedelta(days=5))  # noqa: E731
    windows = windows_for_either_today(simulator, expected, before, utc_today())
    assert len(windows) == 6
    assert assert_read_matches(run, simulator, windows) > 0


def test_given_specific_from_and_relative_to_when_full_refresh_then_the_mixed_range(
    connector: Connector, simulator
) -> None:
    before = utc_today()
    first = before - timedelta(days=6)
    duration = {
        "mode": "date_range",
        "date_from": {"mode": "specific", "specific_date_from": first.isoformat()},
        "date_to": {"mode": "relative", "date_to_offset": 3},
    }

    run = connector.run("read", make_config(simulator.base_url, duration, window_days=1), configured_catalog())

    expected = lambda today: day_windows(first, today - timedelta(days=3))  # noqa: E731
    windows = windows_for_either_today(simulator, expected, before, utc_today())
    assert assert_read_matches(run, simulator, windows) > 0


def test_given_window_days_four_when_full_refresh_then_four_day_windows_the_last_cut_short(
    connector: Connector, simulator
) -> None:
    first, last = date(2025, 1, 1), date(2025, 1, 10)
    config = make_config(simulator.base_url, specific_range(first, last), window_days=4, page_size=25)

    run = connector.run("read", config, configured_catalog())

    windows = day_windows(first, last, window_days=4)
    assert windows == [
        (date(2025, 1, 1), date(2025, 1, 4)),
        (date(2025, 1, 5), date(2025, 1, 8)),
        (date(2025, 1, 9), date(2025, 1, 10)),
    ]
    assert assert_read_matches(run, simulator, windows, page_size=25) > 0


def test_given_selected_report_when_full_refresh_then_only_its_method_is_called(
    connector: Connector, simulator
) -> None:
    day = date(2025, 3, 1)
    config = make_config(simulator.base_url, specific_range(day, day), reports=[OFFLINE])

    run = connector.run("read", config, configured_catalog(streams=[OFFLINE]))

    assert assert_read_matches(run, simulator, [(day, day)], streams=[OFFLINE]) > 0


@pytest.mark.parametrize("suffix", ["", "/webservice"], ids=["host", "webservice"])
def test_given_base_url_form_when_full_refresh_then_requests_go_to_the_api_path(
    connector: Connector, simulator, suffix: str
) -> None:
    day = date(2025, 3, 1)
    config = make_config(simulator.base_url + suffix, specific_range(day, day))

    run = connector.run("read", config, configured_catalog())

    assert assert_read_matches(run, simulator, [(day, day)]) > 0
    assert {entry["path"] for entry in simulator.requests} == {"/webservice/api.php"}


# incremental


def stored_state(run: ConnectorRun) -> List[Dict[str, Any]]:
    """The state the platform keeps after a sync: each stream's last STATE message."""
    states = [run.final_state_of(stream) for stream in STREAMS]
    assert all(states), f"every stream must emit state: {run.states}"
    return [{"type": "STREAM", "stream": state["stream"]} for state in states]


def end_of_day(day: date) -> Dict[str, Any]:
    """The state after a sync that completed every window through `day` (the one account, main)."""
    return {"states": [{"partition": {"account": "main"}, "cursor": {"call_date": f"{day.isoformat()}T23:59:59"}}]}


def test_given_no_state_when_incremental_then_state_is_the_end_of_the_last_window(
    connector: Connector, simulator
) -> None:
    first, last = date(2025, 1, 1), date(2025, 1, 5)
    config = make_config(simulator.base_url, specific_range(first, last), page_size=10, window_days=1)

    run = connector.run("read", config, configured_catalog("incremental"))

    assert assert_read_matches(run, simulator, day_windows(first, last), page_size=10) > 0
    for stream in STREAMS:
        assert run.final_state_of(stream)["stream"]["stream_state"] == end_of_day(last)


def test_given_state_when_next_incremental_then_it_resumes_lookback_days_back_and_misses_nothing(
    connector: Connector, simulator
) -> None:
    """Two daily syncs, the second after Date To moved on, together equal one clean full read."""
    first, middle, last, lookback_days = date(2025, 1, 1), date(2025, 1, 5), date(2025, 1, 10), 2
    config = lambda end: make_config(  # noqa: E731
        simulator.base_url, specific_range(first, end), lookback_days=lookback_days, page_size=10, window_days=1
    )
    first_run = connector.run("read", config(middle), configured_catalog("incremental"))
    assert first_run.returncode == 0, first_run.describe()
    state = stored_state(first_run)
    simulator.clear_requests()

    second_run = connector.run("read", config(last), configured_catalog("incremental"), state=state)

    for stream_state in state:
        stream = stream_state["stream"]["stream_descriptor"]["name"]
        [main] = stream_state["stream"]["stream_state"]["states"]
        state_day = date.fromisoformat(main["cursor"]["call_date"][:10])
        resumed = state_day - timedelta(days=lookback_days)
        asked = sorted({entry["startdate"][:10] for entry in simulator.requests if entry["method"] == stream})
        assert asked == [day.isoformat() for day in day_windows(resumed, last) for day in day[:1]]
        second = {record["call_id"]: record for record in second_run.records_of(stream)}
        first_ids = {record["call_id"] for record in first_run.records_of(stream)}
        clean = {row["call_id"] for row in simulator.rows(stream, first, last)}
        assert first_ids | set(second) == clean
        overlap_days = {date.fromisoformat(second[call_id]["call_date"][:10]) for call_id in first_ids & set(second)}
        assert overlap_days and all(resumed <= day <= state_day for day in overlap_days), overlap_days
        assert stream_state["stream"]["stream_state"] == end_of_day(middle)
        assert second_run.final_state_of(stream)["stream"]["stream_state"] == end_of_day(last)
    assert second_run.returncode == 0 and not second_run.errors, second_run.describe()


# the console script: one run per command, the same answer as in this process

CLIENTS = (("client-7", "sim-client-pin-7"), ("client-8", "sim-client-pin-8"))


def without_run_details(value: Any) -> Any:
    """A message without what differs between two runs of one command: times and stack traces."""
    if isinstance(value, dict):
        return {
            key: without_run_details(item) for key, item in value.items() if key not in ("emitted_at", "stack_trace")
        }
    if isinstance(value, list):
        return [without_run_details(item) for item in value]
    return value


def answer(run: ConnectorRun) -> Tuple[int, List[str]]:
    """Exit status and every protocol message but the logs, in a stable order."""
    messages = [json.dumps(without_run_details(m), sort_keys=True) for m in run.messages if m["type"] != "LOG"]
    return run.returncode, sorted(messages)


def agency(simulator: AvidTrakSimulator, duration: Dict[str, Any], clients=CLIENTS, **overrides: Any) -> Dict[str, Any]:
    accounts = [{"name": name, "pin_code": pin} for name, pin in clients]
    return make_config(simulator.base_url, duration, account_name="agency", client_accounts=accounts, **overrides)


WEEK = specific_range(date(2025, 1, 1), date(2025, 1, 4))
SAVED = [  # the agency's cursor only: the clients start at Date From
    {
        "type": "STREAM",
        "stream": {
            "stream_descriptor": {"name": stream},
            "stream_state": {
                "states": [{"partition": {"account": "agency"}, "cursor": {"call_date": "2025-01-02T23:59:59"}}]
            },
        },
    }
    for stream in STREAMS
]
# verb -> the inputs it is compared on (the path that says the most about it)
PARITY_INPUTS = {
    "spec": lambda sim: {},
    "check": lambda sim: {"config": agency(sim, {"mode": "yesterday"}, clients=(CLIENTS[0], ("client-9", WRONG_PIN)))},
    "discover": lambda sim: {"config": make_config(sim.base_url, WEEK, reports=[OFFLINE])},
    # one worker: the order of STATE messages is then the same in both runs
    "read": lambda sim: {
        "config": agency(sim, WEEK, page_size=7, num_workers=1),
        "catalog": configured_catalog("incremental"),
        "state": SAVED,
    },
}


def assert_says_something(verb: str, run: ConnectorRun) -> None:
    """The compared answer is the command's real one, not an empty or failed run."""
    if verb == "spec":
        assert len(run.of_type("SPEC")) == 1
    elif verb == "check":
        assert run.connection_status["status"] == "FAILED" and "'client-9'" in run.connection_status["message"]
    elif verb == "discover":
        assert [stream["name"] for stream in run.catalog["streams"]] == [OFFLINE]
    else:
        assert run.returncode == 0 and not run.errors, run.describe()
        assert {record["account"] for record in run.records_of(GEO)} == {"agency", "client-7", "client-8"}
        assert min(r["call_date"] for r in run.records_of(GEO) if r["account"] == "agency") >= "2025-01-01T"
        assert run.final_state_of(GEO) and run.final_state_of(OFFLINE)


@pytest.mark.parametrize("verb", sorted(PARITY_INPUTS))
def test_given_a_command_when_the_console_script_runs_it_then_the_same_answer_as_in_process(
    connector: Connector, console_script: Connector, simulators, verb: str
) -> None:
    simulator = simulators.get(clients=CLIENTS)
    inputs = PARITY_INPUTS[verb](simulator)

    in_process = connector.run(verb, **inputs)
    process = console_script.run(verb, **inputs)

    assert_says_something(verb, in_process)
    assert answer(process) == answer(in_process), process.describe()
    assert process.stderr == "", process.stderr[-2000:]

"""Faults on the wire: a single fault is retried and the sync is complete; a fault that
persists ends the sync in bounded time with a transient error naming the report and
window; errors AvidTrak reports in the body are never retried; rows that cannot be typed
are emitted anyway. All runs go through the CDK's entrypoint against the simulator over
real HTTP (the bad-rows case uses the CDK's HttpMocker: the simulator only serves valid
rows). Backoff never sleeps: the CDK's sleeps are recorded instead (fault_support).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from email.utils import format_datetime

import pytest
from airbyte_cdk.models import FailureType, Level, Status, SyncMode
from airbyte_cdk.test.mock_http import HttpMocker, HttpRequest, HttpResponse

from integration_tests.fault_support import (
    FAST_POLICY,
    FAULTS,
    GEO,
    OFFLINE,
    PIN,
    call_ids,
    catalog,
    config,
    connector,
    install_recording_sleep,
    last_error,
    run_check,
    run_read,
    source,
    state_values,
)
from integration_tests.simulator import AvidTrakSimulator, Fault
from source_avidtrak.errors import RetryPolicy

DAY_1, DAY_2 = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
PAGE_SIZE = 8  # 14..26 calls a day: every window has several pages


@pytest.fixture
def sim():
    with AvidTrakSimulator(pins=(PIN,), empty_day_ratio=0.0) as simulator:
        yield simulator


@pytest.fixture
def sleeps(monkeypatch):
    return install_recording_sleep(monkeypatch)


def fault(name: str, times=1, **narrowing) -> Fault:
    params = dict(FAULTS[name][0])
    return Fault(params.pop("kind"), times=times, **narrowing, **params)


def expected_ids(sim, first=DAY_1, last=DAY_2, method=GEO):
    return [row["call_id"] for row in sim.rows(method, first, last)]


def attempts(sim, startdate: str, page: int = 1):
    return [r for r in sim.requests if r["startdate"] == startdate and r["page"] == page]


@pytest.mark.parametrize("name", FAULTS)
def test_given_one_fault_on_page_2_when_read_then_retried_and_records_complete(sim, sleeps, name):
    sim.add_fault(fault(name, method=GEO, page=2))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-02", page_size=PAGE_SIZE))

    assert not output.errors, [e.trace.error.message for e in output.errors]
    ids = call_ids(output)
    assert sorted(ids) == sorted(expected_ids(sim)) and len(ids) == len(set(ids))
    faulted = [r for r in sim.requests if r["fault"]]
    assert [(r["startdate"], r["page"]) for r in faulted] == [("2026-11-01 00:00:00", 2)]
    assert [r["fault"] for r in attempts(sim, "2026-11-01 00:00:00", page=2)] == [faulted[0]["fault"], None]
    assert sleeps.backoffs == FAULTS[name][2][:1]
    newest_call = sim.rows(GEO, DAY_2, DAY_2)[-1]["call_date"].replace(" ", "T")
    assert newest_call <= state_values(output)[-1] <= "2026-11-02T23:59:59"


# Valid JSON of the wrong shape: one retry, then a system error (a minute of retries would not help).
SHAPE_FAULTS = {"non_object_json": "the body is JSON an array", "data_not_a_list": "'data' is a string"}


@pytest.mark.parametrize("name", sorted(set(FAULTS) - set(SHAPE_FAULTS)))
def test_given_persistent_fault_when_read_then_retries_exhausted_and_one_transient_error_names_report_and_window(
    sim, sleeps, name
):
    sim.add_fault(fault(name, times=None, method=GEO))
    started = time.monotonic()

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert time.monotonic() - started < 10
    assert output.records == []
    assert len(attempts(sim, "2026-11-01 00:00:00")) == FAST_POLICY.max_retries + 1
    assert sleeps.backoffs == FAULTS[name][2]
    [error] = [m.trace.error for m in output.errors]  # one error: the window's, not the CDK's summary
    assert (
        "report geographical_data" in error.message
        and "window 2026-11-01 00:00:00..2026-11-01 23:59:59" in error.message
    )
    assert FAULTS[name][1] in error.message and "Gave up after 2 retries (within 30 s)" in error.message
    assert error.failure_type == FailureType.transient_error


@pytest.mark.parametrize("name", sorted(SHAPE_FAULTS))
def test_given_persistent_wrong_shape_json_when_read_then_one_retry_and_system_error_quoting_the_shape(
    sim, sleeps, name
):
    sim.add_fault(fault(name, times=None, method=GEO))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert output.records == []
    assert len(attempts(sim, "2026-11-01 00:00:00")) == 2 and sleeps.backoffs == FAULTS[name][2][:1]
    [error] = [m.trace.error for m in output.errors]
    assert error.failure_type == FailureType.system_error
    assert error.message.startswith(
        "AvidTrak sent a response of an unexpected shape for report geographical_data, "
        "window 2026-11-01 00:00:00..2026-11-01 23:59:59, page 1: "
    )
    assert SHAPE_FAULTS[name] in error.message


@pytest.mark.parametrize(
    "retry_after, expected_backoff",
    [
        ("3", 3.0),
        ("2.5", 2.5),
        ("0", FAST_POLICY.retry_after_floor_seconds),
        ("0.2", FAST_POLICY.retry_after_floor_seconds),
        ("-5", FAST_POLICY.retry_after_floor_seconds),
        ("5", FAST_POLICY.cap_seconds),  # the cap itself is still waited for
        ("soon", FAST_POLICY.base_seconds),  # unreadable: exponential backoff instead
        (
            format_datetime(dt.datetime(2000, 1, 1, tzinfo=dt.UTC), usegmt=True),
            FAST_POLICY.retry_after_floor_seconds,
        ),
    ],
)
def test_given_429_with_retry_after_when_read_then_backoff_is_retry_after_within_floor_and_cap(
    sim, sleeps, retry_after, expected_backoff
):
    sim.add_fault(Fault("rate_limit", times=1, method=GEO, retry_after=retry_after))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert not output.errors
    assert sleeps.backoffs == [expected_backoff + 1]  # the CDK adds a second to what the strategy asks
    assert sorted(call_ids(output)) == sorted(expected_ids(sim, DAY_1, DAY_1))


@pytest.mark.parametrize(
    "retry_after",
    ["600", format_datetime(dt.datetime(2100, 1, 1, tzinfo=dt.UTC), usegmt=True)],
    ids=["seconds", "http_date"],
)
def test_given_429_with_retry_after_beyond_the_cap_when_read_then_one_transient_error_at_once(sim, sleeps, retry_after):
    sim.add_fault(Fault("rate_limit", times=None, method=GEO, retry_after=retry_after))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert output.records == [] and len(sim.requests) == 1 and sleeps.backoffs == []  # not retried
    [error] = [m.trace.error for m in output.errors]
    assert error.failure_type == FailureType.transient_error
    assert "HTTP 429" in error.message and "asked to wait" in error.message
    assert "report geographical_data" in error.message and "resumes from the saved state" in error.message


def test_given_429_with_retry_after_as_http_date_when_read_then_backoff_is_seconds_until_then(sim, sleeps):
    in_three_seconds = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    sim.add_fault(Fault("rate_limit", times=1, method=GEO, retry_after=format_datetime(in_three_seconds, usegmt=True)))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert not output.errors
    [wait] = sleeps.backoffs
    assert 1.5 <= wait - 1 <= 3.0  # the header has whole seconds


@pytest.mark.parametrize("max_retries", [0, 1, 4])
def test_given_max_retries_when_server_keeps_failing_then_cdk_sends_exactly_max_retries_plus_one(
    sim, sleeps, max_retries
):
    sim.add_fault(Fault("http_status", times=None, status=503))
    policy = RetryPolicy(max_retries=max_retries, base_seconds=1.0, cap_seconds=3.0)

    output = run_read(source(policy), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert len(sim.requests) == max_retries + 1
    assert sleeps.backoffs == [min(1.0 * 2**n, 3.0) + 1 for n in range(max_retries)]
    assert last_error(output).failure_type == FailureType.transient_error


def test_given_max_time_when_every_request_times_out_then_retries_stop_at_max_time(sim, sleeps):
    sim.add_fault(Fault("timeout", times=None, seconds=5))
    policy = RetryPolicy(max_retries=100, max_time_seconds=1, base_seconds=0.1, read_timeout_seconds=0.25)
    started = time.monotonic()

    output = run_read(source(policy), config(sim.base_url, first="2026-11-01", last="2026-11-01"))

    assert time.monotonic() - started < 5
    assert 3 <= len(sim.requests) <= 8  # about 1 s of 0.25 s timeouts, far below 101 attempts
    assert last_error(output).failure_type == FailureType.transient_error


def test_given_server_always_failing_on_every_window_when_read_then_sync_ends_in_bounded_time(sim, sleeps):
    sim.add_fault(Fault("timeout", times=None, seconds=30))
    started = time.monotonic()

    output = run_read(
        source(),
        config(sim.base_url, reports=(GEO, OFFLINE), first="2026-11-01", last="2026-11-03", num_workers=3),
        catalog(GEO, OFFLINE),
    )

    # The windows in flight on 3 workers each make 3 attempts of a 0.3 s read timeout; once
    # one gives up, no other window starts (6 windows would make 18 requests).
    assert time.monotonic() - started < 5
    assert len(sim.requests) <= 3 * (FAST_POLICY.max_retries + 1)
    assert output.records == []
    [error] = [e.trace.error for e in output.errors]
    assert error.failure_type == FailureType.transient_error and "ReadTimeout" in error.message


# --- exit status: the commands as the console script runs them (connector_runner) ------


def test_given_one_fault_when_connector_reads_then_exit_0_and_records_complete(sim, tmp_path):
    sim.add_fault(fault("http_503", method=GEO, page=1))

    run = connector(tmp_path).run("read", config(sim.base_url), catalog())

    assert run.returncode == 0, run.describe()
    ids = [record["call_id"] for record in run.records_of(GEO)]
    assert sorted(ids) == sorted(expected_ids(sim, DAY_1, dt.date(2026, 11, 3)))
    assert [r["fault"] for r in sim.requests[:2]] == ["http_status", None]
    assert run.errors == []


@pytest.mark.parametrize("name", ["http_503", "connection_reset", "read_timeout", "html_page_http_200"])
def test_given_persistent_fault_when_connector_reads_then_nonzero_exit_with_transient_error(sim, tmp_path, name):
    sim.add_fault(fault(name, times=None))
    started = time.monotonic()

    run = connector(tmp_path).run("read", config(sim.base_url, last="2026-11-01"), catalog())

    assert time.monotonic() - started < 30
    assert run.returncode != 0
    assert run.errors[-1]["failure_type"] == "transient_error"
    assert any("window 2026-11-01 00:00:00..2026-11-01 23:59:59" in e["message"] for e in run.errors)
    assert len(sim.requests) == FAST_POLICY.max_retries + 1


# --- honest failure types ---------------------------------------------------------------


def closed_port_url() -> str:
    """A loopback URL nothing listens on: AvidTrak is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_given_avidtrak_unreachable_when_read_then_short_budget_and_one_transient_error_naming_the_host(sleeps):
    url = closed_port_url()
    output = run_read(source(), config(url, reports=(GEO, OFFLINE), num_workers=2), catalog(GEO, OFFLINE))

    assert output.records == []
    [error] = [e.trace.error for e in output.errors]
    assert error.failure_type == FailureType.transient_error
    assert "AvidTrak could not be reached" in error.message and "3 attempts" in error.message
    assert f"Check the Base URL (the connector called {url}/webservice/api.php)" in error.message
    assert "DNS, firewall, proxy" in error.message
    assert len(sleeps.backoffs) <= 2 * 2  # at most two windows in flight, two retries each
    assert not output.is_in_logs("Rate limit exceeded")


def test_given_avidtrak_down_when_connector_reads_then_nonzero_exit_and_last_error_is_transient(tmp_path):
    run = connector(tmp_path).run("read", config(closed_port_url()), catalog())

    assert run.returncode != 0
    assert run.errors[-1]["failure_type"] == "transient_error"


def test_given_wrong_pin_when_read_then_one_config_error_and_no_other_window(sim, sleeps):
    output = run_read(source(), config(sim.base_url, pin="not-the-pin"))

    [error] = [e.trace.error for e in output.errors]
    assert error.failure_type == FailureType.config_error and error.message.startswith("AvidTrak rejected the pin code")
    assert len(sim.requests) == 1 and sleeps.backoffs == []  # the first window only, not retried


def test_given_wrong_pin_when_connector_reads_then_exit_1_and_config_error(sim, tmp_path):
    run = connector(tmp_path).run("read", config(sim.base_url, pin="not-the-pin"), catalog())

    assert run.returncode == 1
    assert run.errors[-1]["failure_type"] == "config_error"
    assert any(e["message"].startswith("AvidTrak rejected the pin code") for e in run.errors)


def test_given_one_report_down_and_one_rejecting_method_when_read_then_the_first_failure_alone_ends_it(sim, sleeps):
    sim.add_fault(Fault("http_status", times=None, method=GEO, status=503))
    sim.add_fault(Fault("envelope", times=None, method=OFFLINE, code=404, status="Invalid Request Method"))

    output = run_read(source(), config(sim.base_url, reports=(GEO, OFFLINE), last="2026-11-01"), catalog(GEO, OFFLINE))

    # One worker: geographical_data's window runs first, gives up, and no other window starts.
    [error] = [e.trace.error for e in output.errors]
    assert error.failure_type == FailureType.transient_error and "HTTP 503" in error.message
    assert {r["method"] for r in sim.requests} == {GEO}


@pytest.mark.parametrize(
    "fault_params, failure_type, text",
    [
        ({"kind": "envelope", "code": 3, "status": "Authentication Required"}, FailureType.config_error, "pin code"),
        ({"kind": "envelope", "code": 401, "status": "Authentication Failed"}, FailureType.config_error, "pin code"),
        ({"kind": "envelope", "code": 6, "status": "Invalid Response Format"}, FailureType.system_error, "format=json"),
        (
            {"kind": "envelope", "code": 404, "status": "Invalid Request Method"},
            FailureType.system_error,
            "Report Method Names",
        ),
        (
            {"kind": "envelope", "code": 99, "status": "Quota Frozen"},
            FailureType.system_error,
            "code 99 (Quota Frozen)",
        ),
        ({"kind": "http_status", "status": 404, "body": "Not Found"}, FailureType.config_error, "Base URL"),
        ({"kind": "http_status", "status": 403, "body": "Forbidden"}, FailureType.config_error, "Base URL"),
    ],
)
def test_given_error_answer_when_read_then_failed_once_without_retry(sim, sleeps, fault_params, failure_type, text):
    params = dict(fault_params)
    sim.add_fault(Fault(params.pop("kind"), times=None, **params))

    output = run_read(source(), config(sim.base_url, last="2026-11-01"))

    assert len(sim.requests) == 1 and sleeps.backoffs == []
    [error] = [e.trace.error for e in output.errors]
    assert error.failure_type == failure_type and text in error.message


def test_given_code_0_on_first_page_when_read_then_window_is_empty_and_sync_succeeds(sim, sleeps):
    sim.add_fault(Fault("envelope", times=1, method=GEO, page=1, code=0, status="Unknown Error"))

    output = run_read(source(), config(sim.base_url, first="2026-11-01", last="2026-11-02"))

    assert not output.errors
    assert sorted(call_ids(output)) == sorted(expected_ids(sim, DAY_2, DAY_2))
    assert any("no calls on 2026-11-01" in m.log.message and "code 0" in m.log.message for m in output.logs)


@pytest.mark.parametrize("name", ["http_503", "connection_reset"])
def test_given_check_against_failing_server_when_check_then_failed_status_names_base_url(sim, sleeps, tmp_path, name):
    sim.add_fault(fault(name, times=None))

    output = run_check(source(), config(sim.base_url), tmp_path)

    [status] = output.connection_status_messages
    assert status.connectionStatus.status == Status.FAILED
    assert FAULTS[name][1] in status.connectionStatus.message
    assert "Check that the Base URL" in status.connectionStatus.message


# --- rows the connector cannot type (HttpMocker: the simulator serves only valid rows) ---

MOCK_BASE = "https://avidtrak.example"
BAD_ROWS = [
    {"call_date": "2026-11-01 08:00:00", "duration": "30", "caller_name": "no id"},
    {"call_id": "", "call_date": "2026-11-01 09:00:00", "duration": "31"},
    {"call_id": "3", "call_date": "yesterday at noon", "duration": "32"},
    {"call_id": "4", "call_date": "2026-11-01 10:00:00", "duration": "12s"},
    {"call_id": "5", "call_date": "2026-11-01 11:00:00", "duration": "40", "campaign": "fine"},
]


def api_request(day: str, page: int = 1) -> HttpRequest:
    return HttpRequest(
        f"{MOCK_BASE}/webservice/api.php",
        query_params={
            "pincode": PIN,
            "method": OFFLINE,
            "format": "json",
            "startdate": f"{day} 00:00:00",
            "enddate": f"{day} 23:59:59",
            "use_paging": "TRUE",
            "perpage": "500",
            "page": str(page),
        },
    )


@pytest.mark.parametrize("sync_mode", [SyncMode.incremental, SyncMode.full_refresh])
def test_given_rows_without_id_or_with_unparseable_values_when_read_then_emitted_typed_null_and_counted(sync_mode):
    with HttpMocker() as http:
        body = json.dumps({"code": 1, "status": "Success", "data": BAD_ROWS}).replace("/", "\\/")
        http.get(api_request("2026-11-01"), HttpResponse(body))

        output = run_read(
            source(), config(MOCK_BASE, reports=(OFFLINE,), last="2026-11-01"), catalog(OFFLINE, sync_mode=sync_mode)
        )

    assert not output.errors
    records = [m.record.data for m in output.records]
    assert len(records) == len(BAD_ROWS)
    # The CDK's serializer omits null values: a typed null is an absent key on the wire.
    by_duration = {
        record.get("_avidtrak_unparsed", {}).get("duration") or record["duration"]: record for record in records
    }
    main = {"account": "main"}
    assert by_duration[30] == {**main, "call_date": "2026-11-01T08:00:00", "duration": 30, "caller_name": "no id"}
    assert by_duration[31] == {**main, "call_date": "2026-11-01T09:00:00", "duration": 31}
    assert by_duration[32] == {
        **main,
        "call_id": "3",
        "duration": 32,
        "_avidtrak_unparsed": {"call_date": "yesterday at noon"},
    }
    assert by_duration["12s"] == {
        **main,
        "call_id": "4",
        "call_date": "2026-11-01T10:00:00",
        "_avidtrak_unparsed": {"duration": "12s"},
    }
    assert by_duration[40] == {
        **main,
        "call_id": "5",
        "call_date": "2026-11-01T11:00:00",
        "duration": 40,
        "campaign": "fine",
    }
    warnings = [
        m.log.message for m in output.logs if m.log.level == Level.WARN and "_avidtrak_unparsed" in m.log.message
    ]
    assert len(warnings) == 1
    assert "2 without a valid call_id" in warnings[0]
    assert "1 without a valid call_date" in warnings[0] and "1 without a valid duration" in warnings[0]
    assert "offline_portal_calls 2026-11-01 page 1" in warnings[0]

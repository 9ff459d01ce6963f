"""Fail fast, fail once, never hang: the installed console script against the simulator.

Each case asserts the exit status, a wall-clock bound and the exact message. Runs that
need retries use the test launcher (fault_support: the CDK's `launch` with small retry
budgets and no real sleeps); the rest run `source-avidtrak` itself.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from integration_tests.fault_support import (
    GEO,
    OFFLINE,
    PIN,
    catalog,
    config,
    connector_command,
    connector_env,
    run_connector,
    write_args,
)
from integration_tests.simulator import AvidTrakSimulator, Fault
from source_avidtrak.run import EXIT_OUTPUT_CLOSED

REJECTED_PIN = (
    "AvidTrak rejected the pin code (code 4: Authentication Failed). Check the Pin Code in the connector's "
    "credentials: an agency and each of its clients have separate pin codes."
)


@pytest.fixture
def slow_sim():
    """50 ms a request: a 60-day sync takes seconds, long enough to interrupt."""
    with AvidTrakSimulator(pins=(PIN,), latency_s=0.05, empty_day_ratio=0.0) as simulator:
        yield simulator


@pytest.fixture
def sim():
    with AvidTrakSimulator(pins=(PIN,), empty_day_ratio=0.0) as simulator:
        yield simulator


def start(args, launcher: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        connector_command(launcher) + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=connector_env(),
    )


def long_read_args(tmp_path, base_url: str) -> list:
    settings = config(
        base_url, reports=(GEO, OFFLINE), first="2026-09-01", last="2026-10-30", num_workers=3, page_size=5
    )
    return write_args(tmp_path, "read", settings, catalog(GEO, OFFLINE))


def test_given_reader_closes_stdout_after_five_lines_when_read_then_exits_promptly_without_more_requests(
    slow_sim, tmp_path
):
    process = start(long_read_args(tmp_path, slow_sim.base_url))
    lines = [process.stdout.readline() for _ in range(5)]
    process.stdout.close()  # what `| head -5` does
    closed_at, requests_at_close = time.monotonic(), len(slow_sim.requests)

    returncode = process.wait(timeout=10)
    exited_after = time.monotonic() - closed_at
    stderr = process.stderr.read().decode()
    requests_after_exit = len(slow_sim.requests)
    time.sleep(0.5)

    assert all(json.loads(line) for line in lines)
    assert returncode == EXIT_OUTPUT_CLOSED and exited_after < 5, (returncode, exited_after)
    assert "stdout was closed by its reader" in stderr and "Traceback" not in stderr, stderr[-2000:]
    # Requests in flight when the pipe closed may finish; none start once the process noticed.
    assert requests_after_exit - requests_at_close <= 3 * 4
    assert len(slow_sim.requests) == requests_after_exit
    assert requests_after_exit < 2 * 60  # far from the whole sync's 120+ requests


def test_given_running_sync_when_sigterm_then_exits_at_once(slow_sim, tmp_path):
    process = start(long_read_args(tmp_path, slow_sim.base_url))
    while b'"RECORD"' not in process.stdout.readline():
        pass
    sent_at = time.monotonic()
    process.send_signal(signal.SIGTERM)

    returncode = process.wait(timeout=10)

    assert returncode == -signal.SIGTERM and time.monotonic() - sent_at < 2


@pytest.mark.parametrize(
    "first, last", [("2026-11-01", "2026-11-06"), ("2026-08-01", "2026-10-29")], ids=["6_days", "90_days"]
)
def test_given_rejected_pin_when_read_then_one_config_error_and_no_request_after_it(sim, tmp_path, first, last):
    settings = config(sim.base_url, pin="not-the-pin", first=first, last=last, num_workers=3)

    started = time.monotonic()
    completed = run_connector(write_args(tmp_path, "read", settings, catalog(GEO)))
    elapsed = time.monotonic() - started

    assert completed.returncode == 1 and elapsed < 15
    assert [(e["failure_type"], e["message"]) for e in completed.errors] == [("config_error", REJECTED_PIN)]
    assert len(sim.requests) <= 3  # the first window of each worker; no window starts after it
    assert "'None'" not in completed.stdout + completed.stderr
    # Windows abandoned by the stop are logged at DEBUG: a traceback for each of the (at most 3)
    # windows AvidTrak really rejected, and the final error's, never one a window (90 here).
    assert completed.stdout.count("Traceback") <= 3 + 2 and len(completed.stdout) < 40_000


def test_given_rejected_pin_when_check_then_failed_and_no_none_text_in_logs(sim, tmp_path):
    completed = run_connector(write_args(tmp_path, "check", config(sim.base_url, pin="not-the-pin")))

    [status] = [m["connectionStatus"] for m in completed.messages if m["type"] == "CONNECTION_STATUS"]
    assert (status["status"], status["message"]) == ("FAILED", REJECTED_PIN)
    assert "'None'" not in completed.stdout + completed.stderr


def test_given_avidtrak_down_when_read_many_windows_then_one_transient_error_and_no_new_window(sim, tmp_path):
    sim.add_fault(Fault("http_status", times=None, status=503))
    settings = config(sim.base_url, first="2026-10-01", last="2026-10-30", num_workers=2)

    started = time.monotonic()
    completed = run_connector(write_args(tmp_path, "read", settings, catalog(GEO)), launcher=True)
    elapsed = time.monotonic() - started

    errors = completed.errors
    assert completed.returncode == 1 and elapsed < 30
    assert len(errors) == 1 and errors[0]["failure_type"] == "transient_error", errors
    assert errors[0]["message"].startswith("AvidTrak answered HTTP 503 for report geographical_data, window 2026-10-0")
    # FAST_POLICY: 3 attempts a window; only the windows already started when the first gave up.
    assert len(sim.requests) <= 3 * 2
    # No window completed: the state holds no cursor for the account, so the next sync starts
    # at the configured range again, covering none of it.
    states = [m["state"]["stream"]["stream_state"] for m in completed.messages if m["type"] == "STATE"]
    assert states == [{"states": []}]


def test_given_catalog_stream_the_config_does_not_offer_when_console_read_then_config_error_naming_it(sim, tmp_path):
    settings = config(sim.base_url, reports=(GEO,))

    completed = run_connector(write_args(tmp_path, "read", settings, catalog(GEO, OFFLINE)))

    assert completed.returncode == 1 and sim.requests == []
    assert [e["failure_type"] for e in completed.errors] == ["config_error"]
    assert completed.errors[0]["message"].startswith(
        "The catalog asks for stream 'offline_portal_calls', which this config does not offer. "
        "It offers: geographical_data"
    )


def run_with_config_file(tmp_path, verb: str, content: str, mode: int = 0o644):
    path = tmp_path / "config.json"
    path.write_text(content)
    path.chmod(mode)
    started = time.monotonic()
    completed = run_connector([verb, "--config", str(path)])
    return completed, time.monotonic() - started, str(path)


@pytest.mark.parametrize("verb", ["check", "discover"])
def test_given_config_file_that_is_not_json_when_run_then_config_error_naming_file_line_and_column(tmp_path, verb):
    completed, elapsed, path = run_with_config_file(tmp_path, verb, '{\n  "pin_code": "x",\n  "base_url": \n}')

    assert completed.returncode == 1 and elapsed < 15
    assert [(e["failure_type"], e["message"]) for e in completed.errors] == [
        ("config_error", f"The config file {path} is not valid JSON: Expecting value at line 4, column 1.")
    ]
    assert "Something went wrong" not in completed.stdout


def test_given_config_file_that_is_an_array_when_check_then_config_error_naming_the_shape(tmp_path):
    completed, _, path = run_with_config_file(tmp_path, "check", "[1, 2]")

    assert (
        completed.errors[-1]["message"] == f"The config file {path} holds a JSON array; it must be an object ({{...}})."
    )


def read_with_state(tmp_path, sim, state_content) -> tuple:
    settings = config(sim.base_url, first="2026-11-01", last="2026-11-05")
    args = write_args(tmp_path, "read", settings, catalog(GEO))
    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(state_content))
    completed = run_connector([*args, "--state", str(state_path)])
    return completed, sorted({r["startdate"] for r in sim.requests})


@pytest.mark.parametrize(
    "form",
    [
        [{"type": "LEGACY", "data": {GEO: {"call_date": "2026-11-03T23:59:59"}}}],
        {GEO: {"call_date": "2026-11-03T23:59:59"}},
    ],
    ids=["legacy_message", "bare_object"],
)
def test_given_legacy_state_forms_when_read_then_applied_per_stream(sim, tmp_path, form):
    completed, windows = read_with_state(tmp_path, sim, form)

    assert completed.returncode == 0 and completed.errors == []
    # 2026-11-03 minus lookback_days 1: the sync resumes on 11-02, not at the range's first day.
    assert windows == ["2026-11-02 00:00:00", "2026-11-03 00:00:00", "2026-11-04 00:00:00", "2026-11-05 00:00:00"]
    assert any("applying it per stream" in m["log"]["message"] for m in completed.messages if m["type"] == "LOG")


def test_given_state_file_of_unknown_form_when_read_then_config_error_saying_the_form_and_the_reset(sim, tmp_path):
    completed, windows = read_with_state(tmp_path, sim, "2026-11-03")

    assert completed.returncode == 1 and windows == []
    message = completed.errors[-1]["message"]
    assert completed.errors[-1]["failure_type"] == "config_error"
    assert "holds a JSON string" in message and "reset the connection's state" in message

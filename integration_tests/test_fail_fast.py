"""Fail fast, fail once, never hang: the connector's commands against the simulator.

Each case asserts the exit status, a wall-clock bound and the message by what it names and
the fix it gives. The commands run in this process through the CDK's entrypoint, with
files and exit status as the console script has them (connector_runner), on the tests'
clock and small retry budgets; a closed stdout and SIGTERM need the installed
`source-avidtrak` as a real process.
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
    connector,
    connector_command,
    connector_env,
    write_args,
)
from integration_tests.simulator import AvidTrakSimulator, Fault
from source_avidtrak.run import EXIT_OUTPUT_CLOSED


def assert_rejected_pin(message: str) -> None:
    """The rejection names the field and the fix: the Pin Code in the credentials."""
    assert message.startswith("AvidTrak rejected the pin code") and "code 4" in message, message
    assert "Check the Pin Code" in message, message


@pytest.fixture
def slow_sim():
    """50 ms a request: a 60-day sync takes seconds, long enough to interrupt."""
    with AvidTrakSimulator(pins=(PIN,), latency_s=0.05, empty_day_ratio=0.0) as simulator:
        yield simulator


@pytest.fixture
def sim():
    with AvidTrakSimulator(pins=(PIN,), empty_day_ratio=0.0) as simulator:
        yield simulator


def start(args) -> subprocess.Popen:
    """The installed console script: a closed stdout and a signal need a real process."""
    return subprocess.Popen(
        connector_command(launcher=False) + args,
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
    run = connector(tmp_path).run("read", settings, catalog(GEO))
    elapsed = time.monotonic() - started

    assert run.returncode == 1 and elapsed < 15
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert_rejected_pin(error["message"])
    assert len(sim.requests) <= 3  # the first window of each worker; no window starts after it
    assert "'None'" not in run.output
    # Windows abandoned by the stop are logged at DEBUG: a traceback for each of the (at most 3)
    # windows AvidTrak really rejected, and the final error's, never one a window (90 here).
    assert run.stdout.count("Traceback") <= 3 + 2 and len(run.stdout) < 40_000


def test_given_rejected_pin_when_check_then_failed_and_no_none_text_in_logs(sim, tmp_path):
    run = connector(tmp_path).run("check", config(sim.base_url, pin="not-the-pin"))

    assert run.connection_status["status"] == "FAILED"
    assert_rejected_pin(run.connection_status["message"])
    assert "'None'" not in run.output


def test_given_avidtrak_down_when_read_many_windows_then_one_transient_error_and_no_new_window(sim, tmp_path):
    sim.add_fault(Fault("http_status", times=None, status=503))
    settings = config(sim.base_url, first="2026-10-01", last="2026-10-30", num_workers=2)

    started = time.monotonic()
    run = connector(tmp_path).run("read", settings, catalog(GEO))
    elapsed = time.monotonic() - started

    assert run.returncode == 1 and elapsed < 30
    [error] = run.errors
    assert error["failure_type"] == "transient_error"
    assert error["message"].startswith("AvidTrak answered HTTP 503 for report geographical_data, window 2026-10-0")
    # FAST_POLICY: 3 attempts a window; only the windows already started when the first gave up.
    assert len(sim.requests) <= 3 * 2
    # No window completed: the state holds no cursor for the account, so the next sync starts
    # at the configured range again, covering none of it.
    assert [state["stream"]["stream_state"] for state in run.states] == [{"states": []}]


def test_given_catalog_stream_the_config_does_not_offer_when_read_then_config_error_naming_it(sim, tmp_path):
    settings = config(sim.base_url, reports=(GEO,))

    run = connector(tmp_path).run("read", settings, catalog(GEO, OFFLINE))

    assert run.returncode == 1 and sim.requests == []
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert "stream 'offline_portal_calls'" in error["message"] and "It offers: geographical_data" in error["message"]
    assert "Select the report in the config, or run discover" in error["message"]


def run_with_config_file(tmp_path, verb: str, content: str):
    path = tmp_path / "config.json"
    path.write_text(content)
    started = time.monotonic()
    run = connector(tmp_path).run_args([verb, "--config", str(path)])
    return run, time.monotonic() - started, str(path)


@pytest.mark.parametrize("verb", ["check", "discover"])
def test_given_config_file_that_is_not_json_when_run_then_config_error_naming_file_line_and_column(tmp_path, verb):
    run, elapsed, path = run_with_config_file(tmp_path, verb, '{\n  "pin_code": "x",\n  "base_url": \n}')

    assert run.returncode == 1 and elapsed < 15
    [error] = run.errors
    assert error["failure_type"] == "config_error"
    assert f"The config file {path} is not valid JSON" in error["message"]
    assert "line 4, column 1" in error["message"]
    assert "Something went wrong" not in run.stdout


def test_given_config_file_that_is_an_array_when_check_then_config_error_naming_the_shape(tmp_path):
    run, _, path = run_with_config_file(tmp_path, "check", "[1, 2]")

    message = run.errors[-1]["message"]
    assert f"The config file {path}" in message and "JSON array" in message and "must be an object" in message


def read_with_state(tmp_path, sim, state_content) -> tuple:
    settings = config(sim.base_url, first="2026-11-01", last="2026-11-05")
    run = connector(tmp_path).run("read", settings, catalog(GEO), state=state_content)
    return run, sorted({r["startdate"] for r in sim.requests})


@pytest.mark.parametrize(
    "form",
    [
        [{"type": "LEGACY", "data": {GEO: {"call_date": "2026-11-03T23:59:59"}}}],
        {GEO: {"call_date": "2026-11-03T23:59:59"}},
    ],
    ids=["legacy_message", "bare_object"],
)
def test_given_legacy_state_forms_when_read_then_applied_per_stream(sim, tmp_path, form):
    run, windows = read_with_state(tmp_path, sim, form)

    assert run.returncode == 0 and run.errors == []
    # 2026-11-03 minus lookback_days 1: the sync resumes on 11-02, not at the range's first day.
    assert windows == ["2026-11-02 00:00:00", "2026-11-03 00:00:00", "2026-11-04 00:00:00", "2026-11-05 00:00:00"]
    assert any("applying it per stream" in message for message in run.logs)


def test_given_state_file_of_unknown_form_when_read_then_config_error_saying_the_form_and_the_reset(sim, tmp_path):
    run, windows = read_with_state(tmp_path, sim, "2026-11-03")

    assert run.returncode == 1 and windows == []
    message = run.errors[-1]["message"]
    assert run.errors[-1]["failure_type"] == "config_error"
    assert "holds a JSON string" in message and "reset the connection's state" in message

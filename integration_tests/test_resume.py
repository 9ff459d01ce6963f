"""Nothing is lost: a sync killed mid-way and resumed from its last state, or a sync whose
third window keeps failing, still delivers every call exactly as a clean run does.

The kill tests run the installed `source-avidtrak` as Airbyte does and SIGKILL it after a
few STATE messages, keeping only what was read from its stdout before the kill (what the
platform would have persisted); the second run starts from the last state of each stream.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from typing import Any, Dict, List, Tuple

import pytest
from airbyte_cdk.models import FailureType

from integration_tests.fault_support import (
    GEO,
    OFFLINE,
    PIN,
    WindowFailingProxy,
    call_ids,
    catalog,
    config,
    connector_command,
    connector_env,
    install_recording_sleep,
    last_error,
    run_connector,
    run_read,
    source,
    state,
    state_values,
    write_args,
)
from integration_tests.simulator import AvidTrakSimulator

FIRST, LAST = dt.date(2024, 3, 1), dt.date(2024, 3, 12)  # well before any real "today"
LOOKBACK_DAYS = 1
KILL_AFTER_STATES = 6


@pytest.fixture(scope="module")
def slow_sim():
    """About 60 requests of 50 ms: a sync of a few seconds that a kill lands in the middle of."""
    with AvidTrakSimulator(pins=(PIN,), latency_s=0.05) as simulator:
        yield simulator


def ground_truth(sim) -> Dict[str, Dict[str, str]]:
    """call_id -> call_date (ISO) of every call in the range, per report."""
    return {
        method: {row["call_id"]: row["call_date"].replace(" ", "T") for row in sim.rows(method, FIRST, LAST)}
        for method in (GEO, OFFLINE)
    }


def read_then_kill(args: List[str], after_states: int) -> Tuple[List[Dict[str, Any]], bool]:
    """The messages read before SIGKILL, and whether the process was still running when killed."""
    process = subprocess.Popen(
        connector_command(launcher=False) + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=connector_env(),
    )
    messages, states, still_running = [], 0, False
    try:
        for line in process.stdout:
            messages.append(json.loads(line))
            states += messages[-1]["type"] == "STATE"
            if states == after_states:
                still_running = process.poll() is None
                process.send_signal(signal.SIGKILL)
                break
    finally:
        process.kill()
        process.stdout.close()
        process.wait(timeout=30)
    return messages, still_running


def records_by_stream(messages) -> Dict[str, Dict[str, str]]:
    found: Dict[str, Dict[str, str]] = {GEO: {}, OFFLINE: {}}
    for message in messages:
        if message["type"] == "RECORD":
            data = message["record"]["data"]
            found[message["record"]["stream"]][data["call_id"]] = data["call_date"]
    return found


def last_states(messages) -> Dict[str, Dict[str, Any]]:
    """The last STATE of each stream: what the platform hands the next sync."""
    latest = {}
    for message in messages:
        if message["type"] == "STATE":
            latest[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
    return latest


def settings_for(sim, num_workers: int) -> Dict[str, Any]:
    return config(
        sim.base_url,
        reports=(GEO, OFFLINE),
        first=FIRST.isoformat(),
        last=LAST.isoformat(),
        page_size=10,
        num_workers=num_workers,
        lookback_days=LOOKBACK_DAYS,
    )


@pytest.fixture(scope="module")
def clean_run(slow_sim, tmp_path_factory) -> Dict[str, Dict[str, str]]:
    """The records of an uninterrupted sync, checked against the simulator's rows."""
    clean = run_connector(
        write_args(tmp_path_factory.mktemp("clean"), "read", settings_for(slow_sim, 2), catalog(GEO, OFFLINE))
    )
    assert clean.returncode == 0 and clean.errors == []
    found = records_by_stream(clean.messages)
    assert {stream: set(ids) for stream, ids in found.items()} == {
        stream: set(ids) for stream, ids in ground_truth(slow_sim).items()
    }
    return found


def assert_states_follow_their_records(messages, expected: Dict[str, Dict[str, str]]) -> None:
    """When a STATE is emitted, every call it covers (call_date up to its value) was emitted before it."""
    emitted: Dict[str, set] = {GEO: set(), OFFLINE: set()}
    for message in messages:
        if message["type"] == "RECORD":
            emitted[message["record"]["stream"]].add(message["record"]["data"]["call_id"])
        elif message["type"] == "STATE":
            stream = message["state"]["stream"]["stream_descriptor"]["name"]
            covered = message["state"]["stream"]["stream_state"]["call_date"]
            missing = {call_id for call_id, call_date in expected[stream].items() if call_date <= covered} - emitted[
                stream
            ]
            assert not missing, (stream, covered, sorted(missing)[:3])


@pytest.mark.parametrize("num_workers", [1, 2])
def test_given_sync_killed_after_some_states_when_resumed_from_last_state_then_union_equals_clean_run(
    slow_sim, clean_run, tmp_path, num_workers
):
    settings = settings_for(slow_sim, num_workers)

    first_run, killed_mid_sync = read_then_kill(
        write_args(tmp_path / "first", "read", settings, catalog(GEO, OFFLINE)), KILL_AFTER_STATES
    )
    assert killed_mid_sync
    assert_states_follow_their_records(first_run, ground_truth(slow_sim))
    saved = last_states(first_run)
    second = run_connector(write_args(tmp_path / "second", "read", settings, catalog(GEO, OFFLINE), saved.values()))
    assert second.returncode == 0 and second.errors == []

    before, after = records_by_stream(first_run), records_by_stream(second.messages)
    assert sum(map(len, before.values())) < sum(map(len, clean_run.values())), "the kill came too late"
    for stream in (GEO, OFFLINE):
        assert set(before[stream]) | set(after[stream]) == set(clean_run[stream]), stream
        if stream not in saved:
            continue
        state_day = dt.date.fromisoformat(saved[stream]["stream"]["stream_state"]["call_date"][:10])
        resume_from = (state_day - dt.timedelta(days=LOOKBACK_DAYS)).isoformat()
        duplicates = set(before[stream]) & set(after[stream])
        assert all(after[stream][call_id] >= resume_from for call_id in duplicates), stream


# --- a window that keeps failing ------------------------------------------------------

WINDOW_DAYS = [dt.date(2026, 11, day) for day in range(1, 6)]


@pytest.fixture
def sim():
    with AvidTrakSimulator(pins=(PIN,), empty_day_ratio=0.0) as simulator:
        yield simulator


@pytest.mark.parametrize("num_workers", [1, 3])
def test_given_window_3_fails_persistently_when_read_then_state_never_passes_window_2_and_resume_completes(
    sim, monkeypatch, num_workers
):
    install_recording_sleep(monkeypatch)
    settings = {"first": "2026-11-01", "last": "2026-11-05", "num_workers": num_workers, "page_size": 8}
    with WindowFailingProxy(sim.base_url, failing_days=[WINDOW_DAYS[2]]) as proxy:
        failed = run_read(source(), config(proxy.base_url, **settings))

    assert proxy.failed_requests == 3  # one request and two retries
    assert last_error(failed).failure_type == FailureType.transient_error
    assert any("window 2026-11-03 00:00:00..2026-11-03 23:59:59" in e.trace.error.message for e in failed.errors)
    # whether the state holds the newest call or the window's end, it stops within window 2
    window_2_newest_call = sim.rows(GEO, WINDOW_DAYS[1], WINDOW_DAYS[1])[-1]["call_date"].replace(" ", "T")
    values = state_values(failed)
    assert values and all(value <= "2026-11-02T23:59:59" for value in values)
    assert window_2_newest_call <= values[-1]
    first_two = {row["call_id"] for row in sim.rows(GEO, WINDOW_DAYS[0], WINDOW_DAYS[1])}
    assert first_two <= set(call_ids(failed))

    resumed = run_read(source(), config(sim.base_url, **settings), states=state(**{GEO: values[-1]}))

    assert not resumed.errors
    everything = {row["call_id"] for row in sim.rows(GEO, WINDOW_DAYS[0], WINDOW_DAYS[-1])}
    assert set(call_ids(failed)) | set(call_ids(resumed)) == everything
    assert min(r.record.data["call_date"] for r in resumed.records) >= "2026-11-01"  # 11-02 minus 1 day of lookback

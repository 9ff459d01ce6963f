"""Nothing is lost: a sync killed mid-way and resumed from its last state, or a sync whose
third window keeps failing, still delivers every call exactly as a clean run does.

The kill tests run the connector as a process (the CDK's `launch`, as the console script
runs it, with STATE after every window rather than once a minute) and SIGKILL it after a
few STATE messages, keeping only what was read from its stdout before the kill (what the
platform would have persisted); the second run starts from the last state of each stream,
in this process as the console script runs it (connector_runner), as does the clean run.
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
from typing import Any, Dict, List, Optional, Tuple

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
    connector,
    connector_command,
    connector_env,
    install_recording_sleep,
    last_error,
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


CLIENT = ("client-7", "client-7-pin")  # the second account of the agency runs
ACCOUNTS = {"single": ("main",), "agency": ("main", CLIENT[0])}

Key = Tuple[str, str]  # (account, call_id): the primary key


@pytest.fixture(scope="module")
def slow_sim():
    """About 60 requests of 50 ms per account: a sync of a few seconds that a kill lands in the middle of."""
    with AvidTrakSimulator(pins=(PIN,), latency_s=0.05, clients=dict([CLIENT])) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def same_account(slow_sim):
    """The same account's calls without the latency: for the runs no kill has to land in."""
    with AvidTrakSimulator(pins=(PIN,), clients=dict([CLIENT])) as simulator:
        yield simulator


def ground_truth(sim, accounts: Tuple[str, ...]) -> Dict[str, Dict[Key, str]]:
    """(account, call_id) -> call_date (ISO) of every call in the range, per report."""
    return {
        method: {
            (account, row["call_id"]): row["call_date"].replace(" ", "T")
            for account in accounts
            for row in sim.rows(method, FIRST, LAST, client=None if account == "main" else account)
        }
        for method in (GEO, OFFLINE)
    }


def read_then_kill(args: List[str], after_states: int) -> Tuple[List[Dict[str, Any]], bool]:
    """The messages read before SIGKILL, and whether the process was still running when killed."""
    process = subprocess.Popen(
        connector_command(launcher=True) + args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=connector_env(state_interval_seconds=0),
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


def records_by_stream(messages) -> Dict[str, Dict[Key, str]]:
    found: Dict[str, Dict[Key, str]] = {GEO: {}, OFFLINE: {}}
    for message in messages:
        if message["type"] == "RECORD":
            data = message["record"]["data"]
            found[message["record"]["stream"]][(data["account"], data["call_id"])] = data["call_date"]
    return found


def last_states(messages) -> Dict[str, Dict[str, Any]]:
    """The last STATE of each stream: what the platform hands the next sync."""
    latest = {}
    for message in messages:
        if message["type"] == "STATE":
            latest[message["state"]["stream"]["stream_descriptor"]["name"]] = message["state"]
    return latest


def cursors(stream_state: Dict[str, Any]) -> Dict[str, str]:
    """Account -> call_date of a per-account stream state."""
    return {entry["partition"]["account"]: entry["cursor"]["call_date"] for entry in stream_state["states"]}


def settings_for(sim, num_workers: int, accounts: Tuple[str, ...], window_days: Optional[int] = 1) -> Dict[str, Any]:
    """`window_days` 1: 12 windows a stream and account, so a kill after a few STATEs lands mid-sync;
    None: windows sized by the data (pages of 10 rows make several)."""
    clients = [{"name": CLIENT[0], "pin_code": CLIENT[1]}] if CLIENT[0] in accounts else []
    return config(
        sim.base_url,
        reports=(GEO, OFFLINE),
        first=FIRST.isoformat(),
        last=LAST.isoformat(),
        page_size=10,
        **({"window_days": window_days} if window_days else {}),
        num_workers=num_workers,
        lookback_days=LOOKBACK_DAYS,
        client_accounts=clients,
    )


@pytest.fixture(scope="module", params=sorted(ACCOUNTS))
def accounts(request) -> Tuple[str, ...]:
    return ACCOUNTS[request.param]


@pytest.fixture(scope="module")
def clean_run(same_account, accounts, tmp_path_factory) -> Dict[str, Dict[Key, str]]:
    """The records of an uninterrupted sync, checked against the simulator's rows."""
    clean = connector(tmp_path_factory.mktemp("clean")).run(
        "read", settings_for(same_account, 2, accounts), catalog(GEO, OFFLINE)
    )
    assert clean.returncode == 0 and clean.errors == []
    found = records_by_stream(clean.messages)
    assert {stream: set(ids) for stream, ids in found.items()} == {
        stream: set(ids) for stream, ids in ground_truth(same_account, accounts).items()
    }
    return found


def assert_states_follow_their_records(messages, expected: Dict[str, Dict[Key, str]]) -> None:
    """When a STATE is emitted, every call it covers (an account's call_date up to its cursor)
    was emitted before it."""
    emitted: Dict[str, set] = {GEO: set(), OFFLINE: set()}
    for message in messages:
        if message["type"] == "RECORD":
            data = message["record"]["data"]
            emitted[message["record"]["stream"]].add((data["account"], data["call_id"]))
        elif message["type"] == "STATE":
            stream = message["state"]["stream"]["stream_descriptor"]["name"]
            for account, covered in cursors(message["state"]["stream"]["stream_state"]).items():
                missing = {
                    key for key, call_date in expected[stream].items() if key[0] == account and call_date <= covered
                } - emitted[stream]
                assert not missing, (stream, account, covered, sorted(missing)[:3])


@pytest.mark.parametrize("num_workers, window_days", [(1, 1), (2, 1), (2, None)])
def test_given_sync_killed_after_some_states_when_resumed_from_last_state_then_union_equals_clean_run(
    slow_sim, same_account, accounts, clean_run, tmp_path, num_workers, window_days
):
    settings = settings_for(slow_sim, num_workers, accounts, window_days)

    first_run, killed_mid_sync = read_then_kill(
        # Windows sized by the data are fewer (a few per stream and account): kill sooner.
        write_args(tmp_path / "first", "read", settings, catalog(GEO, OFFLINE)),
        KILL_AFTER_STATES if window_days else 2,
    )
    assert killed_mid_sync
    assert_states_follow_their_records(first_run, ground_truth(slow_sim, accounts))
    saved = last_states(first_run)
    resumed = settings_for(same_account, num_workers, accounts, window_days)
    second = connector(tmp_path / "second").run("read", resumed, catalog(GEO, OFFLINE), list(saved.values()))
    assert second.returncode == 0 and second.errors == []

    before, after = records_by_stream(first_run), records_by_stream(second.messages)
    assert sum(map(len, before.values())) < sum(map(len, clean_run.values())), "the kill came too late"
    for stream in (GEO, OFFLINE):
        assert set(before[stream]) | set(after[stream]) == set(clean_run[stream]), stream
        assert {account for account, _ in after[stream]} == set(accounts), "every account synced in the second run"
        saved_cursors = cursors(saved[stream]["stream"]["stream_state"]) if stream in saved else {}
        for account, cursor in saved_cursors.items():
            # What both runs read of an account starts no earlier than its own cursor's day minus the lookback.
            resume_from = (dt.date.fromisoformat(cursor[:10]) - dt.timedelta(days=LOOKBACK_DAYS)).isoformat()
            duplicates = {key for key in set(before[stream]) & set(after[stream]) if key[0] == account}
            assert all(after[stream][key] >= resume_from for key in duplicates), (stream, account)


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
    # The state never passes window 2. With one worker windows 1 and 2 complete before window
    # 3 starts, so the state reaches window 2's end; with three they may still be reading
    # pages when window 3 gives up, and are then abandoned (never covered): no cursor (None).
    values = state_values(failed)
    assert values and all(value is None or value <= "2026-11-02T23:59:59" for value in values)
    if num_workers == 1:
        assert values[-1] == "2026-11-02T23:59:59"
        first_two = {row["call_id"] for row in sim.rows(GEO, WINDOW_DAYS[0], WINDOW_DAYS[1])}
        assert first_two <= set(call_ids(failed))

    resumed = run_read(
        source(), config(sim.base_url, **settings), states=state(**{GEO: values[-1]}) if values[-1] else None
    )

    assert not resumed.errors
    everything = {row["call_id"] for row in sim.rows(GEO, WINDOW_DAYS[0], WINDOW_DAYS[-1])}
    assert set(call_ids(failed)) | set(call_ids(resumed)) == everything
    assert min(r.record.data["call_date"] for r in resumed.records) >= "2026-11-01"  # 11-02 minus 1 day of lookback

"""Agency scale (issue 18): requests against the paging floor, daily requests, one big account, a thousand accounts.

Client accounts come from the simulator's `--clients N` (client-0001.. with their own
rows). The connector runs with its default windows (no `window_days`) unless a scenario
says otherwise; the simulator's /__sim__/stats count its requests.

- Paging floor: 20 accounts x 180 days x 10 calls/day x 2 reports. The floor is the sum
  over account and report of ceil(rows / page_size), rows counted by bench/floor.py reading
  each account's whole range as one window (its requests are that floor). Target: requests
  <= 2 x floor, records equal to the floor program's (every record exactly once).
- Daily sync: the next day, from the backfill's final state, 1 day of lookback (the
  default). Target: at most 1 request per account and report.
- One big account: 2,000 calls/day, 30 days, 100 ms latency, 10 workers. Target: wall
  <= 1.15 x the same read with window_days 1 (no parallelism lost).
- A thousand accounts: main + 999 clients, 7 days, 3 calls/day, 10 workers. Targets:
  records equal to the floor program's; peak RSS <= 1.5 x the main account's read alone;
  STATE bytes <= 10% of the records' bytes; the final state has 1,000 cursors per stream;
  `check` succeeds with a request per account. Reported: wall, STATE messages, and
  `check` at 0 ms, at 100 ms latency and with requests_per_second 5.
"""

from __future__ import annotations

import json
import math
import os
from datetime import timedelta
from typing import Dict, List, Optional, Tuple

from harness import REPORTS, Output, Run, Series, Simulator, read_output, run_measured
from programs import Programs, Scenario, print_table, verdict

WORKERS = 10
PAGE_SIZE = 500
BACKFILL = Scenario(10, 180, clients=19)
BIG = Scenario(2000, 30, latency_ms=100)
THOUSAND = Scenario(3, 7, clients=999)
QUICK_RPS_CLIENTS = 99  # --quick: `check` at 5 requests/s for 100 accounts (1,000 take 200 s)
STATE_SHARE = 0.10  # "far below the records": an order of magnitude


def connector_read(
    programs: Programs, simulator: Simulator, workdir: str, name: str, **options
) -> Tuple[Run, Output, int]:
    """One read into a file: (run, what it wrote, requests the simulator got)."""
    path = os.path.join(workdir, f"{name}.jsonl")
    before = simulator.stats()["requests"]
    run = run_measured(programs.connector(simulator.url, num_workers=WORKERS, window_days=None, **options), path)
    requests = simulator.stats()["requests"] - before
    output = read_output(path)
    os.remove(path)
    return run, output, requests


def floor_read(programs: Programs, simulator: Simulator, workdir: str) -> Tuple[Run, Output, Dict[str, int]]:
    """bench/floor.py, each account's range as one window: (run, output, rows per account/report)."""
    path, counts = os.path.join(workdir, "floor.jsonl"), os.path.join(workdir, "counts.json")
    run = run_measured(programs.floor(simulator.url, window_days=0, counts=counts), path)
    output = read_output(path)
    os.remove(path)
    with open(counts) as file:
        return run, output, json.load(file)


def paging_floor(counts: Dict[str, int]) -> int:
    return sum(math.ceil(rows / PAGE_SIZE) for rows in counts.values())


def state_file(workdir: str, output: Output) -> str:
    path = os.path.join(workdir, "state.json")
    with open(path, "w") as file:
        json.dump(list(output.final_states.values()), file)
    return path


def describe_output(output: Output) -> str:
    return (
        f"{output.state_messages:,} STATE messages, {output.state_bytes / 2**20:.2f} MiB of STATE (largest "
        f"{output.largest_state_bytes / 1024:.1f} KiB) for {output.record_bytes / 2**20:.2f} MiB of records"
    )


def backfill_and_daily(workdir: str) -> List[bool]:
    programs = Programs(workdir, BACKFILL)
    daily = Programs(workdir, Scenario(BACKFILL.calls_per_day, BACKFILL.days + 1, clients=BACKFILL.clients))
    accounts = BACKFILL.clients + 1
    with BACKFILL.simulator() as simulator:
        floor_run, reference, counts = floor_read(programs, simulator, workdir)
        run, output, requests = connector_read(programs, simulator, workdir, "backfill")
        next_day = BACKFILL.last_day + timedelta(days=1)
        state = state_file(workdir, output)
        daily_run, daily_output, daily_requests = connector_read(daily, simulator, workdir, "daily", state=state)
    floor = paging_floor(counts)
    print_table(
        f"Agency backfill: {BACKFILL.describe()}, num_workers {WORKERS}, default windows; then the daily sync",
        [
            Series("connector, backfill", output.fingerprint.records, [run]),
            Series(f"floor program, {floor} requests", reference.fingerprint.records, [floor_run]),
            Series(f"connector, daily sync of {next_day}", daily_output.fingerprint.records, [daily_run]),
        ],
    )
    print(f"backfill: {requests:,} requests for a floor of {floor:,}; {describe_output(output)}")
    print(f"daily sync: {daily_requests} requests for {accounts} accounts x {len(REPORTS)} reports")
    return [
        verdict(
            "Requests against the paging floor",
            requests <= 2 * floor and output.fingerprint == reference.fingerprint,
            f"{requests:,} requests <= 2 x floor {floor:,} (ratio {requests / floor:.2f}); records "
            f"{'equal to' if output.fingerprint == reference.fingerprint else 'DIFFER from'} the floor program's "
            f"({output.fingerprint.records:,})",
        ),
        verdict(
            "Daily requests",
            daily_requests <= accounts * len(REPORTS),
            f"{daily_requests} requests <= 1 per account and report ({accounts * len(REPORTS)}), state from the "
            f"backfill, 1 day of lookback",
        ),
    ]


def big_account(runs: int, workdir: str) -> List[bool]:
    programs = Programs(workdir, BIG)
    names = {None: "connector, default windows", 1: "connector, window_days 1"}
    series = {key: Series(name) for key, name in names.items()}
    with BIG.simulator() as simulator:
        reads = {}
        for repetition in range(runs):
            for window_days in list(names)[repetition % 2 :] + list(names)[: repetition % 2]:
                command = programs.connector(simulator.url, num_workers=WORKERS, window_days=window_days)
                if window_days not in reads:  # the first run of each is the checked one
                    path = os.path.join(workdir, "big.jsonl")
                    run = run_measured(command, path)
                    reads[window_days] = read_output(path).fingerprint
                    os.remove(path)
                else:
                    run = run_measured(command)
                series[window_days].runs.append(run)
                series[window_days].records = reads[window_days].records
    print_table(f"One big account: {BIG.describe()}, num_workers {WORKERS}", series.values())
    ratio = series[None].wall_s / series[1].wall_s
    same = reads[None] == reads[1]
    return [
        verdict(
            "Big-account parallelism",
            ratio <= 1.15 and same,
            f"default windows {series[None].wall_s:.2f} s <= 1.15 x window_days 1 {series[1].wall_s:.2f} s "
            f"(ratio {ratio:.2f}); records {'equal' if same else 'DIFFER'}",
        )
    ]


def thousand_accounts(quick: bool, workdir: str) -> List[bool]:
    programs = Programs(workdir, THOUSAND)
    alone = Programs(workdir, Scenario(THOUSAND.calls_per_day, THOUSAND.days))
    accounts = THOUSAND.clients + 1
    with THOUSAND.simulator() as simulator:
        floor_run, reference, _ = floor_read(programs, simulator, workdir)
        run, output, requests = connector_read(programs, simulator, workdir, "thousand")
        one_run, one_output, _ = connector_read(alone, simulator, workdir, "one-account")
        checks = [("check, 0 ms", *timed_check(programs, simulator))]
        rps_clients = QUICK_RPS_CLIENTS if quick else THOUSAND.clients
        checks.append(
            (
                f"check, 5 requests/s, {rps_clients + 1} accounts",
                *timed_check(programs, simulator, requests_per_second=5, clients=rps_clients),
            )
        )
    with Simulator(THOUSAND.calls_per_day, 100, clients=THOUSAND.clients) as slow:
        checks.insert(1, ("check, 100 ms latency", *timed_check(programs, slow)))  # a simulator with latency
    print_table(
        f"A thousand accounts: {THOUSAND.describe()}, num_workers {WORKERS}, default windows",
        [
            Series("connector, 1,000 accounts", output.fingerprint.records, [run]),
            Series("connector, main account alone", one_output.fingerprint.records, [one_run]),
            Series("floor program", reference.fingerprint.records, [floor_run]),
            *(Series(name, 0, [check]) for name, check, _, _ in checks),
        ],
    )
    print("; ".join(f"{name}: {status}, {sent} requests" for name, _, status, sent in checks))
    print(f"1,000 accounts: {requests:,} requests, {run.wall_s:.1f} s; {describe_output(output)}")
    cursors = {stream: len(cursor_list(state)) for stream, state in output.final_states.items()}
    rss, one_rss = run.peak_rss_kib / 1024, one_run.peak_rss_kib / 1024
    share = output.state_bytes / max(1, output.record_bytes)
    zero_check = checks[0]
    return [
        verdict(
            "A thousand accounts: records",
            output.fingerprint == reference.fingerprint,
            f"{output.fingerprint.records:,} records, "
            f"{'equal to' if output.fingerprint == reference.fingerprint else 'DIFFERENT from'} the floor program's "
            f"(every record exactly once); wall {run.wall_s:.1f} s (reported)",
        ),
        verdict(
            "A thousand accounts: memory",
            rss <= 1.5 * one_rss,
            f"peak RSS {rss:.1f} MiB <= 1.5 x {one_rss:.1f} MiB of the main account alone (ratio {rss / one_rss:.2f})",
        ),
        verdict(
            "A thousand accounts: STATE",
            share <= STATE_SHARE,
            f"{output.state_bytes / 2**20:.2f} MiB of STATE in {output.state_messages:,} messages <= "
            f"{STATE_SHARE:.0%} of the records' {output.record_bytes / 2**20:.2f} MiB ({share:.1%})",
        ),
        verdict(
            "A thousand accounts: final state",
            len(cursors) == len(REPORTS) and all(count == accounts for count in cursors.values()),
            f"cursors per stream {cursors or 'none'} (target {accounts} each)",
        ),
        verdict(
            "A thousand accounts: check",
            zero_check[2] == "SUCCEEDED" and zero_check[3] >= accounts,
            f"{zero_check[2]} in {zero_check[1].wall_s:.1f} s with {zero_check[3]} requests for {accounts} accounts; "
            + "; ".join(f"{name} {check.wall_s:.1f} s ({status})" for name, check, status, _ in checks[1:]),
        ),
    ]


def timed_check(
    programs: Programs,
    simulator: Simulator,
    requests_per_second: Optional[float] = None,
    clients: Optional[int] = None,
) -> Tuple[Run, str, int]:
    """`check`: (run, its CONNECTION_STATUS, requests the simulator got)."""
    path = os.path.join(programs.workdir, "check.jsonl")
    command = programs.connector(
        simulator.url, num_workers=WORKERS, requests_per_second=requests_per_second, command="check", clients=clients
    )
    before = simulator.stats()["requests"]
    run = run_measured(command, path)
    requests = simulator.stats()["requests"] - before
    status = "no CONNECTION_STATUS"
    with open(path, "rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"CONNECTION_STATUS"'):
                status = json.loads(line)["connectionStatus"]["status"]
    os.remove(path)
    return run, status, requests


def cursor_list(state: dict) -> list:
    """The per-account cursors of a STREAM state (account_state.py's `states` list)."""
    stream_state = state.get("stream", {}).get("stream_state") or {}
    return stream_state.get("states") or []

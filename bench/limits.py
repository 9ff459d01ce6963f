"""The scenarios AvidTrak itself limits: a token-bucket rate limit, and a year-long backfill.

Rate limit: the simulator's token bucket (5 requests/s, burst 5, 429 with Retry-After
beyond it), 10 workers, 60 days x 2 reports (one page a day, 120 requests). Once without
a known limit (the shared budget must find the pace: few 429s, wall near requests/rate),
once with requests_per_second=5 (no 429 at all). A fresh simulator per run, so every run
starts with a full bucket; its /__sim__/stats count the requests and the 429s.

Year backfill: 365 days x 2 reports x 2,000 calls/day (about 1.46 M records, 2,920 pages),
10 workers, the connector's default windows (sized by the data), at 100 ms latency; the same backfill at 0 ms and the floor (at
0 ms: it reads serially) are the references, and a 30-day backfill with the same settings
is the memory baseline. One run of each: the year takes minutes. `--quick` runs the same year
at 500 calls/day (QUICK_YEAR_CALLS_PER_DAY), so that the whole quick bench fits in 5 minutes.
"""

from __future__ import annotations

import json
import subprocess
import time
from typing import List, Optional, Tuple

from harness import Run, Series, Simulator, child_env, run_measured
from programs import SPEC, Programs, Scenario, checked_run, print_table, require_same, spec_command, verdict

RATE, BURST, WORKERS = 5, 5, 10
RATE_LIMITED = Scenario(50, 60)
# A burst of 429s at the start of a read, and a Retry-After of a day (issue 17's black-box runs).
STORMY = Scenario(30, 30)
STORM_REFUSALS, STORM_COST_S, DAY_S = 30, 30.0, 86400
YEAR_CALLS_PER_DAY = 2000
# --quick: the same year of windows, pages and state, a quarter of the calls, so that the
# whole quick run stays within 5 minutes on 2 cores (the full year alone takes 3.5).
QUICK_YEAR_CALLS_PER_DAY = 500


def limited_run(programs: Programs, workdir: str, requests_per_second: Optional[float]) -> Tuple[Run, dict, object]:
    """One connector read against a fresh token bucket: (run, simulator stats, fingerprint)."""
    with Simulator(RATE_LIMITED.calls_per_day, rate_limit=RATE, burst=BURST) as simulator:
        command = programs.connector(simulator.url, num_workers=WORKERS, requests_per_second=requests_per_second)
        run, read = checked_run(command, workdir)
        return run, simulator.stats(), read


def rate_limit(runs: int, workdir: str) -> List[bool]:
    programs = Programs(workdir, RATE_LIMITED)
    with Simulator(RATE_LIMITED.calls_per_day) as unlimited:
        _, reference = checked_run(programs.floor(unlimited.url), workdir)
    names = {None: "connector, no known limit", float(RATE): f"connector, requests_per_second={RATE}"}
    series = {rps: Series(name, records=reference.records) for rps, name in names.items()}
    stats: dict = {rps: [] for rps in names}
    start = Series(SPEC)
    for _ in range(runs):
        for rps in names:
            run, counted, read = limited_run(programs, workdir, rps)
            require_same(read, ("floor", reference), names[rps], RATE_LIMITED)
            series[rps].runs.append(run)
            stats[rps].append(counted)
        start.runs.append(run_measured(spec_command()))
    print_table(
        f"Rate limit: {RATE_LIMITED.describe()}, token bucket {RATE} requests/s burst {BURST}, num_workers {WORKERS}",
        [*series.values(), start],
    )
    results = []
    for rps, name in names.items():
        requests = max(item["requests"] for item in stats[rps])
        limited = max(item["rate_limited"] for item in stats[rps])
        answered = requests - limited
        bound = 1.25 * answered / RATE + start.wall_s
        print(f"{name}: {requests} requests, {limited} answered 429 ({limited / requests:.1%}), worst of {runs} run(s)")
        if rps is None:
            results.append(
                verdict("Rate limit: 429 share", limited / requests <= 0.05, f"{limited / requests:.1%} (target <= 5%)")
            )
            wall = series[rps].wall_s
            results.append(
                verdict(
                    "Rate limit: wall",
                    wall <= bound,
                    f"{wall:.2f} s <= 1.25 x {answered} requests / {RATE} per s + start-up {start.wall_s:.2f} s "
                    f"= {bound:.2f} s",
                )
            )
        else:
            results.append(
                verdict(
                    "Rate limit, known limit: no 429",
                    limited == 0,
                    f"{limited} answered 429 with requests_per_second={RATE}; wall {series[rps].wall_s:.2f} s "
                    f"(reported; the bound above would be {bound:.2f} s)",
                )
            )
    return results


def storms(workdir: str) -> List[bool]:
    """The same read quiet, then with its first 30 requests answered 429 (Retry-After 1), then with
    every request answered 429 with a Retry-After of a day: the connector's default windows."""
    programs = Programs(workdir, STORMY)
    with Simulator(STORMY.calls_per_day) as quiet:
        quiet_run, reference = checked_run(
            programs.connector(quiet.url, num_workers=WORKERS, window_days=None), workdir
        )
    with Simulator(STORMY.calls_per_day) as stormy:
        stormy.add_faults([{"kind": "rate_limit", "times": STORM_REFUSALS, "retry_after": "1"}])
        storm_run, read = checked_run(programs.connector(stormy.url, num_workers=WORKERS, window_days=None), workdir)
    with Simulator(STORMY.calls_per_day) as closed:
        closed.add_faults([{"kind": "rate_limit", "times": None, "retry_after": str(DAY_S)}])
        started = time.monotonic()
        day = subprocess.run(
            programs.connector(closed.url, num_workers=WORKERS, window_days=None),
            capture_output=True,
            text=True,
            env=child_env(),
        )
        day_s = time.monotonic() - started
    print_table(
        f"429s: {STORMY.describe()}, num_workers {WORKERS}",
        [
            Series("connector, quiet", reference.records, [quiet_run]),
            Series(f"connector, first {STORM_REFUSALS} requests 429", read.records, [storm_run]),
        ],
    )
    extra = storm_run.wall_s - quiet_run.wall_s
    errors = [
        m["trace"]["error"]
        for m in map(json.loads, day.stdout.splitlines())
        if m.get("type") == "TRACE" and m["trace"].get("type") == "ERROR"
    ]
    message = errors[-1]["message"] if errors else "no error"
    print(f"Retry-After of a day: exit {day.returncode} after {day_s:.2f} s, {len(errors)} error(s): {message}")
    return [
        verdict(
            "429 storm",
            read == reference and extra <= STORM_COST_S,
            f"every record ({read.records:,}, digest equal to the quiet read's); {storm_run.wall_s:.2f} s against "
            f"{quiet_run.wall_s:.2f} s quiet: {extra:+.2f} s (target <= {STORM_COST_S:g} s more)",
        ),
        verdict(
            "Retry-After of a day",
            day.returncode == 1 and len(errors) == 1 and f"{DAY_S} s" in message and day_s <= 10,
            f"exit {day.returncode} after {day_s:.2f} s (target: at once, <= 10 s, one error naming the wait)",
        ),
    ]


def year_backfill(workdir: str, calls_per_day: int = YEAR_CALLS_PER_DAY) -> List[bool]:
    year_size, month_size = Scenario(calls_per_day, 365, latency_ms=100), Scenario(calls_per_day, 30, latency_ms=100)
    year, month = Programs(workdir, year_size), Programs(workdir, month_size)
    at_zero = Scenario(year_size.calls_per_day, year_size.days)
    with Simulator(year_size.calls_per_day) as fast, Simulator(year_size.calls_per_day, year_size.latency_ms) as slow:
        floor_run, reference = checked_run(year.floor(fast.url), workdir)
        before = slow.stats()["requests"]
        run, read = checked_run(year.connector(slow.url, num_workers=WORKERS, window_days=None), workdir)
        requests = slow.stats()["requests"] - before
        zero_run = run_measured(year.connector(fast.url, num_workers=WORKERS, window_days=None))
        month_run = run_measured(month.connector(slow.url, num_workers=WORKERS, window_days=None))
    records = reference.records
    series = [
        Series(f"connector, {year_size.latency_ms:g} ms latency", records, [run]),
        Series("connector, 0 ms latency", records, [zero_run]),
        Series("floor, 0 ms latency", records, [floor_run]),
        Series(f"connector, 30 days, {month_size.latency_ms:g} ms", 0, [month_run]),
    ]
    print_table(f"Year backfill: {year_size.describe()}, num_workers {WORKERS}, default windows (one run each)", series)
    latency_bound = requests * year_size.latency_ms / 1000 / WORKERS
    bound = 1.2 * max(latency_bound, zero_run.wall_s)
    rss, month_rss = run.peak_rss_kib / 1024, month_run.peak_rss_kib / 1024
    print(
        f"year backfill: {records:,} records, {requests:,} requests, {run.wall_s:.1f} s, "
        f"{records / run.wall_s:,.0f} records/s, peak RSS {rss:.1f} MiB; record count and digest equal the floor's"
    )
    return [
        verdict(
            "Year backfill: wall",
            run.wall_s <= bound,
            f"{run.wall_s:.2f} s <= 1.2 x max(latency bound {requests} x 0.1 s / {WORKERS} = {latency_bound:.2f} s, "
            f"wall at 0 ms {zero_run.wall_s:.2f} s) = {bound:.2f} s",
        ),
        verdict(
            "Year backfill: memory",
            rss <= 1.2 * month_rss,
            f"peak RSS {rss:.1f} MiB <= 1.2 x {month_rss:.1f} MiB of the 30-day backfill ({rss / month_rss - 1:+.1%})",
        ),
        verdict(
            "Year backfill: records",
            read == reference,
            f"{read.records:,} records, digest {read.digest:#x} = the floor's ({at_zero.describe()})",
        ),
    ]

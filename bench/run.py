"""The benchmark: the connector against the floor and a low-code peer, with PASS/FAIL targets.

    .venv/bin/python bench/run.py            # 3 timed runs per program and scenario (~5 min)
    .venv/bin/python bench/run.py --quick    # 1 timed run each (~2 min)

Programs, each a child process reading a simulator started through its CLI
(`--empty-day-ratio 0`), output to /dev/null:
  connector  `source-avidtrak read` (specific dates, both reports, incremental)
  floor      bench/floor.py: one keep-alive http.client connection, the same typed RECORD lines
  peer       bench/peer/manifest.yaml run by the CDK's `source-declarative-manifest read`
Before the timed runs, each program reads once into a file; the records of all programs
in a scenario must be the same (same streams, ids and typed values), or the bench fails.
Timed runs alternate between programs; figures are medians. Other work on the machine
shifts absolute times, so every target compares programs timed in the same loop.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Callable, Dict, List, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import BIN, PIN, REPO, REPORTS, Fingerprint, Series, Simulator, bench_rss_mib, fingerprint, run_measured

FIRST_DAY = date(2025, 1, 1)
MANIFEST = REPO / "bench" / "peer" / "manifest.yaml"
Command = Callable[[str], List[str]]  # simulator URL -> command line
SPEC = "source-avidtrak spec"


@dataclass(frozen=True)
class Scenario:
    calls_per_day: int
    days: int
    latency_ms: float = 0.0

    @property
    def last_day(self) -> date:
        return FIRST_DAY + timedelta(days=self.days - 1)

    def describe(self) -> str:
        latency = f", {self.latency_ms:g} ms latency" if self.latency_ms else ""
        return f"{self.days} days x {len(REPORTS)} reports x {self.calls_per_day} calls/day{latency}"


class Programs:
    """Command lines for each program, with their config and catalog files in `workdir`."""

    def __init__(self, workdir: str, scenario: Scenario) -> None:
        self.workdir, self.scenario = workdir, scenario
        self.catalog = self._write("catalog.json", _catalog())

    def connector(self, url: str, num_workers: int = 3) -> List[str]:
        config = {
            "pin_code": PIN,
            "base_url": url,
            "reports": list(REPORTS),
            "num_workers": num_workers,
            "duration": {
                "mode": "date_range",
                "date_from": {"mode": "specific", "specific_date_from": FIRST_DAY.isoformat()},
                "date_to": {"mode": "specific", "specific_date_to": self.scenario.last_day.isoformat()},
            },
        }
        path = self._write(f"connector-{num_workers}.json", config)
        return [str(BIN / "source-avidtrak"), "read", "--config", path, "--catalog", self.catalog]

    def floor(self, url: str) -> List[str]:
        days = ["--start", FIRST_DAY.isoformat(), "--end", self.scenario.last_day.isoformat()]
        return [sys.executable, str(REPO / "bench" / "floor.py"), "--url", url, "--pin", PIN, *days]

    def peer(self, url: str) -> List[str]:
        config = {
            "pin_code": PIN,
            "base_url": url,
            "start_date": FIRST_DAY.isoformat(),
            "end_date": self.scenario.last_day.isoformat(),
            "page_size": 500,
            "num_workers": 3,
        }
        path = self._write("peer.json", config)
        return [
            str(BIN / "source-declarative-manifest"),
            "read",
            "--config",
            path,
            "--catalog",
            self.catalog,
            "--manifest-path",
            str(MANIFEST),
        ]

    def _write(self, name: str, payload) -> str:
        path = os.path.join(self.workdir, name)
        with open(path, "w") as file:
            json.dump(payload, file)
        return path


def spec_command(url: str = "") -> List[str]:
    return [str(BIN / "source-avidtrak"), "spec"]


def _catalog() -> dict:
    stream = lambda name: {  # noqa: E731
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental",
        "destination_sync_mode": "append",
        "cursor_field": ["call_date"],
    }
    return {"streams": [stream(name) for name in REPORTS]}


def measure(
    scenario: Scenario, commands: Dict[str, Command], runs: int, workdir: str, unchecked: Sequence[str] = ()
) -> Dict[str, Series]:
    """A checked run per program (their records must agree), then `runs` alternating timed runs.

    Programs named in `unchecked` read nothing (`spec`): they get a warm-up run instead.
    """
    series = {name: Series(name) for name in commands}
    with Simulator(scenario.calls_per_day, scenario.latency_ms) as simulator:
        reference = None
        for name, command in commands.items():
            if name in unchecked:
                run_measured(command(simulator.url))
                continue
            read = checked_run(command(simulator.url), workdir)
            series[name].records = read.records
            reference = reference or (name, read)
            if read != reference[1]:
                raise SystemExit(
                    f"FAIL: {name} and {reference[0]} read different records in {scenario.describe()}: "
                    f"{dict(read.counts)} vs {dict(reference[1].counts)} (or the same counts, other values)"
                )
        names = list(commands)
        for repetition in range(runs):
            for name in names[repetition % len(names) :] + names[: repetition % len(names)]:
                series[name].runs.append(run_measured(commands[name](simulator.url)))
    return series


def checked_run(command: List[str], workdir: str) -> Fingerprint:
    output = os.path.join(workdir, "checked.jsonl")
    run_measured(command, stdout_path=output)
    read = fingerprint(output)
    os.remove(output)
    return read


def measure_startup(runs: int) -> Dict[str, Series]:
    commands = {
        SPEC: spec_command(),
        "import airbyte_cdk.entrypoint": [sys.executable, "-c", "import airbyte_cdk.entrypoint"],
    }
    series = {name: Series(name) for name in commands}
    for command in commands.values():  # warm the page cache and __pycache__
        run_measured(command)
    for repetition in range(runs):
        for name in list(commands)[repetition % 2 :] + list(commands)[: repetition % 2]:
            series[name].runs.append(run_measured(commands[name]))
    return series


def print_table(title: str, series: Sequence[Series]) -> None:
    print(f"\n## {title}")
    print(
        f"{'program':34} {'records':>8} {'wall s (median)':>16} {'min..max':>12} {'CPU s':>6} {'records/s':>10} "
        f"{'peak RSS MiB':>13}"
    )
    for item in series:
        rate = f"{item.records_per_s:,.0f}" if item.records else "-"
        records = f"{item.records:,}" if item.records else "-"
        floor_only = "*" if item.peak_rss_mib <= bench_rss_mib() + 1 else " "  # see harness.run_measured
        print(
            f"{item.name:34} {records:>8} {item.wall_s:16.2f} {item.spread():>12} {item.cpu_s:6.2f} {rate:>10} "
            f"{item.peak_rss_mib:12.1f}{floor_only}"
        )


def verdict(name: str, passed: bool, detail: str) -> bool:
    print(f"[{'PASS' if passed else 'FAIL'}] {name}: {detail}")
    return passed


def check_peer_schemas() -> None:
    """The peer inlines the connector's schemas; a drifted copy would make the comparison unfair."""
    import yaml

    manifest = yaml.safe_load(MANIFEST.read_text())
    for stream in manifest["streams"]:
        expected = json.loads((REPO / "source_avidtrak" / "schemas" / f"{stream['name']}.json").read_text())
        if stream["schema_loader"]["schema"] != expected:
            raise SystemExit(
                f"FAIL: bench/peer/manifest.yaml's schema of {stream['name']} differs from the connector's"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Benchmark source-avidtrak against the floor and a low-code peer.")
    parser.add_argument("--quick", action="store_true", help="one timed run per program (default: 3)")
    parser.add_argument("--runs", type=int, help="timed runs per program and scenario")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    check_peer_schemas()
    print(
        f"# source-avidtrak benchmark: {runs} timed run(s) each, medians; {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    with tempfile.TemporaryDirectory(prefix="avidtrak-bench-") as workdir:
        results = (
            throughput_and_memory(runs, workdir)
            + concurrency(runs, workdir)
            + startup(max(runs, 3 if args.quick else 7))
        )
    print(
        f"\nload average at the end {os.getloadavg()[0]:.2f}; the bench's own peak RSS {bench_rss_mib():.0f} MiB "
        f"(a floor under every child's figure; * marks a figure that may be it); {sum(results)}/{len(results)} targets passed"
    )
    return 0 if all(results) else 1


def throughput_and_memory(runs: int, workdir: str) -> List[bool]:
    big, peer_size, small = Scenario(2000, 30), Scenario(400, 30), Scenario(200, 30)
    programs = Programs(workdir, big)
    commands = {"connector": programs.connector, "floor": programs.floor, SPEC: spec_command}
    heavy = measure(big, commands, runs, workdir, unchecked=[SPEC])
    print_table(f"Throughput: {big.describe()}", heavy.values())
    print_cdk_share(cdk_pipeline(big, runs, workdir), heavy)
    programs = Programs(workdir, peer_size)
    versus = measure(peer_size, {"connector": programs.connector, "peer": programs.peer}, runs, workdir)
    print_table(f"Peer: {peer_size.describe()}", versus.values())
    programs = Programs(workdir, small)
    light = measure(small, {"connector": programs.connector}, runs, workdir)
    print_table(f"Memory baseline: {small.describe()}", light.values())
    return verdicts(heavy, versus, light)


def print_cdk_share(cdk: dict, heavy: Dict[str, Series]) -> None:
    with_start_up = (cdk["seconds"] + heavy[SPEC].wall_s) / heavy["floor"].wall_s
    print(
        f"CDK pipeline alone (bench/cdk_pipeline.py: the same read, HTTP, parsing and typing stubbed out, timed "
        f"inside launch()): {cdk['seconds']:.2f} s for {cdk['records']:,} records "
        f"({cdk['records'] / cdk['seconds']:,.0f} records/s); with the start-up above, {with_start_up:.2f}x the floor"
    )


def verdicts(heavy: Dict[str, Series], versus: Dict[str, Series], light: Dict[str, Series]) -> List[bool]:
    connector, floor, small = heavy["connector"], heavy["floor"], light["connector"]
    over_floor = connector.wall_s / floor.wall_s
    reading = (connector.wall_s - heavy[SPEC].wall_s) / floor.wall_s
    peer_ratio = versus["peer"].wall_s / versus["connector"].wall_s
    memory = connector.peak_rss_mib / small.peak_rss_mib - 1
    print(
        f"\nconnector/floor time {over_floor:.2f}x ({reading:.2f}x without the connector's start-up); "
        f"peer/connector time {peer_ratio:.2f}x; peak RSS: connector {connector.peak_rss_mib:.0f} MiB, "
        f"floor {floor.peak_rss_mib:.0f} MiB, peer {versus['peer'].peak_rss_mib:.0f} MiB (400 calls/day)"
    )
    return [
        verdict(
            "Throughput",
            over_floor <= 2.5,
            f"connector {connector.wall_s:.2f} s <= 2.5 x floor {floor.wall_s:.2f} s (ratio {over_floor:.2f})",
        ),
        verdict(
            "Peer",
            peer_ratio >= 3.0,
            f"at 400 calls/day the connector is {peer_ratio:.2f}x faster than the "
            f"peer ({versus['connector'].wall_s:.2f} s vs {versus['peer'].wall_s:.2f} s; target >= 3)",
        ),
        verdict(
            "Memory",
            abs(memory) <= 0.20,
            f"peak RSS at 2,000 calls/day {connector.peak_rss_mib:.1f} MiB vs "
            f"{small.peak_rss_mib:.1f} MiB at 200 ({memory * 100:+.1f}%; target within 20%)",
        ),
    ]


def cdk_pipeline(scenario: Scenario, runs: int, workdir: str) -> dict:
    """The median in-launch time of bench/cdk_pipeline.py over `runs` runs (informational)."""
    result = os.path.join(workdir, "cdk_pipeline.json")
    command = [
        sys.executable,
        str(REPO / "bench" / "cdk_pipeline.py"),
        "--calls-per-day",
        str(scenario.calls_per_day),
        "--start",
        FIRST_DAY.isoformat(),
        "--end",
        scenario.last_day.isoformat(),
        "--result",
        result,
    ]
    outcomes = []
    for _ in range(runs):
        run_measured(command)
        with open(result) as file:
            outcomes.append(json.load(file))
    return sorted(outcomes, key=lambda outcome: outcome["seconds"])[len(outcomes) // 2]


def concurrency(runs: int, workdir: str) -> List[bool]:
    scenario = Scenario(50, 90, latency_ms=100)
    programs = Programs(workdir, scenario)
    commands = {
        "connector num_workers=1": lambda url: programs.connector(url, num_workers=1),
        "connector num_workers=3": lambda url: programs.connector(url, num_workers=3),
        SPEC: spec_command,
    }
    series = measure(scenario, commands, runs, workdir, unchecked=[SPEC])
    print_table(f"Concurrency: {scenario.describe()}", series.values())
    one, three, start = (series[name].wall_s for name in commands)
    share = (three - start) / (one - start)
    return [
        verdict(
            "Concurrency",
            share <= 0.40,
            f"(wall(3) - wall(spec)) = {three - start:.2f} s is {share:.2f} x "
            f"(wall(1) - wall(spec)) = {one - start:.2f} s (target <= 0.40)",
        )
    ]


def startup(runs: int) -> List[bool]:
    series = measure_startup(runs)
    print_table("Start-up (same interpreter)", series.values())
    spec, baseline = (item.wall_s for item in series.values())
    return [
        verdict(
            "Start-up",
            spec <= 1.10 * baseline,
            f"source-avidtrak spec {spec:.3f} s <= 1.10 x "
            f"import airbyte_cdk.entrypoint {baseline:.3f} s (ratio {spec / baseline:.2f})",
        )
    ]


if __name__ == "__main__":
    sys.exit(main())

"""The bench's programs and how one scenario is measured: command lines, checked and timed runs.

Every scenario module (run.py, limits.py) builds its commands here, so the connector, the
floor and the peer always read the same days with the same settings.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, Dict, List, Optional, Sequence

from harness import BIN, PIN, REPO, REPORTS, Fingerprint, Series, Simulator, bench_rss_mib, fingerprint, run_measured

FIRST_DAY = date(2025, 1, 1)
MANIFEST = REPO / "bench" / "peer" / "manifest.yaml"
Command = Callable[[str], List[str]]  # simulator URL -> command line
SPEC = "source-avidtrak spec"
CDK_IMPORT = "import airbyte_cdk.entrypoint"


@dataclass(frozen=True)
class Scenario:
    calls_per_day: int
    days: int
    latency_ms: float = 0.0
    clients: int = 0  # client accounts besides the main one (the simulator's --clients)
    first_day: date = FIRST_DAY

    @property
    def last_day(self) -> date:
        return self.first_day + timedelta(days=self.days - 1)

    def describe(self) -> str:
        latency = f", {self.latency_ms:g} ms latency" if self.latency_ms else ""
        accounts = f"{self.clients + 1} accounts x " if self.clients else ""
        return f"{accounts}{self.days} days x {len(REPORTS)} reports x {self.calls_per_day} calls/day{latency}"

    def simulator(self, **options) -> Simulator:
        return Simulator(self.calls_per_day, self.latency_ms, clients=self.clients, **options)


class Programs:
    """Command lines for each program, with their config and catalog files in `workdir`."""

    def __init__(self, workdir: str, scenario: Scenario) -> None:
        self.workdir, self.scenario = workdir, scenario
        self.catalog = self._write("catalog.json", _catalog())
        self._configs = 0

    def connector(
        self,
        url: str,
        num_workers: int = 3,
        requests_per_second: Optional[float] = None,
        window_days: Optional[int] = 1,  # None: the connector's default
        state: Optional[str] = None,
        command: str = "read",
        clients: Optional[int] = None,  # None: the scenario's
    ) -> List[str]:
        config = self.config(url, num_workers, self.scenario.clients if clients is None else clients)
        if window_days is not None:
            config["window_days"] = window_days
        if requests_per_second is not None:
            config["requests_per_second"] = requests_per_second
        self._configs += 1
        path = self._write(f"connector-{self._configs}.json", config)
        if command != "read":
            return [str(BIN / "source-avidtrak"), command, "--config", path]
        arguments = ["--catalog", self.catalog, *(["--state", state] if state else [])]
        return [str(BIN / "source-avidtrak"), "read", "--config", path, *arguments]

    def config(self, url: str, num_workers: int, clients: int) -> dict:
        return {
            "pin_code": PIN,
            "base_url": url,
            "reports": list(REPORTS),
            "num_workers": num_workers,
            "duration": {
                "mode": "date_range",
                "date_from": {"mode": "specific", "specific_date_from": self.scenario.first_day.isoformat()},
                "date_to": {"mode": "specific", "specific_date_to": self.scenario.last_day.isoformat()},
            },
            **({"client_accounts": client_accounts(clients)} if clients else {}),
        }

    def floor(self, url: str, window_days: int = 1, counts: Optional[str] = None) -> List[str]:
        days = ["--start", self.scenario.first_day.isoformat(), "--end", self.scenario.last_day.isoformat()]
        options = ["--clients", str(self.scenario.clients), "--window-days", str(window_days)]
        options += ["--counts", counts] if counts else []
        return [sys.executable, str(REPO / "bench" / "floor.py"), "--url", url, "--pin", PIN, *days, *options]

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


def client_accounts(count: int) -> List[dict]:
    """The simulator's --clients N accounts (integration_tests/simulator.py numbers them so)."""
    return [{"name": f"client-{n:04d}", "pin_code": f"sim-client-pin-{n:04d}"} for n in range(1, count + 1)]


def spec_command(url: str = "") -> List[str]:
    return [str(BIN / "source-avidtrak"), "spec"]


def cdk_import_command(url: str = "") -> List[str]:
    return [sys.executable, "-c", "import airbyte_cdk.entrypoint"]


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
    With one run (--quick) the checked run, whose output goes to a file, is also the timed one.
    """
    series = {name: Series(name) for name in commands}
    with scenario.simulator() as simulator:
        reference = None
        for name, command in commands.items():
            if name in unchecked:
                run_measured(command(simulator.url))
                continue
            run, read = checked_run(command(simulator.url), workdir)
            series[name].records = read.records
            if runs == 1:
                series[name].runs.append(run)
            reference = reference or (name, read)
            require_same(read, reference, name, scenario)
        names = list(commands) if runs > 1 else list(unchecked)
        for repetition in range(runs if names else 0):
            for name in names[repetition % len(names) :] + names[: repetition % len(names)]:
                series[name].runs.append(run_measured(commands[name](simulator.url)))
    return series


def require_same(read: Fingerprint, reference, name: str, scenario: Scenario) -> None:
    if read != reference[1]:
        raise SystemExit(
            f"FAIL: {name} and {reference[0]} read different records in {scenario.describe()}: "
            f"{dict(read.counts)} vs {dict(reference[1].counts)} (or the same counts, other values)"
        )


def checked_run(command: List[str], workdir: str):
    """(the Run, the Fingerprint of what it read)."""
    output = os.path.join(workdir, "checked.jsonl")
    run = run_measured(command, stdout_path=output)
    read = fingerprint(output)
    os.remove(output)
    return run, read


def print_table(title: str, series: Sequence[Series]) -> None:
    print(f"\n## {title}")
    print(
        f"{'program':34} {'records':>9} {'wall s (median)':>16} {'min..max':>12} {'CPU s':>6} {'records/s':>10} "
        f"{'peak RSS MiB':>13}"
    )
    for item in series:
        rate = f"{item.records_per_s:,.0f}" if item.records else "-"
        records = f"{item.records:,}" if item.records else "-"
        floor_only = "*" if item.peak_rss_mib <= bench_rss_mib() + 1 else " "  # see harness.run_measured
        print(
            f"{item.name:34} {records:>9} {item.wall_s:16.2f} {item.spread():>12} {item.cpu_s:6.2f} {rate:>10} "
            f"{item.peak_rss_mib:12.1f}{floor_only}"
        )


def verdict(name: str, passed: bool, detail: str) -> bool:
    print(f"[{'PASS' if passed else 'FAIL'}] {name}: {detail}")
    return passed

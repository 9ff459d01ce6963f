"""What bench/run.py measures with: the simulator as a process, timed children, record checks.

Each program runs as a child process; its wall time is taken around spawn..exit and its
peak RSS comes from `os.wait4` (the kernel's ru_maxrss for that one child, in KiB). Linux
carries the parent's high-water RSS into a spawned child's ru_maxrss (exec keeps the larger
of the two), so the bench keeps its own memory small: it fingerprints outputs as it streams
them and never holds records. `bench_rss_mib` reports its own peak for comparison. The simulator runs as its own process through
its CLI, exactly as another tool would run it.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

try:  # the CDK's own JSON library: fingerprinting a year's 1.46 M lines with json takes a minute
    import orjson

    def canonical(stream: str, data: dict) -> bytes:
        return orjson.dumps([stream, data], option=orjson.OPT_SORT_KEYS)

    loads = orjson.loads
except ImportError:  # pragma: no cover - the venv has orjson (a CDK dependency)

    def canonical(stream: str, data: dict) -> bytes:
        return json.dumps([stream, data], sort_keys=True, ensure_ascii=False).encode()

    loads = json.loads

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PIN = "sim-pin-0001"
REPORTS = ("geographical_data", "offline_portal_calls")


@dataclass
class Run:
    wall_s: float
    peak_rss_kib: int
    cpu_s: float  # user + system


@dataclass
class Series:
    """Timed runs of one program in one scenario, plus the record count of its checked run."""

    name: str
    records: int = 0
    runs: List[Run] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return statistics.median(run.wall_s for run in self.runs)

    @property
    def cpu_s(self) -> float:
        return statistics.median(run.cpu_s for run in self.runs)

    @property
    def peak_rss_mib(self) -> float:
        return statistics.median(run.peak_rss_kib for run in self.runs) / 1024

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s if self.records else 0.0

    def spread(self) -> str:
        walls = sorted(run.wall_s for run in self.runs)
        return f"{walls[0]:.2f}..{walls[-1]:.2f}" if len(walls) > 1 else f"{walls[0]:.2f}"


class Simulator:
    """`python -m integration_tests.simulator` as a child process, stopped with SIGTERM.

    `rate_limit` and `burst` turn on its token bucket (HTTP 429 with Retry-After beyond it).
    """

    def __init__(
        self,
        calls_per_day: int,
        latency_ms: float = 0.0,
        seed: int = 42,
        rate_limit: Optional[float] = None,
        burst: Optional[float] = None,
        clients: int = 0,
    ) -> None:
        limit = ["--rate-limit", str(rate_limit), "--burst", str(burst or rate_limit)] if rate_limit else []
        self.args = [
            sys.executable,
            "-m",
            "integration_tests.simulator",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--calls-per-day",
            str(calls_per_day),
            "--empty-day-ratio",
            "0",
            "--latency-ms",
            str(latency_ms),
            "--clients",
            str(clients),
            *limit,
        ]
        self.process: Optional[subprocess.Popen] = None
        self.url = ""

    def __enter__(self) -> Simulator:
        self.process = subprocess.Popen(self.args, cwd=REPO, stdout=subprocess.PIPE, text=True, env=child_env())
        line = self.process.stdout.readline().strip()
        if not line.startswith("AVIDTRAK_SIMULATOR_URL="):
            self.__exit__()
            raise RuntimeError(f"the simulator did not start: {line!r}")
        self.url = line.partition("=")[2]
        return self

    def stats(self) -> Dict[str, int]:
        """API requests received so far, and how many the token bucket answered 429."""
        return json.loads(self._control("GET", "stats"))

    def add_faults(self, faults: List[Dict[str, Any]]) -> None:
        """Misbehaviours served instead of normal replies (integration_tests.simulator.Fault)."""
        self._control("POST", "faults", json.dumps(faults).encode())

    def _control(self, verb: str, route: str, body: bytes = b"") -> bytes:
        # A bare HTTP/1.0 request: urllib and http.client would load ssl (OpenSSL) into the bench.
        host, _, port = self.url.removeprefix("http://").partition(":")
        head = f"{verb} /__sim__/{route} HTTP/1.0\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n\r\n"
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(head.encode() + body)
            reply = b"".join(iter(lambda: connection.recv(65536), b""))
        return reply.partition(b"\r\n\r\n")[2]

    def __exit__(self, *exc_info) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def child_env() -> Dict[str, str]:
    """This checkout's code first: the venv's console scripts may belong to another worktree.

    Children may write bytecode (an installed connector has its own): with
    PYTHONDONTWRITEBYTECODE every start would compile the connector's sources again.
    """
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": os.pathsep.join(paths), "AIRBYTE_OFFLINE_MODE": "1", "DO_NOT_TRACK": "1"}


def run_measured(command: Sequence[str], stdout_path: str = os.devnull) -> Run:
    """Runs one child to completion; fails loudly (with its stderr tail) on a non-zero exit."""
    with open(stdout_path, "wb") as stdout, tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(list(command), cwd=REPO, stdout=stdout, stderr=stderr, env=child_env())
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            stderr.seek(0)
            tail = stderr.read()[-2000:].decode(errors="replace")
            raise RuntimeError(f"{command[0]} exited with {process.returncode}:\n{tail}")
    return Run(wall, usage.ru_maxrss, usage.ru_utime + usage.ru_stime)


@dataclass(frozen=True)
class Fingerprint:
    """What a read produced, per stream: the record count and an order-free digest of the records.

    The digest is the sum (mod 2**64) of Python's hash of each record's canonical JSON: stable
    within one bench process, which is where all fingerprints are compared. No records are
    held and hashlib (OpenSSL, 4 MB) is not loaded: the bench stays far below the programs'
    memory (see run_measured). orjson, already loaded by the CDK's children anyway, is the
    one import: with json the year backfill's fingerprints alone took a minute.
    """

    counts: Tuple[Tuple[str, int], ...]
    digest: int

    @property
    def records(self) -> int:
        return sum(count for _, count in self.counts)


@dataclass
class Output:
    """What a read wrote besides its records' fingerprint: sizes, STATE messages and the last state per stream."""

    fingerprint: Fingerprint
    record_bytes: int
    state_messages: int
    state_bytes: int
    largest_state_bytes: int
    final_states: Dict[str, dict]  # stream -> the `state` of its last STATE message


def read_output(path: str, defaults: Optional[dict] = None) -> Output:
    """Scans a read's stdout once. `defaults` fills fields a record lacks (an older connector's).

    Only each stream's last STATE line is parsed: a read may write a gigabyte of them.
    """
    counts: Counter = Counter()
    digest = record_bytes = states = state_bytes = largest = 0
    last_state: Dict[bytes, bytes] = {}
    with open(path, "rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"RECORD"'):
                record = loads(line)["record"]
                data = {**defaults, **record["data"]} if defaults else record["data"]
                digest += hash(canonical(record["stream"], data))
                counts[record["stream"]] += 1
                record_bytes += len(line)
            elif line.startswith(b'{"type":"STATE"'):
                states, state_bytes, largest = states + 1, state_bytes + len(line), max(largest, len(line))
                name_at = line.find(b'"name":"', 0, 300)  # the stream descriptor comes first
                last_state[line[name_at : line.find(b'"', name_at + 8)]] = line
    final = {}
    for line in last_state.values():
        state = loads(line)["state"]
        final[state.get("stream", {}).get("stream_descriptor", {}).get("name", "")] = state
    return Output(
        Fingerprint(tuple(sorted(counts.items())), digest % 2**64), record_bytes, states, state_bytes, largest, final
    )


def fingerprint(path: str) -> Fingerprint:
    return read_output(path).fingerprint


def bench_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

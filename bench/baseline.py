"""Side by side with a fixed earlier commit: the per-record and start-up targets.

BASELINE (023ca8a, before agency accounts and the shared rate budget) is checked out once
into bench/.baseline/ (git-ignored) with `git archive`, and installed there into a venv of
its own, editable, against this checkout's requirements.lock: 023ca8a has no lock, so both
run on the same dependency versions and only the connector's code differs. The cache is
rebuilt when the lock changes (about 30 s). Its runs get PYTHONPATH set to that tree.

The scenario alternates the two connectors on one simulator (30 days x 2 reports x 2,000
calls/day, 3 workers, window_days 1), then their `spec`. Each pair of runs gives a ratio
(current / baseline); the target is on the median ratio, so a load change between pairs
cancels out. 023ca8a's records have no `account` field: they are compared with
`"account": "main"` added, so the record digests must be equal.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence

from harness import REPO, Run, Series, read_output, run_measured
from programs import Programs, Scenario, print_table, require_same, verdict

BASELINE = "023ca8a"
CACHE = REPO / "bench" / ".baseline"
# Run-to-run spread of the paired ratio on 2 shared cores (bench/README.md, "Side by side"):
# the median of 3+ pairs moved within +-4% over repeated runs of the same code.
TOLERANCE = 1.05
THROUGHPUT = Scenario(2000, 30)
CURRENT, EARLIER = "connector (this checkout)", f"connector at {BASELINE}"


def baseline_tree() -> Path:
    return CACHE / BASELINE


def baseline_venv() -> Path:
    return CACHE / f"venv-{BASELINE}"


def ensure_baseline() -> None:
    """Builds bench/.baseline/ unless it is there for this requirements.lock."""
    lock = (REPO / "requirements.lock").read_bytes()
    stamp = CACHE / f"{BASELINE}.lock"  # the lock it was built with (hashlib would load OpenSSL into the bench)
    if stamp.exists() and stamp.read_bytes() == lock and (baseline_venv() / "bin" / "source-avidtrak").exists():
        return
    print(f"# building the {BASELINE} baseline in {CACHE.relative_to(REPO)}/ (once per requirements.lock)", flush=True)
    shutil.rmtree(baseline_tree(), ignore_errors=True)
    shutil.rmtree(baseline_venv(), ignore_errors=True)
    baseline_tree().mkdir(parents=True)
    archive = CACHE / f"{BASELINE}.tar"
    _run(["git", "-C", str(REPO), "archive", "--output", str(archive), BASELINE])
    _run(["tar", "-xf", str(archive), "-C", str(baseline_tree())])
    archive.unlink()
    _run([sys.executable, "-m", "venv", str(baseline_venv())])
    pip = [str(baseline_venv() / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "-c", str(REPO / "requirements.lock"), "-e", str(baseline_tree())])
    stamp.write_bytes(lock)


def _run(command: List[str]) -> None:
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise SystemExit(f"FAIL: building the {BASELINE} baseline: {' '.join(command)}:\n{done.stderr[-2000:]}")


def as_baseline(command: Sequence[str]) -> List[str]:
    """The same command line run by the baseline's console script, its tree first on the path."""
    program = baseline_venv() / "bin" / Path(command[0]).name
    return [shutil.which("env") or "/usr/bin/env", f"PYTHONPATH={baseline_tree()}", str(program), *command[1:]]


def side_by_side(pairs: int, startup_pairs: int, workdir: str) -> List[bool]:
    ensure_baseline()
    programs = Programs(workdir, THROUGHPUT)
    reads: Dict[str, Series] = {CURRENT: Series(CURRENT), EARLIER: Series(EARLIER)}
    with THROUGHPUT.simulator() as simulator:
        commands = {CURRENT: programs.connector(simulator.url), EARLIER: as_baseline(programs.connector(simulator.url))}
        checked = {}
        for name, command in commands.items():
            output = os.path.join(workdir, "side-by-side.jsonl")
            run_measured(command, stdout_path=output)
            checked[name] = read_output(output, {"account": "main"} if name == EARLIER else None).fingerprint
            os.remove(output)
            reads[name].records = checked[name].records
        require_same(checked[EARLIER], (CURRENT, checked[CURRENT]), EARLIER, THROUGHPUT)
        read_ratios = alternate(commands, reads, pairs)
    spec_commands = {"spec (this checkout)": [str(Path(sys.executable).parent / "source-avidtrak"), "spec"]}
    spec_commands[f"spec at {BASELINE}"] = as_baseline(next(iter(spec_commands.values())))
    specs = {name: Series(name) for name in spec_commands}
    for command in spec_commands.values():  # warm-up: page cache and bytecode
        run_measured(command)
    spec_ratios = alternate(spec_commands, specs, startup_pairs)
    print_table(
        f"Side by side with {BASELINE}: {THROUGHPUT.describe()}, num_workers 3, window_days 1; {pairs} alternating "
        f"pairs, then {startup_pairs} of `spec`",
        [*reads.values(), *specs.values()],
    )
    read_ratio, spec_ratio = statistics.median(read_ratios), statistics.median(spec_ratios)
    cpu_ratio = reads[CURRENT].cpu_s / reads[EARLIER].cpu_s
    return [
        verdict(
            f"Per record, against {BASELINE}",
            read_ratio <= TOLERANCE,
            f"wall this checkout / {BASELINE}: median of {pairs} paired ratios {read_ratio:.3f} "
            f"({spread(read_ratios)}; target <= {TOLERANCE}); CPU {cpu_ratio:.3f}; "
            f"{checked[CURRENT].records:,} records, digests equal (023ca8a's with account=main added)",
        ),
        verdict(
            f"Start-up, against {BASELINE}",
            spec_ratio <= TOLERANCE,
            f"`spec` this checkout / {BASELINE}: median of {startup_pairs} paired ratios {spec_ratio:.3f} "
            f"({spread(spec_ratios)}; target <= {TOLERANCE})",
        ),
    ]


def alternate(commands: Dict[str, List[str]], series: Dict[str, Series], pairs: int) -> List[float]:
    """`pairs` runs of each of the two commands, the order swapped every pair: the ratio of each pair."""
    first, second = commands
    ratios = []
    for pair in range(pairs):
        order = (first, second) if pair % 2 == 0 else (second, first)
        runs: Dict[str, Run] = {name: run_measured(commands[name]) for name in order}
        for name, run in runs.items():
            series[name].runs.append(run)
        ratios.append(runs[first].wall_s / runs[second].wall_s)
    return ratios


def spread(ratios: Sequence[float]) -> str:
    return f"pairs {min(ratios):.3f}..{max(ratios):.3f}" if len(ratios) > 1 else "one pair"

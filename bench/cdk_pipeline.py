"""The CDK floor: the connector's read path with HTTP, parsing and typing taken out.

Builds the simulator's rows for the given days in memory, types them with the connector's
RecordTyper, then times `launch(SourceAvidtrak(stream_classes=...), ["read", ...])`, the
console script's call, with stub stream classes whose `read_records` is a lookup of the
window's typed records. What is left
is exactly what the CDK does per record in the real read: StreamFacade/StreamPartition,
the concurrent queue, ConcurrentCursor.observe, AirbyteMessage creation, serialization
and the print buffer (plus the connector's masking wrapper). Output goes to /dev/null.

    python bench/cdk_pipeline.py --calls-per-day 2000 --start 2025-01-01 --end 2025-01-30

Prints `cdk_pipeline: <records> records in <seconds> s` on stderr (and with `--result`,
writes the two numbers as JSON), timed from the call to launch() to its return: imports
and data preparation are excluded.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ACCOUNT = "main"  # the default Account Name: the bench configs have no client accounts
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airbyte_cdk.entrypoint import launch

from integration_tests.simulator_data import DataSpec, generate_day
from source_avidtrak.components import Window
from source_avidtrak.records import RecordTyper
from source_avidtrak.source import SourceAvidtrak
from source_avidtrak.streams import GeographicalData, OfflinePortalCalls


def typed_days(stream_class, spec: DataSpec, first: date, last: date) -> dict:
    """Slice start -> the typed records of that day, as RecordTyper makes them in a real read."""
    schema = json.loads((REPO / "source_avidtrak" / stream_class.report.schema_file).read_text())
    typer, by_start = RecordTyper(schema), {}
    day = first
    while day <= last:
        start = Window(day, day).as_slice(ACCOUNT)["start"]
        rows = generate_day(spec, stream_class.report.method, day)
        by_start[start] = typer.type_rows(rows, ACCOUNT)[0]
        day += timedelta(days=1)
    return by_start


def stub(stream_class, records: dict):
    """The report stream with its HTTP read replaced by the prepared records of each window."""

    class Stub(stream_class):
        def read_records(self, sync_mode, cursor_field=None, stream_slice=None, stream_state=None):
            yield from records[stream_slice["start"]]

    Stub.__name__ = Stub.__qualname__ = stream_class.__name__
    Stub.__module__ = stream_class.__module__  # the CDK finds schemas/ from the class's package
    return Stub


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls-per-day", type=int, required=True)
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--result", help="write {records, seconds} as JSON to this file")
    args = parser.parse_args(argv)
    spec = DataSpec(args.seed, args.calls_per_day, empty_day_ratio=0.0)
    prepared = {cls: typed_days(cls, spec, args.start, args.end) for cls in (GeographicalData, OfflinePortalCalls)}
    stream_classes = {cls.report.name: stub(cls, days) for cls, days in prepared.items()}
    records = sum(len(day) for days in prepared.values() for day in days.values())
    with tempfile.TemporaryDirectory() as workdir:
        config, catalog = write_inputs(workdir, args.start, args.end)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # the CDK's print buffer writes to sys.__stdout__, i.e. fd 1
        started = time.perf_counter()
        launch(SourceAvidtrak(stream_classes=stream_classes), ["read", "--config", config, "--catalog", catalog])
        elapsed = time.perf_counter() - started
    print(f"cdk_pipeline: {records} records in {elapsed:.3f} s", file=sys.stderr)
    if args.result:
        with open(args.result, "w") as file:
            json.dump({"records": records, "seconds": elapsed}, file)
    return 0


def write_inputs(workdir: str, first: date, last: date):
    config = {
        "pin_code": "sim-pin-0001",
        "base_url": "http://127.0.0.1:9",
        "num_workers": 3,
        "window_days": 1,  # the stubs look records up by the day a window starts
        "duration": {
            "mode": "date_range",
            "date_from": {"mode": "specific", "specific_date_from": first.isoformat()},
            "date_to": {"mode": "specific", "specific_date_to": last.isoformat()},
        },
    }
    stream = lambda name: {  # noqa: E731
        "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"]},
        "sync_mode": "incremental",
        "destination_sync_mode": "append",
        "cursor_field": ["call_date"],
    }
    catalog = {"streams": [stream(name) for name in ("geographical_data", "offline_portal_calls")]}
    paths = []
    for name, payload in (("config.json", config), ("catalog.json", catalog)):
        paths.append(os.path.join(workdir, name))
        with open(paths[-1], "w") as file:
            json.dump(payload, file)
    return paths


if __name__ == "__main__":
    sys.exit(main())

"""One-command demo: sync the last 30 days of both AvidTrak reports into DuckDB via PyAirbyte.

By default it starts the bundled AvidTrak simulator on 127.0.0.1 (in this process) and syncs
that; with a pin code (`--pin` or AVIDTRAK_PIN_CODE) it syncs your real AvidTrak account
instead (`--base-url` or AVIDTRAK_BASE_URL, default https://avidtrak.com). PyAirbyte runs the
locally installed `source-avidtrak` command and writes PyAirbyte's default local cache,
`.cache/default_cache/default_cache.duckdb` under the current folder; each run replaces the
report tables there. PyAirbyte runs offline: no registry lookups, no telemetry.

    python scripts/demo.py                      # the simulator
    python scripts/demo.py --pin YOUR_PIN       # a real account
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, Optional

# PyAirbyte reads these when it is imported: stay offline (no registry, no telemetry).
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
# Google's client libraries (PyAirbyte's BigQuery support, unused here) warn about Python 3.11.
warnings.filterwarnings("ignore", message=".*Google will stop supporting.*", category=FutureWarning)

import airbyte as ab  # noqa: E402  (after the environment above, on purpose)
from airbyte.exceptions import PyAirbyteError  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
STREAMS = ("geographical_data", "offline_portal_calls")
DEFAULT_BASE_URL = "https://avidtrak.com"
TOP_CITIES = 5


def parse_args(argv: Optional[list] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--pin",
        default=os.environ.get("AVIDTRAK_PIN_CODE"),
        help="your AvidTrak pin code (default: $AVIDTRAK_PIN_CODE; none: use the simulator)",
    )
    parser.add_argument(
        "--base-url",
        default=os.environ.get("AVIDTRAK_BASE_URL"),
        help=f"your AvidTrak instance (default: $AVIDTRAK_BASE_URL or {DEFAULT_BASE_URL})",
    )
    parser.add_argument("--days", type=int, default=30, help="how many days back, ending yesterday (default 30)")
    parser.add_argument("--timezone", default="UTC", help="the account's IANA time zone (default UTC)")
    parser.add_argument(
        "--connector", default=None, help="path to the source-avidtrak command (default: beside this Python, then PATH)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 3650:
        parser.error("--days must be from 1 to 3650")
    if args.base_url and not args.pin:
        parser.error("--base-url needs a pin code too (--pin or AVIDTRAK_PIN_CODE)")
    return args


def find_connector(explicit: Optional[str]) -> str:
    candidates = (
        [explicit]
        if explicit
        else [str(Path(sys.executable).parent / "source-avidtrak"), shutil.which("source-avidtrak")]
    )
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    sys.exit(
        "The source-avidtrak command was not found. Install the connector into this Python "
        "(pip install -e .) or pass --connector PATH."
    )


def connector_config(pin: str, base_url: str, days: int, timezone: str) -> Dict[str, Any]:
    return {
        "pin_code": pin,
        "base_url": base_url,
        "reports": list(STREAMS),
        "duration": {
            "mode": "date_range",
            "date_from": {"mode": "relative", "date_from_offset": days},
            "date_to": {"mode": "relative", "date_to_offset": 1},
        },
        "timezone": timezone,
    }


def start_simulator(stack: ExitStack) -> tuple:
    """The bundled simulator on a free loopback port: (base URL, pin code)."""
    sys.path.insert(0, str(REPO_ROOT))
    from integration_tests.simulator import AvidTrakSimulator

    pin = "sim-pin-0001"
    simulator = stack.enter_context(AvidTrakSimulator(pins=(pin,)))
    return simulator.base_url, pin


def sync(config: Dict[str, Any], executable: str) -> ab.ReadResult:
    source = ab.get_source("source-avidtrak", config=config, local_executable=executable)
    step("Checking the connection")
    source.check()
    source.select_all_streams()
    step(f"Reading {', '.join(source.get_selected_streams())} into DuckDB")
    # Replace, not merge: the tables then hold exactly this run's days (and a real account's
    # data never mixes with the simulator's).
    return source.read(force_full_refresh=True, write_strategy="replace")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


def summarize(result: ab.ReadResult) -> None:
    frames = {name: result[name].to_pandas() for name in STREAMS if name in result.streams}
    print("\nAvidTrak sync summary", flush=True)
    print("=====================")
    for name, frame in frames.items():
        dates = frame["call_date"].dropna().astype(str) if "call_date" in frame else []
        span = f"{min(dates)[:10]} .. {max(dates)[:10]}" if len(dates) else "no calls"
        print(f"{name:<22} {len(frame):>7,} rows   calls {span}")
    calls = frames.get("offline_portal_calls")
    if calls is not None and len(calls) and "call_status" in calls:
        print("\nOffline portal calls by status:")
        counts = calls["call_status"].fillna("(none)").value_counts()
        for status, count in counts.items():
            print(f"  {status:<12} {count:>6,}  {count / len(calls):6.1%}")
        answered = calls[calls["call_status"] == "answered"]
        if len(answered) and "duration" in calls:
            print(f"  answered calls last {answered['duration'].mean() / 60:.1f} min on average")
    geo = frames.get("geographical_data")
    if geo is not None and len(geo) and "city" in geo:
        print(f"\nTop {TOP_CITIES} caller cities (geographical_data):")
        places = (geo["city"].fillna("?") + ", " + geo["state"].fillna("?")).value_counts().head(TOP_CITIES)
        for place, count in places.items():
            print(f"  {place:<22} {count:>6,}")
    cache = result.cache
    print(f"\nDuckDB file: {Path(cache.db_path).resolve()}")
    print(
        f"Tables:      {', '.join(cache.processor.get_sql_table_name(name) for name in frames)} "
        f"(schema {cache.schema_name})"
    )


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    executable = find_connector(args.connector)
    with ExitStack() as stack:
        if args.pin:
            base_url, pin = args.base_url or DEFAULT_BASE_URL, args.pin
            step(f"Syncing your AvidTrak account at {base_url}")
        else:
            step("Starting the AvidTrak simulator (no --pin given)")
            base_url, pin = start_simulator(stack)
            step(f"Simulator listening at {base_url}")
        config = connector_config(pin, base_url, args.days, args.timezone)
        step(f"Connector: {executable}; last {args.days} days, ending yesterday ({args.timezone})")
        try:
            result = sync(config, executable)
        except PyAirbyteError as error:
            print(f"\nThe sync failed.\n{error}", file=sys.stderr)
            return 1
        summarize(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())

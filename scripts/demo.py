"""One-command demo: sync the last 30 days of both AvidTrak reports into DuckDB via PyAirbyte.

By default it starts the bundled AvidTrak simulator on 127.0.0.1 (in this process) and syncs
that; with a pin code (`--pin` or AVIDTRAK_PIN_CODE) it syncs your real AvidTrak account
instead (`--base-url` or AVIDTRAK_BASE_URL, default https://avidtrak.com). PyAirbyte runs the
locally installed `source-avidtrak` command and writes the demo's own DuckDB cache,
`.demo/avidtrak.duckdb` in the checkout (not PyAirbyte's default cache, which a PyAirbyte
script of your own shares); each run replaces the report tables there. PyAirbyte runs
offline: no registry lookups, no telemetry.

    python scripts/demo.py                      # the simulator
    python scripts/demo.py --clients 2          # the simulator as an agency with two client accounts
    python scripts/demo.py --pin YOUR_PIN       # a real account
    python scripts/demo.py --pin AGENCY_PIN --client client-7=CLIENT_PIN   # an agency and its client

With client accounts, the summary also shows each account's rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
import warnings
from contextlib import ExitStack, contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, Iterator, List, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# PyAirbyte reads these when it is imported: stay offline (no registry, no telemetry).
os.environ["AIRBYTE_OFFLINE_MODE"] = "1"
os.environ["DO_NOT_TRACK"] = "1"
# Google's client libraries (PyAirbyte's BigQuery support, unused here) warn about Python 3.11.
warnings.filterwarnings("ignore", message=".*Google will stop supporting.*", category=FutureWarning)

if TYPE_CHECKING:  # imported at run time only after the first lines are out: it takes seconds
    import airbyte as ab

REPO_ROOT = Path(__file__).resolve().parent.parent
# The demo's cache: its DuckDB file and PyAirbyte's scratch files for it (git-ignored).
DEMO_DIR = REPO_ROOT / ".demo"
DEMO_DB = DEMO_DIR / "avidtrak.duckdb"
STREAMS = ("geographical_data", "offline_portal_calls")
DEFAULT_BASE_URL = "https://avidtrak.com"
TOP_CITIES = 5
# Wall time of each phase, in the order they ran: printed at the end.
TIMINGS: List[Tuple[str, float]] = []


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
    parser.add_argument(
        "--client",
        action="append",
        default=[],
        metavar="NAME=PIN",
        help="a client account of your agency to sync too (with --pin); repeatable",
    )
    parser.add_argument(
        "--clients", type=int, default=0, help="simulator only: serve and sync this many client accounts (0-9)"
    )
    parser.add_argument("--days", type=int, default=30, help="how many days back, ending yesterday (default 30)")
    parser.add_argument("--timezone", default="UTC", help="the account's IANA time zone (default UTC)")
    parser.add_argument(
        "--connector", default=None, help="path to the source-avidtrak command (default: beside this Python, then PATH)"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.days <= 3650:
        parser.error("--days must be from 1 to 3650")
    try:
        ZoneInfo(args.timezone)
    except (ValueError, ZoneInfoNotFoundError):
        parser.error(f"--timezone {args.timezone!r} is not an IANA time zone (e.g. America/New_York)")
    if args.base_url and not args.pin:
        parser.error("--base-url needs a pin code too (--pin or AVIDTRAK_PIN_CODE)")
    if args.client and not args.pin:
        parser.error("--client needs your agency's pin code too (--pin or AVIDTRAK_PIN_CODE)")
    if args.clients and args.pin:
        parser.error("--clients is for the simulator; for a real agency give --client NAME=PIN per client")
    if not 0 <= args.clients <= 9:
        parser.error("--clients must be from 0 to 9")
    for value in args.client:
        name, separator, pin = value.partition("=")
        if not (name and separator and pin):
            parser.error("--client takes NAME=PIN, e.g. client-7=1234567890 (got a value without NAME= or PIN)")
    return args


def client_accounts(values: List[str]) -> List[Dict[str, str]]:
    """`NAME=PIN` arguments as the connector's client_accounts."""
    return [dict(zip(("name", "pin_code"), value.partition("=")[::2], strict=True)) for value in values]


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


def connector_config(
    pin: str, base_url: str, days: int, timezone: str, clients: List[Dict[str, str]]
) -> Dict[str, Any]:
    accounts: Dict[str, Any] = {"account_name": "agency", "client_accounts": clients} if clients else {}
    return {
        "pin_code": pin,
        **accounts,
        "base_url": base_url,
        "reports": list(STREAMS),
        "duration": {
            "mode": "date_range",
            "date_from": {"mode": "relative", "date_from_offset": days},
            "date_to": {"mode": "relative", "date_to_offset": 1},
        },
        "timezone": timezone,
    }


def start_simulator(stack: ExitStack, clients: int) -> Tuple[str, str, List[Dict[str, str]]]:
    """The bundled simulator on a free loopback port: (base URL, pin code, client accounts),
    each client account with data of its own."""
    sys.path.insert(0, str(REPO_ROOT))
    from integration_tests.simulator import AvidTrakSimulator

    pin = "sim-pin-0001"
    accounts = [{"name": f"client-{n}", "pin_code": f"sim-client-pin-{n}"} for n in range(1, clients + 1)]
    served = {account["name"]: account["pin_code"] for account in accounts}
    simulator = stack.enter_context(AvidTrakSimulator(pins=(pin,), clients=served))
    return simulator.base_url, pin, accounts


def date_range(days: int, timezone: str) -> Tuple[date, date]:
    """The days `connector_config` asks for: `days` back through yesterday, both included."""
    today = datetime.now(ZoneInfo(timezone)).date()
    return today - timedelta(days=days), today - timedelta(days=1)


def set_up_source(config: Dict[str, Any], executable: str) -> ab.Source:
    import airbyte as ab

    source = ab.get_source("source-avidtrak", config=config, local_executable=executable)
    source.check()
    source.select_all_streams()
    return source


def demo_cache() -> ab.caches.DuckDBCache:
    """The demo's own DuckDB cache. PyAirbyte's default one (.cache/default_cache under the
    current folder) is shared by every PyAirbyte script run there: the demo's replaced
    tables would drop that script's rows, and its rows would mix into the demo's summary."""
    from airbyte.caches import DuckDBCache

    return DuckDBCache(db_path=DEMO_DB, cache_dir=DEMO_DIR)


def sync(source: ab.Source, cache: ab.caches.DuckDBCache) -> ab.ReadResult:
    # Replace, not merge: the tables then hold exactly this run's days (and a real account's
    # data never mixes with the simulator's). PyAirbyte shows its own progress display when
    # stdout is a terminal, and plain progress lines otherwise.
    return source.read(cache=cache, force_full_refresh=True, write_strategy="replace")


def step(message: str) -> None:
    print(f"==> {message}", flush=True)


@contextmanager
def phase(label: str, title: str) -> Iterator[None]:
    """A phase of the demo: announced by its title, timed, and listed by its label at the end."""
    step(title)
    started = time.monotonic()
    yield
    elapsed = time.monotonic() - started
    TIMINGS.append((label, elapsed))
    print(f"    done in {elapsed:.1f} s", flush=True)


def summarize(result: ab.ReadResult) -> None:
    frames = {name: result[name].to_pandas() for name in STREAMS if name in result.streams}
    print("\nAvidTrak sync summary", flush=True)
    print("=====================")
    for name, frame in frames.items():
        print(f"{name:<22} {len(frame):>7,} rows   calls {_span(frame)}")
    accounts = sorted({account for frame in frames.values() if "account" in frame for account in frame["account"]})
    if len(accounts) > 1:
        print(f"\nBy account ({len(accounts)} accounts, the `account` column):")
        for account in accounts:
            for name, frame in frames.items():
                rows = frame[frame["account"] == account]
                print(f"  {account:<12} {name:<22} {len(rows):>7,} rows   calls {_span(rows)}")
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


def _span(frame: Any) -> str:
    dates = frame["call_date"].dropna().astype(str) if "call_date" in frame else []
    return f"{min(dates)[:10]} .. {max(dates)[:10]}" if len(dates) else "no calls"


def print_query_hint(result: ab.ReadResult) -> None:
    """Where the data is, and a command that queries it once this process has let go of the file."""
    import sqlalchemy

    cache = result.cache
    db_path = Path(cache.db_path).resolve()
    tables = sqlalchemy.inspect(cache.get_sql_engine()).get_table_names(schema=cache.schema_name)
    reports = [cache.processor.get_sql_table_name(name) for name in STREAMS if name in result.streams]
    # The connection is kept in a name: a relation printed after its connection is gone raises.
    query = (
        f"import duckdb; db = duckdb.connect('{db_path}', read_only=True); "
        f"print(db.sql('select count(*) from {reports[0]}'))"
    )
    print(f"\nDuckDB file: {db_path}")
    print(
        f"Tables:      {', '.join(sorted(tables))} (schema {cache.schema_name}; "
        f"the reports are {', '.join(reports)}, the _airbyte_* tables are PyAirbyte's bookkeeping)"
    )
    print("Query it:")
    print(f'  {Path(sys.executable)} -c "{query}"')


def print_timings() -> None:
    print("\nTimings: " + ", ".join(f"{label} {elapsed:.1f} s" for label, elapsed in TIMINGS))


def main(argv: Optional[list] = None) -> int:
    args = parse_args(argv)
    executable = find_connector(args.connector)
    with ExitStack() as stack:
        if args.pin:
            base_url, pin, clients = args.base_url or DEFAULT_BASE_URL, args.pin, client_accounts(args.client)
            step(f"Syncing your AvidTrak account at {base_url}")
        else:
            with phase("simulator start", "Starting the AvidTrak simulator (no --pin given)"):
                base_url, pin, clients = start_simulator(stack, args.clients)
            step(f"Simulator listening at {base_url}")
        if clients:
            names = ", ".join(client["name"] for client in clients)
            step(f"Accounts: agency (the pin code) and {len(clients)} client account(s): {names}")
        config = connector_config(pin, base_url, args.days, args.timezone, clients)
        first, last = date_range(args.days, args.timezone)
        step(f"Connector: {executable}")
        step(
            f"Date range: {first} .. {last} (the last {args.days} days through yesterday, "
            f"both included, {args.timezone})"
        )
        with phase("PyAirbyte import", "Loading PyAirbyte (its import takes a few seconds)"):
            from airbyte.exceptions import PyAirbyteError
        try:
            with phase("source set-up and check", "Setting up the PyAirbyte source and checking the connection"):
                source = set_up_source(config, executable)
            with phase("read", f"Reading {', '.join(source.get_selected_streams())} into DuckDB"):
                result = sync(source, demo_cache())
        except PyAirbyteError as error:
            print(f"\nThe sync failed.\n{error}", file=sys.stderr)
            return 1
        with phase("summary", "Summarizing"):
            summarize(result)
        print_query_hint(result)
        print_timings()
    return 0


if __name__ == "__main__":
    sys.exit(main())

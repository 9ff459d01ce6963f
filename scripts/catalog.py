"""Turns `source-avidtrak discover` output into a configured catalog for `read`.

    source-avidtrak discover --config config.json | python scripts/catalog.py > catalog.json

Every discovered stream is selected incremental, deduplicated on its primary key
(`append_dedup`), with the source-defined cursor: what an Airbyte connection with every
stream on "Incremental | Append + Deduped" sends. `--full-refresh` selects full refresh /
overwrite instead. Reads the protocol messages on stdin and writes JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, Iterable, List


def discovered_streams(lines: Iterable[str]) -> List[Dict[str, Any]]:
    """The streams of the CATALOG message; the other messages (LOG, TRACE) are skipped."""
    for line in lines:
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("type") == "CATALOG":
                return message["catalog"]["streams"]
    sys.exit("No CATALOG message on stdin: pipe in the output of `source-avidtrak discover --config config.json`.")


def configured_stream(stream: Dict[str, Any], full_refresh: bool) -> Dict[str, Any]:
    configured = {
        "stream": stream,
        "sync_mode": "full_refresh" if full_refresh else "incremental",
        "destination_sync_mode": "overwrite" if full_refresh else "append_dedup",
        "primary_key": stream.get("source_defined_primary_key", []),
    }
    if not full_refresh:
        configured["cursor_field"] = stream["default_cursor_field"]
    return configured


def main(argv: List[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full-refresh", action="store_true", help="full refresh / overwrite instead of incremental")
    args = parser.parse_args(argv)
    streams = [configured_stream(stream, args.full_refresh) for stream in discovered_streams(sys.stdin)]
    json.dump({"streams": streams}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

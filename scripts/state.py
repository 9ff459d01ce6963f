"""Keeps the last STATE message of each stream from `source-avidtrak read` output: a state file.

    source-avidtrak read --config config.json --catalog catalog.json > messages.jsonl
    python scripts/state.py < messages.jsonl > state.json
    source-avidtrak read --config config.json --catalog catalog.json --state state.json

The connector emits STATE messages periodically and at the end of each stream; the last one of a
stream is what the Airbyte platform stores and passes back with `--state`. The output is a
JSON list of those messages' `state` objects, one per stream, in the order the streams first
reported state. Reads the protocol messages on stdin and writes JSON on stdout.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Iterable, List, Tuple


def stream_key(state: Dict[str, Any]) -> Tuple[str, str]:
    descriptor = state["stream"]["stream_descriptor"]
    return descriptor.get("namespace") or "", descriptor["name"]


def last_states(lines: Iterable[str]) -> List[Dict[str, Any]]:
    """The last per-stream state of each stream; RECORD, LOG and TRACE lines are skipped."""
    latest: Dict[Tuple[str, str], Dict[str, Any]] = {}
    for line in lines:
        if line.startswith("{"):
            message = json.loads(line)
            if message.get("type") == "STATE" and message["state"].get("type") == "STREAM":
                state = message["state"]
                # sourceStats counts the records of one checkpoint: nothing a later read uses.
                kept = {"type": state["type"], "stream": state["stream"]}
                latest[stream_key(state)] = kept  # a dict keeps the first-seen order of its keys
    return list(latest.values())


def main() -> int:
    states = last_states(sys.stdin)
    if not states:
        sys.exit(
            "No STATE message on stdin: pipe in the output of `source-avidtrak read ...` "
            "(an incremental catalog; a read that failed may have emitted none)."
        )
    json.dump(states, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

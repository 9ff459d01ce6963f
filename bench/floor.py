"""The floor: the least work that turns AvidTrak pages into typed RECORD lines.

One keep-alive connection (http.client), the same requests the connector sends (one
window per day, pages of `--page-size` rows until a short page, an empty one or code 0),
the same typing rules ("" -> null, `duration` an integer, `latitude`/`longitude`
numbers, `call_date` ISO 8601 without a zone; other fields pass through), the same
RECORD lines as the CDK's, written to stdout. The CDK's message serializer (serpyco-rs,
omit_none) leaves null top-level fields out of `data`, so "" fields are left out here too
and the lines match the connector's byte for byte, `emitted_at` aside. No retries, no state, no logging:
whatever the connector spends beyond this is framework overhead.

For the agency scenarios it reads client accounts too (`--clients N`, the simulator's
numbering) and, with `--window-days 0`, each account's whole range as one window: then its
requests are the paging floor itself, and `--counts` writes the rows per account and report.

Parsing and serialising use orjson (a dependency of the CDK, which serialises its
messages with it) when it is importable, so the floor is the fastest plain-Python reader,
not a strawman.

    python bench/floor.py --url http://127.0.0.1:PORT --start 2025-01-01 --end 2025-01-30
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from datetime import date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

try:
    import orjson

    loads, dumps = orjson.loads, orjson.dumps
except ImportError:  # pragma: no cover - the dev venv has orjson
    loads = json.loads

    def dumps(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


REPORTS = ("geographical_data", "offline_portal_calls")
INTEGER_FIELDS = {"duration"}
NUMBER_FIELDS = {"latitude", "longitude"}
SUCCESS_CODES = {1, 200}


def typed(row: dict, account: str = "main") -> dict:
    record = {key: value for key, value in row.items() if value != ""}
    for name in INTEGER_FIELDS.intersection(record):
        record[name] = int(float(record[name]))
    for name in NUMBER_FIELDS.intersection(record):
        record[name] = float(record[name])
    if "call_date" in record:
        record["call_date"] = datetime.fromisoformat(record["call_date"]).isoformat()
    record["account"] = account  # the connector's account field; "main" is the default Account Name
    return record


def windows(first: date, last: date, window_days: int):
    """(first, last) day of each window; window_days 0: the whole range at once."""
    step = timedelta(days=window_days or (last - first).days + 1)
    while first <= last:
        yield first, min(first + step - timedelta(days=1), last)
        first += step


def read(url: str, accounts, reports, first: date, last: date, page_size: int, window_days: int, out, counts) -> int:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path if path.endswith("api.php") else path + "/webservice/api.php"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    count = 0
    for account, pin in accounts:
        for report in reports:
            prefix = b'{"type":"RECORD","record":{"stream":"' + report.encode() + b'","data":'
            for start, end in windows(first, last, window_days):
                page = 1
                while True:
                    query = urlencode(
                        {
                            "pincode": pin,
                            "method": report,
                            "format": "json",
                            "startdate": f"{start} 00:00:00",
                            "enddate": f"{end} 23:59:59",
                            "use_paging": "TRUE",
                            "perpage": page_size,
                            "page": page,
                        }
                    )
                    connection.request("GET", f"{path}?{query}")
                    response = connection.getresponse()
                    envelope = loads(response.read())
                    if response.status != 200 or envelope["code"] not in SUCCESS_CODES | {0}:
                        raise SystemExit(
                            f"{account} {report} {start}..{end} page {page}: HTTP {response.status}, "
                            f"code {envelope.get('code')}"
                        )
                    rows = envelope["data"] if envelope["code"] in SUCCESS_CODES and envelope["data"] else []
                    emitted_at = b',"emitted_at":' + str(int(time.time() * 1000)).encode() + b"}}\n"
                    out.write(b"".join(prefix + dumps(typed(row, account)) + emitted_at for row in rows))
                    count += len(rows)
                    counts[f"{account}/{report}"] = counts.get(f"{account}/{report}", 0) + len(rows)
                    if len(rows) < page_size:
                        break
                    page += 1
    connection.close()
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="simulator base URL or full .../api.php URL")
    parser.add_argument("--pin", default="sim-pin-0001")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--reports", nargs="+", default=list(REPORTS), choices=REPORTS)
    parser.add_argument("--page-size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=0, help="also the simulator's --clients N accounts")
    parser.add_argument("--window-days", type=int, default=1, help="0: each account's whole range in one window")
    parser.add_argument("--counts", help="write the rows per account/report to this JSON file")
    args = parser.parse_args(argv)
    accounts = [("main", args.pin)]
    if args.clients:  # imported only here: the throughput runs time the floor's start-up too
        from integration_tests.simulator import numbered_clients

        accounts += numbered_clients(args.clients).items()
    counts: dict = {}
    count = read(
        args.url,
        accounts,
        args.reports,
        args.start,
        args.end,
        args.page_size,
        args.window_days,
        sys.stdout.buffer,
        counts,
    )
    sys.stdout.buffer.flush()
    if args.counts:
        with open(args.counts, "w") as file:
            json.dump(counts, file)
    print(f"floor: {count} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The floor: the least work that turns AvidTrak pages into typed RECORD lines.

One keep-alive connection (http.client), the same requests the connector sends (one
window per day, pages of `--page-size` rows until a short page, an empty one or code 0),
the same typing rules ("" -> null, `duration` an integer, `latitude`/`longitude`
numbers, `call_date` ISO 8601 without a zone; other fields pass through), the same
RECORD lines as the CDK's, written to stdout. The CDK's message serializer (serpyco-rs,
omit_none) leaves null top-level fields out of `data`, so "" fields are left out here too
and the lines match the connector's byte for byte, `emitted_at` aside. No retries, no state, no logging:
whatever the connector spends beyond this is framework overhead.

Parsing and serialising use orjson (a dependency of the CDK, which serialises its
messages with it) when it is importable, so the floor is the fastest plain-Python reader,
not a strawman.

    python bench/floor.py --url http://127.0.0.1:PORT --start 2025-01-01 --end 2025-01-30
"""

from __future__ import annotations

import argparse
import http.client
import sys
import time
from datetime import date, datetime, timedelta
from urllib.parse import urlencode, urlsplit

try:
    import orjson

    loads, dumps = orjson.loads, orjson.dumps
except ImportError:  # pragma: no cover - the dev venv has orjson
    import json

    loads = json.loads

    def dumps(value):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


REPORTS = ("geographical_data", "offline_portal_calls")
INTEGER_FIELDS = {"duration"}
NUMBER_FIELDS = {"latitude", "longitude"}
SUCCESS_CODES = {1, 200}


def typed(row: dict) -> dict:
    record = {key: value for key, value in row.items() if value != ""}
    for name in INTEGER_FIELDS.intersection(record):
        record[name] = int(float(record[name]))
    for name in NUMBER_FIELDS.intersection(record):
        record[name] = float(record[name])
    if "call_date" in record:
        record["call_date"] = datetime.fromisoformat(record["call_date"]).isoformat()
    record["account"] = "main"  # the connector's account field: the default Account Name
    return record


def days(first: date, last: date):
    while first <= last:
        yield first
        first += timedelta(days=1)


def read(url: str, pin: str, reports, first: date, last: date, page_size: int, out) -> int:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path if path.endswith("api.php") else path + "/webservice/api.php"
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    count = 0
    for report in reports:
        prefix = b'{"type":"RECORD","record":{"stream":"' + report.encode() + b'","data":'
        for day in days(first, last):
            page = 1
            while True:
                query = urlencode(
                    {
                        "pincode": pin,
                        "method": report,
                        "format": "json",
                        "startdate": f"{day} 00:00:00",
                        "enddate": f"{day} 23:59:59",
                        "use_paging": "TRUE",
                        "perpage": page_size,
                        "page": page,
                    }
                )
                connection.request("GET", f"{path}?{query}")
                response = connection.getresponse()
                envelope = loads(response.read())
                if response.status != 200 or envelope["code"] not in SUCCESS_CODES | {0}:
                    raise SystemExit(f"{report} {day} page {page}: HTTP {response.status}, code {envelope.get('code')}")
                rows = envelope["data"] if envelope["code"] in SUCCESS_CODES and envelope["data"] else []
                emitted_at = b',"emitted_at":' + str(int(time.time() * 1000)).encode() + b"}}\n"
                out.write(b"".join(prefix + dumps(typed(row)) + emitted_at for row in rows))
                count += len(rows)
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
    args = parser.parse_args(argv)
    count = read(args.url, args.pin, args.reports, args.start, args.end, args.page_size, sys.stdout.buffer)
    sys.stdout.buffer.flush()
    print(f"floor: {count} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The simulated AvidTrak account: its report rows and its answers, without HTTP.

``AvidTrakAccount.answer`` turns a request's query parameters into the
envelope (code, status, rows) per the API contract (avidtrak-api.md), and
``render`` writes it the way the PHP service does: JSON as ``json_encode``
makes it (``\\/`` and ``\\u00e9``), or XML. Where the contract is silent the
account is strict, to surface connector bugs: dates must be exactly
``YYYY-mm-dd HH:MM:SS``; the pin is checked before the format, the format
before the method, the method before the dates and paging.

The row shapes follow the *assumed* report contract in avidtrak-api.md
("Rows (assumed)"): every value is a string, "" means "no value", and a few
rows carry an undocumented extra field the connector must pass through.

Each day of each report is a pure function of (seed, method, day) through its
own ``random.Random``, so any day can be regenerated on its own, in any order,
by any process, and two simulators with the same seed serve the same rows.
The values are realistic enough to exercise typing and escaping: real US
cities with their state, zip (leading zeros kept) and coordinates, names with
non-ASCII letters, quotes and an astral emoji, URLs and campaigns with slashes.
"""

import bisect
import datetime as dt
import functools
import json
import math
import random
from collections import namedtuple
from dataclasses import dataclass
from xml.sax.saxutils import escape

GEOGRAPHICAL_DATA = "geographical_data"
OFFLINE_PORTAL_CALLS = "offline_portal_calls"
# The leading digit of a call_id keeps ids unique across both reports.
METHOD_ID_PREFIX = {GEOGRAPHICAL_DATA: "1", OFFLINE_PORTAL_CALLS: "2"}
METHODS = tuple(METHOD_ID_PREFIX)

GEOGRAPHICAL_FIELDS = (
    "call_id",
    "call_date",
    "caller_number",
    "tracking_number",
    "campaign",
    "city",
    "state",
    "zip",
    "country",
    "latitude",
    "longitude",
)
OFFLINE_PORTAL_FIELDS = (
    "call_id",
    "call_date",
    "caller_number",
    "caller_name",
    "tracking_number",
    "forward_number",
    "duration",
    "call_status",
    "channel",
    "campaign",
    "recording_url",
    "city",
    "state",
)
EXTRA_FIELD = "keyword"
RECORDING_URL = "https://avidtrak.com/recordings/{call_id}.mp3"
MAX_CALLS_PER_DAY = 76_000  # x1.3 must fit the 5-digit index of a call_id
DAY_VARIATION = 0.3  # calls per day vary uniformly within +-30%
BLANK_RATIO = 0.05  # share of optional values sent as ""
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
FORMATS = ("json", "xml")
DEFAULT_PERPAGE = 20  # the SOAP API's documented default
MAX_PERPAGE = 500
# Not in the contract: longer windows get code 0, so a runaway request fails
# fast instead of generating decades of rows.
MAX_WINDOW_DAYS = 3660
JSON_TYPE = "application/json; charset=UTF-8"
ROW_BUDGET = 150_000  # encoded rows kept in memory, to bound the day cache

City = namedtuple("City", "name state zip latitude longitude area_code")
CITIES = (
    City("Boston", "MA", "02108", 42.3601, -71.0589, "617"),
    City("Providence", "RI", "02903", 41.8240, -71.4128, "401"),
    City("Hartford", "CT", "06103", 41.7658, -72.6734, "860"),
    City("Newark", "NJ", "07102", 40.7357, -74.1724, "973"),
    City("Portland", "ME", "04101", 43.6591, -70.2568, "207"),
    City("San Juan", "PR", "00901", 18.4655, -66.1057, "787"),
    City("New York", "NY", "10001", 40.7128, -74.0060, "212"),
    City("Philadelphia", "PA", "19107", 39.9526, -75.1652, "215"),
    City("Atlanta", "GA", "30303", 33.7490, -84.3880, "404"),
    City("Miami", "FL", "33130", 25.7617, -80.1918, "305"),
    City("Chicago", "IL", "60601", 41.8781, -87.6298, "312"),
    City("Dallas", "TX", "75201", 32.7767, -96.7970, "214"),
    City("Houston", "TX", "77002", 29.7604, -95.3698, "713"),
    City("Denver", "CO", "80202", 39.7392, -104.9903, "303"),
    City("Phoenix", "AZ", "85004", 33.4484, -112.0740, "602"),
    City("Española", "NM", "87532", 35.9911, -106.0806, "505"),
    City("Los Angeles", "CA", "90012", 34.0522, -118.2437, "213"),
    City("San Diego", "CA", "92101", 32.7157, -117.1611, "619"),
    City("Seattle", "WA", "98101", 47.6062, -122.3321, "206"),
    City("Honolulu", "HI", "96813", 21.3069, -157.8583, "808"),
)
CAMPAIGNS = (
    "Yellow Pages 2024",
    "Radio - WXKS Morning Show",
    "Billboard I-95 North",
    "Google Ads / Search",
    "TV Spot: Evening News",
    "Direct Mail Q3",
    "Print – Boston Globe",
    "Coupons & Flyers",
    'Directory "Best of" Listing',
)
CALLER_NAMES = (
    'José "Pepe" Núñez',
    "Seán O'Brien",
    "Zoë Müller",
    "Li Wei",
    "Mary-Kate Smith",
    "Björn Ångström",
    "Renée Dubois",
    "Nguyễn Văn An",
    "田中 太郎",
    "Bob's Movers 🚚",
    "WIRELESS CALLER",
    "Aiyana Redcloud",
)
TRACKING_NUMBERS = ("8885550100", "8885550123", "8775550142", "6175550199")
FORWARD_NUMBERS = ("6175550100", "4015550111", "2125550188")
KEYWORDS = ("plumber near me", "emergency hvac/repair", "dentist open sunday")
CALL_STATUSES = ("answered", "missed", "voicemail", "busy")
CALL_STATUS_WEIGHTS = (70, 15, 10, 5)
RECORDED_STATUSES = ("answered", "voicemail")


@dataclass(frozen=True)
class DataSpec:
    """The knobs that, with the method and the day, fully determine the rows."""

    seed: int = 42
    calls_per_day: int = 20
    empty_day_ratio: float = 0.1
    extra_field_ratio: float = 0.05

    def __post_init__(self):
        if not 0 <= self.calls_per_day <= MAX_CALLS_PER_DAY:
            raise ValueError(f"calls_per_day must be within 0..{MAX_CALLS_PER_DAY}")
        for name in ("empty_day_ratio", "extra_field_ratio"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")


class AvidTrakAccount:
    """One account's rows in any window, and its answer to any query.

    Days are generated on demand; each day's call_dates and encoded rows are
    cached (about ROW_BUDGET rows in all), so paging through a long window
    costs a bisect and a join per request, not a regeneration.
    """

    def __init__(self, spec: DataSpec, pins=("sim-pin-0001",), success_code=1, auth_failed_code=4):
        self.spec, self.pins = spec, frozenset(pins)
        self.success_code, self.auth_failed_code = success_code, auth_failed_code
        days_cached = max(64, ROW_BUDGET // max(1, spec.calls_per_day))
        self._encoded_day = functools.lru_cache(maxsize=days_cached)(self._encode_day)

    def answer(self, params: dict[str, str]) -> tuple[int, str, list | None]:
        """(code, status, data): rows as dicts for XML, as encoded JSON otherwise."""
        pin, fmt, method = params.get("pincode", ""), params.get("format"), params.get("method")
        if not pin:
            return 3, "Authentication Required", None
        if pin not in self.pins:
            return self.auth_failed_code, "Authentication Failed", None
        if fmt not in FORMATS:
            return 6, "Invalid Response Format", None
        if method not in METHODS:
            return 404, "Invalid Request Method", None
        try:
            start, end = (_parse_date(params.get(key)) for key in ("startdate", "enddate"))
            page, perpage = _paging(params)
            if (end - start).days >= MAX_WINDOW_DAYS:
                raise ValueError("window too long")
        except ValueError:
            return 0, "Unknown Error", None
        items = (self.rows if fmt == "xml" else self.encoded_rows)(method, start, end)
        if perpage is not None:
            items = items[(page - 1) * perpage : page * perpage]
        if not items:  # no data in the window, or a page past the last
            return 0, "Unknown Error", None
        return self.success_code, "Success", items

    def rows(self, method: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, str]]:
        """Rows with start <= call_date <= end, in call_date order."""
        low, high = start.strftime(DATE_FORMAT), end.strftime(DATE_FORMAT)
        return [
            row
            for day in days_between(start.date(), end.date())
            for row in generate_day(self.spec, method, day)
            if low <= row["call_date"] <= high
        ]

    def encoded_rows(self, method: str, start: dt.datetime, end: dt.datetime) -> list[str]:
        """The same rows as ``rows``, each already encoded by ``php_json``."""
        low, high = start.strftime(DATE_FORMAT), end.strftime(DATE_FORMAT)
        encoded = []
        for day in days_between(start.date(), end.date()):
            dates, fragments = self._encoded_day(method, day)
            encoded += fragments[bisect.bisect_left(dates, low) : bisect.bisect_right(dates, high)]
        return encoded

    def _encode_day(self, method: str, day: dt.date) -> tuple[tuple[str, ...], tuple[str, ...]]:
        rows = generate_day(self.spec, method, day)
        return tuple(r["call_date"] for r in rows), tuple(php_json(r) for r in rows)


def _parse_date(value: str | None) -> dt.datetime:
    return dt.datetime.strptime(value or "", DATE_FORMAT)


def _paging(params: dict[str, str]) -> tuple[int | None, int | None]:
    """(page, perpage) capped at MAX_PERPAGE; (None, None) without use_paging."""
    if params.get("use_paging", "").upper() != "TRUE":
        return None, None
    page, perpage = int(params.get("page", 1)), int(params.get("perpage", DEFAULT_PERPAGE))
    if page < 1 or perpage < 1:
        raise ValueError("page and perpage must be positive")
    return page, min(perpage, MAX_PERPAGE)


def render(code: int, status: str, data, fmt) -> tuple[str, bytes]:
    """(content type, body) of an envelope; JSON data arrives pre-encoded."""
    if fmt == "xml":
        rows = "".join(
            "<row>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in row.items()) + "</row>" for row in data or ()
        )
        xml_data = "<data/>" if data is None else f"<data>{rows}</data>"
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<response><code>{code}</code>'
            f"<status>{escape(status)}</status>{xml_data}</response>"
        )
        return "text/xml; charset=UTF-8", body.encode()
    json_data = "null" if data is None else "[" + ",".join(data) + "]"
    return JSON_TYPE, f'{{"code":{code},"status":{php_json(status)},"data":{json_data}}}'.encode()


def php_json(value) -> str:
    """JSON as PHP's json_encode writes it: compact, ASCII-only, ``/`` escaped."""
    return json.dumps(value, separators=(",", ":")).replace("/", "\\/")


def days_between(first: dt.date, last: dt.date):
    """Each day from first to last, both included."""
    for offset in range((last - first).days + 1):
        yield first + dt.timedelta(days=offset)


def generate_day(spec: DataSpec, method: str, day: dt.date) -> list[dict[str, str]]:
    """Rows of one report for one day, sorted by call_date, ids ascending."""
    if method not in METHOD_ID_PREFIX:
        raise ValueError(f"unknown report method {method!r}")
    rng = random.Random(f"{spec.seed}:{method}:{day.isoformat()}")
    seconds = sorted(_call_second(rng) for _ in range(_call_count(rng, spec)))
    build = _geographical_row if method == GEOGRAPHICAL_DATA else _offline_portal_row
    id_stem = METHOD_ID_PREFIX[method] + day.strftime("%Y%m%d")
    rows = []
    for index, second in enumerate(seconds):
        hours, rest = divmod(second, 3600)
        call_date = f"{day.isoformat()} {hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        row = build(rng, f"{id_stem}{index:05d}", call_date)
        if rng.random() < spec.extra_field_ratio:
            row[EXTRA_FIELD] = rng.choice(KEYWORDS)
        rows.append(row)
    return rows


def _call_count(rng: random.Random, spec: DataSpec) -> int:
    """Calls in a day: none on an empty day, else within +-30% of the mean."""
    if rng.random() < spec.empty_day_ratio:
        return 0
    low = math.floor(spec.calls_per_day * (1 - DAY_VARIATION))
    high = math.ceil(spec.calls_per_day * (1 + DAY_VARIATION))
    return rng.randint(low, high)


def _call_second(rng: random.Random) -> int:
    """Second of the day; most calls come in business hours, some at night."""
    if rng.random() < 0.85:
        return rng.randint(8 * 3600, 20 * 3600 - 1)
    return rng.randint(0, 24 * 3600 - 1)


def _blank_or(rng: random.Random, value: str) -> str:
    return "" if rng.random() < BLANK_RATIO else value


def _phone(rng: random.Random, area_code: str) -> str:
    return f"{area_code}555{rng.randint(0, 9999):04d}"


def _geographical_row(rng: random.Random, call_id: str, call_date: str) -> dict[str, str]:
    city = rng.choice(CITIES)
    located = rng.random() >= BLANK_RATIO
    latitude = f"{city.latitude + rng.uniform(-0.05, 0.05):.6f}" if located else ""
    longitude = f"{city.longitude + rng.uniform(-0.05, 0.05):.6f}" if located else ""
    return {
        "call_id": call_id,
        "call_date": call_date,
        "caller_number": _phone(rng, city.area_code),
        "tracking_number": rng.choice(TRACKING_NUMBERS),
        "campaign": rng.choice(CAMPAIGNS),
        "city": city.name,
        "state": city.state,
        "zip": _blank_or(rng, city.zip),
        "country": "US",
        "latitude": latitude,
        "longitude": longitude,
    }


def _offline_portal_row(rng: random.Random, call_id: str, call_date: str) -> dict[str, str]:
    """Missed and busy calls last 0 seconds and have no recording."""
    city = rng.choice(CITIES)
    status = rng.choices(CALL_STATUSES, weights=CALL_STATUS_WEIGHTS)[0]
    duration = {"answered": rng.randint(20, 1800), "voicemail": rng.randint(8, 120)}
    recorded = status in RECORDED_STATUSES
    return {
        "call_id": call_id,
        "call_date": call_date,
        "caller_number": _phone(rng, city.area_code),
        "caller_name": _blank_or(rng, rng.choice(CALLER_NAMES)),
        "tracking_number": rng.choice(TRACKING_NUMBERS),
        "forward_number": rng.choice(FORWARD_NUMBERS),
        "duration": str(duration.get(status, 0)),
        "call_status": status,
        "channel": "PORTAL",
        "campaign": _blank_or(rng, rng.choice(CAMPAIGNS)),
        "recording_url": RECORDING_URL.format(call_id=call_id) if recorded else "",
        "city": _blank_or(rng, city.name),
        "state": city.state,
    }

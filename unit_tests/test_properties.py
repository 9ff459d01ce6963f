"""Properties that must hold for every input, not just the examples we thought of.

- DatetimeWindow: for any valid config, today, time zone and state, the windows cover the
  intended days exactly once, in order, without gaps or overlaps, each at most
  `window_days` long. The intended days are computed here from the rules in
  components.py's docstring, not by calling the code under test.
- api.parse_envelope: any JSON value and any bytes give an Envelope or MalformedResponse.
- RecordTyper: never raises on any row, keeps every row, types what it can and keeps the
  raw text of what it cannot.
- parse_settings: any JSON config gives Settings or ConfigError, never another exception.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Dict, Optional, Tuple
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from source_avidtrak import api, spec_schema
from source_avidtrak.components import PROBE_DAYS, DatetimeWindow, Window
from source_avidtrak.config import ConfigError, parse_settings
from source_avidtrak.records import ACCOUNT_FIELD, UNPARSED_FIELD, RecordTyper
from unit_tests.windowing import windows_of

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "source_avidtrak" / "schemas"
MAX_OFFSET_DAYS = 3650
# Zones at the edges of the clock (UTC+14, UTC-12, half and quarter hours) and all the rest.
EDGE_ZONES = [
    "UTC",
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "Pacific/Pago_Pago",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "America/New_York",
    "Europe/London",
]
ZONES = st.one_of(st.sampled_from(EDGE_ZONES), st.sampled_from(sorted(available_timezones())))
CLOCKS = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC))

# Applied per test: a profile loaded here would change every other module's hypothesis settings.
THOROUGH = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def day_near(draw, today: date, back: int = 4000, ahead: int = 30) -> date:
    return today + timedelta(days=draw(st.integers(-back, ahead)))


def draw_day_ref(draw, today: date, date_key: str, offset_key: str) -> Tuple[dict, date, bool]:
    """(config object, the day it means, whether it is a specific date)."""
    if draw(st.booleans()):
        day = day_near(draw, today)
        return {"mode": "specific", date_key: day.isoformat()}, day, True
    offset = draw(st.integers(0, MAX_OFFSET_DAYS))
    return {"mode": "relative", offset_key: offset}, today - timedelta(days=offset), False


@st.composite
def scenarios(draw) -> Dict[str, Any]:
    """A valid-by-schema config, the clock, and what the config means on that day."""
    zone = draw(ZONES)
    now = draw(CLOCKS)
    today = now.astimezone(ZoneInfo(zone)).date()
    mode = draw(st.sampled_from(["yesterday", "single_date", "date_range"]))
    if mode == "yesterday":
        duration, specific_start = {"mode": "yesterday"}, False
        first = last = today - timedelta(days=1)
    elif mode == "single_date":
        ref, first, specific_start = draw_day_ref(draw, today, "specific_date", "date_offset")
        duration, last = {"mode": "single_date", "report_date": ref}, first
    else:
        start_ref, first, specific_start = draw_day_ref(draw, today, "specific_date_from", "date_from_offset")
        end_ref, last, _ = draw_day_ref(draw, today, "specific_date_to", "date_to_offset")
        duration = {"mode": "date_range", "date_from": start_ref, "date_to": end_ref}
    config = {
        "pin_code": "pin",
        "base_url": "https://avidtrak.com",
        "duration": duration,
        "timezone": zone,
        "window_days": draw(st.integers(1, 31)),
        "lookback_days": draw(st.integers(0, 30)),
    }
    return {
        "config": config,
        "now": now,
        "today": today,
        "first": first,
        "last": last,
        "specific_start": specific_start,
    }


STATE_FORMATS = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%dT%H:%M:%S+05:30",
    "%Y-%m-%d",
]


@st.composite
def states(draw, today: date) -> Optional[Dict[str, str]]:
    if draw(st.booleans()):
        return None
    moment = datetime.combine(day_near(draw, today, back=4500, ahead=60), datetime.min.time())
    moment += timedelta(seconds=draw(st.integers(0, 86399)), microseconds=draw(st.integers(0, 999999)))
    return {api.CURSOR_FIELD: moment.strftime(draw(st.sampled_from(STATE_FORMATS)))}


def intended_days(scenario: Dict[str, Any], state: Optional[Dict[str, str]]) -> Optional[Tuple[date, date]]:
    """components.py's rules: the configured range; with state, from (state day - lookback) to the
    configured end, a specific Date From being a floor; None when the state is past the end."""
    first, last = scenario["first"], scenario["last"]
    if state is not None:
        state_day = date.fromisoformat(state[api.CURSOR_FIELD][:10])
        resumed = state_day - timedelta(days=scenario["config"]["lookback_days"])
        first = max(resumed, first) if scenario["specific_start"] else resumed
    return (first, last) if first <= last else None


def assert_exact_cover(windows, days: Tuple[date, date], window_days: int) -> None:
    first, last = days
    assert windows, "a non-empty range needs at least one window"
    assert windows[0].first_day == first and windows[-1].last_day == last
    for index, window in enumerate(windows):
        length = (window.last_day - window.first_day).days + 1
        assert 1 <= length <= window_days
        if index < len(windows) - 1:
            assert length == window_days, "only the last window may be cut short"
            assert windows[index + 1].first_day == window.last_day + timedelta(days=1), "gap or overlap"
        assert Window.from_slice(window.as_slice("main")) == window
        assert window.request_params() == {
            api.PARAM_START: f"{window.first_day.isoformat()} 00:00:00",
            api.PARAM_END: f"{window.last_day.isoformat()} 23:59:59",
        }
    assert sum((w.last_day - w.first_day).days + 1 for w in windows) == (last - first).days + 1


@THOROUGH
@given(data=st.data())
def test_windows_cover_the_intended_days_exactly_once_in_order_for_any_config_today_zone_and_state(data):
    scenario = data.draw(scenarios())
    state = data.draw(states(scenario["today"]))
    settings_ = parse_settings(scenario["config"])
    assert settings_.today(lambda: scenario["now"]) == scenario["today"]
    window = DatetimeWindow(settings_)

    if scenario["first"] > scenario["last"] or scenario["last"] > scenario["today"]:
        with pytest.raises(ConfigError):
            windows_of(window, scenario["today"], state)
        return

    longest = settings_.window_days or PROBE_DAYS  # unset: probes, as nothing is known of the data
    assert_exact_cover(windows_of(window, scenario["today"]), (scenario["first"], scenario["last"]), longest)
    days = intended_days(scenario, state)
    windows = windows_of(window, scenario["today"], state)
    if days is None:
        assert windows == []
    else:
        assert_exact_cover(windows, days, longest)


@THOROUGH
@given(
    value=st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats(), st.lists(st.integers(), max_size=2))
)
@example(value="0001-01-01T00:00:00")
@example(value="9999-12-31T23:59:59")
def test_any_state_value_gives_windows_or_a_config_error(value):
    config = {
        "pin_code": "pin",
        "duration": {
            "mode": "date_range",
            "date_from": {"mode": "specific", "specific_date_from": "2026-01-01"},
            "date_to": {"mode": "relative", "date_to_offset": 0},
        },
    }
    try:
        windows = windows_of(DatetimeWindow(parse_settings(config)), date(2026, 11, 10), {api.CURSOR_FIELD: value})
    except ConfigError:
        return
    assert all(w.first_day >= date(2026, 1, 1) and w.last_day <= date(2026, 11, 10) for w in windows)


# --- the envelope -----------------------------------------------------------------------

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
CODES = st.one_of(
    JSON_VALUES, st.sampled_from([0, 1, 3, 4, 6, 200, 401, 404, "1", " 200 ", "--5", "²", "٣", "1" * 5000])
)
ENVELOPE_LIKE = st.fixed_dictionaries(
    {},
    optional={"code": CODES, "status": JSON_VALUES, "data": st.one_of(JSON_VALUES, st.lists(JSON_VALUES, max_size=3))},
)


def assert_envelope_or_malformed(body: bytes) -> None:
    try:
        envelope = api.parse_envelope(body)
    except api.MalformedResponse:
        return
    assert isinstance(envelope, api.Envelope)
    assert isinstance(envelope.code, int) and isinstance(envelope.status, str)
    assert isinstance(envelope.rows, list) and all(isinstance(row, dict) for row in envelope.rows)
    assert envelope.is_success or envelope.rows == []


@THOROUGH
@given(document=st.one_of(JSON_VALUES, ENVELOPE_LIKE))
def test_parse_envelope_of_any_json_value_gives_an_envelope_or_malformed_response(document):
    assert_envelope_or_malformed(json.dumps(document).encode())


@THOROUGH
@given(body=st.binary(max_size=200))
@example(body=b"[" * 100_000)
@example(body=b'{"code": 1, "status": "Success", "data": [' + b"[" * 100_000 + b"]}")
@example(body=b"\xff\xfe{\x00}\x00")
@example(body=b"")
def test_parse_envelope_of_any_bytes_gives_an_envelope_or_malformed_response(body):
    assert_envelope_or_malformed(body)


# --- typing rows ------------------------------------------------------------------------

SCHEMAS = {path.stem: json.loads(path.read_text()) for path in sorted(SCHEMAS_DIR.glob("*.json"))}
ROW_TEXT = st.sampled_from(
    [
        "",
        "12",
        "0012",
        "1.5",
        "-3",
        "abc",
        "2026-11-25 14:03:00",
        "2026-02-30 10:00:00",
        "NaN",
        "inf",
        "1e400",
        "٣",
        " 7 ",
        "true",
        "02108",
    ]
)


def field_type(schema: Dict[str, Any], name: str) -> Tuple[set, Optional[str]]:
    field = schema["properties"].get(name, {})
    types = field.get("type", [])
    return set([types] if isinstance(types, str) else types), field.get("format")


@st.composite
def rows_for(draw, schema: Dict[str, Any]) -> Dict[str, Any]:
    names = st.one_of(st.sampled_from(sorted(schema["properties"]) + [UNPARSED_FIELD, "keyword"]), st.text(max_size=6))
    return draw(st.dictionaries(names, st.one_of(ROW_TEXT, JSON_VALUES), max_size=10))


def assert_typed(schema: Dict[str, Any], row: Dict[str, Any], record: Dict[str, Any]) -> None:
    unparsed = record.get(UNPARSED_FIELD) if isinstance(record.get(UNPARSED_FIELD), dict) else {}
    for name, raw in row.items():
        if name == UNPARSED_FIELD:
            continue  # the connector's own field: a row's value there may be replaced
        types, fmt = field_type(schema, name)
        typed = record[name]
        if raw == "" or raw is None:
            assert typed is None
        elif "integer" in types:
            assert (typed is None and name in unparsed) or type(typed) is int
        elif "number" in types:
            assert (typed is None and name in unparsed) or (type(typed) is float and math.isfinite(typed))
        elif fmt == "date-time":
            assert (typed is None and name in unparsed) or datetime.fromisoformat(typed).isoformat() == typed
        elif "string" in types and not isinstance(raw, str):
            number = isinstance(raw, (int, float)) and not isinstance(raw, bool)
            assert typed == str(raw) if number else (typed is None and name in unparsed), "every value a string"
        else:
            assert typed == raw, "fields the connector does not type pass through untouched"


@pytest.mark.parametrize("stream", sorted(SCHEMAS))
@THOROUGH
@given(data=st.data())
def test_record_typer_never_raises_and_keeps_every_row_and_every_raw_value(stream, data):
    schema = SCHEMAS[stream]
    rows = data.draw(st.lists(rows_for(schema), max_size=3))

    account = data.draw(st.text(min_size=1, max_size=8))
    records, problems = RecordTyper(schema).type_rows(rows, account)

    assert len(records) == len(rows)
    for row, record in zip(rows, records, strict=True):
        assert record.pop(ACCOUNT_FIELD) == account  # the connector's, over any field of that name in the row
        assert_typed(schema, {name: value for name, value in row.items() if name != ACCOUNT_FIELD}, record)
    without_id = sum(1 for record in records if record.get(api.PRIMARY_KEY) is None)
    assert problems[api.PRIMARY_KEY] >= without_id


# --- configs ----------------------------------------------------------------------------

CONFIG_KEYS = sorted(spec_schema.config_keys())
ZONE_NAMES = st.sampled_from(
    ["UTC", "US", "America", "../etc/passwd", "/etc/localtime", "a" * 300, "", "\x00", "Europe/Paris"]
)


@THOROUGH
@given(config=st.dictionaries(st.sampled_from(CONFIG_KEYS), st.one_of(JSON_VALUES, ZONE_NAMES), max_size=9))
@example(config={"pin_code": "p", "timezone": "US"})
@example(config={"pin_code": "p", "timezone": "a" * 300})
@example(config={"pin_code": "p", "base_url": "https://avidtrak.com:99999"})
def test_parse_settings_of_any_config_gives_settings_or_a_config_error(config):
    try:
        parse_settings(config, today=date(2026, 11, 10))
    except ConfigError as error:
        assert error.message


def _reference_iso(value: str) -> Optional[str]:
    """The general path of records.to_iso_datetime, None where it raises."""
    try:
        return datetime.fromisoformat(value.strip()).isoformat()
    except ValueError:
        return None


def _fast_iso(value: str) -> Optional[str]:
    from source_avidtrak.records import to_iso_datetime

    try:
        return to_iso_datetime(value)
    except ValueError:
        return None


DIGIT_OR_NOT = st.sampled_from("0123456789") | st.characters()
NEAR_AVIDTRAK_DATETIMES = st.lists(DIGIT_OR_NOT, min_size=19, max_size=19).map(
    lambda chars: (
        "".join(chars[:4])
        + "-"
        + "".join(chars[5:7])
        + "-"
        + "".join(chars[8:10])
        + " "
        + "".join(chars[11:13])
        + ":"
        + "".join(chars[14:16])
        + ":"
        + "".join(chars[17:19])
    )
)


@settings(max_examples=3000, deadline=None)
@given(value=NEAR_AVIDTRAK_DATETIMES | st.text(min_size=17, max_size=21))
@example(value="2026-02-29 10:00:00")  # not a leap year
@example(value="2024-W01-1 10:00:00")  # an ISO week date that fromisoformat accepts
@example(value="2024-02-29 24:00:00")
@example(value="２０２４-02-29 10:00:00")  # full-width digits
def test_to_iso_datetime_fast_path_gives_what_fromisoformat_and_isoformat_give(value):
    assert _fast_iso(value) == _reference_iso(value)


@settings(max_examples=2000, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_to_iso_datetime_of_any_valid_avidtrak_datetime_is_its_isoformat(moment):
    value = moment.replace(microsecond=0).strftime("%Y-%m-%d %H:%M:%S")
    assert _fast_iso(value) == moment.replace(microsecond=0).isoformat()

"""The connector's configuration, validated once into a typed `Settings` object.

Keys, defaults, bounds and titles come from spec.yaml (spec_schema.py); nothing here
restates them. These checks run first in every command (SourceAvidtrak.configure), so
check, discover and read give the same ConfigError, a sentence naming the field and the
fix; the CDK's JSON-schema validation runs second, for anything they leave.
Nothing downstream reads the raw config: streams and the date window take `Settings`.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Callable, Iterable, List, Mapping, Optional, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from source_avidtrak import spec_schema
from source_avidtrak.accounts import Account as Account
from source_avidtrak.accounts import parse_accounts
from source_avidtrak.base_url import api_url_from_base_url
from source_avidtrak.config_error import ConfigError as ConfigError
from source_avidtrak.config_error import missing_key_message, spec_default, spec_title
from source_avidtrak.reports import REPORT_NAMES, REPORTS

# Inside Duration's options, the one statement of these rules (spec.yaml says why it has none).
MAX_OFFSET_DAYS = 3650
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"


@dataclass(frozen=True)
class SpecificDay:
    day: date

    def resolve(self, today: date) -> date:
        return self.day

    def describe(self, resolved: date) -> str:
        return self.day.isoformat()


@dataclass(frozen=True)
class RelativeDay:
    days_back: int

    def resolve(self, today: date) -> date:
        return today - timedelta(days=self.days_back)

    def describe(self, resolved: date) -> str:
        return f"{_days(self.days_back)} back, {resolved.isoformat()}"


DayRef = Union[SpecificDay, RelativeDay]
YESTERDAY = RelativeDay(1)


@dataclass(frozen=True)
class Settings:
    # The account of `pin_code` first, then the client accounts in config order.
    accounts: Tuple[Account, ...]
    api_url: str
    reports: Tuple[str, ...]
    start: DayRef
    end: DayRef
    timezone: ZoneInfo
    lookback_days: int
    window_days: Optional[int]  # None: windows sized by the data (components.py)
    page_size: int
    num_workers: int
    # Report name -> AvidTrak method name: the assumed names unless the user overrode one.
    methods: Mapping[str, str]
    # AvidTrak's known request limit (Advanced); None: paced only once AvidTrak answers 429.
    requests_per_second: Optional[float] = None

    @property
    def names_accounts(self) -> bool:
        """Messages name the account only when there is more than one to tell apart."""
        return len(self.accounts) > 1

    def today(self, clock: Clock) -> date:
        """Today in the account's time zone: relative days and "yesterday" count from it."""
        return clock().astimezone(self.timezone).date()

    def resolve_range(self, today: date) -> Tuple[date, date]:
        """The configured first and last day (both included), checked against today."""
        first, last = self.start.resolve(today), self.end.resolve(today)
        if last > today:
            raise ConfigError(
                f"Date To ({last.isoformat()}) is in the future: today is {today.isoformat()} in "
                f"{self.timezone.key}. Pick a date on or before today."
            )
        if first > last:
            raise ConfigError(
                f"Date From ({self.start.describe(first)}) is after Date To ({self.end.describe(last)}). "
                "Swap them, or for relative dates give "
                "Date From Offset the larger number of days back."
            )
        return first, last


def parse_settings(config: Mapping[str, Any], today: Optional[date] = None) -> Settings:
    """Builds Settings from a raw config; with `today`, also checks the date range."""
    pin_title = spec_title("pin_code")
    if "pin_code" not in config:
        known = spec_schema.config_keys()
        raise ConfigError(missing_key_message(f"The {pin_title} is missing: the config", "pin_code", config, known))
    pin = config.get("pin_code")
    if not isinstance(pin, str):  # never echo the value: it is the credential
        raise ConfigError(f"The {pin_title} must be text (a JSON string in quotes), not a number or another type.")
    if not pin.strip():
        raise ConfigError(f"The {pin_title} is empty. Enter the pin code AvidTrak gave you when you signed up.")
    nulls = sorted(str(key) for key, value in config.items() if value is None and key in spec_schema.config_keys())
    if nulls:  # the spec's types allow no null
        raise ConfigError(
            f"{spec_title(nulls[0])} is null. Leave the key {nulls[0]!r} out to use its default, or enter a value."
        )
    start, end = _parse_duration(_value(config, "duration"))
    settings = Settings(
        accounts=parse_accounts(config, pin.strip()),
        api_url=api_url_from_base_url(_value(config, "base_url")),
        reports=_parse_reports(config.get("reports")),
        start=start,
        end=end,
        timezone=_parse_timezone(_value(config, "timezone")),
        lookback_days=_bounded_int(config, "lookback_days"),
        window_days=_bounded_int(config, "window_days"),
        page_size=_bounded_int(config, "page_size"),
        num_workers=_bounded_int(config, "num_workers"),
        methods=_parse_methods(config.get("report_methods")),
        requests_per_second=_parse_requests_per_second(config.get("requests_per_second")),
    )
    if today is not None:
        settings.resolve_range(today)
    return settings


def _value(config: Mapping[str, Any], key: str) -> Any:
    """The config's value, or the spec's default for a key left out (null is rejected above)."""
    return config[key] if key in config else spec_default(key)


def unknown_key_warnings(keys: Iterable[str]) -> List[str]:
    """A line per top-level key the connector does not know, naming the nearest known key.

    Not an error: an older config, or one written for another version, must keep working.
    """
    known = {key.casefold(): key for key in spec_schema.config_keys()}
    lines = []
    for key in sorted(str(key) for key in keys if key not in spec_schema.config_keys()):
        nearest = difflib.get_close_matches(key.casefold(), known, n=1)
        hint = f"Did you mean {known[nearest[0]]!r} ({spec_title(known[nearest[0]])})? " if nearest else ""
        lines.append(f"The config key {key!r} is not a setting of this connector and is ignored. {hint}".rstrip())
    return lines


def _parse_reports(raw: Any) -> Tuple[str, ...]:
    title, choices = spec_title("reports"), ", ".join(REPORT_NAMES)
    if raw is None:
        raw = spec_default("reports")
    if not isinstance(raw, list):
        raise ConfigError(
            f'{title} must be a list (of report names, e.g. ["{REPORT_NAMES[0]}"]); got {raw!r}. Choose from: {choices}.'
        )
    if not raw:
        raise ConfigError(f"Select at least one {title}: {choices}.")
    unknown = [report for report in raw if report not in REPORT_NAMES]
    if unknown:
        raise ConfigError(f"Unknown {title} {unknown[0]!r}. Choose from: {choices}.")
    twice = [report for position, report in enumerate(raw) if report in raw[:position]]
    if twice:
        raise ConfigError(f"{title} lists {twice[0]!r} twice. Select each report once.")
    return tuple(report for report in REPORT_NAMES if report in raw)


def _parse_methods(raw: Any) -> Mapping[str, str]:
    """Advanced > Report Method Names: a way past a wrong guess of AvidTrak's method names."""
    title = spec_title("report_methods")
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{title} must be an object of report name -> method name.")
    unknown = sorted(str(name) for name in raw if name not in REPORT_NAMES)
    if unknown:
        raise ConfigError(f"{title} has no report {unknown[0]!r}. Reports: {', '.join(REPORT_NAMES)}.")
    methods = {}
    for report in REPORTS:
        method = raw.get(report.name, report.method)
        if not isinstance(method, str) or not method or any(char.isspace() for char in method):
            raise ConfigError(
                f"{title} > {report.title} must be a method name without spaces, e.g. "
                f"{report.method}; got {method!r}. Leave it empty to use {report.method}."
            )
        methods[report.name] = method
    return MappingProxyType(methods)


def _parse_timezone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "US" is a directory, a name too long
        raise ConfigError(
            f"Unknown {spec_title('timezone')} {name!r}. Use an IANA name such as America/New_York or UTC."
        ) from None


def _bounded_int(config: Mapping[str, Any], key: str) -> Any:
    """The integer at `key`, or its default (None where the spec has none); within the spec's bounds."""
    spec = spec_schema.field(key)
    value = _value(config, key)
    if value is None:  # optional without a default: window_days
        return None
    low, high = spec["minimum"], spec["maximum"]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{spec['title']} must be a whole number from {low} to {high}; got {value!r}.")
    return value


def _parse_requests_per_second(value: Any) -> Optional[float]:
    if value is None:
        return None
    spec = spec_schema.field("requests_per_second")
    low = spec["exclusiveMinimum"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= low:
        raise ConfigError(
            f"{spec['title']} must be a number greater than {low}, e.g. {spec['examples'][0]} (or left empty for "
            f"no known limit); got {value!r}."
        )
    return float(value)


def _parse_duration(duration: Any) -> Tuple[DayRef, DayRef]:
    title = spec_title("duration")
    options = [option["title"] for option in spec_schema.field("duration")["oneOf"]]
    if not isinstance(duration, Mapping):
        raise ConfigError(f"{title} must be one of: {', '.join(options)}.")
    mode = duration.get("mode")
    if mode == "yesterday":
        return YESTERDAY, YESTERDAY
    if mode == "single_date":
        day = _parse_day_ref(duration, "report_date", "specific_date", "date_offset")
        return day, day
    if mode == "date_range":
        first = _parse_day_ref(duration, "date_from", "specific_date_from", "date_from_offset")
        last = _parse_day_ref(duration, "date_to", "specific_date_to", "date_to_offset")
        return first, last
    modes = ", ".join(option["properties"]["mode"]["const"] for option in spec_schema.field("duration")["oneOf"])
    if "mode" not in duration:
        raise ConfigError(f"{title} has no 'mode'. Add one of: {modes}.")
    raise ConfigError(f"Unknown {title} mode {mode!r}: use one of {modes}.")


def _parse_day_ref(duration: Mapping[str, Any], key: str, date_key: str, offset_key: str) -> DayRef:
    """Report Date, Date From or Date To: a specific date, or a number of days back."""
    raw: Any = duration.get(key)
    title = spec_title("duration", key)
    mode = raw.get("mode") if isinstance(raw, Mapping) else None
    if mode == "specific":
        if date_key not in raw:
            raise ConfigError(missing_key_message(f"{title} is a specific date but", date_key, raw, {"mode"}))
        return SpecificDay(_parse_date(raw.get(date_key), title))
    if mode == "relative":
        if offset_key not in raw:
            raise ConfigError(missing_key_message(f"{title} is a relative date but", offset_key, raw, {"mode"}))
        offset = raw.get(offset_key)
        if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET_DAYS:
            raise ConfigError(
                f"{title} offset must be a whole number of days back from 0 to {MAX_OFFSET_DAYS}; got {offset!r}."
            )
        return RelativeDay(offset)
    raise ConfigError(f"{title} must be a specific date or a relative number of days back.")


def _parse_date(raw: Any, title: str) -> date:
    try:
        if not isinstance(raw, str) or not ISO_DATE.fullmatch(raw):
            raise ValueError("not YYYY-MM-DD")  # fromisoformat alone takes 20261105 and 2026-W01-1
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{title} {raw!r} is not a real date: use YYYY-MM-DD, e.g. 2026-01-31.") from None

"""The connector's configuration, validated once into a typed `Settings` object.

The CDK has already checked the config against spec.yaml (types, bounds, patterns) before
`check` and `read`; this module adds the defaults and the cross-field checks a JSON
schema cannot express, and raises `ConfigError` with a sentence the user can act on.
Nothing downstream reads the raw config: streams and the date window take `Settings`.
"""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Tuple, Union
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import requests
from airbyte_cdk.models import FailureType
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

from source_avidtrak import api
from source_avidtrak.reports import REPORT_NAMES, REPORTS

DEFAULT_BASE_URL = "https://avidtrak.com"
DEFAULTS = {"timezone": "UTC", "lookback_days": 1, "window_days": None, "page_size": 500, "num_workers": 3}
BOUNDS = {"lookback_days": (0, 30), "window_days": (1, 31), "page_size": (1, api.MAX_PAGE_SIZE), "num_workers": (1, 10)}
TITLES = {"num_workers": "Number of Workers"}  # spec.yaml's title where it is not the key in title case
MAX_OFFSET_DAYS = 3650
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Every top-level key of spec.yaml (unit_tests/test_spec.py checks it).
CONFIG_KEYS = frozenset(
    {
        "pin_code",
        "account_name",
        "client_accounts",
        "base_url",
        "reports",
        "duration",
        "timezone",
        "report_methods",
        *BOUNDS,
        "requests_per_second",
    }
)
DEFAULT_ACCOUNT_NAME = "main"
CLIENT_ACCOUNT_KEYS = frozenset({"name", "pin_code"})
CLIENT_ACCOUNTS_SHAPE = 'Client Accounts must be a list of {"name": ..., "pin_code": ...} objects.'
LOOPBACK_HOSTS = {"localhost"}

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class ConfigError(AirbyteTracedException):
    """A config the user must fix; raised before any request is sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message=message, internal_message=message, failure_type=FailureType.config_error)


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
        return f"{self.days_back} days back, {resolved.isoformat()}"


DayRef = Union[SpecificDay, RelativeDay]
YESTERDAY = RelativeDay(1)


@dataclass(frozen=True)
class Account:
    """One AvidTrak login: its label in records and state, and its pin code."""

    name: str
    pin_code: str = field(repr=False)  # never in a repr, a log line or an error

    def describe(self) -> str:
        return f"account {self.name!r}"


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
    def pin_code(self) -> str:
        """The pin code of the main account (`pin_code`)."""
        return self.accounts[0].pin_code

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
    if "pin_code" not in config:
        raise ConfigError(_missing_key_message("The Pin Code is missing: the config", "pin_code", config, CONFIG_KEYS))
    pin = config.get("pin_code")
    if not isinstance(pin, str):  # never echo the value: it is the credential
        raise ConfigError("The Pin Code must be text (a JSON string in quotes), not a number or another type.")
    if not pin.strip():
        raise ConfigError("The Pin Code is empty. Enter the pin code AvidTrak gave you when you signed up.")
    start, end = _parse_duration(config.get("duration") or {"mode": "yesterday"})
    settings = Settings(
        accounts=_parse_accounts(config, pin.strip()),
        api_url=api_url_from_base_url(config.get("base_url") or DEFAULT_BASE_URL),
        reports=_parse_reports(config.get("reports")),
        start=start,
        end=end,
        timezone=_parse_timezone(config.get("timezone") or DEFAULTS["timezone"]),
        **{name: _bounded_int(config, name) for name in BOUNDS},
        methods=_parse_methods(config.get("report_methods")),
        requests_per_second=_parse_requests_per_second(config.get("requests_per_second")),
    )
    if today is not None:
        settings.resolve_range(today)
    return settings


def _parse_accounts(config: Mapping[str, Any], pin: str) -> Tuple[Account, ...]:
    """The pin_code account and the client accounts: names unique, pin codes unique.

    Messages name the account and its position, never a pin code.
    """
    main_name = config.get("account_name")
    main_name = DEFAULT_ACCOUNT_NAME if main_name is None else main_name
    if not isinstance(main_name, str) or not main_name.strip():
        raise ConfigError(
            f"Account Name must be a non-empty label, e.g. {DEFAULT_ACCOUNT_NAME!r}; leave it out to use "
            f"{DEFAULT_ACCOUNT_NAME!r}."
        )
    accounts = [Account(main_name.strip(), pin)]
    raw = config.get("client_accounts")
    raw = [] if raw is None else raw
    if not isinstance(raw, list):
        raise ConfigError(CLIENT_ACCOUNTS_SHAPE)
    for position, entry in enumerate(raw, start=1):
        accounts.append(_parse_client_account(entry, position))
    seen_names: dict[str, Account] = {}
    seen_pins: dict[str, Account] = {}
    for account in accounts:
        other = seen_names.setdefault(account.name.casefold(), account)
        if other is not account:
            raise ConfigError(
                f"Client Accounts: the name {account.name!r} is used twice (names are compared ignoring case, "
                f"{other.name!r} is the other). Give every account its own name."
            )
        other = seen_pins.setdefault(account.pin_code, account)
        if other is not account:
            raise ConfigError(
                f"Client Accounts: {account.describe()} has the same pin code as {other.describe()}. "
                "Each AvidTrak account has a pin code of its own: enter that client's pin code."
            )
    return tuple(accounts)


def reject_unmasked_pin_values(config: Mapping[str, Any]) -> None:
    """Client Accounts the CDK's schema check would quote, pin codes and all (inputs.py says why):
    not a list, or a pin code that is not text. A ConfigError that echoes no value."""
    entries = config.get("client_accounts")
    if entries is not None and not isinstance(entries, list):
        raise ConfigError(CLIENT_ACCOUNTS_SHAPE)
    for position, entry in enumerate(entries or [], start=1):
        if isinstance(entry, Mapping) and "pin_code" in entry and not isinstance(entry["pin_code"], str):
            _parse_client_account(entry, position)  # raises the error parse_settings would


def _parse_client_account(entry: Any, position: int) -> Account:
    subject = f"Client account {position}"
    if not isinstance(entry, Mapping):
        raise ConfigError(f'{subject} must be an object {{"name": ..., "pin_code": ...}}.')
    name = entry.get("name")
    if "name" not in entry:
        raise ConfigError(_missing_key_message(subject, "name", entry, CLIENT_ACCOUNT_KEYS))
    if not isinstance(name, str):
        raise ConfigError(f"{subject} has a name that is not text (a JSON string in quotes).")
    if not name.strip():
        raise ConfigError(f"{subject} has an empty name. Give it a label, e.g. the client's name.")
    subject = f"Client account {position} ({name.strip()!r})"
    if "pin_code" not in entry:
        raise ConfigError(_missing_key_message(subject, "pin_code", entry, CLIENT_ACCOUNT_KEYS))
    pin = entry.get("pin_code")
    if not isinstance(pin, str):  # never echo the value: it is the credential
        raise ConfigError(f"{subject}: the pin code must be text (a JSON string in quotes).")
    if not pin.strip():
        raise ConfigError(f"{subject} has an empty pin code. Enter the pin code AvidTrak gave that client.")
    return Account(name.strip(), pin.strip())


def api_url_from_base_url(base_url: Any) -> str:
    """Accepts a host URL (appends /webservice/api.php) or a full URL ending in api.php.

    https is required; plain http only for loopback hosts (a local simulator or tunnel),
    because the pin code travels in the query string.
    """
    if not isinstance(base_url, str) or not base_url.strip():
        raise ConfigError(f"The Base URL is empty. Enter the URL of your AvidTrak instance, e.g. {DEFAULT_BASE_URL}.")
    hint = f"Enter the URL of your AvidTrak instance as https://host, e.g. {DEFAULT_BASE_URL}."
    try:
        parts = urlsplit(base_url.strip())
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number up to 65535
        (parts.hostname or "").encode("idna")  # UnicodeError, a ValueError, for an empty or over-long label
    except ValueError as error:
        raise ConfigError(f"The Base URL is not a valid URL ({error}). {hint}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"The Base URL must start with https:// and name a host. {hint}")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ConfigError(f"The Base URL must use https://: the pin code would travel unencrypted over http. {hint}")
    if parts.username or parts.password:
        raise ConfigError(
            f"The Base URL must not contain a user name or password: the pin code is the only credential. {hint}"
        )
    if parts.query or parts.fragment or base_url.strip().endswith(("?", "#")):
        raise ConfigError(f"The Base URL must not contain a query string or fragment (?... or #...). {hint}")
    path = parts.path.rstrip("/")
    if not path.endswith(api.API_SCRIPT):
        path += api.API_PATH
    api_url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    try:  # what requests would refuse later, mid-sync (e.g. a space in the host)
        requests.PreparedRequest().prepare_url(api_url, None)
    except (requests.RequestException, ValueError) as error:
        raise ConfigError(f"The Base URL is not a valid URL ({error}). {hint}") from None
    return api_url


def _is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_reports(raw: Any) -> Tuple[str, ...]:
    if raw is None:
        return REPORT_NAMES
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"Select at least one Report: {', '.join(REPORT_NAMES)}.")
    unknown = [report for report in raw if report not in REPORT_NAMES]
    if unknown:
        raise ConfigError(f"Unknown Report {unknown[0]!r}. Choose from: {', '.join(REPORT_NAMES)}.")
    return tuple(report for report in REPORT_NAMES if report in raw)


def _parse_methods(raw: Any) -> Mapping[str, str]:
    """Advanced > Report Method Names: a way past a wrong guess of AvidTrak's method names."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError("Report Method Names must be an object of report name -> method name.")
    unknown = sorted(str(name) for name in raw if name not in REPORT_NAMES)
    if unknown:
        raise ConfigError(f"Report Method Names has no report {unknown[0]!r}. Reports: {', '.join(REPORT_NAMES)}.")
    methods = {}
    for report in REPORTS:
        method = raw.get(report.name)
        if method is None:
            method = report.method
        if not isinstance(method, str) or not method or any(char.isspace() for char in method):
            raise ConfigError(
                f"Report Method Names > {report.title} must be a method name without spaces, e.g. "
                f"{report.method}; got {method!r}. Leave it empty to use {report.method}."
            )
        methods[report.name] = method
    return MappingProxyType(methods)


def _parse_timezone(name: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "US" is a directory, a name too long
        raise ConfigError(f"Unknown Time Zone {name!r}. Use an IANA name such as America/New_York or UTC.") from None


def _bounded_int(config: Mapping[str, Any], name: str) -> Any:
    value = config.get(name)
    value = DEFAULTS[name] if value is None else value
    if value is None:  # optional without a default (window_days)
        return None
    low, high = BOUNDS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{_title(name)} must be a whole number from {low} to {high}; got {value!r}.")
    return value


def _parse_requests_per_second(value: Any) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"Requests Per Second must be a number greater than 0, e.g. 5 (or left empty for no known limit); "
            f"got {value!r}."
        )
    return float(value)


def _title(name: str) -> str:
    return TITLES.get(name) or name.replace("_", " ").title()


def _parse_duration(duration: Any) -> Tuple[DayRef, DayRef]:
    if not isinstance(duration, Mapping):
        raise ConfigError("Duration must be one of: Default (yesterday), Single date, Date range.")
    mode = duration.get("mode")
    if mode == "yesterday":
        return YESTERDAY, YESTERDAY
    if mode == "single_date":
        day = _parse_day_ref(duration.get("report_date"), "Report Date", "specific_date", "date_offset")
        return day, day
    if mode == "date_range":
        first = _parse_day_ref(duration.get("date_from"), "Date From", "specific_date_from", "date_from_offset")
        last = _parse_day_ref(duration.get("date_to"), "Date To", "specific_date_to", "date_to_offset")
        return first, last
    raise ConfigError(f"Unknown Duration mode {mode!r}: use yesterday, single_date or date_range.")


def _missing_key_message(subject: str, key: str, found: Mapping[str, Any], known: Any) -> str:
    """Names the missing key, and the keys found instead: usually the same key misspelled."""
    others = sorted(str(name) for name in found if name not in known)
    if not others:
        return f"{subject} has no {key!r}. Add it."
    return f"{subject} has no {key!r}; it has {', '.join(map(repr, others))} instead. Rename the key to {key!r}."


def _parse_day_ref(raw: Any, title: str, date_key: str, offset_key: str) -> DayRef:
    mode = raw.get("mode") if isinstance(raw, Mapping) else None
    if mode == "specific":
        if date_key not in raw:
            raise ConfigError(_missing_key_message(f"{title} is a specific date but", date_key, raw, {"mode"}))
        return SpecificDay(_parse_date(raw.get(date_key), title))
    if mode == "relative":
        if offset_key not in raw:
            raise ConfigError(_missing_key_message(f"{title} is a relative date but", offset_key, raw, {"mode"}))
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
            raise ValueError("not YYYY-MM-DD")  # strptime alone takes 2026-1-5
        return date.fromisoformat(raw)
    except ValueError:
        raise ConfigError(f"{title} {raw!r} is not a real date: use YYYY-MM-DD, e.g. 2026-01-31.") from None

"""DatetimeWindow: the Duration options -> the days to sync -> windows -> request parameters.

Pure: the clock is never read here (`today` is passed in, in the account's time zone), and
the cursor (cursor.py) keeps all mutable bookkeeping. Days are whole local days; a window
covers `first_day..last_day`, both included, sent as `00:00:00`..`23:59:59`. Full refresh
and a first incremental sync read the configured range; with a saved cursor on day C the
sync starts at C - lookback_days (never before a *specific* Date From) and runs through the
configured end. `window_days` fixes a window's length; unset, the length follows the data
(`next_window_days`, rules in docs/architecture.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, Mapping, Optional, Tuple

from airbyte_cdk.sources.types import StreamSlice

from source_avidtrak import api
from source_avidtrak.config import ConfigError, Settings, SpecificDay
from source_avidtrak.records import ACCOUNT_FIELD

# Windows sized by the data (window_days unset): about TARGET_PAGES pages each; a first window
# of PROBE_DAYS while nothing is known; at most GROWTH times the account's previous window.
TARGET_PAGES = 4
PROBE_DAYS = 7
GROWTH = 4
SLICE_START = "start"
SLICE_END = "end"
SLICE_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


@dataclass(frozen=True)
class Seen:
    """What an account's finished windows held: rows and days in all, and the last one's days."""

    rows: int
    days: int
    last_days: int


@dataclass(frozen=True)
class Window:
    first_day: date
    last_day: date

    def request_params(self) -> Dict[str, str]:
        return {
            api.PARAM_START: f"{self.first_day.isoformat()} {api.DAY_START_TIME}",
            api.PARAM_END: f"{self.last_day.isoformat()} {api.DAY_END_TIME}",
        }

    def as_slice(self, account: str) -> StreamSlice:
        """The stream slice: the account (the partition) and the window's ISO bounds."""
        return StreamSlice(
            partition={ACCOUNT_FIELD: account},
            cursor_slice={SLICE_START: self.slice_start(), SLICE_END: self.slice_end()},
        )

    def slice_start(self) -> str:
        return f"{self.first_day.isoformat()}T{api.DAY_START_TIME}"

    def slice_end(self) -> str:
        return f"{self.last_day.isoformat()}T{api.DAY_END_TIME}"

    @classmethod
    def from_slice(cls, stream_slice: Mapping[str, Any]) -> Window:
        return cls(_slice_day(stream_slice[SLICE_START]), _slice_day(stream_slice[SLICE_END]))

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def describe(self) -> str:
        if self.first_day == self.last_day:
            return self.first_day.isoformat()
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


def _slice_day(value: str) -> date:
    return datetime.strptime(value, SLICE_DATETIME_FORMAT).date()


class DatetimeWindow:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def day_range(self, today: date, state: Optional[Mapping[str, Any]] = None) -> Optional[Tuple[date, date]]:
        """The days to sync, both included, or None when there is nothing left to sync."""
        first, last = self._settings.resolve_range(today)
        cursor_day = cursor_day_from_state(state)
        if cursor_day is not None:
            try:
                resumed = cursor_day - timedelta(days=self._settings.lookback_days)
            except OverflowError:  # a state in year 1: nothing can come before it
                resumed = date.min
            first = max(resumed, first) if isinstance(self._settings.start, SpecificDay) else resumed
        return (first, last) if first <= last else None

    def describe_sizing(self) -> str:
        days = self._settings.window_days
        if days:
            return f"windows of {days} day{'s' if days > 1 else ''} (Window Days)"
        return f"windows sized to about {TARGET_PAGES} pages of the account's data"

    def next_window(self, first: date, last: date, spread: int, seen: Optional[Seen] = None) -> Window:
        """The account's next window from `first` (of `first..last` still to read).

        `spread`: how many windows the free workers could read at once for this account.
        `seen`: what the account's finished windows held (rows, days, the last one's days).
        """
        remaining = (last - first).days + 1
        days = self._settings.window_days or self._data_sized_days(remaining, spread, seen)
        return Window(first, first + timedelta(days=max(1, min(days, remaining)) - 1))

    def _data_sized_days(self, remaining: int, spread: int, seen: Optional[Seen]) -> int:
        if seen is None or seen.days == 0:  # nothing known yet: a probe
            return remaining if remaining <= PROBE_DAYS else min(PROBE_DAYS, math.ceil(remaining / max(spread, 1)))
        page_size = self._settings.page_size
        # Split for idle workers only into pieces that still fill a page each.
        pages_left = remaining * seen.rows / seen.days / page_size
        split = math.ceil(remaining / max(1, min(spread, math.floor(pages_left))))
        fitting = math.floor(TARGET_PAGES * page_size * seen.days / seen.rows) if seen.rows else remaining
        return min(fitting, GROWTH * seen.last_days, split)


def cursor_from_state(state: Optional[Mapping[str, Any]]) -> Optional[datetime]:
    """The state's cursor as a naive account-local date-time; None for no state.

    A zone in a hand-edited state (`...Z`, `+02:00`) is dropped: AvidTrak times are local.
    """
    value = (state or {}).get(api.CURSOR_FIELD)
    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None, microsecond=0)
    except ValueError:
        raise ConfigError(
            f"The saved state has {api.CURSOR_FIELD}={value!r}, which is not a date-time. "
            "Reset the stream's state in Airbyte to sync the configured range again."
        ) from None


def cursor_day_from_state(state: Optional[Mapping[str, Any]]) -> Optional[date]:
    moment = cursor_from_state(state)
    return None if moment is None else moment.date()


def normalized_state(state: Optional[Mapping[str, Any]]) -> Dict[str, str]:
    """The state in the one format the connector writes: `{"call_date": "2026-11-25T23:59:59"}`."""
    moment = cursor_from_state(state)
    return {} if moment is None else {api.CURSOR_FIELD: moment.strftime(SLICE_DATETIME_FORMAT)}

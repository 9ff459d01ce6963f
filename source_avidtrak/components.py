"""DatetimeWindow: turns the Duration options into request windows.

A pure component: (settings, today, stream state) -> the inclusive day range to sync ->
windows of `window_days` days -> request parameters. The clock is never read here; the
caller passes `today` (already in the account's time zone).

Rules:
- Days are whole local days of the AvidTrak account. A window covers the days
  `first_day..last_day`, both included, and asks for `first_day 00:00:00` through
  `last_day 23:59:59` (AvidTrak's `startdate`/`enddate` are inclusive).
- Full refresh syncs exactly the configured range `[from, to]`.
- Incremental, no state: the configured range.
- Incremental with state (the `call_date` of the newest synced call, day C): the sync
  starts at `C - lookback_days` and runs through the configured end, so a missed daily
  sync is caught up, never skipped. A *specific* Date From is a hard floor for that start;
  a *relative* start (and the yesterday default) only sets the first sync's start.
- State past the configured end (the range is done): no windows.
- Windows are contiguous, in order, never overlap, and the last one is cut at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Dict, List, Mapping, Optional, Tuple

from airbyte_cdk.sources.types import StreamSlice

from source_avidtrak import api
from source_avidtrak.config import ConfigError, Settings, SpecificDay
from source_avidtrak.records import ACCOUNT_FIELD

SLICE_START = "start"
SLICE_END = "end"
SLICE_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S"


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

    def describe_request(self) -> str:
        """`window 2026-11-01 00:00:00..2026-11-01 23:59:59`: the dates as AvidTrak was asked."""
        params = self.request_params()
        return f"window {params[api.PARAM_START]}..{params[api.PARAM_END]}"

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

    def windows(self, today: date, state: Optional[Mapping[str, Any]] = None) -> List[Window]:
        days = self.day_range(today, state)
        if days is None:
            return []
        first, last = days
        step = timedelta(days=self._settings.window_days)
        windows = []
        while first <= last:
            windows.append(Window(first, min(first + step - timedelta(days=1), last)))
            first += step
        return windows


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

"""The windows DatetimeWindow cuts over a whole range, one after the other, as the cursor asks
for them with nothing known of the data and one worker (the cursor adds the rest)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, List, Mapping, Optional

from source_avidtrak.components import DatetimeWindow, Window


def windows_of(window: DatetimeWindow, today: date, state: Optional[Mapping[str, Any]] = None) -> List[Window]:
    days = window.day_range(today, state)
    if days is None:
        return []
    first, last = days
    cut: List[Window] = []
    while first <= last:
        cut.append(window.next_window(first, last, spread=1))
        first = cut[-1].last_day + timedelta(days=1)
    return cut

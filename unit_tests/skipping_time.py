"""SkippingTime: the rate budget's clock and sleep (sync.Timing) for tests, in-process or in the
launcher: a sleep returns at once and moves the clock on, so no test waits on the budget."""

from __future__ import annotations

import threading
import time as real_time
from typing import List

from source_avidtrak.cursor import STATE_INTERVAL_SECONDS
from source_avidtrak.sync import Timing


class SkippingTime:
    """The wall clock plus every sleep asked of it: waiting is skipped, not faked away.

    Elapsed real time still counts (the budget measures a pace from it); a sleep adds its
    length to the clock at once, for every thread, and is recorded in `sleeps`.
    """

    def __init__(self) -> None:
        self.sleeps: List[float] = []
        self._skipped = 0.0
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return real_time.monotonic() + self._skipped

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._skipped += max(seconds, 0.0)
            self.sleeps.append(seconds)

    def timing(self, state_interval_seconds: float = STATE_INTERVAL_SECONDS) -> Timing:
        return Timing(self.monotonic, self.sleep, state_interval_seconds)

"""One request budget per sync, shared by every stream, account and worker: AvidTrak's pace.

The CDK's LimiterSession calls `acquire_call` before every send (retries too) and
`update_from_response` after every response (cdk_contract item 8). Three rules:
- Spacing: with a pace, requests leave 1/pace apart. A known limit (`requests_per_second`)
  is the pace from the start; without one the read starts at START_RATE, doubling every
  RAMP_SECONDS until the first 429 or UNPACED_ABOVE (a second in all: cheap for a read
  nobody limits, and a small bucket refuses one request instead of the first burst).
- Pause: a 429 pauses every worker for its Retry-After (the retry floor when absent). One
  beyond the retry cap pauses nobody: errors.py ends that request at once.
- Measure: the 429 that opens a pause sets the pace to what got through since the last
  one (times SAFETY); when nothing got through, the pause alone rides the burst out.
  Every PROBE_SECONDS without a 429 the pace rises by PROBE_STEP, never past a known limit.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable, Optional

import requests
from airbyte_cdk.sources.streams.call_rate import APIBudget

from source_avidtrak.errors import RetryPolicy, retry_after_seconds

START_RATE, RAMP_SECONDS, UNPACED_ABOVE = 50.0, 0.25, 1000.0  # requests/s, s, requests/s
SAFETY = 0.95  # a little under the measured rate, so AvidTrak's bucket refills
PROBE_SECONDS, PROBE_STEP = 5.0, 1.1

logger = logging.getLogger("airbyte")


class AvidTrakBudget(APIBudget):
    """Thread-safe: one lock, no I/O under it; the waiting happens outside it, in `sleep`."""

    def __init__(
        self,
        requests_per_second: Optional[float],
        retry_policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(policies=[])
        self.retry_policy = retry_policy
        self._limit = requests_per_second
        self._rate: Optional[float] = requests_per_second or START_RATE  # None: unpaced
        self._ramping = requests_per_second is None
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        now = clock()
        self._next_send = self._paused_until = self._since = self._changed = now
        self._passed = 0  # answers other than 429 since `_since`

    @property
    def requests_per_second(self) -> Optional[float]:
        return self._rate

    def acquire_call(self, request: Any, block: bool = True, timeout: Optional[float] = None) -> None:
        while (wait := self.wait_before_send()) > 0:
            self._sleep(wait)

    def wait_before_send(self) -> float:
        """0.0 when a request may leave now (and it takes its slot), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            self._probe(now)
            ready = max(self._next_send, self._paused_until)
            if now < ready:
                return ready - now
            if self._rate is not None:
                self._next_send = now + 1.0 / self._rate
            return 0.0

    def update_from_response(self, request: Any, response: Any) -> None:
        if not isinstance(response, requests.Response) or response.status_code != requests.codes.too_many_requests:
            with self._lock:
                if self._clock() >= self._paused_until:  # answers arriving in a pause were sent before it
                    self._passed += 1
            return
        self.rate_limited(retry_after_seconds(response))

    def rate_limited(self, retry_after: Optional[float]) -> None:
        pause = self.retry_policy.retry_after_wait(retry_after)
        if pause is None:  # errors.py ends that request: nobody waits a day
            return
        with self._lock:
            now = self._clock()
            if now < self._paused_until:  # in flight when the pause began: it only extends it
                self._paused_until = max(self._paused_until, now + pause)
                return
            self._paused_until = now + pause
            if self._passed:
                measured = SAFETY * self._passed / max(now - self._since, 1.0)
                self._rate = min(measured, self._limit or measured)
            else:  # nothing got through: a burst of 429s, which pacing would only drag out
                self._rate = self._limit
            self._ramping = False
            self._passed, self._since = 0, self._paused_until
            self._changed = self._paused_until
            pace = self._describe()
        logger.info(f"AvidTrak limits requests (HTTP 429): every worker pauses {pause:g} s, then sends {pace}.")

    def _probe(self, now: float) -> None:
        if self._rate is None or self._rate == self._limit:
            return
        if self._ramping and now - self._changed >= RAMP_SECONDS:
            self._rate *= 2
        elif not self._ramping and now - self._changed >= PROBE_SECONDS:
            self._rate = min(self._rate * PROBE_STEP, self._limit or UNPACED_ABOVE)
        else:
            return
        self._changed = now
        if self._rate >= UNPACED_ABOVE:
            self._rate = None

    def _describe(self) -> str:
        return "unpaced" if self._rate is None else f"at most {self._rate:.3g} requests/s"

    def __str__(self) -> str:  # the CDK names the budget in debug lines
        return f"AvidTrakBudget({self._describe()})"

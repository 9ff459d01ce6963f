"""One request budget per read, shared by every stream and worker: AvidTrak's pace.

Built on the CDK's call-rate machinery: each stream's HttpClient sends through a
`LimiterSession`, which asks the budget before every request (`acquire_call`, blocking
until the policy grants it) and tells it every response (`update_from_response`). Every
stream of a read gets the same `AvidTrakBudget`, so a 429 seen by one worker holds back all
of them, instead of each worker hitting the limit and sleeping on its own.

`SharedPace` is the policy:
- With a known limit (`requests_per_second`), requests are spaced 1/rate apart from the
  first one on. Even spacing never drains a token bucket of that rate, whatever its burst;
  a moving window of `rate` per second would send bursts of `rate` that a bucket with a
  smaller burst refuses.
- On a 429 every worker pauses until `Retry-After` (within the retry policy's floor and
  cap). The pace then becomes what AvidTrak actually let through: the responses that were
  not 429 since the previous 429 (or the start), per second, times `SAFETY`. Between two
  429s the server's bucket goes from empty to empty, so that count is its refill rate.
  Responses that arrive during the pause were sent before it: they count for the interval
  that ended with the 429, so a slow first answer does not make the pace too low.
  Without a known limit the read starts with a slow start (below), so only the requests in
  flight when AvidTrak first says no are answered 429. When nothing got through since the
  last 429, the pace halves.
- Every `PROBE_SECONDS` without a 429 the pace rises (never above a known limit), fast
  while it was measured over the first burst only, gently once measured between two 429s,
  so a pace learned during a short squeeze does not slow the rest of the read.

Retries are unchanged: the error handler retries a 429 and it counts toward the retry
budget (errors.RetryPolicy.max_retries). With the shared pause a 429 is rare, so a
request that still gets five in a row means AvidTrak refuses outright (a daily quota):
failing with a clear message beats waiting forever.

The CDK behaviour this relies on is item 8 of cdk_contract.py.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Callable, Optional

import requests
from airbyte_cdk.sources.streams.call_rate import BaseCallRatePolicy, CallRateLimitHit, HttpAPIBudget

from source_avidtrak.errors import RetryPolicy, retry_after_seconds

SAFETY = 0.95  # pace a little under the measured rate, so the server's bucket refills
# Slow start: without a known limit the first second is paced at this rate, doubling every
# second until UNPACED_ABOVE. When AvidTrak first says no, few requests are then in flight
# (10 workers sending at once would all be answered 429), and a sync nobody limits loses
# nothing: 50 requests/s is more than 10 workers read pages of 500 rows at.
SLOW_START_REQUESTS_PER_SECOND = 50.0
UNPACED_ABOVE = 1000.0
PROBE_SECONDS = 5.0
# A pace measured over a short interval (the first burst) may be far too low: probe fast.
# One measured between two 429s at least CONFIRM_SECONDS apart is the server's: probe gently.
PROBE_STEP, CONFIRMED_PROBE_STEP, CONFIRM_SECONDS = 1.25, 1.02, 2.0
MIN_REQUESTS_PER_SECOND = 0.05  # one request every 20 s: AvidTrak let nothing through

logger = logging.getLogger("airbyte")


class SharedPace(BaseCallRatePolicy):
    """Spacing and pauses for every request of a read; thread-safe (one lock, no I/O under it)."""

    def __init__(
        self,
        requests_per_second: Optional[float],
        retry_policy: RetryPolicy,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(matchers=[])  # no matchers: every request
        self._ceiling = requests_per_second
        self._rate: Optional[float] = requests_per_second or SLOW_START_REQUESTS_PER_SECOND  # None: unpaced
        self._slow_start = requests_per_second is None
        self._floor_s = retry_policy.retry_after_floor_seconds
        self._cap_s = retry_policy.cap_seconds
        self._clock = clock
        self._lock = threading.Lock()
        now = clock()
        self._next_grant = self._paused_until = now
        self._measured_since = self._changed_at = now
        self._passed = 0  # responses that were not 429 since `_measured_since`
        # The interval that ended at the last 429: what passed in it, and its length (at least 1 s).
        self._last_passed, self._last_interval_s = 0, 1.0

    @property
    def requests_per_second(self) -> Optional[float]:
        """The current pace; None once the slow start is over and AvidTrak never said no."""
        return self._rate

    def try_acquire(self, request: Any, weight: int) -> None:
        with self._lock:
            now = self._clock()
            self._probe(now)
            ready = max(self._next_grant, self._paused_until)
            if now < ready:
                # APIBudget sleeps this long, then asks again (cdk_contract item 8).
                raise CallRateLimitHit(
                    error="waiting for AvidTrak's pace",
                    item=request,
                    weight=weight,
                    rate=self._describe(),
                    time_to_wait=timedelta(seconds=ready - now),
                )
            if self._rate is not None:
                self._next_grant = now + weight / self._rate

    def update(self, available_calls: Optional[int], call_reset_ts: Optional[datetime]) -> None:
        """Called with every response: (0, Retry-After moment or None) for a 429, else (None, None)."""
        with self._lock:
            now = self._clock()
            if available_calls != 0:
                if now < self._paused_until:  # sent before the 429 that paused everyone: it counts there
                    self._last_passed += 1
                    self._pace_from_last_interval()
                else:
                    self._passed += 1
                return
            pause = min(max(_seconds_until(call_reset_ts), self._floor_s), self._cap_s)
            if now < self._paused_until:  # another request that was in flight before the pause
                self._paused_until = max(self._paused_until, now + pause)
                return
            self._paused_until = now + pause
            self._slow_down(now)
        logger.info(
            f"AvidTrak limits requests (HTTP 429): every worker pauses {pause:g} s, then sends at most "
            f"{self._describe()}."
        )

    def _slow_down(self, now: float) -> None:
        self._last_passed, self._last_interval_s = self._passed, max(now - self._measured_since, 1.0)
        self._passed, self._measured_since, self._changed_at = 0, now, now
        self._slow_start = False
        if self._last_passed == 0:  # nothing got through: halve the pace, or only pause while there is none
            if self._rate is not None:
                self._rate = max(MIN_REQUESTS_PER_SECOND, self._rate / 2)
            return
        self._pace_from_last_interval()

    def _pace_from_last_interval(self) -> None:
        rate = SAFETY * self._last_passed / self._last_interval_s
        self._rate = max(MIN_REQUESTS_PER_SECOND, min(rate, self._ceiling or rate))

    def _probe(self, now: float) -> None:
        if self._slow_start and self._rate is not None and now - self._changed_at >= 1.0:
            doubled = self._rate * 2
            self._rate = doubled if doubled < UNPACED_ABOVE else None
            self._slow_start, self._changed_at = self._rate is not None, now
            return
        if self._rate is None or self._rate == self._ceiling or now - self._changed_at < PROBE_SECONDS:
            return
        step = CONFIRMED_PROBE_STEP if self._last_interval_s >= CONFIRM_SECONDS else PROBE_STEP
        self._rate = min(self._rate * step, self._ceiling or float("inf"))
        self._changed_at = now

    def _describe(self) -> str:
        return "unpaced" if self._rate is None else f"{self._rate:.3g} requests/s"

    def __str__(self) -> str:  # the CDK logs the policy at DEBUG for every request
        return f"SharedPace({self._describe()})"


class AvidTrakBudget(HttpAPIBudget):
    """The CDK's HTTP budget, with `Retry-After` in seconds (or an HTTP date) as the reset time.

    The CDK reads its reset header as a unix timestamp; AvidTrak's 429 carries `Retry-After`.
    """

    def __init__(self, policy: SharedPace) -> None:
        super().__init__(policies=[policy], status_codes_for_ratelimit_hit=[requests.codes.too_many_requests])
        self.policy = policy

    def get_reset_ts_from_response(self, response: requests.Response) -> Optional[datetime]:
        seconds = retry_after_seconds(response)
        return None if seconds is None else datetime.now(UTC) + timedelta(seconds=max(seconds, 0.0))


def rate_budget(requests_per_second: Optional[float], retry_policy: RetryPolicy) -> AvidTrakBudget:
    """A new budget: one per read (every stream shares it) and one per check."""
    return AvidTrakBudget(SharedPace(requests_per_second, retry_policy))


def _seconds_until(moment: Optional[datetime]) -> float:
    if moment is None:
        return 0.0  # no Retry-After: the floor applies
    now = datetime.now(moment.tzinfo) if moment.tzinfo else datetime.now()
    return (moment - now).total_seconds()

"""A token bucket: the simulator's stand-in for AvidTrak's request limit.

`rate` tokens per second refill a bucket of `burst` tokens (full at the start); each
request takes one. A request that finds less than one token is refused, and told how
long until one is there: `Retry-After` in whole seconds, at least 1, as HTTP sends it.
"""

import math
import threading
import time


class TokenBucket:
    def __init__(self, rate: float, burst: float, clock=time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate > 0 and burst >= 1; got rate {rate}, burst {burst}")
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens, self._at = float(burst), clock()
        self._lock = threading.Lock()

    def take(self) -> int | None:
        """None when a token was taken; else the Retry-After seconds of the refusal."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return None
            return max(1, math.ceil((1 - self._tokens) / self.rate))

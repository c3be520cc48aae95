"""A token bucket with a small burst, so the send rate is steady rather than bursty.

A consumer watching throughput (the alerts job's throughput-drop rule, a bench) should see a flat line,
not a sawtooth of one-second bursts. The bucket holds at most `burst` tokens (default: 50 ms worth), so
after a stall it catches up by at most that much. The clock and sleep are injectable so tests can run
hours of pacing against a fake clock in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 min_sleep_s: float = 0.001) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        self.burst = max(1.0, burst if burst is not None else rate / 20)
        self._clock = clock
        self._sleep = sleep
        # Sleeping for less than ~1 ms costs more than it paces; the deficit is paid in the next sleep.
        self._min_sleep = min_sleep_s
        self._tokens = 1.0
        self._last = clock()

    def acquire(self, n: float = 1.0) -> None:
        """Block until n tokens are available, then take them."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= n
        if self._tokens < 0:
            wait = -self._tokens / self.rate
            if wait >= self._min_sleep:
                self._sleep(wait)
                now = self._clock()
                self._tokens += (now - self._last) * self.rate
                self._last = now

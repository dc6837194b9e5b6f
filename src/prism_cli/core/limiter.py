"""Adaptive concurrency (AIMD): halve on throttling, grow back one step per window of successes.

A batch then runs close to the account's quota instead of hammering it with 429s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class AdaptiveLimiter:
    def __init__(
        self,
        maximum: int,
        *,
        minimum: int = 1,
        cooldown: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.maximum = max(1, maximum)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = self.maximum
        self.cooldown = cooldown
        self._clock = clock
        self._in_flight = 0
        self._successes = 0
        self._last_cut = float("-inf")
        self._cond = threading.Condition()
        self.throttles = 0

    def acquire(self) -> None:
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def on_throttle(self) -> None:
        with self._cond:
            self.throttles += 1
            now = self._clock()
            # One burst of 429s (all the calls in flight at once) is one signal, not many.
            if now - self._last_cut >= self.cooldown:
                self.limit = max(self.minimum, self.limit // 2)
                self._last_cut = now
                self._successes = 0

    def on_success(self) -> None:
        with self._cond:
            self._successes += 1
            if self._successes >= self.limit and self.limit < self.maximum:
                self.limit += 1
                self._successes = 0
                self._cond.notify_all()

"""Adaptive concurrency (AIMD): halve on throttling, grow back one step per window of successes.

A batch then runs close to the account's quota instead of hammering it with 429s.
"""

from __future__ import annotations

import threading
import time
from collections import deque
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
        self._binding_since: float | None = None
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


class RateLimiter:
    """A shared token bucket on call starts that learns the account's rate from throttling.

    Unlimited until the first throttle, which halves the rate accepted so far (the floor of
    every later estimate, since part of it may have been a burst). From then on the
    quota is known to bind, so at each further throttle (at most once per ``cooldown``) the rate
    becomes a little under what the service accepted since (over at most ``horizon`` seconds):
    the quota's own rate, whatever its window. Each accepted call raises the rate by a small
    factor, so a batch settles just under the quota instead of retrying into it call by call.
    """

    def __init__(
        self,
        *,
        margin: float = 0.95,
        increase: float = 0.01,
        minimum: float = 0.05,
        cooldown: float = 1.0,
        horizon: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate: float | None = None
        self.margin = margin
        self.increase = increase
        self.minimum = minimum
        self.cooldown = cooldown
        self.horizon = horizon
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._start: float | None = None
        self._next = 0.0
        self._accepted: deque[float] = deque()
        self._last_cut = float("-inf")
        self._binding_since: float | None = None

    def wait(self) -> None:
        """Block until this call may start."""
        with self._lock:
            now = self._clock()
            if self._start is None:
                self._start = now
            if self.rate is None:
                return
            start = max(now, self._next)
            self._next = start + 1.0 / self.rate
        if start > now:
            self._sleep(start - now)

    def on_success(self) -> None:
        with self._lock:
            now = self._clock()
            self._accepted.append(now)
            while self._accepted and now - self._accepted[0] > self.horizon:
                self._accepted.popleft()
            if self.rate is not None:
                self.rate *= 1.0 + self.increase

    def on_throttle(self) -> None:
        with self._lock:
            now = self._clock()
            if now - self._last_cut < self.cooldown:
                return
            self._last_cut = now
            start = self._start if self._start is not None else now
            # Half the long-run accepted rate: a floor, since part of it may have been a burst.
            span = max(min(now - start, self.horizon), self.cooldown)
            measured = 0.5 * sum(1 for t in self._accepted if now - t <= span) / span
            if self._binding_since is None:
                self._binding_since = now
            else:
                # The quota has been binding since then: what it accepted is its rate.
                span = min(now - self._binding_since, self.horizon)
                accepted = sum(1 for t in self._accepted if now - t <= span)
                measured = max(measured, self.margin * accepted / span)
            self.rate = max(self.minimum, min(self.rate or measured, measured))
            self._next = max(self._next, now + 1.0 / self.rate)

"""Per-model quotas in tokens, as Bedrock accounts for them, learned from throttling.

Bedrock's quotas are per model (and per profile): tokens per minute. When a call starts it
reserves input + ``maxTokens``; when it ends it settles to input + output x burndown (5 for
Claude 4 and later), cache reads excluded. :class:`ModelQuota` paces call starts by that
settled cost so a batch runs just under the model's rate, whether the quota refills
continuously or per clock minute:

* Unlimited (or the configured ``tpm``) until the first throttle after a success. That one sets
  half of what was being sent (started, not only accepted); a throttle that comes back before
  any call has succeeded sets no rate at all (there is nothing to measure: the call backs off),
  so it can never collapse the rate. Every later throttle (at most one per
  ``cooldown``) sets ``margin`` x what the service accepted since the quota began to bind,
  never below half the long-run accepted rate. Each accepted call raises the rate by 1 %.
* A model that throttles every call (a "storm": several throttles in a row, no success, and
  no call of it in flight long enough to have been accepted) is set aside for a cooldown that
  doubles while it lasts; after it, one probe call decides. The chain moves on meanwhile.

:class:`QuotaBook` holds one quota per model id: a throttle on one model never slows another.
Everything here is pure (a clock is injected); waiting is the engine's job.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Slot:
    """One call's place in a model's quota: when it may start and what it was charged."""

    start_at: float
    cost: float
    started: float = 0.0


class ModelQuota:
    def __init__(
        self,
        model_id: str,
        *,
        tpm: float | None = None,
        burndown: float = 5.0,
        margin: float = 0.95,
        increase: float = 0.01,
        cooldown: float = 1.0,
        horizon: float = 180.0,
        storm_after: int = 3,
        aside_for: float = 30.0,
        aside_max: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.model_id = model_id
        self.rate: float | None = tpm / 60.0 if tpm else None
        """Quota tokens per second this client allows itself; None = not known to bind."""
        self.burndown = burndown
        self.margin = margin
        self.increase = increase
        self.cooldown = cooldown
        self.horizon = horizon
        self.storm_after = storm_after
        self.aside_base = aside_for
        self.aside_max = aside_max
        self._clock = clock
        self._lock = threading.Lock()
        self._next = 0.0
        self._first_call: float | None = None
        self._binding_since: float | None = None
        self._last_cut = float("-inf")
        self._started: deque[tuple[float, float]] = deque()
        self._accepted: deque[tuple[float, float]] = deque()
        self._in_flight: dict[int, float] = {}
        self._ids = 0
        self._expected_output: float | None = None
        self._throttle_latency = 0.05
        self.throttles = 0
        self.calls = 0
        self.streak = 0
        """Throttles since the last accepted call."""
        self.aside_until: float | None = None
        self._aside_len = aside_for
        self._probing = False

    # -- cost model ------------------------------------------------------------------------
    def cost(self, input_tokens: int, max_tokens: int) -> float:
        """Expected settled cost of a call: input + expected output x burndown."""
        expected = self._expected_output
        if expected is None:
            expected = max_tokens / 4
        return input_tokens + min(expected, max_tokens) * self.burndown

    def settled(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens + output_tokens * self.burndown

    # -- pacing ----------------------------------------------------------------------------
    def reserve(self, cost: float) -> tuple[int, float]:
        """Take the next start slot; returns (ticket, seconds to wait before starting)."""
        with self._lock:
            now = self._clock()
            if self._first_call is None:
                self._first_call = now
            start = now
            if self.rate is not None:
                start = max(now, self._next)
                self._next = start + cost / self.rate
            self._ids += 1
            ticket = self._ids
            self._in_flight[ticket] = start
            self._started.append((start, cost))
            self._trim(self._started, now)
            self.calls += 1
            return ticket, start - now

    def cancel(self, ticket: int, cost: float) -> None:
        """A reserved call that never started (the run stopped, the model was set aside)."""
        with self._lock:
            self._in_flight.pop(ticket, None)
            if self.rate is not None:
                self._next = max(self._clock(), self._next - cost / self.rate)

    def on_success(
        self, ticket: int, charged: float, input_tokens: int, output_tokens: int
    ) -> None:
        with self._lock:
            now = self._clock()
            self._in_flight.pop(ticket, None)
            actual = self.settled(input_tokens, output_tokens)
            self._accepted.append((now, actual))
            self._trim(self._accepted, now)
            if self.rate is not None:
                # Pace by what the call really cost, not by the guess it was charged.
                self._next += (actual - charged) / self.rate
                self.rate *= 1.0 + self.increase
            out = float(output_tokens)
            self._expected_output = (
                out if self._expected_output is None else 0.8 * self._expected_output + 0.2 * out
            )
            self.streak = 0
            self.aside_until = None
            self._aside_len = self.aside_base
            self._probing = False

    def on_error(self, ticket: int) -> None:
        """A call that failed for another reason than throttling."""
        with self._lock:
            self._in_flight.pop(ticket, None)
            self._probing = False

    def on_throttle(self, ticket: int) -> bool:
        """Learn from a 429. Returns True when this throttle set the model aside."""
        with self._lock:
            now = self._clock()
            started = self._in_flight.pop(ticket, now)
            self._throttle_latency = max(0.01, 0.8 * self._throttle_latency + 0.2 * (now - started))
            self.throttles += 1
            self.streak += 1
            self._learn(now)
            return self._storm(now)

    def _learn(self, now: float) -> None:
        if not self._accepted and self.rate is None:
            # Nothing accepted yet: no rate can be measured, and guessing one from a single
            # early 429 is what made the 2025 limiter crawl. Backoff (and, if every call is
            # refused, setting the model aside) handles it until something succeeds.
            return
        if now - self._last_cut < self.cooldown:
            return  # one burst of 429s (every call in flight at once) is one signal
        self._last_cut = now
        first = self._first_call if self._first_call is not None else now
        span = max(min(now - first, self.horizon), self.cooldown)
        accepted = sum(c for t, c in self._accepted if now - t <= span) / span
        if self._binding_since is None:
            # What was being sent when the quota first bound, halved (part was a burst).
            sent = sum(c for t, c in self._started if now - t <= span) / span
            estimate = 0.5 * max(accepted, sent)
            self._binding_since = now
            if self.rate is not None:
                estimate = min(estimate, self.rate)
        else:
            # The quota has bound since then: what it accepted is its rate, whatever its window.
            bound = min(now - self._binding_since, self.horizon)
            since = sum(c for t, c in self._accepted if now - t <= bound)
            estimate = 0.5 * accepted
            if bound >= self.cooldown and since > 0:
                estimate = max(estimate, self.margin * since / bound)
            elif self.rate is not None:
                estimate = max(estimate, 0.7 * self.rate)
        if estimate <= 0:
            return
        self.rate = estimate
        self._next = max(self._next, now + 1.0 / max(self.rate, 1e-9))

    def _storm(self, now: float) -> bool:
        if self._probing:
            self._probing = False
            self._aside_len = min(self.aside_max, self._aside_len * 2)
            self.aside_until = now + self._aside_len
            return True
        if self.aside_until is not None and now < self.aside_until:
            return False
        if self.streak < self.storm_after:
            return False
        # A call still in flight well after a throttle would have come back was accepted:
        # the quota binds, the model is not refusing everything.
        accepted_in_flight = any(
            now - t > 2 * self._throttle_latency for t in self._in_flight.values()
        )
        if accepted_in_flight:
            return False
        self.aside_until = now + self._aside_len
        return True

    # -- set aside -------------------------------------------------------------------------
    def usable(self) -> bool:
        """False while set aside; after the cooldown, True for one probe call at a time."""
        with self._lock:
            if self.aside_until is None:
                return True
            if self._clock() < self.aside_until or self._probing:
                return False
            self._probing = True
            return True

    def is_aside(self) -> bool:
        with self._lock:
            return self.aside_until is not None and (
                self._clock() < self.aside_until or self._probing
            )

    def _trim(self, window: deque[tuple[float, float]], now: float) -> None:
        while window and now - window[0][0] > self.horizon:
            window.popleft()


class QuotaBook:
    """One :class:`ModelQuota` per model id called (quotas are per model and profile)."""

    def __init__(
        self,
        *,
        tpm: Callable[[str], float | None] = lambda _m: None,
        burndown: Callable[[str], float] = lambda _m: 5.0,
        clock: Callable[[], float] = time.monotonic,
        **options: float,
    ) -> None:
        self._tpm = tpm
        self._burndown = burndown
        self._clock = clock
        self._options = options
        self._quotas: dict[str, ModelQuota] = {}
        self._lock = threading.Lock()

    def __getitem__(self, model_id: str) -> ModelQuota:
        with self._lock:
            quota = self._quotas.get(model_id)
            if quota is None:
                quota = ModelQuota(
                    model_id,
                    tpm=self._tpm(model_id),
                    burndown=self._burndown(model_id),
                    clock=self._clock,
                    **self._options,  # type: ignore[arg-type]
                )
                self._quotas[model_id] = quota
            return quota

    def items(self) -> list[tuple[str, ModelQuota]]:
        with self._lock:
            return sorted(self._quotas.items())

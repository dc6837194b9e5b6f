"""Per-model quotas in tokens, as Bedrock accounts for them, learned from throttling.

Bedrock's quotas are per model (and per profile): tokens per minute. When a call starts it
holds input + ``maxTokens``; when it ends it settles to input + output x burndown (5 for
Claude 4 and later), cache reads excluded. :class:`ModelQuota` mirrors that bucket on the
client: a call starts when the mirror holds a whole reservation, and gives back what it did
not use when it ends. What is learned is the bucket's refill rate:

* A throttle means Bedrock's bucket was empty at that instant. Between two such instants it
  refilled what the calls took from it (holds of the accepted calls started in between, minus
  what calls gave back when they ended), less whatever it could not hold (a full bucket, a
  per-minute window that reset unused). So each new episode of throttling (a throttle after an
  accepted call; the throttles of one exhausted window are one episode) measures the rate from
  every earlier episode of the last ``horizon`` seconds, keeps the best (unused quota only
  ever makes a measurement low), and sets the mirror to ``margin`` x that, empty. A
  measurement over fewer than eight holds is inconclusive and ignored.
* Unlimited (or the configured ``tpm``) until the quota first binds. The first throttle after a
  success starts from half the rate accepted so far and searches upwards, doubling every
  second while calls queue for it, until the next throttle gives a measurement; a throttle
  before any success sets nothing (nothing can be measured; the call backs off), so an early
  429 never collapses the rate. Once measured, the rate grows only slowly, and only while it
  is what holds calls back.
* A quota that resets on the clock (a per-minute window) is recognised by where its throttling
  ends: for the last periods that saw throttling, whether the period's last episode ended
  with a clock boundary between its last throttle and the next accepted call. Two such
  periods in a row (or three of four) switch to a window: each one is spent from its start,
  bounded above by the lowest level Bedrock refused and below by the highest it accepted; a
  refusal lowers the bound but calls go on as the window's calls give back what they did not
  use, and a call started at a window's very end counts in the next one too (it may reach
  Bedrock there). A refusal far below what windows took goes back to the bucket.
* A model that throttles every call (a "storm": several throttles in a row over at least
  ``storm_span`` seconds, no success, and no call of it in flight long enough to have been
  accepted) is set aside for a cooldown that doubles while it lasts; after it, one probe call
  decides. The chain moves on meanwhile (a model alone in its chain is still called).

:class:`QuotaBook` holds one quota per model id: a throttle on one model never slows another.
Everything here is pure (a clock is injected); waiting is the engine's job.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

_EDGE = 0.1
"""Seconds before a window's end within which a call may reach Bedrock in the next one."""


@dataclass
class _Call:
    start: float
    hold: float
    input_estimate: float
    level: float = 0.0
    """In a clock window: what the window held once this call was admitted."""


@dataclass
class _Window:
    """A quota that resets every ``period`` seconds at ``phase + k * period`` (a clock-aligned
    per-minute window): ``quota`` tokens per window, spent from the window's start."""

    period: float
    phase: float
    quota: float
    start: float = float("-inf")
    used: float = 0.0
    throttled: bool = False
    waited: bool = False
    accepted: float = 0.0
    """The most a window has held with Bedrock accepting it (a lower bound of the quota)."""
    refused: float = float("inf")
    """The least a window would have held when Bedrock refused (an upper bound)."""
    windows: int = 0
    carry: float = 0.0
    """Holds of calls started so close to the window's end that Bedrock may count them in
    the next window: the next window starts with them."""

    def roll(self, now: float) -> None:
        start = self.phase + math.floor((now - self.phase) / self.period) * self.period
        if start == self.start:
            return
        self.windows += 1
        if self.windows % 20 == 0:
            self.refused = float("inf")  # now and then, look for a quota that was raised
        if self.start != float("-inf") and self.waited and not self.throttled:
            # The window held calls back and Bedrock refused none: there may be more.
            self.quota = min(self.quota * 1.03, self.refused - 1.0)
        carried = self.carry if start == self.start + self.period else 0.0
        self.start, self.used, self.carry = start, carried, 0.0
        self.throttled = self.waited = False


class ModelQuota:
    def __init__(
        self,
        model_id: str,
        *,
        tpm: float | None = None,
        burndown: float = 5.0,
        margin: float = 0.95,
        increase: float = 0.02,
        probe_after: float = 5.0,
        cooldown: float = 0.5,
        horizon: float = 300.0,
        capacity: float = 60.0,  # seconds of quota the bucket holds: Bedrock's is a minute
        storm_after: int = 3,
        storm_span: float = 0.05,
        aside_for: float = 30.0,
        aside_max: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.model_id = model_id
        self._wall = wall
        self.rate: float | None = tpm / 60.0 if tpm else None
        """Quota tokens per second this client allows itself; None = not known to bind."""
        self.measured: float | None = None
        """The refill rate last measured between two throttles (tokens per second)."""
        self.burndown = burndown
        self.margin = margin
        self.increase = increase
        self.probe_after = probe_after
        self.cooldown = cooldown
        self.horizon = horizon
        self.capacity = capacity
        self.storm_after = storm_after
        self.storm_span = storm_span
        self.aside_base = aside_for
        self.aside_max = aside_max
        self._clock = clock
        self._lock = threading.Lock()
        self.level = self.rate * capacity if self.rate is not None else 0.0
        """Quota tokens the mirrored bucket holds (below zero: calls queue for it). A
        configured quota starts full, as Bedrock's does."""
        self._level_at = clock()
        self._calls: dict[int, _Call] = {}
        self._queue: deque[int] = deque()
        self._hold = 0.0
        self._input_scale = 1.0
        self._successes = 0
        self._ids = 0
        self._ledger: deque[tuple[float, float]] = deque()
        """(time, tokens taken from Bedrock's bucket): + hold at an accepted start, - refund."""
        self._done: deque[tuple[float, float]] = deque(maxlen=256)
        """(start, tokens settled) of the last calls answered."""
        self._empty: deque[float] = deque()
        """Instants Bedrock's bucket was known empty (throttles), oldest first."""
        self._accepted = 0.0
        self._first_call: float | None = None
        self._last_cut = float("-inf")
        self._episode_open = False
        self._episode_repeats = 0
        self._last_throttle = float("-inf")
        self._crossings: dict[int, float] = {}
        """For the last periods (by clock) that saw throttling: 1 when the period's last
        episode ended with a clock boundary between its last throttle and the call accepted
        after it (the quota reset on the clock), else 0 (it refilled within the period)."""
        self.window_since: float | None = None
        self.window: _Window | None = None
        """Set once throttling episodes end in step with ``capacity`` seconds (a clock window)."""
        self._last_growth = 0.0
        self._last_wait = float("-inf")
        self._searching = False
        self._search_gain = 1.0
        self._expected_output: float | None = None
        self._throttle_latency = 0.05
        self.throttles = 0
        self.calls = 0
        self.settled_calls = 0
        """Calls that gave back what they did not use (waiters may look again)."""
        self.streak = 0
        """Throttles since the last accepted call."""
        self._streak_since = 0.0
        self.aside_until: float | None = None
        self._aside_len = aside_for
        self._probing = False

    # -- cost model ------------------------------------------------------------------------
    def hold_and_cost(self, input_estimate: int, max_tokens: int) -> tuple[float, float]:
        """What Bedrock will hold for a call (input + maxTokens) and what it will settle to
        (input + expected output x burndown), input calibrated on the answers so far."""
        tokens = input_estimate * self._input_scale
        expected = self._expected_output
        if expected is None:
            expected = max_tokens / 4
        return tokens + max_tokens, tokens + min(expected, max_tokens) * self.burndown

    def settled(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens + output_tokens * self.burndown

    # -- the mirrored bucket ---------------------------------------------------------------
    def _refill(self, now: float) -> None:
        if self.rate is not None:
            cap = self.rate * self.capacity
            self.level = min(cap, self.level + (now - self._level_at) * self.rate)
        self._level_at = now

    def reserve(self, input_estimate: int, max_tokens: int) -> int:
        """Queue a call; :meth:`admit` says when it may start."""
        with self._lock:
            hold, _ = self.hold_and_cost(input_estimate, max_tokens)
            self._hold = hold
            now = self._clock()
            if self._first_call is None:
                self._first_call = now
            self._ids += 1
            self._calls[self._ids] = _Call(float("inf"), hold, float(input_estimate))
            self._queue.append(self._ids)
            self.calls += 1
            return self._ids

    def admit(self, ticket: int) -> float:
        """0 when the call may start now (its hold is taken from the mirror); otherwise about
        how long until it may (ask again then: the rate may change meanwhile)."""
        with self._lock:
            now = self._clock()
            call = self._calls.get(ticket)
            if call is None or call.start != float("inf"):
                return 0.0
            if self.rate is None:
                # Before the quota is known, ramp up as TCP does: one more call in flight
                # for every call answered, so a first burst does not meet a 429 wall.
                running = sum(1 for c in self._calls.values() if c.start != float("inf"))
                if running >= 2 + 2 * self._successes:
                    return 0.05
                self._start(ticket, call, now)
                return 0.0
            if self.window is not None:
                return self._admit_window(ticket, call, now)
            self._grow(now)
            self._refill(now)
            ahead = self._ahead(ticket)
            needed = ahead + call.hold - self.level
            if ahead == 0.0 and needed <= 0:
                self.level -= call.hold
                self._start(ticket, call, now)
                return 0.0
            self._last_wait = now
            return max(needed / self.rate, 0.01)

    def _ahead(self, ticket: int) -> float:
        """The holds of the calls queued before ``ticket`` (calls start in order)."""
        ahead = 0.0
        for queued in self._queue:
            if queued == ticket:
                break
            ahead += self._calls[queued].hold
        return ahead

    def _admit_window(self, ticket: int, call: _Call, now: float) -> float:
        """Spend each window's quota from its start; wait for the next window when it is spent
        (or sooner, when calls of this window may still give back what they did not use)."""
        window = self.window
        assert window is not None
        window.roll(now)
        # Calls start in order: this one when it fits after every call queued before it
        # (those then still fit when they look again).
        ahead = self._ahead(ticket)
        fits = window.used + ahead + call.hold <= window.quota
        first = ahead == 0.0 and window.used == 0.0  # a window admits at least one call
        if fits or (first and not window.throttled):
            window.used += call.hold
            call.level = window.used
            if window.start + window.period - now < _EDGE:
                window.carry += call.hold
            self._start(ticket, call, now)
            return 0.0
        window.waited = True
        self._last_wait = now
        if window.used + call.hold <= window.quota:
            return 0.02  # it fits once the calls queued before it start: any moment now
        until = window.start + window.period - now + 0.01
        refunds = any(window.start <= c.start <= now for c in self._calls.values())
        return max(0.01, min(until, 0.1) if refunds else until)

    def _start(self, ticket: int, call: _Call, now: float) -> None:
        call.start = now
        with contextlib.suppress(ValueError):
            self._queue.remove(ticket)

    def _forget(self, ticket: int, used: float, now: float) -> _Call | None:
        """Drop a ticket; the mirror gets back the part of its hold that was not used."""
        call = self._calls.pop(ticket, None)
        if call is None:
            return None
        if call.start == float("inf"):  # still queued: it never took anything
            self._queue.remove(ticket)
            return call
        if self.rate is not None:
            self._refill(now)
            self.level += call.hold - used
        return call

    def cancel(self, ticket: int, cost: float = 0.0) -> None:
        """A call that never started, or never reached Bedrock (stopped, set aside)."""
        with self._lock:
            self._forget(ticket, 0.0, self._clock())

    def on_error(self, ticket: int) -> None:
        """A call that failed for another reason than throttling."""
        with self._lock:
            self._forget(ticket, 0.0, self._clock())
            self._probing = False

    def on_success(self, ticket: int, input_tokens: int, output_tokens: int) -> None:
        with self._lock:
            now = self._clock()
            actual = self.settled(input_tokens, output_tokens)
            call = self._forget(ticket, actual, now)
            self._successes += 1
            self.settled_calls += 1
            if call is not None and call.input_estimate > 0 and input_tokens > 0:
                ratio = input_tokens / call.input_estimate
                self._input_scale = 0.7 * self._input_scale + 0.3 * ratio
            if call is not None:
                self._done.append((call.start, actual))
                self._ledger.append((call.start, call.hold))
                self._ledger.append((now, actual - call.hold))
                self._accepted += actual
            self._trim(now)
            out = float(output_tokens)
            self._expected_output = (
                out if self._expected_output is None else 0.8 * self._expected_output + 0.2 * out
            )
            self._grow(now)
            if call is not None:
                self._window_success(call, actual, now)
            if call is None or call.start > self._last_throttle:
                # Accepted after the last throttle: the bucket had refilled, the episode is
                # over. (A call sent before that throttle was accepted before it: no news.)
                self._episode_open = False
                self._episode_repeats = 0
            self.streak = 0
            self.aside_until = None
            self._aside_len = self.aside_base
            self._probing = False

    def _window_success(self, call: _Call, actual: float, now: float) -> None:
        window = self.window
        if window is not None:
            window.roll(now)
            window.accepted = max(window.accepted, call.level)
            if call.start >= window.start:
                window.used -= call.hold - actual  # given back within its window
            return
        if not self._episode_open or call.start <= self._last_throttle:
            return
        # A call started after the last throttle was accepted: the quota refilled in between.
        # Per-minute quotas that reset on the clock's minute refill at exactly such a
        # boundary; a continuously refilled one rarely has one in so short a gap.
        period = self.capacity
        offset = self._wall() - now
        throttled_in = math.floor((self._last_throttle + offset) / period)
        crossed = math.floor((call.start + offset) / period) > throttled_in
        # Episodes that end within their period (calls gave back what they held) say nothing
        # against a clock window as long as the period's last one ends at a boundary.
        self._crossings[throttled_in] = max(self._crossings.get(throttled_in, 0.0), crossed)
        recent = [self._crossings[k] for k in sorted(self._crossings)[-4:]]
        for old in sorted(self._crossings)[:-4]:
            del self._crossings[old]
        if recent[-2:] != [1.0, 1.0] and sum(recent) < 3:
            return
        per_window = max(self.measured or 0.0, self.rate or 0.0) * period
        if per_window <= 0:
            return
        window = _Window(period, (-offset) % period, per_window)
        window.roll(now)
        # What each window took (the calls started in it, as settled): the windows that ended
        # in a refusal took about the quota. Start from the most any window took, or above
        # the measured rate (measurements over windows not all spent are low) and let the
        # first refusal bound it.
        took: dict[float, float] = {}
        for start, actual in self._done:
            first = window.phase + math.floor((start - window.phase) / period) * period
            took[first] = took.get(first, 0.0) + actual
        window.used = took.pop(window.start, 0.0) + sum(
            c.hold for c in self._calls.values() if window.start <= c.start <= now
        )
        window.quota = max(took.values()) if took else 1.15 * per_window
        window.accepted = window.quota
        self.window = window
        self.window_since = now
        self.rate = self.window.quota / period

    def _grow(self, now: float) -> None:
        if self.rate is None or self.window is not None:
            return
        dt = min(5.0, now - self._last_growth)
        self._last_growth = now
        if self._episode_open and not self._lone_caller():
            return  # the bucket is known empty and nothing was accepted since: wait, not grow
        if not self._queue and now - self._last_wait > 1.0:
            return  # the rate is not what holds calls back: no reason to raise it
        quiet = now - self._last_cut
        if self._searching and quiet >= self.cooldown:
            self._refill(now)
            self.rate *= 2.0 ** (self._search_gain * dt)
        elif quiet >= self.probe_after:
            # Probe for more, slowly at first and faster the longer nothing is refused
            # (a low measurement, or a quota raised meanwhile, is found in seconds, not hours).
            self._refill(now)
            self.rate *= 1.0 + self.increase * dt * min((quiet / self.probe_after) ** 2, 4.0)

    def _lone_caller(self) -> bool:
        """One call waiting and none in flight (a chat, the tail of a run): the search for the
        rate goes on while it waits, so a low first estimate (a handful of calls accepted
        over a minute's worth of quota) costs seconds, not the minutes it implies; a 429
        closes in on the rate as it does for a batch."""
        return len(self._queue) == 1 and all(c.start == float("inf") for c in self._calls.values())

    # -- learning from throttles -----------------------------------------------------------
    def on_throttle(self, ticket: int) -> bool:
        """Learn from a 429. Returns True when this throttle set the model aside."""
        with self._lock:
            now = self._clock()
            call = self._forget(ticket, 0.0, now)  # Bedrock took nothing for it ...
            if self.rate is not None:
                self.level = min(self.level, 0.0)  # ... having less than a hold left
                if self._episode_open and now - self._last_cut >= self.cooldown:
                    # Still empty, well after the episode began (a clock window spent until
                    # it resets): probe less and less often. The mirror keeps refilling
                    # meanwhile, so the window's tokens are there when it does reset.
                    self._episode_repeats += 1
                    hold = call.hold if call is not None else self._hold
                    self.level -= hold * (min(2.0**self._episode_repeats, 32.0) - 1.0)
            started = call.start if call is not None else now
            self._last_throttle = max(self._last_throttle, started)
            self._throttle_latency = max(0.01, 0.8 * self._throttle_latency + 0.2 * (now - started))
            if self.window is not None and call is not None:
                self._window_throttle(call, now)
            self.throttles += 1
            if self.streak == 0:
                self._streak_since = now
            self.streak += 1
            if self._accepted > 0 or self.rate is not None:
                self._learn(now)
            return self._storm(now)

    def _window_throttle(self, call: _Call, now: float) -> None:
        window = self.window
        assert window is not None
        window.roll(now)
        if call.start < window.start:
            return  # refused in the window before: it says nothing about this one
        before = window.used - call.hold  # what this window had taken when it was refused
        window.used = before
        if before < 0.5 * window.quota:
            # Refused far below what windows took before: not a clock window after all (or
            # the quota changed). Back to the continuously refilled model.
            self.window = None
            self._crossings.clear()
            return
        # Bedrock refused what ``before`` + this hold would have been: the quota is below
        # that, and at least the most a window held with Bedrock accepting it. Windows go
        # by in whole calls: settle on the highest level known to be accepted.
        window.refused = min(window.refused, window.used + call.hold)
        window.quota = max(min(window.accepted, window.refused - 1.0), before, call.hold)
        # Calls of this window that end give back what they did not use: more may fit then.
        window.throttled = True
        if self.rate is not None:
            self.rate = window.quota / window.period

    def _taken_since(self, since: float, now: float) -> float:
        taken = sum(tokens for t, tokens in self._ledger if since < t <= now)
        # Calls still running well past the time a throttle takes were accepted: count their
        # holds (Bedrock took them at the start).
        settled_after = now - 2 * self._throttle_latency
        taken += sum(c.hold for c in self._calls.values() if since < c.start <= settled_after)
        return taken

    def _learn(self, now: float) -> None:
        self._trim(now)
        # A throttle after an accepted call starts a new episode of "the bucket is empty"; the
        # throttles that follow with nothing accepted in between (a window exhausted until it
        # resets) are the same episode and teach nothing new.
        if self._episode_open and self.rate is not None:
            return
        self._episode_open = True
        earlier = list(self._empty)
        self._empty.append(now)
        if now - self._last_cut < self.cooldown:
            return  # one burst of 429s (every call in flight at once) is one signal
        self._last_cut = now
        self._last_growth = now
        if self.rate is None:
            # The quota binds for the first time. What it accepted so far is at most a full
            # bucket (a period's worth: quotas are per minute) plus what refilled meanwhile:
            # start from that and search upwards.
            first = self._first_call if self._first_call is not None else now
            span = max(now - first, 0.0)
            self.rate = max(self._accepted / (self.capacity + span), 1.0)
            self.level, self._level_at = 0.0, now
            self._searching = True
            self._search_gain = 1.0
            return
        self._refill(now)
        # Each end is "empty" only to within one hold: measure over many of them (fewer is
        # also what one clock window looks like from inside: inconclusive). Quota left unused
        # between two ends (calls paced too slowly, a window that reset) makes a measurement
        # low, never high: the best of them is the rate.
        typical = max((c.hold for c in self._calls.values()), default=self._hold)
        measured = None
        for empty in earlier:
            if now - empty < 4 * self.cooldown:
                break
            taken = self._taken_since(empty, now)
            if taken > 8 * typical:
                rate = taken / (now - empty)
                measured = rate if measured is None else max(measured, rate)
        if measured is not None:
            self.measured = measured
            self.rate = self.margin * measured
            self._searching = False
        elif self._searching:
            # Overshot without a measurement yet: step back and search more gently.
            self.rate *= 0.8
            self._search_gain /= 2
            self._searching = self._search_gain >= 0.1
        else:
            self.rate *= 0.9

    def _trim(self, now: float) -> None:
        while self._ledger and now - self._ledger[0][0] > self.horizon:
            self._ledger.popleft()
        while self._empty and now - self._empty[0] > self.horizon:
            self._empty.popleft()

    # -- set aside -------------------------------------------------------------------------
    def _storm(self, now: float) -> bool:
        if self._probing:
            self._probing = False
            self._aside_len = min(self.aside_max, self._aside_len * 2)
            self.aside_until = now + self._aside_len
            return True
        if self.aside_until is not None and now < self.aside_until:
            return False
        span = max(self.storm_span, 4 * self._throttle_latency)
        if self.streak < self.storm_after or now - self._streak_since < span:
            return False
        # A call still in flight well after a throttle would have come back was accepted:
        # the quota binds, the model is not refusing everything.
        horizon = 2 * self._throttle_latency
        if any(now - c.start > horizon for c in self._calls.values()):
            return False
        self.aside_until = now + self._aside_len
        return True

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


class QuotaBook:
    """One :class:`ModelQuota` per model id called (quotas are per model and profile)."""

    def __init__(
        self,
        *,
        tpm: Callable[[str], float | None] = lambda _m: None,
        burndown: Callable[[str], float] = lambda _m: 5.0,
        clock: Callable[[], float] = time.monotonic,
        make: Callable[..., ModelQuota] | None = None,
        **options: float,
    ) -> None:
        """``make`` builds each model's quota (default :class:`ModelQuota`; workers share
        theirs through Redis)."""
        self._make = make or ModelQuota
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
                quota = self._make(
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

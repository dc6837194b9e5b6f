"""Bedrock quotas in both of their dimensions, requests and tokens per minute, per model scope.

Bedrock enforces two limits per model and scope, whichever binds first: requests per minute
(RPM) and tokens per minute (TPM). A call takes one request and holds input + ``maxTokens``
tokens when it starts; when it ends its tokens settle to input + output x burndown (5 for
Claude 4 and later). Short sections bind on requests, long ones on tokens. Whether a quota
refills continuously or per clock minute is not documented; this limiter does well on both by
pacing continuously, at a margin below the limit (a clock minute then never holds more than
the limit), until it sees the quota reset on the clock (below).

One :class:`QuotaState` per (model, scope) holds, for each dimension, the limit (known from
Service Quotas or the config, or learned from 429s), a mirror of Bedrock's bucket, and a
trailing minute of what was consumed. Everything that changes it is a pure function of
(state, now): :func:`try_admit`, :func:`settle`, :func:`throttled`. A :class:`QuotaCell` keeps the
state: in memory for one process, or in Redis for queue workers
(:mod:`prism_cli.stores.redis_quota`), so both run the same algorithm.

The rules that keep a run from stalling:

* a limit is never learned below what one call needs (a learned TPM never below the largest
  hold seen, a learned RPM never below 1), and a call bigger than the mirror's burst is
  admitted once the mirror is full;
* every wait is the time the mirror needs to refill at the limit's rate, which nothing can
  stop, or (before any limit is known) a wait for calls in flight to settle, which is never
  asked of a caller when no call is in flight; calls in flight that were never settled (a
  worker that died) are forgotten after ``stale_after`` seconds;
* 429s lower a limit at most once per ``cooldown``: one burst of refusals is one signal.

Clock windows: whether a quota refills continuously or resets every clock minute is not
documented. Refusals of a window end at the minute's boundary, a bucket's within the minute:
once two episodes in a row (or three of the last four) end across a boundary, that dimension
becomes a window of what the last minute held, spent from each window's start (a call that
does not fit waits for the next window); a window that held calls back and refused none may
hold a little more (about 0.6%); a refusal far below what windows held goes back to the bucket.

Learning: before any limit is known calls ramp up as TCP does (two more in flight per call
answered). A 429 says which dimension refused ("Too many tokens" / "Too many requests"; both
when it does not say). The refused dimension's limit becomes ``margin`` x what was consumed in
the trailing period (not above ``decrease`` x the current limit when one is set), and the mirror
is emptied. While calls wait on a dimension and it has not refused for ``probe_after`` seconds
its limit grows, quickly up to the level last refused, slowly beyond it (a raised quota is found
in minutes, about 1% a minute). A known limit is a ceiling: learning only lowers it (other clients may share it).

A model that refuses every call (a "storm") is set aside for a cooldown that doubles while it
lasts; after it, one probe call decides. That state is local to a process.

Everything here is pure (the clock is injected: a wall clock, since windows reset on the
wall clock's minutes); waiting is the engine's job.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Protocol, TypeVar

from prism_cli.engine.catalog import GEO_PREFIXES

R = "requests"
T = "tokens"
DIMENSIONS = (R, T)
_SLOTS = 60
CONCLUSIVE = 4
"""A refusal teaches a limit only when the trailing period accepted this many calls' worth."""
"""The trailing period is kept as this many slots (one per second for a 60 s period)."""


@dataclass(frozen=True)
class QuotaLimits:
    """Known limits of one (model, scope), per minute, and where they came from."""

    rpm: float | None = None
    tpm: float | None = None
    source: str = "config"
    """``config`` | ``service-quotas`` | ``learned``."""

    def of(self, dim: str) -> float | None:
        return self.rpm if dim == R else self.tpm


@dataclass(frozen=True)
class QuotaRules:
    """How the limiter paces and learns (tests and benches may shorten ``period``)."""

    period: float = 60.0
    """Bedrock's quotas are per minute."""
    margin: float = 0.97
    """Pace this close to a limit (a clock minute then never holds more than the limit)."""
    burst: float = 0.2
    """The mirror holds this share of a period's quota (a burst after a pause)."""
    cooldown: float = 1.0
    """429s within this many seconds of a cut are the same signal."""
    decrease: float = 0.95
    """A refusal takes a set limit at least this far down."""
    probe_after: float = 10.0
    """Seconds without a refusal before a binding limit grows."""
    increase: float = 0.02
    """Growth per second below the level last refused (slower above it)."""
    above_refused: float = 0.01
    """Share of ``increase`` applied above the level last refused (about 1% a minute)."""
    stale_after: float = 120.0
    """A call in flight longer than this is taken for lost (its process died)."""

    @property
    def slot(self) -> float:
        return self.period / _SLOTS

    @classmethod
    def scaled(cls, period: float) -> QuotaRules:
        """The same rules for quotas per ``period`` seconds instead of a minute (every time
        constant scaled: benches against a fake with short windows)."""
        k = period / 60.0
        base = cls()
        return cls(
            period=period,
            cooldown=base.cooldown * k,
            probe_after=base.probe_after * k,
            increase=base.increase / k,
            stale_after=base.stale_after * k,
        )


@dataclass
class DimState:
    """One dimension of a quota: its limit, the mirror of Bedrock's bucket, what was used."""

    limit: float | None = None
    """Per period; None while unknown (not yet binding)."""
    ceiling: float | None = None
    """A known limit (Service Quotas, config): learning never goes above it."""
    level: float = 0.0
    at: float = 0.0
    cut: float = -1e18
    """When the limit was last lowered."""
    refused: float | None = None
    """What the trailing period held at the last refusal (about the real limit)."""
    waited: float = -1e18
    """When a call last waited on this dimension."""
    grown: float = 0.0
    ring: list[float] = field(default_factory=lambda: [0.0] * _SLOTS)
    ring_at: int = 0
    """The slot number (time // slot) the ring's newest entry belongs to."""
    largest: float = 1.0
    """The largest single cost seen (a learned limit never goes below it)."""
    crossings: list[float] = field(default_factory=list)
    """For the last episodes of refusals: 1 when the episode ended across a boundary of the
    clock's period (a per-minute window reset), else 0."""
    window: float | None = None
    """Set once this quota is seen to reset on the clock: what one window holds."""
    win_index: int = 0
    win_used: float = 0.0
    win_waited: bool = False
    win_refused: bool = False

    def rate(self, rules: QuotaRules) -> float:
        assert self.limit is not None
        return self.limit / rules.period

    def capacity(self, rules: QuotaRules) -> float:
        assert self.limit is not None
        return self.limit * rules.burst

    def refill(self, now: float, rules: QuotaRules) -> None:
        if self.limit is not None:
            self.level = min(
                self.capacity(rules), self.level + max(0.0, now - self.at) * self.rate(rules)
            )
        self.at = now

    def record(self, now: float, amount: float, rules: QuotaRules) -> None:
        """Add to what the trailing period consumed (negative: a refund)."""
        slot = int(now // rules.slot)
        if slot > self.ring_at:
            for k in range(self.ring_at + 1, min(slot, self.ring_at + _SLOTS) + 1):
                self.ring[k % _SLOTS] = 0.0
            self.ring_at = slot
        if slot > self.ring_at - _SLOTS:
            self.ring[slot % _SLOTS] += amount

    def recent(self, now: float, rules: QuotaRules) -> float:
        self.record(now, 0.0, rules)
        return max(0.0, sum(self.ring))

    def since(self, start: float, now: float, rules: QuotaRules) -> float:
        """What was consumed from ``start`` (within the trailing period) to now."""
        self.record(now, 0.0, rules)
        first = int(start // rules.slot)
        return max(0.0, sum(self.ring[k % _SLOTS] for k in range(first, self.ring_at + 1)
                            if k > self.ring_at - _SLOTS))  # fmt: skip

    def roll(self, now: float, rules: QuotaRules) -> None:
        """A clock window: a new one starts empty; one that held calls back and refused none
        may hold more."""
        index = int(now // rules.period)
        if self.window is None or index == self.win_index:
            return
        if self.win_waited and not self.win_refused and index == self.win_index + 1:
            grown = self.window * (1.0 + 30 * rules.increase * rules.above_refused)
            self.window = min(grown, self.ceiling) if self.ceiling is not None else grown
        self.win_index, self.win_used = index, 0.0
        self.win_waited = self.win_refused = False


@dataclass
class QuotaState:
    """Everything one (model, scope) quota knows; plain data, so Redis can keep it as JSON."""

    requests: DimState = field(default_factory=DimState)
    tokens: DimState = field(default_factory=DimState)
    inflight: dict[str, float] = field(default_factory=dict)
    """Calls started and not yet settled: member -> start time."""
    successes: int = 0
    throttles: int = 0
    first: float | None = None
    last_throttle: float = -1e18
    episode: int = 0
    """Refusals since the quota last accepted a call started after a refusal (one exhausted
    bucket or window is one episode: it lowers a limit once)."""
    episode_dims: list[str] = field(default_factory=list)
    """The dimensions refused in the current episode."""

    def dim(self, name: str) -> DimState:
        return self.requests if name == R else self.tokens

    def known(self) -> bool:
        return self.requests.limit is not None or self.tokens.limit is not None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QuotaState:
        dims = {f.name for f in fields(DimState)}
        state = cls(
            requests=DimState(**{k: v for k, v in data["requests"].items() if k in dims}),
            tokens=DimState(**{k: v for k, v in data["tokens"].items() if k in dims}),
        )
        state.inflight = {str(k): float(v) for k, v in data.get("inflight", {}).items()}
        state.successes = int(data.get("successes", 0))
        state.throttles = int(data.get("throttles", 0))
        state.first = data.get("first")
        state.last_throttle = float(data.get("last_throttle", -1e18))
        state.episode = int(data.get("episode", 0))
        state.episode_dims = [str(d) for d in data.get("episode_dims", [])]
        return state


def apply_limits(state: QuotaState, limits: QuotaLimits, now: float, rules: QuotaRules) -> None:
    """Known limits: paced to from the first call (at the margin), and never exceeded."""
    for dim in DIMENSIONS:
        known = limits.of(dim)
        if not known:
            continue
        d = state.dim(dim)
        d.ceiling = float(known)
        if d.limit is None or d.limit > rules.margin * known:
            d.limit = rules.margin * float(known)
            d.level, d.at = d.capacity(rules), now


def _costs(hold: float) -> dict[str, float]:
    return {R: 1.0, T: hold}


def _stale(state: QuotaState, now: float, rules: QuotaRules) -> None:
    for member, started in list(state.inflight.items()):
        if now - started > rules.stale_after:
            del state.inflight[member]


def try_admit(state: QuotaState, now: float, member: str, hold: float, rules: QuotaRules) -> float:
    """0 when the call may start now (its costs are taken); otherwise the seconds to wait.

    Before any limit is known: a ramp on calls in flight (the wait ends when one settles; a
    caller with nothing in flight always goes). Otherwise every dimension with a limit must
    hold the call's cost (or be full, for a call larger than the mirror); the wait is the
    refill time of the dimension furthest from it.
    """
    if state.first is None:
        state.first = now
    _stale(state, now, rules)
    costs = _costs(hold)
    waits: list[float] = []
    for name in DIMENSIONS:
        d = state.dim(name)
        d.largest = max(d.largest, costs[name])
        d.refill(now, rules)
        if d.limit is None:
            continue
        if d.window is not None:
            d.roll(now, rules)
            if d.win_used > 0 and d.win_used + costs[name] > d.window:
                d.win_waited = True
                waits.append((d.win_index + 1) * rules.period - now + 0.01)
            continue
        if state.episode == 0:  # while refusals go on, the bucket is known empty: no growth
            _grow(d, now, rules)
        need = min(costs[name], d.capacity(rules))
        if d.level < need - 1e-9:
            wait = (need - d.level) / d.rate(rules)
            d.waited = now + wait  # binding until then at least
            waits.append(wait)
    if not state.known() and state.inflight and len(state.inflight) >= 2 + 2 * state.successes:
        return 0.05  # ramping up: another call in flight settles soon
    if waits:
        return max(max(waits), 0.001)
    for name in DIMENSIONS:
        d = state.dim(name)
        if d.limit is not None:
            d.level -= costs[name]
        if d.window is not None:
            d.win_used += costs[name]
        d.record(now, costs[name], rules)
    state.inflight[member] = now
    return 0.0


def _grow(d: DimState, now: float, rules: QuotaRules) -> None:
    """A limit that holds calls back and has not refused for a while grows."""
    assert d.limit is not None
    dt = min(5.0, max(0.0, now - d.grown))
    d.grown = now
    if now - d.waited > 1.0:
        return  # not what holds calls back: no reason to raise it
    quiet = now - d.cut
    if quiet < rules.probe_after:
        return
    gain = rules.increase * min((quiet / rules.probe_after) ** 2, 4.0)
    if d.refused is not None and d.limit >= rules.margin * d.refused:
        gain = rules.increase * rules.above_refused  # about 1% a minute
    grown = d.limit * (1.0 + gain * dt)
    if d.ceiling is not None:
        grown = min(grown, rules.margin * d.ceiling)
    d.limit = max(d.limit, grown)


def settle(
    state: QuotaState, now: float, member: str, hold: float, used: float, rules: QuotaRules
) -> None:
    """A call ended: tokens it held beyond ``used`` go back (``used`` 0: it never ran)."""
    started = state.inflight.pop(member, None)
    if started is None:
        return
    # Output is charged x burndown: a call may settle above what it held (the bucket goes
    # down further), or below (the rest goes back).
    refund = hold - used if used > 0 else hold
    d = state.tokens
    d.refill(now, rules)
    if d.limit is not None:
        d.level = min(d.capacity(rules), d.level + refund)
    if d.window is not None:
        d.roll(now, rules)
        if int(started // rules.period) == d.win_index:
            d.win_used = max(0.0, d.win_used - refund)
    if used <= 0 and state.requests.window is not None:
        r = state.requests
        r.roll(now, rules)
        if int(started // rules.period) == r.win_index:
            r.win_used = max(0.0, r.win_used - 1.0)  # it never reached Bedrock
    d.record(now, -refund, rules)
    if used > 0:
        state.successes += 1
        if started > state.last_throttle:
            if state.episode > 0:
                _episode_ended(state, started, now, rules)
            state.episode = 0  # accepted after the last refusal: the bucket had refilled


def _episode_ended(state: QuotaState, started: float, now: float, rules: QuotaRules) -> None:
    """Refusals ended with a call started at ``started``: across a boundary of the clock's
    period (a window that reset), or within it (a bucket that refilled). Two episodes in a
    row ending across a boundary (or three of the last four) make the dimension a window of
    what the last period consumed."""
    crossed = int(started // rules.period) > int(state.last_throttle // rules.period)
    for name in state.episode_dims:
        d = state.dim(name)
        d.crossings = [*d.crossings[-3:], 1.0 if crossed else 0.0]
        if d.window is not None or d.limit is None:
            continue
        if d.crossings[-2:] == [1.0, 1.0] or sum(d.crossings) >= 3:
            boundary = int(started // rules.period) * rules.period
            before = d.recent(boundary, rules) if now - boundary < rules.slot else None
            held = max(d.refused or 0.0, before or 0.0, d.limit / rules.margin, d.largest)
            d.window = held
            d.win_index = int(now // rules.period)
            d.win_used = d.since(boundary, now, rules)
            d.win_waited = d.win_refused = False


def _window_refused(d: DimState, now: float, rules: QuotaRules) -> bool:
    """A refusal of a dimension taken for a clock window. False when it says the quota is not
    one after all (refused far below what windows held): back to the bucket."""
    assert d.window is not None
    d.roll(now, rules)
    if d.win_used < 0.5 * d.window:
        d.window = None
        d.crossings.clear()
        return False
    # Bedrock refused what the window held plus this call: settle on what it held.
    if not d.win_refused:
        # A little under: the holds counted here are estimates of Bedrock's.
        d.window = max(0.99 * d.win_used, d.largest)
        d.limit = rules.margin * d.window
        d.cut = now
    d.win_refused = True
    d.win_used = max(d.win_used, d.window)  # nothing more until the next window
    return True


def throttled(
    state: QuotaState,
    now: float,
    member: str,
    hold: float,
    dims: tuple[str, ...],
    rules: QuotaRules,
) -> None:
    """Bedrock refused a call (429) on ``dims``: it took nothing for it, and the refused
    dimensions' buckets are empty now.

    The first refusal of an episode lowers the refused limits; later ones (a window spent
    until it resets) only space the next tries out, four times as far each time, never beyond
    a quarter of a period."""
    started = state.inflight.pop(member, None)
    state.throttles += 1
    costs = _costs(hold)
    for name in DIMENSIONS:
        d = state.dim(name)
        d.refill(now, rules)
        if started is not None:
            d.record(now, -costs[name], rules)  # refused: not consumed
    repeated = state.episode > 0 and started is not None and started > state.last_throttle
    fresh = state.episode == 0
    if fresh:
        state.episode_dims = list(dims)
    if fresh or repeated:
        state.episode += 1
    state.last_throttle = max(state.last_throttle, started if started is not None else now)
    for name in dims:
        d = state.dim(name)
        d.level = min(d.level, 0.0)
        if d.window is not None and started is not None and _window_refused(d, now, rules):
            continue
        if repeated and d.limit is None:
            # Refusals go on with no limit known: fewer calls in flight each time, and once
            # enough was accepted, the episode is real: learn from it.
            state.successes //= 2
            if d.recent(now, rules) >= CONCLUSIVE * d.largest:
                _lower(state, d, name, now, rules)
            continue
        if repeated and d.limit is not None:
            back = costs[name] * (4.0 ** min(state.episode - 1, 4) - 1.0)
            d.level = max(d.level - back, -0.25 * d.limit)
            continue
        if not fresh or now - d.cut < rules.cooldown:
            continue  # the same burst of refusals
        elapsed = now - (state.first if state.first is not None else now)
        if d.recent(now, rules) < CONCLUSIVE * d.largest or elapsed < rules.period / 6:
            # Too little was accepted, or too early, to say anything of the limit (a bucket
            # that others had spent, a passing 429): fewer calls in flight, and the call backs
            # off; nothing is set that would pace the run at a crawl.
            state.successes //= 2
            if d.limit is not None:
                d.limit = max(d.limit * rules.decrease, d.largest)
                d.cut = now
            continue
        _lower(state, d, name, now, rules)


def _lower(state: QuotaState, d: DimState, name: str, now: float, rules: QuotaRules) -> None:
    raw = d.recent(now, rules)
    recent = raw
    elapsed = now - (state.first if state.first is not None else now)
    if elapsed < rules.period:
        # Bedrock's bucket starts full: what the run took so far is at most the limit plus
        # what refilled meanwhile (a window would have taken the limit: growth finds it).
        recent *= rules.period / (rules.period + elapsed)
    floor = d.largest if name == T else 1.0
    learned = max(rules.margin * recent, floor)
    if d.limit is not None:
        learned = min(learned, max(d.limit * rules.decrease, floor))
    if d.ceiling is not None:
        learned = min(learned, rules.margin * d.ceiling)
    first = d.limit is None
    d.limit = max(learned, floor)
    # A first refusal, or one within the first period, does not say the level (a bucket that
    # started full, a window, a passing 429 on a dimension that does not bind): growth finds
    # it quickly, and the next refusal says it.
    d.refused = max(raw, floor) if elapsed >= rules.period and not first else None
    d.cut = now
    d.level = min(d.level, 0.0)


def estimate(state: QuotaState, now: float, count: int, tokens: float, rules: QuotaRules) -> float:
    """About how long until ``count`` calls holding ``tokens`` could all have started (for the
    calls queued behind the first; nothing changes)."""
    waits = [0.0]
    for name, cost in ((R, float(count)), (T, tokens)):
        d = state.dim(name)
        if d.limit is None:
            continue
        level = min(d.capacity(rules), d.level + max(0.0, now - d.at) * d.rate(rules))
        waits.append((cost - level) / d.rate(rules))
    return max(waits)


def scope_of(model_id: str) -> str:
    """The quota scope a model id is called in: every geographic profile of a model shares the
    "Cross-region" quota, ``global.`` has its own, a base id its "On-demand" one."""
    head, _, rest = model_id.partition(".")
    if head in GEO_PREFIXES and rest:
        return f"global:{rest}" if head == "global" else f"cross-region:{rest}"
    return f"on-demand:{model_id}"


def throttle_dims(message: str) -> tuple[str, ...]:
    """Which dimension a ThrottlingException refused, from its message; both when unsaid."""
    text = message.lower()
    if "too many tokens" in text or "tokens per minute" in text:
        return (T,)
    if "too many requests" in text or "requests per minute" in text:
        return (R,)
    return DIMENSIONS


S = TypeVar("S")


class QuotaCell(Protocol):
    """Where a quota's state lives; ``transact`` runs ``fn(state, now)`` atomically and keeps
    what it changed; ``peek`` runs a function that only reads."""

    def transact(self, fn: Callable[[QuotaState, float], S]) -> S: ...

    def peek(self, fn: Callable[[QuotaState, float], S]) -> S: ...


class LocalCell:
    """The state in this process's memory."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.state = QuotaState()
        self._clock = clock
        self._lock = threading.Lock()

    def transact(self, fn: Callable[[QuotaState, float], S]) -> S:
        with self._lock:
            return fn(self.state, self._clock())

    peek = transact


@dataclass
class _Ticket:
    hold: float
    input_estimate: float
    member: str
    started: bool = False
    start: float = 0.0


class ModelQuota:
    """The quota of one (model, scope) as the engine uses it: reserve a call, ask whether it
    may start, tell how it ended. Calls of this process start in the order they were reserved.
    """

    def __init__(
        self,
        model_id: str,
        *,
        limits: QuotaLimits | None = None,
        burndown: float = 5.0,
        rules: QuotaRules | None = None,
        cell: QuotaCell | None = None,
        clock: Callable[[], float] = time.time,
        storm_after: int = 3,
        storm_span: float = 0.05,
        aside_for: float = 30.0,
        aside_max: float = 300.0,
        owner: str = "local",
    ) -> None:
        self.model_id = model_id
        self.rules = rules or QuotaRules()
        self.burndown = burndown
        self._clock = clock
        self.cell: QuotaCell = cell or LocalCell(clock)
        self.limits = limits or QuotaLimits()
        if limits is not None and (limits.rpm or limits.tpm):
            self.cell.transact(lambda s, now: apply_limits(s, limits, now, self.rules))
        self._lock = threading.Lock()
        self._tickets: dict[int, _Ticket] = {}
        self._queue: deque[int] = deque()
        self._ids = 0
        self._owner = owner
        self._input_scale = 1.0
        self._expected_output: float | None = None
        self.settled_calls = 0
        """Calls that ended (waiters may look again)."""
        self.calls = 0
        self.throttles = 0
        self.streak = 0
        self._streak_since = 0.0
        self._throttle_latency = 0.05
        self.storm_after = storm_after
        self.storm_span = storm_span
        self.aside_base = aside_for
        self.aside_max = aside_max
        self.aside_until: float | None = None
        self._aside_len = aside_for
        self._probing = False

    # -- what the engine reads ---------------------------------------------------------------
    def snapshot(self) -> QuotaState:
        return self.cell.peek(lambda s, _now: QuotaState.from_dict(s.to_dict()))

    @property
    def rate(self) -> float | None:
        """Tokens per second paced to, or None while the token limit is unknown."""
        limit = self.snapshot().tokens.limit
        return limit / self.rules.period if limit is not None else None

    def paced(self) -> bool:
        """True when some limit is known (the quota paces calls, no blind backoff needed)."""
        return self.snapshot().known()

    def describe(self) -> str:
        s = self.snapshot()
        parts = []
        for name, unit in ((R, "requests"), (T, "tokens")):
            d = s.dim(name)
            if d.limit is not None:
                per = 60.0 / self.rules.period
                parts.append(f"{d.limit * per:,.0f} {unit}/min")
        return ", ".join(parts) or "not binding yet"

    # -- cost model ------------------------------------------------------------------------
    def hold_and_cost(self, input_estimate: int, max_tokens: int) -> tuple[float, float]:
        """What Bedrock holds for a call (input + maxTokens) and what it settles to."""
        tokens = input_estimate * self._input_scale
        expected = self._expected_output if self._expected_output is not None else max_tokens / 4
        return tokens + max_tokens, tokens + min(expected, max_tokens) * self.burndown

    def settled(self, input_tokens: int, output_tokens: int) -> float:
        return input_tokens + output_tokens * self.burndown

    # -- the call's life -------------------------------------------------------------------
    def reserve(self, input_estimate: int, max_tokens: int) -> int:
        """Queue a call; :meth:`admit` says when it may start."""
        with self._lock:
            hold, _ = self.hold_and_cost(input_estimate, max_tokens)
            self._ids += 1
            member = f"{self._owner}:{id(self)}:{self._ids}"
            self._tickets[self._ids] = _Ticket(hold, float(input_estimate), member)
            self._queue.append(self._ids)
            self.calls += 1
            return self._ids

    def admit(self, ticket: int) -> float:
        """0 when the call may start now; otherwise about how long until it may (ask again
        then, or sooner when a call settles)."""
        with self._lock:
            call = self._tickets.get(ticket)
            if call is None or call.started:
                return 0.0
            ahead = list(itertools.takewhile(lambda t: t != ticket, self._queue))
            if ahead:
                # Calls start in order: this one waits at least as long as those before it.
                holds = sum(self._tickets[t].hold for t in ahead) + call.hold
                count = len(ahead) + 1
        if ahead:
            later = self.cell.peek(lambda s, now: estimate(s, now, count, holds, self.rules))
            return max(later, 0.02)
        wait = self.cell.transact(
            lambda s, now: try_admit(s, now, call.member, call.hold, self.rules)
        )
        if wait > 0:
            return wait
        with self._lock:
            call.started = True
            call.start = self._clock()
            if ticket in self._queue:
                self._queue.remove(ticket)
        return 0.0

    def _end(self, ticket: int, used: float) -> _Ticket | None:
        with self._lock:
            call = self._tickets.pop(ticket, None)
            if call is None:
                return None
            if not call.started:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                return call
        self.cell.transact(lambda s, now: settle(s, now, call.member, call.hold, used, self.rules))
        with self._lock:
            self.settled_calls += 1
        return call

    def cancel(self, ticket: int) -> None:
        """A call that never started, or never reached Bedrock (stopped, set aside, cancelled):
        everything it held goes back."""
        self._end(ticket, 0.0)

    def on_error(self, ticket: int) -> None:
        """A call that failed for another reason than throttling (Bedrock took no tokens)."""
        self._end(ticket, 0.0)
        with self._lock:
            self._probing = False

    def on_success(self, ticket: int, input_tokens: int, output_tokens: int) -> None:
        used = max(self.settled(input_tokens, output_tokens), 1.0)
        call = self._end(ticket, used)
        with self._lock:
            if call is not None and call.input_estimate > 0 and input_tokens > 0:
                ratio = input_tokens / call.input_estimate
                self._input_scale = 0.7 * self._input_scale + 0.3 * ratio
            out = float(output_tokens)
            self._expected_output = (
                out if self._expected_output is None else 0.8 * self._expected_output + 0.2 * out
            )
            self.streak = 0
            self.aside_until = None
            self._aside_len = self.aside_base
            self._probing = False

    def on_throttle(self, ticket: int, message: str = "") -> bool:
        """Learn from a 429. Returns True when this throttle set the model aside."""
        with self._lock:
            call = self._tickets.pop(ticket, None)
            if call is not None and ticket in self._queue:
                self._queue.remove(ticket)
        now = self._clock()
        if call is not None:
            dims = throttle_dims(message)
            hold = call.hold
            self.cell.transact(lambda s, t: throttled(s, t, call.member, hold, dims, self.rules))
        with self._lock:
            self.settled_calls += 1
            self.throttles += 1
            if call is not None and call.started:
                latency = now - call.start
                self._throttle_latency = max(0.01, 0.8 * self._throttle_latency + 0.2 * latency)
            if self.streak == 0:
                self._streak_since = now
            self.streak += 1
            return self._storm(now)

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
        if any(t.started and now - t.start > horizon for t in self._tickets.values()):
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

    def in_flight(self) -> int:
        """Calls of this process started and not ended."""
        with self._lock:
            return sum(1 for t in self._tickets.values() if t.started)


class QuotaBook:
    """One :class:`ModelQuota` per quota scope called (a throttle on one model never slows
    another; ``us.`` and ``eu.`` profiles of one model share theirs, as on Bedrock)."""

    def __init__(
        self,
        *,
        limits: Callable[[str], QuotaLimits | None] = lambda _m: None,
        burndown: Callable[[str], float] = lambda _m: 5.0,
        clock: Callable[[], float] = time.time,
        rules: QuotaRules | None = None,
        make: Callable[..., ModelQuota] | None = None,
    ) -> None:
        """``make`` builds each scope's quota (default :class:`ModelQuota`; workers share
        theirs through Redis)."""
        self._make = make or ModelQuota
        self._limits = limits
        self._burndown = burndown
        self._clock = clock
        self._rules = rules
        self._quotas: dict[str, ModelQuota] = {}
        self._lock = threading.Lock()

    def __getitem__(self, model_id: str) -> ModelQuota:
        scope = scope_of(model_id)
        with self._lock:
            quota = self._quotas.get(scope)
            if quota is None:
                kwargs: dict[str, Any] = {
                    "limits": self._limits(model_id),
                    "burndown": self._burndown(model_id),
                    "clock": self._clock,
                }
                if self._rules is not None:
                    kwargs["rules"] = self._rules
                quota = self._make(scope, **kwargs)
                self._quotas[scope] = quota
            return quota

    def items(self) -> list[tuple[str, ModelQuota]]:
        with self._lock:
            return sorted(self._quotas.items())

    def __iter__(self) -> Iterator[ModelQuota]:
        return iter([q for _s, q in self.items()])

"""A deterministic simulation of Bedrock's quotas, driving the real model engine in virtual time.

* :class:`SimClock` is the engine's :class:`~prism_cli.engine.engine.Timer`: threads that take part
  (``spawn``) run for real, but every wait (the engine's condition waits, a simulated call's
  latency) is in virtual time, and the clock jumps to the next wake-up as soon as every
  participant is waiting. Minutes of quota pacing run in milliseconds.
* :class:`SimQuota` is Bedrock's side of one (model, scope) quota: requests and tokens per
  period, each a continuously refilled bucket (starting full) or a clock-aligned window; a call
  reserves one request and input + maxTokens when it starts and settles its tokens to input +
  output x burndown when it ends. A refusal says which dimension ("Too many requests" /
  "Too many tokens"), as Bedrock's ThrottlingException does.
* :class:`SimBedrock` is a :class:`~prism_cli.core.ports.ModelPort` over it, with latency and
  output-length distributions, random 429s and 5xx.
* :func:`simulate` runs sections through one or several engines (processes) sharing a quota,
  and measures throughput against the binding limit, refused calls, and stalls.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prism_cli.core.ports import ErrorKind, ModelCallError, ModelResponse, Usage
from prism_cli.engine.catalog import ModelInfo, ResolvedModel
from prism_cli.engine.engine import ChainExhausted, ModelEngine
from prism_cli.engine.quota import LocalCell, ModelQuota, QuotaBook, QuotaRules
from prism_cli.engine.requests import Ask


class _Sleeper:
    __slots__ = ("cond", "done", "event", "seq", "wake")

    def __init__(self, wake: float, cond: threading.Condition | None, seq: int = 0) -> None:
        self.wake = wake
        self.seq = seq
        self.cond = cond
        self.done = False
        self.event = threading.Event()


class SimClock:
    """Virtual time for a set of participant threads (see the module).

    One participant runs at a time (a baton): a woken thread is made ready, and runs when the
    one running blocks or ends, in the order they were made ready (wake-up time, then the
    order they went to sleep). Nothing then depends on how the host schedules threads: the
    same seed gives the same run, on an idle machine or a loaded CI runner alike."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._active = 0
        self._heap: list[tuple[float, int, _Sleeper]] = []
        self._ready: list[_Sleeper] = []
        self._seq = itertools.count()
        self._by_cond: dict[int, set[_Sleeper]] = {}
        self.wakeups = 0

    def now(self) -> float:
        return self._now

    def spawn(self, target: Callable[[], None]) -> threading.Thread:
        """A participant; it starts when the baton reaches it, after :meth:`begin`."""
        gate = _Sleeper(self._now, None)

        def run() -> None:
            gate.event.wait()
            try:
                target()
            finally:
                with self._lock:
                    self._active -= 1
                    self._advance()

        with self._lock:
            gate.done = True
            self._ready.append(gate)
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def begin(self) -> None:
        """Start the participants spawned so far (all of them before time moves: one that
        blocked before another was spawned would otherwise move time on without it)."""
        with self._lock:
            self._advance()

    def _block(self, wake: float, cond: threading.Condition | None) -> _Sleeper:
        sleeper = _Sleeper(wake, cond, next(self._seq))
        heapq.heappush(self._heap, (wake, sleeper.seq, sleeper))
        if cond is not None:
            self._by_cond.setdefault(id(cond), set()).add(sleeper)
        self._active -= 1
        self._advance()
        return sleeper

    def _wake(self, sleeper: _Sleeper) -> None:
        """Make ``sleeper`` ready (it runs when the baton reaches it)."""
        if sleeper.done:
            return
        sleeper.done = True
        self.wakeups += 1
        if sleeper.cond is not None:
            self._by_cond.get(id(sleeper.cond), set()).discard(sleeper)
        self._ready.append(sleeper)

    def _advance(self) -> None:
        """With no participant running: run the next ready one, or move time to the next
        wake-up and make everything due then ready."""
        if self._active:
            return
        if not self._ready:
            while self._heap and not self._ready:
                wake, _, sleeper = heapq.heappop(self._heap)
                if sleeper.done:
                    continue
                self._now = max(self._now, wake)
                self._wake(sleeper)
            while self._heap and self._heap[0][0] <= self._now:
                _, _, other = heapq.heappop(self._heap)
                self._wake(other)
        if self._ready:
            nxt = self._ready.pop(0)
            self._active += 1
            nxt.event.set()

    def sleep(self, seconds: float) -> None:
        with self._lock:
            sleeper = self._block(self._now + max(seconds, 0.0), None)
        sleeper.event.wait()

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        with self._lock:
            sleeper = self._block(self._now + max(timeout, 0.0), cond)
        cond.release()
        try:
            sleeper.event.wait()
        finally:
            cond.acquire()

    def notify_all(self, cond: threading.Condition) -> None:
        with self._lock:
            # In the order they went to sleep (a set's order is the objects' addresses).
            for sleeper in sorted(self._by_cond.get(id(cond), ()), key=lambda s: s.seq):
                self._wake(sleeper)
        cond.notify_all()


@dataclass
class _Dim:
    limit: float
    mode: str  # bucket | window
    level: float = 0.0
    at: float = 0.0
    window: int = -1


class SimQuota:
    """Bedrock's quota of one (model, scope): ``rpm`` and ``tpm`` per ``period`` seconds."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        rpm_mode: str = "bucket",
        tpm_mode: str = "bucket",
        period: float = 60.0,
        start_level: float = 1.0,
    ) -> None:
        """``start_level``: the share of each bucket left when the run starts (other traffic
        of the account may have spent the rest)."""
        self.clock = clock
        self.period = period
        self.dims: dict[str, _Dim] = {}
        now = clock()
        if rpm:
            self.dims["requests"] = _Dim(rpm, rpm_mode, rpm * start_level, now)
        if tpm:
            self.dims["tokens"] = _Dim(tpm, tpm_mode, tpm * start_level, now)
        self._lock = threading.Lock()

    def _roll(self, d: _Dim, now: float) -> None:
        if d.mode == "bucket":
            d.level = min(d.limit, d.level + (now - d.at) * d.limit / self.period)
            d.at = now
        else:
            window = int(now // self.period)
            if window != d.window:
                d.window, d.level = window, d.limit

    def reserve(self, hold: float) -> tuple[str | None, int]:
        """(refused dimension or None, the tokens window the hold was taken in)."""
        now = self.clock()
        with self._lock:
            costs = {"requests": 1.0, "tokens": hold}
            for name, d in self.dims.items():
                self._roll(d, now)
                if d.level < costs[name]:
                    return name, -1
            for name, d in self.dims.items():
                d.level -= costs[name]
            tokens = self.dims.get("tokens")
            return None, tokens.window if tokens is not None else -1

    def settle(self, refund: float, window: int) -> None:
        d = self.dims.get("tokens")
        if d is None:
            return
        with self._lock:
            self._roll(d, self.clock())
            if d.mode == "window" and d.window != window:
                return  # the hold's window is over
            d.level = min(d.limit, d.level + refund)


@dataclass
class CallRecord:
    start: float
    end: float
    ok: bool
    refused: str | None = None
    settled: float = 0.0


def input_tokens(body: dict[str, Any]) -> int:
    return len(json.dumps(body)) // 4


class SimBedrock:
    """A :class:`ModelPort` over a :class:`SimQuota` (one scope for every model id called)."""

    def __init__(
        self,
        clock: SimClock,
        quota: SimQuota,
        *,
        latency: Callable[[random.Random], float],
        output: Callable[[random.Random], int],
        rng: random.Random,
        random_429: float = 0.0,
        random_5xx: float = 0.0,
        burndown: float = 5.0,
        refusal_latency: float = 0.02,
    ) -> None:
        self.clock = clock
        self.quota = quota
        self.latency = latency
        self.output = output
        self.rng = rng
        self.random_429 = random_429
        self.random_5xx = random_5xx
        self.burndown = burndown
        self.refusal_latency = refusal_latency
        self.records: list[CallRecord] = []
        self._lock = threading.Lock()

    def converse(self, model_id: str, request: dict[str, Any]) -> ModelResponse:
        start = self.clock.now()
        with self._lock:
            roll = self.rng.random()
            latency = self.latency(self.rng)
            out = self.output(self.rng)
        max_tokens = int(request["inferenceConfig"]["maxTokens"])
        tokens_in = input_tokens(request)
        if roll < self.random_5xx:
            self.clock.sleep(self.refusal_latency)
            self._log(CallRecord(start, self.clock.now(), False))
            raise ModelCallError(ErrorKind.UNAVAILABLE, "Service unavailable (simulated)")
        refused, window = self.quota.reserve(tokens_in + max_tokens)
        if refused is None and roll > 1.0 - self.random_429:
            refused = "random"
        if refused is not None:
            self.clock.sleep(self.refusal_latency)
            self._log(CallRecord(start, self.clock.now(), False, refused))
            word = "tokens" if refused == "tokens" else "requests"
            raise ModelCallError(
                ErrorKind.THROTTLED, f"Too many {word}, please wait before trying again."
            )
        out = min(out, max_tokens)
        self.clock.sleep(latency)
        used = tokens_in + out * self.burndown
        self.quota.settle(max_tokens - out * self.burndown, window)
        self._log(CallRecord(start, self.clock.now(), True, None, used))
        content = [{"toolUse": {"toolUseId": "t", "name": "record_findings",
                                "input": {"findings": []}}}]  # fmt: skip
        return ModelResponse(content, "tool_use", Usage(1, tokens_in, out))

    def _log(self, record: CallRecord) -> None:
        with self._lock:
            self.records.append(record)

    def stream(self, model_id: str, request: dict[str, Any]) -> Any:
        raise NotImplementedError

    def count_tokens(self, model_id: str, request: dict[str, Any]) -> int | None:
        return None


SIM_MODEL = ModelInfo(
    key="sim",
    name="Sim",
    base_id="anthropic.claude-sim",
    profiles=("us",),
    thinking="none",
    sampling=False,
    forced_tool=True,
    structured_output=False,
    max_output=64_000,
)
SCHEMA = {"type": "object", "properties": {"findings": {"type": "array"}}}


@dataclass
class Shape:
    """A quota shape and a workload."""

    rpm: float | None = None
    tpm: float | None = None
    rpm_mode: str = "bucket"
    tpm_mode: str = "bucket"
    input_chars: int = 2400
    """Characters of section text per call (about a quarter of that in tokens)."""
    max_tokens: int = 2000
    output: tuple[int, int] = (200, 400)
    latency: tuple[float, float] = (0.2, 0.6)
    start_level: float = 1.0
    """Share of Bedrock's buckets left at the start (a bucket quota only)."""


@dataclass
class Outcome:
    sections: int
    finished: int
    failed: int
    calls: int
    refused: int
    quota_refused: int
    duration: float
    throughput: float
    """Accepted calls per minute once learned, over the ideal (the binding limit)."""
    ideal: float
    longest_idle: float
    """Longest time with sections left and no call in flight."""
    wakeups: int
    windows: dict[str, bool] = field(default_factory=dict)
    """Dimension -> whether the (first process's) limiter took it for a clock window."""
    records: list[CallRecord] = field(repr=False, default_factory=list)

    @property
    def refused_share(self) -> float:
        return self.refused / max(self.calls, 1)


def simulate(
    shape: Shape,
    *,
    concurrency: int,
    processes: int = 1,
    sections: int | None = None,
    minutes: float = 5.0,
    seed: int = 7,
    random_429: float = 0.0,
    random_5xx: float = 0.0,
    rules: QuotaRules | None = None,
    make_quota: Callable[..., ModelQuota] | None = None,
    start: float = 1_000.0,
    learn: float = 60.0,
) -> Outcome:
    """Review ``sections`` (enough for about ``minutes`` at the ideal rate by default) with
    ``processes`` engines of ``concurrency`` threads each, sharing one Bedrock quota (and, for
    several processes, one limiter state: the shared limiter of queue workers)."""
    rng = random.Random(seed)
    clock = SimClock(start + rng.uniform(0, 60))  # any phase of the clock minute
    quota = SimQuota(
        clock.now, rpm=shape.rpm, tpm=shape.tpm, rpm_mode=shape.rpm_mode,
        tpm_mode=shape.tpm_mode, start_level=shape.start_level,
    )  # fmt: skip
    lo, hi = shape.latency
    olo, ohi = shape.output
    port = SimBedrock(
        clock,
        quota,
        latency=lambda r: r.uniform(lo, hi),
        output=lambda r: r.randint(olo, ohi),
        rng=random.Random(seed + 1),
        random_429=random_429,
        random_5xx=random_5xx,
    )
    text = "x" * shape.input_chars
    body_tokens = shape.input_chars // 4 + 60
    settled = body_tokens + (olo + ohi) / 2 * 5.0
    mean_latency = (lo + hi) / 2
    limits = [concurrency * processes * 60.0 / mean_latency]
    if shape.rpm:
        limits.append(shape.rpm)
    if shape.tpm:
        limits.append(shape.tpm / settled)
    ideal = min(limits)
    total = sections if sections is not None else max(20, int(ideal * minutes))
    work = list(range(total))
    work_lock = threading.Lock()
    done: list[int] = []
    failed: list[int] = []
    drained: list[float] = []

    cells: dict[str, LocalCell] = {}

    def shared(scope: str, **kw: Any) -> ModelQuota:
        cell = cells.setdefault(scope, LocalCell(clock.now))
        return ModelQuota(scope, cell=cell, **kw)

    model = ResolvedModel(SIM_MODEL, "us.anthropic.claude-sim", "us")
    engines = []
    for p in range(processes):
        book = QuotaBook(
            clock=clock.now,
            rules=rules,
            make=make_quota or (shared if processes > 1 else None),
        )
        engines.append(
            ModelEngine(port, [model], quotas=book, timer=clock, rng=random.Random(seed + 10 + p))
        )

    ask = Ask(
        system=lambda _structured: "Review the section.",
        messages=[{"role": "user", "content": [{"text": text}]}],
        max_tokens=shape.max_tokens,
        schema=SCHEMA,
        cacheable=False,
    )

    def worker(engine: ModelEngine) -> None:
        while True:
            with work_lock:
                if not work:
                    if not drained:
                        drained.append(clock.now())
                    return
                item = work.pop()
            try:
                engine.converse(ask, lambda _r, _s: None)
            except ChainExhausted:
                with work_lock:
                    failed.append(item)
                continue
            with work_lock:
                done.append(item)

    began = clock.now()
    threads = [
        clock.spawn(lambda e=engine: worker(e)) for engine in engines for _ in range(concurrency)
    ]
    clock.begin()
    for thread in threads:
        thread.join(timeout=120)
        if thread.is_alive():
            raise RuntimeError("simulation did not finish (a participant is blocked for real)")
    end = clock.now()
    records = sorted(port.records, key=lambda r: r.start)
    last_start = drained[0] if drained else end
    t0 = began + learn
    window_end = max(last_start, t0 + 1.0)
    accepted = [r for r in records if r.ok and t0 <= r.start < window_end]
    throughput = len(accepted) / ((window_end - t0) / 60.0) / ideal if accepted else 0.0
    idle = _longest_idle(records, began, end)
    refused = [r for r in records if r.refused is not None]
    state = engines[0].quotas["us.anthropic.claude-sim"].snapshot()
    windows = {name: state.dim(name).window is not None for name in ("requests", "tokens")}
    return Outcome(
        sections=total,
        finished=len(done),
        failed=len(failed),
        calls=len(records),
        refused=len(refused),
        quota_refused=sum(1 for r in refused if r.refused != "random"),
        duration=end - began,
        throughput=throughput,
        ideal=ideal,
        longest_idle=idle,
        wakeups=clock.wakeups,
        windows=windows,
        records=records,
    )


def _longest_idle(records: list[CallRecord], began: float, end: float) -> float:
    longest = 0.0
    covered = began
    for record in records:
        if record.start > covered:
            longest = max(longest, record.start - covered)
        covered = max(covered, record.end)
    return max(longest, 0.0 if math.isclose(covered, end) else end - covered)

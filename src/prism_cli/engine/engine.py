"""The model engine: one way to call Claude through the fallback chain, for every caller.

``review`` uses it for each chunk, ``chat`` and queue workers will use it next. It owns what
every call needs and no caller should copy:

* the chain walk: retries with backoff (BEDROCK.md's table, :class:`RetryPolicy`), the remap of
  a base id refused on demand to the region's profile, models set aside for the run (denied,
  unknown, past end of life, invalid id: learned from one call, not one per section) or for a
  cooldown (throttling every call);
* each model's request rules (:mod:`engine.requests`) and the adaptations learned when Bedrock
  refuses a field, remembered for the run;
* quotas in requests and tokens per (model, scope) (:class:`QuotaBook`), paced from known limits
  or learned from 429s; a waiting call says so (``wait`` events) and ends at once on stop;
* outcomes that are not failures of a section: a safety refusal (``stopReason`` refusal) is
  recorded and the next model tried; an account setting a model needs (data retention) sets
  that model aside for the run with one line saying what to change;
* stopping: after :meth:`ModelEngine.stop` no call starts and every wait (first-call gate, rate
  slot, backoff) ends at once with :class:`Stopped`; calls in flight finish;
* usage per model id, and one note per model set aside (why, and which model took over).

``converse`` returns a validated answer (a ``parse`` callback, one repair turn on invalid
output, then the next model); ``stream`` yields typed events, choosing the model before the
first token.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, Generic, Protocol, TypeVar

from prism_cli.core.ports import (
    ErrorKind,
    ModelCallError,
    ModelChosen,
    ModelPort,
    ModelResponse,
    StoreError,
    StreamEvent,
    StreamUsage,
    Usage,
)
from prism_cli.engine.catalog import ModelInfo, ResolvedModel, strip_geography
from prism_cli.engine.fallback import Action, RetryPolicy
from prism_cli.engine.quota import ModelQuota, QuotaBook, QuotaLimits, QuotaRules
from prism_cli.engine.requests import (
    Adaptation,
    Ask,
    Built,
    Thinking,
    adaptation_for,
    build_request,
)
from prism_cli.errors import EngineFailure, OutputError, Stopped

T = TypeVar("T")


class InputTooLong(EngineFailure):
    """The input does not fit the model's context window: the caller should split it."""


class RequestRefused(EngineFailure):
    """Bedrock refused the request itself (a ValidationException prism cannot adapt to)."""


class ChainExhausted(EngineFailure):
    """No model of the chain produced an answer; ``str()`` says the last error."""


REFUSED = "refused by the model"
"""Why a section failed when every model refused it on safety grounds."""


def is_refusal(stop_reason: str) -> bool:
    """A safety refusal returned as a normal answer (Anthropic's ``refusal``; Converse's spelling
    is not documented, so any stop reason naming a refusal)."""
    return "refus" in stop_reason.lower()


class Timer(Protocol):
    """The engine's time: what it reads and how it waits. Tests drive it in virtual time."""

    def now(self) -> float: ...

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        """Wait on ``cond`` (held) up to ``timeout`` seconds or until notified."""
        ...

    def notify_all(self, cond: threading.Condition) -> None:
        """Wake every waiter of ``cond`` (held)."""
        ...


class RealTimer:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def wait(self, cond: threading.Condition, timeout: float) -> None:
        cond.wait(min(max(timeout, 0.0), 0.25))

    def notify_all(self, cond: threading.Condition) -> None:
        cond.notify_all()


@dataclass
class EngineEvent:
    """Something that happened on the way to an answer, for the activity log and ``-v``."""

    kind: str
    model: str | None
    detail: str
    at: float = field(default_factory=time.time)
    data: dict[str, Any] = field(default_factory=dict)
    """Structured facts for telemetry: a call's latency and tokens, an error's class."""


@dataclass
class Answer(Generic[T]):
    value: T
    model_id: str
    response: ModelResponse
    thinking: str | None
    attempts: int
    usage: dict[str, Usage]
    events: list[EngineEvent]


@dataclass
class SetAside:
    model_id: str
    reason: str
    for_run: bool
    replaced_by: str | None = None

    def note(self) -> str:
        how = "for this run" if self.for_run else "for a cooldown"
        took = f"{self.replaced_by} took over" if self.replaced_by else "no other model took over"
        return f"{self.model_id}: {self.reason}; set aside {how}; {took}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "reason": self.reason,
            "for_run": self.for_run,
            "replaced_by": self.replaced_by,
        }


class _Remapped(Exception):
    def __init__(self, model_id: str) -> None:
        self.model_id = model_id


class _Skipped(Exception):
    pass


class _Aside(Exception):
    pass


class _CallFailed(Exception):
    def __init__(self, err: ModelCallError, built: Built) -> None:
        self.err = err
        self.built = built


def _input_estimate(body: dict[str, Any]) -> int:
    """Input tokens of a request, roughly (the quota calibrates it on real answers)."""
    return len(json.dumps(body, ensure_ascii=False)) // 4


class StepKind(Enum):
    RETRY = "retry"
    """The same model again, after a back-off."""
    NEXT = "next"
    """The next model of the chain."""
    ADAPTED = "adapted"
    """The same model again at once: the request was adapted to what it refused."""
    REMAP = "remap"
    """Another id for the same model (its inference profile), at once."""
    SPLIT = "split"
    """The input is too large for any model: the caller splits it."""
    FAIL = "fail"
    """The request is wrong and no model would do better: the section fails."""


@dataclass(frozen=True)
class Step:
    """The engine's next step after a failed call."""

    kind: StepKind
    model_id: str | None = None
    """:attr:`StepKind.REMAP`: the id to call."""


class ModelEngine:
    """Calls models through a fallback chain. Thread-safe; one per run (it learns as it goes)."""

    def __init__(
        self,
        port: ModelPort,
        chain: Sequence[ResolvedModel],
        *,
        thinking: Thinking = Thinking(),
        policy: RetryPolicy | None = None,
        quotas: QuotaBook | None = None,
        make_quota: Callable[..., ModelQuota] | None = None,
        remap: Callable[[str], str | None] = lambda _model_id: None,
        suggest: Callable[[str], str | None] = lambda _model_id: None,
        rng: random.Random | None = None,
        on_event: Callable[[EngineEvent], None] = lambda _event: None,
        clock: Callable[[], float] = time.monotonic,
        timer: Timer | None = None,
        limits: Callable[[str], QuotaLimits | None] | None = None,
        rules: QuotaRules | None = None,
        throttle_attempts: int = 12,
    ) -> None:
        """``limits`` gives the known quota of a model id (Service Quotas, config); ``timer``
        replaces the clock and the waits (a simulation's virtual time). ``throttle_attempts``:
        how many 429s a chunk takes on the last usable model before it fails (the quota paces
        the calls meanwhile; with another model to go to, ``policy`` decides as for any error).
        """
        # Quotas read the wall clock: a quota that resets every clock minute resets on the
        # wall clock's minutes (a simulation's timer is its own wall clock).
        quota_clock = (
            timer.now if timer is not None else (time.time if clock is time.monotonic else clock)
        )
        self.timer: Timer = timer or RealTimer(clock)
        clock = self.timer.now
        self.port = port
        self.chain = list(chain)
        self.thinking = thinking
        self.policy = policy or RetryPolicy()
        # Quotas are keyed by the id called, which a remap may have changed: find the model
        # by its base id.
        infos = {strip_geography(m.info.base_id): m.info for m in self.chain}
        infos.update({m.model_id: m.info for m in self.chain})

        def info(model_id: str) -> ModelInfo | None:
            return infos.get(model_id) or infos.get(strip_geography(model_id))

        def known(model_id: str) -> QuotaLimits | None:
            given = limits(model_id) if limits is not None else None
            if given is not None:
                return given
            found = info(model_id)
            if found is not None and (found.tpm or found.rpm):
                return QuotaLimits(found.rpm, found.tpm, "config")
            return None

        self.quotas = quotas or QuotaBook(
            limits=known,
            burndown=lambda m: found.burndown if (found := info(m)) else 5.0,
            clock=quota_clock,
            rules=rules,
            make=make_quota,
        )
        self.throttle_attempts = throttle_attempts
        self.remap = remap
        self.suggest = suggest
        self.rng = rng or random.Random()
        self.on_event = on_event
        self._clock = clock
        self._cond = threading.Condition()
        self._stopping = False
        self.set_aside: dict[str, SetAside] = {}
        """Models set aside (model id as given in the chain -> why)."""
        self.remapped: dict[str, str] = {}
        self.adapted: dict[str, set[Adaptation]] = {}
        self.thought: dict[str, str] = {}
        """Model id -> how it thought (``adaptive`` | ``budget``), for the results."""
        self._notes: list[str] = []
        self._uncounted: set[str] = set()
        """Base ids whose CountTokens was refused this run."""
        self._proof: dict[str, int | None] = {}
        """Model id -> thread proving it (first call in flight), or None once proven."""

    # -- public state ----------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Start no new call; every wait ends now; calls in flight finish."""
        with self._cond:
            self._stopping = True
            self.timer.notify_all(self._cond)

    def _notify(self) -> None:
        with self._cond:
            self.timer.notify_all(self._cond)

    @property
    def skipped(self) -> dict[str, str]:
        """Models set aside for the whole run (model id -> reason)."""
        return {m: s.reason for m, s in self.set_aside.items() if s.for_run}

    def notes(self) -> list[str]:
        """What a user should know: one line per model set aside, plus request notes."""
        with self._cond:
            return [*(s.note() for s in self.set_aside.values()), *self._notes]

    def fallbacks(self) -> list[dict[str, Any]]:
        with self._cond:
            return [s.as_dict() for s in self.set_aside.values()]

    def _note(self, text: str) -> None:
        with self._cond:
            if text not in self._notes:
                self._notes.append(text)

    def _emit(
        self, kind: str, model: str | None, detail: str, data: dict[str, Any] | None = None
    ) -> None:
        self.on_event(EngineEvent(kind, model, detail, data=data or {}))

    # -- waiting ---------------------------------------------------------------------------
    def _wait(self, delay: float, interrupt: Callable[[], bool] = lambda: False) -> bool:
        """Sleep up to ``delay``; False if ``interrupt()`` became true; Stopped if stopping."""
        deadline = self._clock() + delay
        with self._cond:
            while True:
                if self._stopping:
                    raise Stopped
                if interrupt():
                    return False
                remaining = deadline - self._clock()
                if remaining <= 0:
                    return True
                self.timer.wait(self._cond, remaining)

    # -- first call per model: one call learns whether the model is usable at all ------------
    def _gate(self, model_id: str, chain_id: str) -> None:
        me = threading.get_ident()
        with self._cond:
            while True:
                if self._stopping:
                    raise Stopped
                if chain_id in self.set_aside and self.set_aside[chain_id].for_run:
                    raise _Skipped
                mapped = self.remapped.get(chain_id)
                if mapped is not None and mapped != model_id:
                    raise _Remapped(mapped)
                if model_id not in self._proof:
                    self._proof[model_id] = me
                    return
                holder = self._proof[model_id]
                if holder is None or holder == me:
                    return
                self.timer.wait(self._cond, 1.0)

    def _proven(self, model_id: str, proven: bool = True) -> None:
        with self._cond:
            if self._proof.get(model_id) == threading.get_ident():
                if proven:
                    self._proof[model_id] = None
                else:
                    del self._proof[model_id]
                self.timer.notify_all(self._cond)

    # -- one call --------------------------------------------------------------------------
    def _moved_on(self, model: ResolvedModel, model_id: str) -> Callable[[], bool]:
        """True once ``model`` is set aside and another model of the chain can take over."""
        quota = self.quotas[model_id]

        def check() -> bool:
            return quota.is_aside() and self._alternative(model)

        return check

    def _reserve(self, model: ResolvedModel, model_id: str, built: Built) -> int:
        """Wait for this model's quota to admit the call (interrupted by stop or set-aside).

        A wait of a second or more is announced (``wait`` event: the progress line and chat
        show it), and again when its estimate moves by more than two seconds."""
        quota = self.quotas[model_id]
        ticket = quota.reserve(_input_estimate(built.body), built.max_tokens)
        moved_on = self._moved_on(model, model_id)
        announced: float | None = None  # when the announced wait ends
        try:
            while (wait := quota.admit(ticket)) > 0:
                now = self._clock()
                if wait >= 1.0 and (announced is None or abs(now + wait - announced) > 2.0):
                    announced = now + wait
                    self._emit(
                        "wait", model_id, f"{wait:.1f}", {"seconds": wait, "reason": "quota"}
                    )
                seen = quota.settled_calls

                def interrupt(seen: int = seen) -> bool:
                    return moved_on() or quota.settled_calls != seen

                if not self._wait(wait, interrupt) and moved_on():
                    raise _Aside
            if self._stopping:
                raise Stopped
        except BaseException:  # stopped, set aside, cancelled: it never reached Bedrock
            quota.cancel(ticket)
            self._notify()
            raise
        if announced is not None:
            self._emit("wait", model_id, "0.0", {"seconds": 0.0, "reason": "quota"})
        self._notify()  # the next call in this quota's queue may look now
        return ticket

    def _failed(
        self, model: ResolvedModel, model_id: str, ticket: int, err: ModelCallError
    ) -> None:
        quota = self.quotas[model_id]
        if err.kind is ErrorKind.THROTTLED:
            if quota.on_throttle(ticket, err.message):
                self._aside(model, f"throttled on every call ({quota.throttles} so far)", False)
        else:
            quota.on_error(ticket)
        self._notify()

    def _call(
        self, model: ResolvedModel, model_id: str, build: Callable[[frozenset[Adaptation]], Built]
    ) -> tuple[ModelResponse, Built]:
        """One call. The caller releases the first-call gate (``_proven``) once it has acted
        on the outcome, so the sections waiting behind it see the model set aside, remapped
        or adapted, never the state before."""
        self._gate(model_id, model.model_id)
        try:
            built = build(frozenset(self.adapted.get(model_id, ())))
            ticket = self._reserve(model, model_id, built)
        except BaseException:
            self._proven(model_id, proven=False)
            raise
        started = self._clock()
        try:
            response = self.port.converse(model_id, built.body)
        except ModelCallError as err:
            latency = self._clock() - started
            self._emit(
                "call",
                model_id,
                f"{err.kind.value} after {latency:.2f}s",
                {"ok": False, "latency": latency, "error": err.kind.value},
            )
            self._failed(model, model_id, ticket, err)
            raise _CallFailed(err, built) from err
        except BaseException:
            self.quotas[model_id].on_error(ticket)
            self._notify()
            self._proven(model_id, proven=False)
            raise
        usage = response.usage
        latency = self._clock() - started
        self._emit(
            "call",
            model_id,
            f"{latency:.2f}s, {usage.input_tokens} in / {usage.output_tokens} out",
            {
                "ok": True,
                "latency": latency,
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
            },
        )
        self._settled(model_id, ticket, usage)
        return response, built

    def _aside(self, model: ResolvedModel, reason: str, for_run: bool) -> None:
        with self._cond:
            current = self.set_aside.get(model.model_id)
            if current is not None and (current.for_run or not for_run):
                return
            self.set_aside[model.model_id] = SetAside(model.model_id, reason, for_run)
            self.timer.notify_all(self._cond)
        self.on_event(EngineEvent("set_aside", model.model_id, reason))

    def _took_over(self, passed: list[str], winner: str) -> None:
        with self._cond:
            for model_id in passed:
                entry = self.set_aside.get(model_id)
                if entry is not None and entry.replaced_by is None and model_id != winner:
                    entry.replaced_by = winner

    def _skip_reason(self, model: ResolvedModel, err: ModelCallError) -> str:
        if err.kind is ErrorKind.INVALID_MODEL:
            hint = self.suggest(model.model_id)
            return "Bedrock says the model identifier is invalid" + (
                f"; did you mean {hint}?" if hint else ""
            )
        if err.kind is ErrorKind.NOT_FOUND and "end of its life" in err.message:
            return "past end of life on Bedrock"
        if err.kind is ErrorKind.NOT_FOUND:
            return "not found (unknown or retired model)"
        if err.kind is ErrorKind.ACCESS_DENIED:
            return "access denied (enable it in the Bedrock console)"
        if err.kind is ErrorKind.ACCOUNT_SETTING:
            return (
                "Bedrock refuses it under this account's data retention mode; it needs "
                "provider data sharing: `aws bedrock put-account-data-retention --mode "
                "provider_data_share` in this region (Bedrock console: Settings, Data retention)"
            )
        return f"{err.kind.value}: {err.message}"

    # -- the chain walk --------------------------------------------------------------------
    def _next_model(self, tried: set[str], passed: list[str]) -> ResolvedModel | None:
        cooling: ResolvedModel | None = None
        for model in self.chain:
            if model.model_id in tried:
                continue
            entry = self.set_aside.get(model.model_id)
            if entry is not None and entry.for_run:
                if model.model_id not in passed:
                    passed.append(model.model_id)
                continue
            quota = self.quotas[self.remapped.get(model.model_id, model.model_id)]
            if quota.usable():
                return model
            if model.model_id not in passed:
                passed.append(model.model_id)
            cooling = cooling or model
        # Every usable model is cooling down: better a throttled model than none.
        return cooling

    def converse(
        self,
        ask: Ask,
        parse: Callable[[ModelResponse, bool], T],
        repair: Callable[[ModelResponse, str], list[dict[str, Any]]] | None = None,
        on_event: Callable[[EngineEvent], None] | None = None,
    ) -> Answer[T]:
        """Walk the chain until a model's answer passes ``parse`` (which raises OutputError)."""
        usage: dict[str, Usage] = {}
        counter = [0]
        try:
            return self._converse(ask, parse, repair, on_event, usage, counter)
        except EngineFailure as exc:
            exc.usage, exc.attempts = usage, counter[0]
            raise

    def _converse(
        self,
        ask: Ask,
        parse: Callable[[ModelResponse, bool], T],
        repair: Callable[[ModelResponse, str], list[dict[str, Any]]] | None,
        on_event: Callable[[EngineEvent], None] | None,
        usage: dict[str, Usage],
        counter: list[int],
    ) -> Answer[T]:
        events: list[EngineEvent] = []
        attempts = 0
        last_error = "no model in the chain is usable"
        tried: set[str] = set()
        passed: list[str] = []

        def emit(
            kind: str, model: str | None, detail: str, data: dict[str, Any] | None = None
        ) -> None:
            event = EngineEvent(kind, model, detail, data={"attempt": attempts, **(data or {})})
            events.append(event)
            self.on_event(event)
            if on_event is not None:
                on_event(event)

        while (model := self._next_model(tried, passed)) is not None:
            tried.add(model.model_id)
            model_id = self.remapped.get(model.model_id, model.model_id)
            messages = list(ask.messages)
            failures = 0
            repaired = False
            while True:
                attempts += 1
                counter[0] = attempts

                def build(
                    adapted: frozenset[Adaptation],
                    info: ModelInfo = model.info,
                    turn: list[dict[str, Any]] = messages,
                ) -> Built:
                    return build_request(replace(ask, messages=turn), info, self.thinking, adapted)

                try:
                    response, built = self._call(model, model_id, build)
                except _Remapped as moved:
                    attempts -= 1
                    model_id = moved.model_id
                    continue
                except (_Skipped, _Aside):
                    attempts -= 1
                    if model.model_id not in passed:
                        passed.append(model.model_id)
                    break
                except _CallFailed as failed:
                    last_error = f"{model_id}: {failed.err.message}"
                    again, model_id, failures = self._recover(
                        model, model_id, failed.built, failed.err, failures, emit
                    )
                    if again:
                        continue
                    if model.model_id not in passed:
                        passed.append(model.model_id)
                    break
                self._proven(model_id)
                for note in built.notes:
                    self._note(note)
                usage.setdefault(model_id, Usage()).add(response.usage)
                if built.thinking:
                    with self._cond:
                        self.thought[model_id] = built.thinking
                if is_refusal(response.stop_reason):
                    last_error = f"{model_id}: {REFUSED}"
                    emit("refused", model_id, f"{REFUSED} ({response.stop_reason}) -> next model")
                    if model.model_id not in passed:
                        passed.append(model.model_id)
                    break
                try:
                    value = parse(response, built.structured)
                except OutputError as exc:
                    last_error = f"{model_id}: {exc}"
                    emit("invalid_output", model_id, str(exc))
                    if not repaired and repair is not None:
                        repaired = True
                        messages = [*messages, *repair(response, str(exc))]
                        continue
                    emit("fallback", model_id, "invalid output twice -> next model")
                    if model.model_id not in passed:
                        passed.append(model.model_id)
                    break
                self._took_over(passed, model_id)
                return Answer(value, model_id, response, built.thinking, attempts, usage, events)
        raise ChainExhausted(last_error)

    def _recover(
        self,
        model: ResolvedModel,
        model_id: str,
        built: Built,
        err: ModelCallError,
        failures: int,
        emit: Callable[..., None],
    ) -> tuple[bool, str, int]:
        """After a failed call: (call again?, the id to call, failures so far). Raises
        :class:`InputTooLong` or :class:`RequestRefused` when no model would do better."""
        last_error = f"{model_id}: {err.message}"
        if err.kind is ErrorKind.THROTTLED:
            return self._throttled(model, model_id, err, failures, emit)
        try:
            step = self._after_error(model, model_id, built, err, failures, emit)
        finally:
            self._proven(model_id)  # sections waiting on this model see what was learned
        if step.kind is StepKind.ADAPTED:
            return True, model_id, failures
        if step.kind is StepKind.REMAP:
            assert step.model_id is not None
            return True, step.model_id, failures
        if step.kind is StepKind.SPLIT:
            raise InputTooLong(last_error) from err
        if step.kind is StepKind.FAIL:
            raise RequestRefused(last_error) from err
        failures += 1
        if step.kind is StepKind.RETRY:
            delay = self.policy.backoff(failures, err.retry_after, self.rng)
            waited = self._wait(delay, self._moved_on(model, model_id))
            if waited and failures < self.policy.attempts_per_model:
                return True, model_id, failures
        emit("fallback", model_id, f"{err.kind.value} -> next model")
        return False, model_id, failures

    def _alternative(self, model: ResolvedModel) -> bool:
        """Whether another model of the chain could take a call now."""
        for other in self.chain:
            if other.model_id == model.model_id:
                continue
            entry = self.set_aside.get(other.model_id)
            if entry is not None and entry.for_run:
                continue
            if not self.quotas[self.remapped.get(other.model_id, other.model_id)].is_aside():
                return True
        return False

    def _throttled(
        self,
        model: ResolvedModel,
        model_id: str,
        err: ModelCallError,
        failures: int,
        emit: Callable[..., None],
    ) -> tuple[bool, str, int]:
        """A 429: the quota learned from it; call again through the quota (which paces the
        call), or go to the next model when one can take it (a few 429s in a row), or fail
        the chunk after ``throttle_attempts`` on the last usable model."""
        self._proven(model_id)
        failures += 1
        quota = self.quotas[model_id]
        alternative = self._alternative(model)
        allowed = self.policy.attempts_per_model if alternative else self.throttle_attempts
        moved_on = self._moved_on(model, model_id)
        again = failures < allowed and not moved_on()
        emit(
            "error",
            model_id,
            f"throttled: {err.message} -> {'retry' if again else 'next_model'}",
            {"error": ErrorKind.THROTTLED.value, "action": "retry" if again else "next_model",
             "failures": failures},
        )  # fmt: skip
        if again:
            if quota.paced():
                delay = self.rng.uniform(0, 0.05)  # the quota paces the call: queue there
            else:
                delay = self.policy.backoff(failures, err.retry_after, self.rng)
            emit("wait", model_id, f"{delay:.1f}", {"seconds": delay, "reason": "throttled"})
            if self._wait(delay, moved_on):
                return True, model_id, failures
        emit("fallback", model_id, "throttled -> next model")
        return False, model_id, failures

    def _after_error(
        self,
        model: ResolvedModel,
        model_id: str,
        built: Built,
        err: ModelCallError,
        failures: int,
        emit: Callable[..., None],
    ) -> Step:
        """What to do after a failed call (learning what it teaches on the way)."""
        action = self.policy.decide(err.kind, failures + 1)
        emit(
            "error",
            model_id,
            f"{err.kind.value}: {err.message} -> {action.value}",
            {"error": err.kind.value, "action": action.value, "failures": failures + 1},
        )
        if action is Action.FAIL:
            adaptation = adaptation_for(err.message)
            if adaptation is None or adaptation in built.adapted:
                return Step(StepKind.FAIL)  # nothing to adapt, or adapting did not help: our bug
            with self._cond:
                done = self.adapted.setdefault(model_id, set())
                learned = adaptation not in done
                done.add(adaptation)
            if learned:
                text = f"{model_id} {adaptation.describe} (for the rest of the run)"
                emit("adapt", model_id, text)
            return Step(StepKind.ADAPTED)
        if action is Action.REMAP_PROFILE:
            profile = self.remap(model_id)
            if profile and profile != model_id and model.model_id not in self.remapped:
                with self._cond:
                    self.remapped[model.model_id] = profile
                    self.timer.notify_all(self._cond)
                emit("remap", model_id, f"using inference profile {profile}")
                return Step(StepKind.REMAP, profile)
            if model.model_id in self.remapped:
                return Step(StepKind.REMAP, self.remapped[model.model_id])
            action = Action.SKIP_MODEL
        if action is Action.SKIP_MODEL:
            self._aside(model, self._skip_reason(model, err), True)
            return Step(StepKind.NEXT)
        if action is Action.SPLIT:
            return Step(StepKind.SPLIT)
        if action is Action.RETRY:
            moved_on = self._moved_on(model, model_id)()
            return Step(StepKind.NEXT if moved_on else StepKind.RETRY)
        return Step(StepKind.NEXT)

    # -- streaming -------------------------------------------------------------------------
    def count(self, ask: Ask, *, local: bool = False) -> tuple[str, int, bool]:
        """(model, input tokens, counted) for ``ask`` on the chain's first model: counted by
        CountTokens where the model offers it (a base id callable on demand: CountTokens does
        not answer for models offered only through cross-region profiles), else estimated
        from the request's size and the model's tokenizer factor. No call is paid for; a
        refusal is remembered for the run. ``local``: the estimate only (no request at all: a
        run's spending cap weighs each section before it starts)."""
        model = self.chain[0]
        adapted = frozenset(self.adapted.get(model.model_id, ()))
        built = build_request(ask, model.info, self.thinking, adapted)
        counter = getattr(self.port, "count_tokens", None)
        base = model.info.base_id
        if (
            counter is not None
            and not local
            and model.info.base_on_demand
            and base not in self._uncounted
        ):
            counted = counter(base, built.body)
            if counted is not None:
                return model.model_id, counted, True
            with self._cond:
                self._uncounted.add(base)
        estimate = _input_estimate(built.body) * model.info.tokenizer_factor
        return model.model_id, int(estimate), False

    def stream(self, ask: Ask) -> Iterator[StreamEvent]:
        """Stream an answer: the chain applies until the first event arrives.

        Yields :class:`ModelChosen` first. After the first token an error propagates as
        :class:`ModelCallError` (the caller keeps what it has).
        """
        last_error = "no model in the chain is usable"
        tried: set[str] = set()
        passed: list[str] = []
        while (model := self._next_model(tried, passed)) is not None:
            tried.add(model.model_id)
            model_id = self.remapped.get(model.model_id, model.model_id)
            failures = 0
            while True:
                try:
                    self._gate(model_id, model.model_id)
                except _Remapped as moved:
                    model_id = moved.model_id
                    continue
                except _Skipped:
                    passed.append(model.model_id)
                    break
                try:
                    adapted = frozenset(self.adapted.get(model_id, ()))
                    built = build_request(ask, model.info, self.thinking, adapted)
                    ticket = self._reserve(model, model_id, built)
                except _Aside:
                    self._proven(model_id, proven=False)
                    passed.append(model.model_id)
                    break
                except BaseException:
                    self._proven(model_id, proven=False)
                    raise
                try:
                    events = iter(self.port.stream(model_id, built.body))
                    first = next(events, None)
                except ModelCallError as err:
                    self._failed(model, model_id, ticket, err)
                    last_error = f"{model_id}: {err.message}"
                    again, model_id, failures = self._recover(
                        model, model_id, built, err, failures, self._emit
                    )
                    if again:
                        continue
                    passed.append(model.model_id)
                    break
                except BaseException:
                    # Cancelled before the first token (Ctrl-C in chat): the call gives back
                    # what it held, and the model's first-call gate opens.
                    self.quotas[model_id].cancel(ticket)
                    self._notify()
                    self._proven(model_id, proven=False)
                    raise
                self._proven(model_id)
                self._took_over(passed, model_id)
                if built.thinking:
                    with self._cond:
                        self.thought[model_id] = built.thinking
                yield ModelChosen(model_id, tuple(passed), built.thinking)
                settled = False
                try:
                    rest = [first] if first is not None else []
                    for event in (*rest, *()):
                        settled = self._settle(model_id, ticket, event) or settled
                        yield event
                    for event in events:
                        settled = self._settle(model_id, ticket, event) or settled
                        yield event
                finally:
                    if not settled:
                        self.quotas[model_id].on_error(ticket)
                return
        raise ChainExhausted(last_error)

    def _settle(self, model_id: str, ticket: int, event: StreamEvent) -> bool:
        if not isinstance(event, StreamUsage):
            return False
        self._settled(model_id, ticket, event.usage)
        return True

    def _settled(self, model_id: str, ticket: int, usage: Usage) -> None:
        """A call's usage is known: its quota gets back what it held beyond it, and calls
        waiting for that quota look again at once. A shared quota that cannot be told (its
        Redis restarting) does not cost the answer, which Bedrock served and was paid for:
        the call stands, its hold lapses with the quota's window."""
        try:
            self.quotas[model_id].on_success(ticket, usage.input_tokens, usage.output_tokens)
        except StoreError as exc:
            self._emit("quota_unsettled", model_id, str(exc), {"ok": False})
        self._notify()

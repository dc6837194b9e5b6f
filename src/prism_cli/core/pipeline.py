"""The review pipeline: every section of every document through the fallback chain.

Per chunk: try each model of the chain in order, under :class:`RetryPolicy`; validate the
structured output (one repair retry, then the next model); keep the usage of every call. A
section no model could review is ``failed``; the others go on. Sections run concurrently
(threads) under an :class:`AdaptiveLimiter` shared by the whole run. Each finished section is
handed to ``on_section`` at once, so a store can checkpoint it.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from prism_cli.core.catalog import ResolvedModel
from prism_cli.core.chunking import DEFAULT_CHUNK_TOKENS, chunk_paragraphs, estimate_tokens
from prism_cli.core.document import Section
from prism_cli.core.fallback import Action, RetryPolicy
from prism_cli.core.findings import (
    TOOL_NAME,
    Finding,
    FindingIn,
    FindingsParseError,
    findings_json_schema,
    locate_quote,
    parse_findings,
    quote_in_text,
)
from prism_cli.core.framework import Framework
from prism_cli.core.limiter import AdaptiveLimiter, RateLimiter
from prism_cli.core.ports import ErrorKind, ModelCallError, ModelPort, ModelResponse, Usage
from prism_cli.core.prompts import (
    FULL_TEXT_MAX_TOKENS,
    build_system,
    build_user,
    outline_of,
    repair_message,
)

MIN_THINKING_BUDGET = 1024


@dataclass(frozen=True)
class ReviewSettings:
    max_tokens: int = 4096
    temperature: float = 0.7
    thinking: bool = False
    thinking_budget: int = 2048
    min_confidence: float = 0.8
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    concurrency: int = 4
    guidelines: str = ""


@dataclass
class Event:
    """One line of the activity log: what happened to a section, with which model."""

    kind: str
    section_id: str
    model: str | None = None
    detail: str = ""
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "section_id": self.section_id,
            "model": self.model,
            "detail": self.detail,
            "at": self.at,
        }


@dataclass
class SectionResult:
    section_id: str
    status: str  # reviewed | cached | failed | skipped | interrupted (never stored)
    model: str | None = None
    attempts: int = 0
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    usage: dict[str, Usage] = field(default_factory=dict)
    """Usage per model id that was called for this section."""
    events: list[Event] = field(default_factory=list)
    """What happened on the way (fallbacks, remaps, splits), for the activity log."""


@dataclass
class DocumentContext:
    """What every section prompt of one document shares (the cacheable prefix)."""

    key: str
    sections: Sequence[Section]
    framework: Framework

    @property
    def outline(self) -> str:
        return outline_of(self.sections)

    @property
    def full_text(self) -> str:
        """The whole document for the cached prefix, when it is small enough."""
        text = "\n\n".join(f"[{s.id}] {s.title}\n{s.text}" for s in self.sections)
        return text if estimate_tokens(text) <= FULL_TEXT_MAX_TOKENS else ""


class _Stopped(Exception):
    """The run is being interrupted: no new call for this section."""


class _SplitNeeded(Exception):
    pass


@dataclass
class _ChunkOutcome:
    findings: list[FindingIn]
    model: str


class Reviewer:
    """Reviews sections through a fallback chain of models. Thread-safe."""

    def __init__(
        self,
        port: ModelPort,
        chain: Sequence[ResolvedModel],
        settings: ReviewSettings,
        *,
        policy: RetryPolicy | None = None,
        limiter: AdaptiveLimiter | None = None,
        rate: RateLimiter | None = None,
        remap: Callable[[str], str | None] = lambda _model_id: None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        on_event: Callable[[Event], None] = lambda _event: None,
    ) -> None:
        self.port = port
        self.chain = list(chain)
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.limiter = limiter or AdaptiveLimiter(settings.concurrency)
        self.rate = rate or RateLimiter(sleep=sleep)
        self.remap = remap
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.on_event = on_event
        self.skipped: dict[str, str] = {}
        """Models skipped for the rest of the run (model id -> reason)."""
        self.remapped: dict[str, str] = {}
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    # -- requests ----------------------------------------------------------------------------
    def _thinking(self, model: ResolvedModel) -> bool:
        if not self.settings.thinking:
            return False
        if not model.info.thinking:
            self._note(f"{model.model_id}: no extended thinking; reviewed without it")
            return False
        return True

    def _note(self, text: str) -> None:
        with self._lock:
            if text not in self.notes:
                self.notes.append(text)

    def build_request(
        self, ctx: DocumentContext, model: ResolvedModel, messages: list[dict[str, Any]]
    ) -> dict[str, Any]:
        info = model.info
        thinking = self._thinking(model)
        structured = info.structured_output
        system_text = build_system(
            ctx.framework,
            ctx.outline,
            self.settings.guidelines,
            structured_output=structured,
            full_text=ctx.full_text,
        )
        system: list[dict[str, Any]] = [{"text": system_text}]
        if (
            info.cache_min_tokens is not None
            and estimate_tokens(system_text) >= info.cache_min_tokens
        ):
            system.append({"cachePoint": {"type": "default"}})
        max_tokens = min(self.settings.max_tokens, info.max_output)
        request: dict[str, Any] = {"messages": messages, "system": system}
        inference: dict[str, Any] = {"maxTokens": max_tokens}
        if thinking:
            budget = max(MIN_THINKING_BUDGET, self.settings.thinking_budget)
            if budget >= max_tokens:
                max_tokens = min(info.max_output, budget + self.settings.max_tokens)
                budget = min(budget, max_tokens - 1)
            inference["maxTokens"] = max_tokens
            # With thinking: no temperature, no topK, and tool choice must be auto.
            request["additionalModelRequestFields"] = {
                "thinking": {"type": "enabled", "budget_tokens": budget}
            }
        else:
            inference["temperature"] = self.settings.temperature
        request["inferenceConfig"] = inference
        schema = findings_json_schema()
        if structured:
            import json

            request["outputConfig"] = {
                "textFormat": {
                    "type": "json_schema",
                    "structure": {
                        "jsonSchema": {
                            "schema": json.dumps(schema),
                            "name": "findings",
                            "description": "Review findings for one section",
                        }
                    },
                }
            }
        else:
            choice: dict[str, Any] = {"auto": {}} if thinking else {"tool": {"name": TOOL_NAME}}
            request["toolConfig"] = {
                "tools": [
                    {
                        "toolSpec": {
                            "name": TOOL_NAME,
                            "description": "Record the review findings for this section. Call it exactly once.",
                            "inputSchema": {"json": schema},
                        }
                    }
                ],
                "toolChoice": choice,
            }
        return request

    # -- one chunk through the chain -----------------------------------------------------------
    def _extract(self, model: ResolvedModel, response: ModelResponse) -> list[FindingIn]:
        if response.stop_reason in ("guardrail_intervened", "content_filtered"):
            raise FindingsParseError(f"the model stopped: {response.stop_reason}")
        if not model.info.structured_output:
            for block in response.content:
                tool = block.get("toolUse")
                if tool and tool.get("name") == TOOL_NAME:
                    return parse_findings(tool.get("input") or {})
        text = "".join(b.get("text", "") for b in response.content if "text" in b)
        if not text.strip():
            if response.stop_reason == "max_tokens":
                raise FindingsParseError("the answer was cut off at maxTokens")
            raise FindingsParseError(f"no findings in the answer (called the {TOOL_NAME} tool?)")
        return parse_findings(text)

    def _repair_turn(self, response: ModelResponse, error: str) -> list[dict[str, Any]]:
        assistant = {"role": "assistant", "content": response.content}
        user_content: list[dict[str, Any]] = []
        for block in response.content:
            tool = block.get("toolUse")
            if tool:
                user_content.append(
                    {
                        "toolResult": {
                            "toolUseId": tool.get("toolUseId"),
                            "content": [{"text": error}],
                            "status": "error",
                        }
                    }
                )
        user_content.append({"text": repair_message(error)})
        return [assistant, {"role": "user", "content": user_content}]

    def stop(self) -> None:
        """Start no new call; sections in flight finish their current call and stop."""
        self._stopping.set()

    def _event(self, result: SectionResult, event: Event) -> None:
        result.events.append(event)
        self.on_event(event)

    def _call(self, model_id: str, request: dict[str, Any]) -> ModelResponse:
        if self._stopping.is_set():
            raise _Stopped
        self.limiter.acquire()
        try:
            self.rate.wait()
            return self.port.converse(model_id, request)
        finally:
            self.limiter.release()

    def review_chunk(
        self,
        ctx: DocumentContext,
        section: Section,
        text: str,
        part: int,
        parts: int,
        result: SectionResult,
    ) -> _ChunkOutcome | None:
        last_error = "no model in the chain is usable"
        for model in self.chain:
            if model.model_id in self.skipped:
                continue
            model_id = self.remapped.get(model.model_id, model.model_id)
            messages: list[dict[str, Any]] = [
                {"role": "user", "content": [{"text": build_user(section, text, part, parts)}]}
            ]
            failures = 0
            repaired = False
            remapped_once = False
            while True:
                request = self.build_request(ctx, model, messages)
                result.attempts += 1
                try:
                    response = self._call(model_id, request)
                except ModelCallError as err:
                    last_error = f"{model_id}: {err.message}"
                    if err.kind is ErrorKind.THROTTLED:
                        self.limiter.on_throttle()
                        self.rate.on_throttle()
                    failures += 1
                    action = self.policy.decide(err.kind, failures)
                    self._event(
                        result,
                        Event(
                            "error",
                            section.id,
                            model_id,
                            f"{err.kind.value}: {err.message} -> {action.value}",
                        ),
                    )
                    if action is Action.RETRY:
                        self.sleep(self.policy.backoff(failures, err.retry_after, self.rng))
                        continue
                    if action is Action.REMAP_PROFILE and not remapped_once:
                        profile = self.remap(model_id)
                        if profile and profile != model_id:
                            remapped_once = True
                            failures -= 1  # a base id refused on demand is not a model failure
                            with self._lock:
                                self.remapped[model.model_id] = profile
                            self._event(
                                result,
                                Event(
                                    "remap",
                                    section.id,
                                    model_id,
                                    f"using inference profile {profile}",
                                ),
                            )
                            model_id = profile
                            continue
                        action = Action.SKIP_MODEL
                    if action is Action.SPLIT:
                        raise _SplitNeeded(last_error) from err
                    if action is Action.FAIL:
                        result.error = last_error
                        return None
                    if action is Action.SKIP_MODEL or action is Action.REMAP_PROFILE:
                        with self._lock:
                            self.skipped.setdefault(model.model_id, err.message)
                    self._event(result, Event("fallback", section.id, model_id, err.kind.value))
                    break
                self.limiter.on_success()
                self.rate.on_success()
                usage = result.usage.setdefault(model_id, Usage())
                usage.add(response.usage)
                try:
                    found = self._extract(model, response)
                except FindingsParseError as exc:
                    last_error = f"{model_id}: {exc}"
                    self._event(result, Event("invalid_output", section.id, model_id, str(exc)))
                    if not repaired:
                        repaired = True
                        messages = [*messages, *self._repair_turn(response, str(exc))]
                        continue
                    self._event(
                        result, Event("fallback", section.id, model_id, "invalid output twice")
                    )
                    break
                return _ChunkOutcome(found, model_id)
        result.error = f"no model could review this section (last error: {last_error})"
        return None

    def review_section(self, ctx: DocumentContext, section: Section) -> SectionResult:
        result = SectionResult(section.id, "reviewed")
        paragraphs = [b.text for b in section.blocks if b.text.strip()]
        if not paragraphs:
            result.status = "skipped"
            return result
        pending = ["\n".join(c) for c in chunk_paragraphs(paragraphs, self.settings.chunk_tokens)]
        produced: list[FindingIn] = []
        models: list[str] = []
        done = 0
        total = len(pending)
        while pending:
            text = pending.pop(0)
            try:
                outcome = self.review_chunk(ctx, section, text, done + 1, total, result)
            except _Stopped:
                result.status, result.error = "interrupted", "the run was interrupted"
                return result
            except _SplitNeeded as exc:
                halves = _split_in_two(text)
                if halves is None:
                    result.status, result.error = (
                        "failed",
                        f"section too long for every model ({exc})",
                    )
                    break
                pending[:0] = halves
                total += 1
                self._event(
                    result,
                    Event("split", section.id, None, "context window exceeded; chunk split in two"),
                )
                continue
            if outcome is None:
                result.status = "failed"
                break
            done += 1
            produced.extend(outcome.findings)
            models.append(outcome.model)
        if result.status == "failed":
            self._event(result, Event("failed", section.id, None, result.error or ""))
            return result
        result.model = max(set(models), key=models.count) if models else None
        result.findings = self.finalise(section, produced, result.model)
        self._event(
            result,
            Event("section_done", section.id, result.model, f"{len(result.findings)} findings"),
        )
        return result

    def finalise(
        self, section: Section, produced: Sequence[FindingIn], model: str | None
    ) -> list[Finding]:
        text = section.text
        out: list[Finding] = []
        for n, item in enumerate(produced, start=1):
            if item.confidence < self.settings.min_confidence:
                continue
            quote = item.quote if quote_in_text(item.quote, text) else ""
            out.append(
                Finding(
                    **item.model_dump(exclude={"quote"}),
                    id=f"{section.id}-m{n}",
                    section_id=section.id,
                    quote=quote,
                    source="model",
                    model=model,
                    locator=locator_for(section, quote),
                )
            )
        return out

    def review_all(
        self,
        jobs: Sequence[tuple[DocumentContext, Section]],
        on_section: Callable[[DocumentContext, SectionResult], None],
        workers: int | None = None,
    ) -> None:
        """Review many sections concurrently; ``on_section`` is called as each finishes."""

        def one(job: tuple[DocumentContext, Section]) -> None:
            if self._stopping.is_set():
                return
            ctx, section = job
            on_section(ctx, self.review_section(ctx, section))

        pool = ThreadPoolExecutor(max_workers=max(1, workers or self.settings.concurrency))
        try:
            for future in [pool.submit(one, job) for job in jobs]:
                future.result()
        except BaseException:
            # Interrupted (or a callback failed): start nothing new, let the calls in flight
            # finish and be recorded, then re-raise.
            self.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            raise
        pool.shutdown(wait=True)


def locator_for(section: Section, quote: str) -> int | None:
    """The paragraph a finding is anchored on: its quote's, else the section heading's."""
    if quote:
        anchors = [a for b in section.blocks for a in b.anchors()]
        located = locate_quote(quote, anchors)
        if located is not None:
            return located
    return section.anchor_locator


def _split_in_two(text: str) -> list[str] | None:
    lines = text.split("\n")
    if len(lines) > 1:
        mid = len(lines) // 2
        return ["\n".join(lines[:mid]), "\n".join(lines[mid:])]
    if len(text) < 200:
        return None
    cut = text.rfind(" ", 0, len(text) // 2) + 1 or len(text) // 2
    return [text[:cut], text[cut:]]

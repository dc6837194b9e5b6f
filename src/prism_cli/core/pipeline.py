"""The review pipeline: every section of every document through the fallback chain.

Per chunk the model engine (:mod:`engine.engine`) walks the chain: retries, request rules,
per-model quotas, fallback; this module validates the findings (one repair turn, then the next
model), splits chunks that overflow a context window, and keeps the usage of every call. A
section no model could review is ``failed``; the others go on. Sections run concurrently
(threads); each finished section is handed to ``on_section`` at once, so a store can
checkpoint it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from prism_cli.core.chunking import DEFAULT_CHUNK_TOKENS, chunk_paragraphs, estimate_tokens
from prism_cli.core.document import Section
from prism_cli.core.findings import (
    TOOL_NAME,
    Finding,
    FindingIn,
    checked_replacement,
    finding_id,
    findings_json_schema,
    locate_quote,
    parse_findings,
    quote_in_text,
)
from prism_cli.core.framework import Framework
from prism_cli.core.ports import ModelResponse, Usage
from prism_cli.core.prompts import (
    FULL_TEXT_MAX_TOKENS,
    build_system,
    build_user,
    outline_of,
    repair_message,
)
from prism_cli.core.results import Event, SectionResult, SectionStatus
from prism_cli.engine.catalog import ResolvedModel
from prism_cli.engine.engine import (
    Answer,
    ChainExhausted,
    EngineEvent,
    InputTooLong,
    ModelEngine,
    RequestRefused,
)
from prism_cli.engine.requests import Ask
from prism_cli.errors import EngineFailure, FindingsParseError, OutputError, Stopped


@dataclass(frozen=True)
class ReviewSettings:
    max_tokens: int = 4096
    temperature: float | None = 0.7
    """Sent only to models that take sampling parameters and are not thinking."""
    min_confidence: float = 0.8
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS
    concurrency: int = 4
    guidelines: str = ""


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
        text = "\n\n".join(f"[{s.id}] {s.heading}\n{s.text}" for s in self.sections)
        return text if estimate_tokens(text) <= FULL_TEXT_MAX_TOKENS else ""


class Reviewer:
    """Reviews sections through the model engine (fallback chain, quotas, rules). Thread-safe."""

    def __init__(
        self,
        engine: ModelEngine,
        settings: ReviewSettings,
        *,
        on_event: Callable[[Event], None] = lambda _event: None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.on_event = on_event
        self.details: list[str] = []
        """For ``-v``: where the chain's facts came from."""

    @property
    def chain(self) -> list[ResolvedModel]:
        return self.engine.chain

    @property
    def skipped(self) -> dict[str, str]:
        return self.engine.skipped

    @property
    def notes(self) -> list[str]:
        return self.engine.notes()

    def ask(self, ctx: DocumentContext, messages: list[dict[str, Any]]) -> Ask:
        def system(structured: bool) -> str:
            return build_system(
                ctx.framework,
                ctx.outline,
                self.settings.guidelines,
                structured_output=structured,
                full_text=ctx.full_text,
            )

        return Ask(
            system=system,
            messages=messages,
            max_tokens=self.settings.max_tokens,
            schema=findings_json_schema(),
            tool_name=TOOL_NAME,
            tool_description="Record the review findings for this section. Call it exactly once.",
            temperature=self.settings.temperature,
        )

    @staticmethod
    def _extract(response: ModelResponse, structured: bool) -> list[FindingIn]:
        if response.stop_reason in ("guardrail_intervened", "content_filtered"):
            raise OutputError(f"the model stopped: {response.stop_reason}")
        try:
            if not structured:
                for block in response.content:
                    tool = block.get("toolUse")
                    if tool and tool.get("name") == TOOL_NAME:
                        return parse_findings(tool.get("input") or {})
            text = "".join(b.get("text", "") for b in response.content if "text" in b)
            if not text.strip():
                if response.stop_reason == "max_tokens":
                    raise OutputError("the answer was cut off at maxTokens")
                raise OutputError(f"no findings in the answer (called the {TOOL_NAME} tool?)")
            return parse_findings(text)
        except FindingsParseError as exc:
            raise OutputError(str(exc)) from exc

    @staticmethod
    def _repair_turn(response: ModelResponse, error: str) -> list[dict[str, Any]]:
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
        """Start no new call; waits end at once; calls in flight finish and are recorded."""
        self.engine.stop()

    def review_chunk(
        self,
        ctx: DocumentContext,
        section: Section,
        text: str,
        part: int,
        parts: int,
        result: SectionResult,
    ) -> Answer[list[FindingIn]]:
        messages: list[dict[str, Any]] = [
            {"role": "user", "content": [{"text": build_user(section, text, part, parts)}]}
        ]

        def record(event: EngineEvent) -> None:
            self._event(result, Event(event.kind, section.id, event.model, event.detail))

        try:
            answer = self.engine.converse(
                self.ask(ctx, messages), self._extract, self._repair_turn, on_event=record
            )
        except EngineFailure as exc:
            # Calls that were answered before the chain gave up are billed all the same.
            result.attempts += exc.attempts
            for model_id, usage in exc.usage.items():
                result.usage.setdefault(model_id, Usage()).add(usage)
            raise
        result.attempts += answer.attempts
        for model_id, usage in answer.usage.items():
            result.usage.setdefault(model_id, Usage()).add(usage)
        return answer

    def estimate(
        self, ctx: DocumentContext, section: Section, *, local: bool = False
    ) -> list[tuple[str, int, bool]]:
        """What reviewing ``section`` would send: (model, input tokens, counted) per call
        (``local``: estimated here, never counted by CountTokens)."""
        paragraphs = [b.text for b in section.blocks if b.text.strip()]
        if not paragraphs:
            return []
        chunks = ["\n".join(c) for c in chunk_paragraphs(paragraphs, self.settings.chunk_tokens)]
        out = []
        for part, text in enumerate(chunks, 1):
            messages = [
                {
                    "role": "user",
                    "content": [{"text": build_user(section, text, part, len(chunks))}],
                }
            ]
            out.append(self.engine.count(self.ask(ctx, messages), local=local))
        return out

    def _event(self, result: SectionResult, event: Event) -> None:
        result.events.append(event)
        self.on_event(event)

    def review_section(self, ctx: DocumentContext, section: Section) -> SectionResult:
        result = SectionResult(section.id, SectionStatus.REVIEWED)
        paragraphs = [b.text for b in section.blocks if b.text.strip()]
        if not paragraphs:
            result.status = SectionStatus.SKIPPED
            return result
        pending = ["\n".join(c) for c in chunk_paragraphs(paragraphs, self.settings.chunk_tokens)]
        produced: list[FindingIn] = []
        models: list[str] = []
        done = 0
        total = len(pending)
        thinking: set[str] = set()
        while pending:
            text = pending.pop(0)
            try:
                answer = self.review_chunk(ctx, section, text, done + 1, total, result)
            except Stopped:
                result.status, result.error = SectionStatus.INTERRUPTED, "the run was interrupted"
                return result
            except InputTooLong as exc:
                halves = _split_in_two(text)
                if halves is None:
                    result.status, result.error = (
                        SectionStatus.FAILED,
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
            except RequestRefused as exc:
                result.status, result.error = SectionStatus.FAILED, str(exc)
                break
            except ChainExhausted as exc:
                result.status = SectionStatus.FAILED
                result.error = f"no model could review this section (last error: {exc})"
                break
            done += 1
            produced.extend(answer.value)
            models.append(answer.model_id)
            if answer.thinking:
                thinking.add(answer.thinking)
        result.thinking = ",".join(sorted(thinking)) or None
        if result.status == SectionStatus.FAILED:
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
        taken: set[str] = set()
        for item in produced:
            if item.confidence < self.settings.min_confidence:
                continue
            quote = item.quote if quote_in_text(item.quote, text) else ""
            out.append(
                Finding(
                    **item.model_dump(exclude={"quote", "replacement"}),
                    id=finding_id(section.id, item.title, quote, taken),
                    section_id=section.id,
                    quote=quote,
                    replacement=checked_replacement(quote, item.replacement, text),
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
        admit: Callable[[DocumentContext, Section], str | None] | None = None,
    ) -> None:
        """Review many sections concurrently; ``on_section`` is called as each finishes.
        ``admit`` may hold a section back before it starts (a spending cap): it returns why,
        and the section ends failed with that reason, nothing sent."""

        def one(job: tuple[DocumentContext, Section]) -> None:
            if self.engine.stopping:
                return
            ctx, section = job
            held = admit(ctx, section) if admit is not None else None
            if held is not None:
                on_section(ctx, SectionResult(section.id, SectionStatus.FAILED, error=held))
                return
            self.on_event(Event("section_start", section.id, None, ctx.key))
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


def locator_for(
    section: Section, quote: str, anchors: Sequence[tuple[int, str]] | None = None
) -> int | None:
    """The paragraph a finding is anchored on: its quote's, else the section heading's.
    ``anchors``: the section's (locator, text) pairs, when the caller has them already."""
    if quote:
        if anchors is None:
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

"""Chat about a session's document and review: the application layer every chat front end uses.

It opens (or creates) the session, rebuilds the document's sections from the stored copy,
grounds each question (:mod:`prism_cli.core.chat`), streams the answer through the model
engine (its fallback chain applies before the first token), checks the citations, and writes
each turn to the store as its own entry the moment it completes (a partial one too, when the
answer breaks off). Decisions go through the same :class:`Sessions` calls as ``prism feedback``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_cli.core.chat import ChatSection, Citation, DocumentIndex, Turn, citations, ground
from prism_cli.core.ports import (
    ModelCallError,
    ModelChosen,
    StreamUsage,
    TextDelta,
    Usage,
)
from prism_cli.engine.requests import Ask
from prism_cli.errors import UsageError

if TYPE_CHECKING:
    from prism_cli.app.run import RunSettings
    from prism_cli.core.document import Document
    from prism_cli.core.findings import Finding
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.report import PriceLookup
    from prism_cli.core.sections import SectionRules
    from prism_cli.core.session import Sessions
    from prism_cli.engine.engine import ModelEngine

    ReviewerFactory = Callable[[RunSettings], tuple[Reviewer, PriceLookup, list[str]]]


@dataclass
class Answered:
    """A finished (or broken-off) answer, as stored."""

    turn: Turn
    citations: list[Citation]
    fallback: tuple[str, ...] = ()
    """Models passed over before the one that answered."""
    error: str | None = None
    """What broke the answer off mid-stream (the partial answer is kept)."""


@dataclass
class Chunk:
    text: str


@dataclass
class Chosen:
    model: str
    passed: tuple[str, ...]


ChatEvent = Chunk | Chosen | Answered


@dataclass
class SectionReviewed:
    """What ``/review`` made of one section."""

    section: ChatSection
    status: str
    """reviewed, cached (a stored review of the same settings) or failed."""
    findings: list[Finding]
    model: str | None = None
    error: str | None = None


@dataclass
class ChatService:
    sessions: Sessions
    session_id: str
    sections: list[ChatSection]
    engine: ModelEngine | None = None
    prices: PriceLookup = field(default=lambda _m: None)
    budget: int = 24_000
    max_tokens: int = 2_048
    focus: str | None = None
    thread: str = "main"
    spent: Usage = field(default_factory=Usage)
    cost: float = 0.0
    document: Document | None = None
    """The session's document (from its stored copy), for ``/review``."""
    reviewer_for: ReviewerFactory | None = None
    """Builds the reviewer a session's settings call for (``/review``)."""
    default_settings: RunSettings | None = None
    """The settings ``/review`` uses for a session that was never reviewed."""
    _reviewer: tuple[str, tuple[Reviewer, PriceLookup, list[str]]] | None = None
    _index: DocumentIndex | None = None
    rewrite_for: dict[str, Any] | None = None
    """``/suggest``: the finding whose quote the next question asks a rewrite of."""
    pending: tuple[str, str] | None = None
    """The last rewrite asked for and fit to use (finding id, new wording): ``/accept``
    records it."""
    rejected_rewrite: str | None = None
    """Why the last rewrite cannot stand in for its quote, when it cannot."""

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        sessions: Sessions,
        ref: str | None,
        *,
        engine: ModelEngine | None = None,
        prices: PriceLookup = lambda _m: None,
        rules: SectionRules | None = None,
    ) -> ChatService:
        """The session of ``ref`` (an id or a document; a document with none gets one), or
        the most recently updated session when ``ref`` is None."""
        from prism_cli.app.run import resolve_session

        if ref is None:
            newest = sorted(
                (m for sid in sessions.ids() if (m := sessions.load(sid)) is not None),
                key=lambda m: m.updated,
            )
            if not newest:
                raise UsageError("no session yet: give a document (prism chat report.docx)")
            sid = newest[-1].id
        elif ref.lower().endswith((".docx", ".docm", ".dotx", ".dotm")) and Path(ref).is_file():
            sid = _session_for_document(sessions, Path(ref), rules)
        else:
            sid = resolve_session(sessions, ref)
        sections, document = _chat_sections(sessions, sid, rules)
        service = cls(sessions, sid, sections, engine=engine, prices=prices, document=document)
        service.thread = sessions.thread(sid)
        return service

    @property
    def index(self) -> DocumentIndex:
        """The document indexed for grounding: built once per chat, on the first question."""
        if self._index is None:
            self._index = DocumentIndex(self.sections)
        return self._index

    def loaded_document(self) -> Document:
        """The session's document, parsed from its stored copy the first time it is needed
        (``/review``): a chat that only asks never parses it after the first chat."""
        if self.document is None:
            from prism_cli.app.documents import stored_document

            self.document = stored_document(self.sessions, self.session_id)
        return self.document

    # -- what the chat knows ---------------------------------------------------------------
    def history(self) -> list[Turn]:
        return [Turn.from_dict(t) for t in self.sessions.turns(self.session_id, self.thread)]

    def findings(self) -> list[dict[str, Any]]:
        from prism_cli.core.session import report_with_decisions

        report = self.sessions.report(self.session_id)
        if report is None:
            return []
        decided = report_with_decisions(report, self.sessions.decisions(self.session_id))
        return [f for doc in decided.get("documents", []) for f in doc.get("findings", [])]

    def section(self, ref: str) -> ChatSection:
        """A section by number (``3``, ``§3``, ``s3``) or by (part of) its title."""
        key = ref.strip().lstrip("§").casefold()
        for s in self.sections:
            if key in (str(s.number), s.id.casefold()):
                return s
        for s in self.sections:
            if key and key in s.title.casefold():
                return s
        raise UsageError(f"no section {ref!r} (see /sections)")

    def clear(self) -> str:
        """Start a new thread; the old one stays in the store."""
        self.thread = self.sessions.new_thread(self.session_id)
        return self.thread

    # -- reviewing ---------------------------------------------------------------------------
    def review_focus(self, *, again: bool = False) -> SectionReviewed:
        """Review the section in focus now, through the review service: the session's other
        sections keep their results, the stored report and findings are updated, and a
        stored review of the same settings is reused unless ``again``."""
        from prism_cli.app.run import ReviewService, RunSettings
        from prism_cli.core.rules import run_rules

        if self.focus is None:
            raise UsageError("/review reviews the section in focus: /section N first")
        if self.reviewer_for is None:
            raise UsageError("/review needs a model: this chat was opened without one")
        document = self.loaded_document()
        meta = self.sessions.require(self.session_id)
        settings = self.default_settings
        if meta.settings.get("framework_text"):
            settings = RunSettings.from_record(meta.settings)
        if settings is None:
            raise UsageError("/review: the session has no review settings")
        shaping = settings.shaping()
        if self._reviewer is None or self._reviewer[0] != shaping:
            self._reviewer = (shaping, self.reviewer_for(settings))
        reviewer, prices, notes = self._reviewer[1]
        from prism_cli.app import documents

        review = documents.split(document, settings.sections)
        review.session_id = self.session_id
        rules = run_rules(document, review.sections, settings.framework, review.title)
        service = ReviewService(
            self.sessions,
            settings,
            reviewer=reviewer,
            prices=prices,
            notes=notes,
            only={document.path: {self.focus}},
            again=again,
        )
        service.run([review], {document.path: rules})
        section = self.section(self.focus)
        result = review.results.get(self.focus)
        usage = result.usage if result else {}
        from prism_cli.core.report import cost_usd

        for model_usage in usage.values():
            self.spent.add(model_usage)
        self.cost += cost_usd(usage, prices)
        return SectionReviewed(
            section,
            result.status if result else "failed",
            [f for f in review.findings if f.section_id == self.focus],
            result.model if result else None,
            result.error if result else "not reviewed",
        )

    # -- asking ----------------------------------------------------------------------------
    def ask(self, question: str) -> Generator[ChatEvent, None, None]:
        """Stream the answer to ``question``: :class:`Chosen`, then :class:`Chunk`s, then one
        :class:`Answered` (after it is stored). Errors before the first token propagate."""
        if self.engine is None:
            raise UsageError("chat needs a model: this chat was opened without one")
        rewriting = self._rewriting()
        if rewriting is not None:
            _finding, section, (system, user) = rewriting
            messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": user}]}]
            sections_used = [section.id]
        else:
            grounding = ground(
                question,
                self.index,
                self.findings(),
                self.history(),
                focus=self.focus,
                budget=self.budget,
            )
            system, messages = grounding.system, grounding.messages
            sections_used = list(grounding.sections_used)
        ask = Ask(
            system=lambda _structured: system,
            messages=messages,
            max_tokens=self.max_tokens,
            schema=None,
            cacheable=True,  # the prefix: instructions, outline, the document when it fits
        )
        text: list[str] = []
        model: str | None = None
        passed: tuple[str, ...] = ()
        usage = Usage()
        error: str | None = None
        try:
            for event in self.engine.stream(ask):
                if isinstance(event, ModelChosen):
                    model, passed = event.model_id, tuple(event.passed_over)
                    yield Chosen(event.model_id, passed)
                elif isinstance(event, TextDelta):
                    text.append(event.text)
                    yield Chunk(event.text)
                elif isinstance(event, StreamUsage):
                    usage.add(event.usage)
        except ModelCallError as exc:
            if model is None:
                raise
            error = exc.message
        except KeyboardInterrupt:
            if model is None:
                raise
            error = "cancelled"
        answer = "".join(text)
        from prism_cli.core.report import cost_usd

        cost = cost_usd({model: usage}, self.prices) if model else 0.0
        self.spent.add(usage)
        self.cost += cost
        turn = Turn(
            question,
            answer,
            model,
            tuple(sections_used),
            {
                "input_tokens": usage.input_tokens,
                "output_tokens": usage.output_tokens,
                "cache_read_tokens": usage.cache_read_tokens,
            },
            round(cost, 6),
            status="partial" if error else "complete",
        )
        self.sessions.add_turn(self.session_id, self.thread, turn.as_dict())
        if rewriting is not None and not error:
            self._keep_rewrite(rewriting[0], rewriting[1], answer)
        yield Answered(turn, citations(answer, self.index), passed, error)

    # -- rewrites --------------------------------------------------------------------------
    def ask_rewrite(self, finding_id: str) -> str:
        """Make the next question a request for a rewrite of ``finding_id``'s quote
        (``/suggest``); returns the question to ask."""
        finding = self._finding(finding_id)
        if not finding.get("quote"):
            raise UsageError(f"{finding_id} quotes nothing: a rewrite needs the words to replace")
        self.rewrite_for, self.pending, self.rejected_rewrite = finding, None, None
        return f"Suggest a rewrite for {finding_id}: “{finding['quote']}”"

    def _finding(self, finding_id: str) -> dict[str, Any]:
        found = next((f for f in self.findings() if str(f.get("id")) == finding_id), None)
        if found is None:
            raise UsageError(f"no finding {finding_id} (see /findings)")
        return found

    def _rewriting(self) -> tuple[dict[str, Any], ChatSection, tuple[str, str]] | None:
        if self.rewrite_for is None:
            return None
        from prism_cli.core.chat import rewrite_request

        finding, self.rewrite_for = self.rewrite_for, None
        section = next(
            (s for s in self.sections if s.id == finding.get("section_id")), self.sections[0]
        )
        return finding, section, rewrite_request(finding, section)

    def _keep_rewrite(self, finding: dict[str, Any], section: ChatSection, answer: str) -> None:
        from prism_cli.core.chat import clean_rewrite
        from prism_cli.core.findings import checked_replacement

        wording = clean_rewrite(answer)
        quote = str(finding.get("quote", ""))
        usable = checked_replacement(quote, wording, section.text)
        if usable:
            self.pending = (str(finding["id"]), usable)
        else:
            self.rejected_rewrite = (
                "it is the passage unchanged, or too long, or its quote is not in the section"
            )

    def accept_rewrite(self) -> tuple[str, str]:
        """Record the pending rewrite on its finding and accept the finding (``/accept``
        after ``/suggest``): the next ``-f docx --suggest`` or ``prism apply`` writes it."""
        if self.pending is None:
            raise UsageError("/accept ID...: give finding ids (or /suggest ID first)")
        finding_id, wording = self.pending
        self.sessions.set_rewrite(self.session_id, finding_id, wording)
        self.pending = None
        return finding_id, wording

    def ask_all(self, question: str, on_text: Callable[[str], None] = lambda _t: None) -> Answered:
        answered: Answered | None = None
        for event in self.ask(question):
            if isinstance(event, Chunk):
                on_text(event.text)
            elif isinstance(event, Answered):
                answered = event
        assert answered is not None
        return answered


def _session_for_document(sessions: Sessions, path: Path, rules: SectionRules | None) -> str:
    """The document's session; a new one (sections read, nothing reviewed) when it has none."""
    from prism_cli.app import documents
    from prism_cli.app.run import assign_session_ids, session_of_file
    from prism_cli.core.session import DocumentInfo, SessionStatus

    data = path.read_bytes()
    sid = session_of_file(sessions, path, data)
    if sid is not None:
        return sid
    review = documents.read(path, rules)
    document = review.document
    assign_session_ids([review], None)
    sid = review.session_id
    info = DocumentInfo.of(str(path.resolve()), path.name, document.sha256, review.sections)
    sessions.new(sid, info, {}, status=SessionStatus.UNREVIEWED)
    sessions.put_document(sid, data)
    sessions.log(sid, "started", f"{path.name}: {len(review.sections)} sections (chat)")
    return sid


SECTIONS_VERSION = 2
"""Of the chat sections kept in a session: a new splitter makes the stored ones stale."""


def _chat_sections(
    sessions: Sessions, sid: str, rules: SectionRules | None = None
) -> tuple[list[ChatSection], Document | None]:
    """The document's sections as chat shows them: kept in the session after the first chat
    (for the same document, splitter and ``[sections]`` rules; a reviewed session's own
    rules win), so a chat does not parse the document to start; the document too when it had
    to be parsed."""
    from prism_cli.core.sections import DEFAULT_RULES, SectionRules

    meta = sessions.require(sid)
    if meta.settings.get("framework_text"):
        rules = SectionRules.from_record(meta.settings.get("sections"))
    rules = rules or DEFAULT_RULES
    kept = sessions.chat_sections(sid)
    if (
        kept is not None
        and kept.get("sha256") == meta.document.sha256
        and kept.get("version") == SECTIONS_VERSION
        and kept.get("rules", DEFAULT_RULES.as_record()) == rules.as_record()
    ):
        try:
            return [
                ChatSection(int(n), str(i), str(t), str(x)) for n, i, t, x in kept["sections"]
            ], None
        except (KeyError, TypeError, ValueError):
            pass  # not what we wrote: parse again
    from prism_cli.app import documents

    document = documents.stored_document(sessions, sid)
    sections = [
        ChatSection(n, s.id, s.heading, s.text)
        for n, s in enumerate(documents.sections_of(document, rules), 1)
    ]
    sessions.put_chat_sections(
        sid,
        {
            "sha256": meta.document.sha256,
            "version": SECTIONS_VERSION,
            "rules": rules.as_record(),
            "sections": [[s.number, s.id, s.title, s.text] for s in sections],
        },
    )
    return sections, document

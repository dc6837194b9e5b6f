"""The review service: runs a review of documents and keeps their sessions.

One place for what ``prism review``, ``prism chat`` and queue workers share: the settings
that shape results (stored in each session, so a run can be rebuilt from the store alone),
the session lifecycle (load, mismatch check, ``--fresh``, leases, results cache, recording
each section as it finishes, decisions, usage accumulated over runs) and the batch (identical
sections reviewed once). It renders nothing: front ends pass :class:`Hooks`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_cli.core.budget import Budget
from prism_cli.core.findings import Finding, merge_near_duplicates, sort_findings
from prism_cli.core.framework import Framework, parse_framework
from prism_cli.core.ports import StoreError, Usage
from prism_cli.core.prompts import PROMPT_VERSION
from prism_cli.core.report import (
    DocumentReview,
    PriceLookup,
    build_report,
    since_of,
    usage_summary,
    with_since,
)
from prism_cli.core.results import (
    REUSABLE,
    SectionResult,
    SectionStatus,
    StoredResult,
    finding_list,
)
from prism_cli.core.sections import DEFAULT_RULES, SectionRules
from prism_cli.core.session import (
    SCHEMA_VERSION,
    CorruptEntry,
    DocumentInfo,
    Sessions,
    SessionStatus,
    cache_key,
    digest,
    with_decisions,
)
from prism_cli.errors import InputError, Interrupted, PrismError, UsageError

if TYPE_CHECKING:
    from prism_cli.app.versions import Link
    from prism_cli.core.document import Section
    from prism_cli.core.pipeline import DocumentContext, Reviewer


@dataclass(frozen=True)
class RunSettings:
    """Everything that shapes a review's results. Stored in the session as a typed record;
    :meth:`shaping` is part of every section's results-cache key, so another model, thinking
    or effort means new calls rather than another model's answer."""

    framework: Framework
    guidelines: str = ""
    min_confidence: float = 0.8
    models: tuple[str, ...] = ()
    """The chain asked for (catalog keys or ids); empty: the default chain."""
    thinking: bool = False
    effort: str | None = None
    thinking_budget: int | None = None
    max_tokens: int = 4096
    temperature: float | None = 0.7
    prompt_version: str = PROMPT_VERSION
    sections: SectionRules = DEFAULT_RULES
    """How documents are split (``[sections]``): stored with the session, so a worker splits
    a document as the run that queued it did."""

    def _shaping_fields(self) -> dict[str, Any]:
        return {
            "min_confidence": self.min_confidence,
            "models": list(self.models),
            "thinking": self.thinking,
            "effort": self.effort,
            "thinking_budget": self.thinking_budget,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
        }

    def shaping(self) -> str:
        return json.dumps(
            {"framework": self.framework.digest, **self._shaping_fields()}, sort_keys=True
        )

    def key(self, section_text: str) -> str:
        return cache_key(section_text, self.shaping(), self.guidelines, self.prompt_version)

    def as_record(self) -> dict[str, Any]:
        return {
            "framework": self.framework.name,
            "framework_digest": self.framework.digest,
            "framework_text": self.framework.source,
            "guidelines": self.guidelines,
            "guidelines_digest": digest(self.guidelines),
            **self._shaping_fields(),
            "prompt_version": self.prompt_version,
            **({"sections": self.sections.as_record()} if self.sections != DEFAULT_RULES else {}),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RunSettings:
        """The settings of a stored session (a worker rebuilds the run from them)."""
        text = record.get("framework_text")
        if not text:
            raise CorruptEntry("session settings have no framework text (reviewed by an old prism)")
        return cls(
            framework=parse_framework(str(text)),
            guidelines=str(record.get("guidelines", "")),
            min_confidence=float(record.get("min_confidence", 0.8)),
            models=tuple(record.get("models", [])),
            thinking=bool(record.get("thinking", False)),
            effort=record.get("effort"),
            thinking_budget=record.get("thinking_budget"),
            max_tokens=int(record.get("max_tokens", 4096)),
            temperature=record.get("temperature"),
            prompt_version=str(record.get("prompt_version", PROMPT_VERSION)),
            sections=SectionRules.from_record(record.get("sections")),
        )


@dataclass
class Hooks:
    """What a front end sees of a run; every hook is optional and called from any thread."""

    started: Callable[[str, str, int, int], None] = lambda _key, _name, _total, _reused: None
    """(document key, name, sections, sections reused) once each document is prepared."""
    section_done: Callable[[str, SectionResult], None] = lambda _key, _result: None
    warn: Callable[[str], None] = lambda _msg: None
    waiting: Callable[[str, str], None] = lambda _sid, _holder: None


@dataclass
class RunOutcome:
    reviews: list[DocumentReview]
    report: dict[str, Any]
    notes: list[str]
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0
    no_usable_model: str | None = None
    """Why no model of the chain could be used, when that is why sections failed."""


def combine_findings(review: DocumentReview, rule_findings: Sequence[Finding]) -> None:
    """The document's findings: rules and every section's, near-duplicates merged, sorted."""
    found = list(rule_findings)
    for result in review.results.values():
        found.extend(result.findings)
    order = {s.id: s.index for s in review.sections}
    review.findings = sort_findings(merge_near_duplicates(found), order)


def _locator_for(section: Section, quote: str, anchors: Any = None) -> int | None:
    """:func:`core.pipeline.locator_for`, imported when a finding is placed (the pipeline
    brings the model engine: an unchanged rerun needs neither)."""
    from prism_cli.core.pipeline import locator_for

    return locator_for(section, quote, anchors)


REPORT_INPUTS_VERSION = 2
FINDING_FIELDS = list(Finding.model_fields)

Rules = Callable[[DocumentReview], list[Finding]]
"""A document's rule findings, computed when a run needs them."""


def report_inputs(review: DocumentReview, keys: dict[str, str], rules: object) -> str:
    """A digest of what a session's report is made from: this prism, the document (its path,
    digest and session), every section (id, place, title and its results key, which holds
    the run's settings) and the rules: their findings, or what determines them (the
    framework, with the document and this prism). Equal digests, equal reports."""
    from prism_cli import __version__

    basis = [
        REPORT_INPUTS_VERSION,
        __version__,
        review.document.path,
        review.document.sha256,
        review.session_id,
        [[s.id, s.index, s.heading, s.level, keys.get(s.id)] for s in review.sections],
        rules,
    ]
    text = json.dumps(basis, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def assign_session_ids(reviews: Sequence[DocumentReview], session: str | None) -> None:
    """One session per document: ``--session`` or the document's digest; a second copy of one
    document in a run gets ``<id>-2`` (in path order, so stable)."""
    if session is not None and len(reviews) > 1:
        raise UsageError("--session names one session: give one document")
    seen: dict[str, int] = {}
    for review in reviews:
        sid = session or review.document.sha256[:12]
        seen[sid] = seen.get(sid, 0) + 1
        review.session_id = sid if seen[sid] == 1 else f"{sid}-{seen[sid]}"


def session_of_file(sessions: Sessions, path: Path, data: bytes) -> str | None:
    """The session of a document: the one reviewing these very bytes, else the one a reviewed
    copy names (prism's Word copy, even edited and saved since), if the store has it."""
    sid = sessions.session_of_document(hashlib.sha256(data).hexdigest())
    if sid is not None:
        return sid
    from prism_cli.core.session import validate_session_id
    from prism_cli.word.properties import session_of_copy

    named = session_of_copy(path)
    if not named:
        return None
    try:
        validate_session_id(named)
    except ValueError:
        return None  # a property is document text: untrusted
    return named if sessions.load(named) is not None else None


def resolve_session(sessions: Sessions, ref: str) -> str:
    """A session id from an id or from the path of a reviewed document."""
    from prism_cli.core.session import validate_session_id

    path = Path(ref)
    if ref.lower().endswith((".docx", ".docm", ".dotx", ".dotm")) or path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(ref, exc.strerror or str(exc)) from exc
        sid = session_of_file(sessions, path, data)
        if sid is None:
            raise InputError(ref, f"no session for this document in {sessions.store.url}")
        return sid
    try:
        sid = validate_session_id(ref)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if sessions.load(sid) is None:
        raise UsageError(f"no session {sid} in {sessions.store.url} (see `prism sessions list`)")
    return sid


class _Opening:
    """The reviewer, opened once, in a thread of its own, from the first time it is wanted;
    :meth:`wait` gives it (or raises what opening it raised). Never waited for when no section
    needs it: what it would have failed with then does not matter."""

    def __init__(self, open_reviewer: Callable[[], tuple[Reviewer, list[str]]]) -> None:
        self._open = open_reviewer
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._result: tuple[Reviewer, list[str]] | None = None
        self._error: BaseException | None = None

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="prism-engine", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        try:
            self._result = self._open()
        except BaseException as exc:  # given to the run's thread by wait()
            self._error = exc

    def wait(self) -> tuple[Reviewer, list[str]]:
        self.start()
        assert self._thread is not None
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


class SessionRun:
    """One document's session during a run: reuse what is stored, record what finishes."""

    def __init__(self, service: ReviewService, review: DocumentReview) -> None:
        self.service = service
        self.sessions = service.sessions
        self.review = review
        self.sid = review.session_id
        self.keys = {s.id: service.settings.key(s.text) for s in review.sections}
        self.reused = 0
        self.usage: dict[str, Usage] = {}
        self._lock = threading.Lock()
        self.only: set[str] | None = service.only.get(review.document.path)
        """The sections this run reviews (None: all); the rest keep what the session holds."""
        self.rules_basis: object = None
        """What this run's rule findings come from, for the report's input digest (set by
        :class:`ReviewService` before :meth:`prepare`; None: no digest, no stored report
        taken)."""
        self.rules: Callable[[], Sequence[Finding]] = lambda: []
        """This run's rule findings, computed when the report is built (not for an unchanged
        rerun, which takes the stored report)."""
        self.unchanged = False
        """Every section, the rules and the path are what the stored report was made from:
        its findings stand, and nothing is merged, rebuilt or written again."""
        self.created = False
        """This run started the session (it had none)."""
        self.finished = False
        """Its report is stored (as soon as its last section was, while others go on)."""
        self._link: Link | None = None
        self._linked = False

    @property
    def name(self) -> str:
        return Path(self.review.document.path).name

    @property
    def since(self) -> str | None:
        """The previous version this run names for the document (``--since``), if any."""
        return self.service.since.get(str(Path(self.review.document.path).resolve()))

    def link(self) -> Link | None:
        """The document's previous version (``app/versions``), found once; None when prism
        reviewed none. A store that cannot tell is a warning, never a failed review."""
        if not self._linked:
            self._linked = True
            from prism_cli.app.versions import link

            try:
                self._link = link(
                    self.sessions,
                    self.review,
                    self.since,
                    resolve_session,
                    lambda record: RunSettings.from_record(record).sections,
                )
            except (StoreError, InputError) as exc:
                self.service.hooks.warn(f"{self.name}: previous version not compared: {exc}")
        return self._link

    def take_unchanged(self) -> bool:
        """Reads only: a complete session of this very document whose stored report was
        made from exactly this run's inputs gives its findings, and the run writes nothing
        for it but one line of activity (no lease, no session update, no report). The
        digest is read again after the report: a run that rewrote the report meanwhile
        deletes it first, so a report taken is the one the digest names."""
        service, doc = self.service, self.review.document
        if service.fresh or self.only is not None or self.rules_basis is None:
            return False
        try:
            meta = self.sessions.load(self.sid)
        except CorruptEntry:
            return False
        if (
            meta is None
            or meta.status != SessionStatus.COMPLETE
            or meta.document.sha256 != doc.sha256
            or meta.settings != service.settings.as_record()
        ):
            return False
        expected = report_inputs(self.review, self.keys, self.rules_basis)
        if not self._take_stored_report(expected):
            return False
        if self.sessions.report_inputs(self.sid) != expected:  # rewritten meanwhile
            self.review.results.clear()
            self.review.findings = []
            self.review.dumped.clear()
            self.reused, self.unchanged = 0, False
            return False
        return True

    def prepare(self) -> list[Section]:
        """Load or create the session; return the sections still to review."""
        service, sessions, sid = self.service, self.sessions, self.sid
        doc, fresh = self.review.document, service.fresh
        try:
            meta = sessions.load(sid)
        except CorruptEntry as exc:
            if not fresh:
                raise CorruptEntry(
                    f"{exc.message}; start it over with --fresh or `prism sessions delete {sid}`"
                ) from exc
            meta = None
        if meta is not None and meta.document.sha256 != doc.sha256 and not fresh:
            raise UsageError(
                f"session {sid} holds another document ({meta.document.name}); "
                "use --fresh to start it over for this one"
            )
        document_info = DocumentInfo.of(
            str(Path(doc.path).resolve()), self.name, doc.sha256, self.review.sections
        )
        settings = service.settings.as_record()
        resuming_fresh = meta is not None and meta.fresh_run
        replaced = meta is not None and meta.document.sha256 != doc.sha256
        if meta is not None and fresh and not resuming_fresh:
            # Start over, but keep what the reviewer decided (carried over to the findings
            # that come back) and the activity log: only the results go.
            cleared = sessions.clear_results(sid)
            sessions.log(sid, "fresh", f"{cleared} stored results cleared; decisions kept")
        stored: dict[str, StoredResult] = {}
        if meta is None:
            # A new session: one meta write, and nothing stored to look up.
            service.work_ahead()  # most likely: the engine opens meanwhile
            self.created = True
            with sessions.batch():  # one write: the session, its document, its first line
                sessions.new(sid, document_info, settings, fresh_run=fresh)
                sessions.put_document(sid, Path(doc.path).read_bytes())
                sessions.log(sid, "started", f"{self.name}: {len(self.review.sections)} sections")
        else:
            meta.status = SessionStatus.RUNNING
            meta.document = document_info
            meta.settings = settings
            if fresh:
                meta.fresh_run = True
            if replaced:
                sessions.put_document(sid, Path(doc.path).read_bytes())
            sessions.save(meta)
            stored = self._stored()
        todo: list[Section] = []
        for section in self.review.sections:
            key = self.keys[section.id]
            held = stored.get(section.id)
            if self.only is not None and section.id not in self.only:
                # Not this run's to review: the session's result stands, whatever made it.
                if held is not None and held.reusable:
                    self._reuse(section, held)
                continue
            if self.only is not None and self.service.again:
                todo.append(section)
                continue
            if held is None or not held.reusable_for(key):
                held = None if fresh else self._cached(key)
                if held is not None:
                    # From the shared cache: into the session only.
                    sessions.put_result(sid, held.to_result(section.id), key, cache=False)
                    sessions.log(sid, "cached", "unchanged section reused", section=section.id)
                elif not fresh and (linked := self.link()) is not None:
                    held = linked.unchanged_result(section.id)
                    if held is not None:  # the same title and text, numbered anew or moved
                        sessions.put_result(sid, held.to_result(section.id), key, cache=False)
                        sessions.log(
                            sid, "previous_version", "unchanged section reused", section=section.id
                        )
            if held is None:
                todo.append(section)
                continue
            self._reuse(section, held)
        if self.reused:
            sessions.log(
                sid, "resumed", f"{self.reused} of {len(self.review.sections)} sections reused"
            )
        if todo:
            service.work_ahead()
        return todo

    def _take_stored_report(self, expected: str) -> bool:
        """An unchanged rerun of a complete session: take its findings from the stored report
        when it was made from exactly this run's inputs (a 1,200-section document reads one
        entry instead of 1,200, and merges nothing)."""
        review, sessions = self.review, self.sessions
        if sessions.report_inputs(self.sid) != expected:
            return False
        try:
            report = sessions.report(self.sid)
        except CorruptEntry:
            return False
        documents = report.get("documents") if report else None
        if not isinstance(documents, list) or len(documents) != 1:
            return False
        stored = documents[0]
        try:
            sections = {s["id"]: s for s in stored["sections"]}
            findings = finding_list().validate_python(stored["findings"])
        except (KeyError, TypeError, ValueError):
            return False  # pydantic's ValidationError is a ValueError
        if set(sections) != set(self.keys) or any(
            s.get("status") not in REUSABLE for s in sections.values()
        ):
            return False
        by_section: dict[str, list[Finding]] = {}
        for finding in findings:
            if finding.source == "model":
                by_section.setdefault(finding.section_id, []).append(finding)
        for section in review.sections:
            entry = sections[section.id]
            review.results[section.id] = SectionResult(
                section.id,
                SectionStatus.SKIPPED
                if entry["status"] == SectionStatus.SKIPPED
                else SectionStatus.CACHED,
                model=entry.get("model"),
                attempts=int(entry.get("attempts") or 0),
                error=entry.get("error"),
                findings=by_section.get(section.id, []),
                thinking=entry.get("thinking"),
            )
        review.findings = findings
        review.since = since_of(stored)  # the comparison it was made with
        for finding, data in zip(findings, stored["findings"], strict=True):
            if list(data) == FINDING_FIELDS:  # as this prism writes them: served as they are
                review.dumped[id(finding)] = (finding, data)
        self.reused = len(review.sections)
        self.unchanged = True
        return True

    def _reuse(self, section: Section, held: StoredResult) -> None:
        result = held.to_result(section.id)
        result.usage = {}
        if result.status != SectionStatus.SKIPPED:  # an empty section stays skipped
            result.status = SectionStatus.CACHED
        anchors = [a for b in section.blocks for a in b.anchors()]
        for finding in result.findings:  # the cache may come from another document
            finding.locator = _locator_for(section, finding.quote, anchors)
        self.review.results[section.id] = result
        self.reused += 1

    def _stored(self) -> dict[str, StoredResult]:
        sessions, sid = self.sessions, self.sid
        present = set(sessions.result_ids(sid))
        stored: dict[str, StoredResult] = {}
        for section in self.review.sections:
            if section.id not in present:
                continue
            try:
                data = sessions.result(sid, section.id)
            except CorruptEntry as exc:
                self.service.hooks.warn(f"{exc.message}; reviewing that section again")
                sessions.log(sid, "corrupt_entry", exc.message, section=section.id)
                continue
            if data is not None:
                stored[section.id] = data
        return stored

    def _cached(self, key: str) -> StoredResult | None:
        try:
            return self.sessions.cached(key)
        except CorruptEntry as exc:
            self.service.hooks.warn(f"{exc.message}; ignoring it")
            self.sessions.drop_cached(key)
            return None

    def record(self, result: SectionResult, *, cache: bool = True) -> None:
        """Called as each section finishes (from worker threads): one atomic write."""
        sessions = self.sessions
        if self.service.offline:
            self.review.results[result.section_id] = result
            return
        with sessions.batch():  # one write: the result, its cache entry, its activity
            self._record(result, cache)

    def _record(self, result: SectionResult, cache: bool) -> None:
        sessions, sid = self.sessions, self.sid
        sessions.put_result(sid, result, self.keys[result.section_id], cache=cache)
        with self._lock:
            self.review.results[result.section_id] = result
            for model, usage in result.usage.items():
                self.usage.setdefault(model, Usage()).add(usage)
        for event in result.events:
            if event.kind in ("fallback", "remap", "split", "invalid_output"):
                sessions.log(
                    sid, event.kind, event.detail, section=result.section_id, model=event.model
                )
        if result.status == "failed":
            sessions.log(sid, "failed", result.error or "", section=result.section_id)
        else:
            sessions.log(
                sid,
                "section_done",
                f"{len(result.findings)} findings, {result.attempts} attempts",
                section=result.section_id,
                model=result.model,
            )

    def not_started(self, why: str) -> None:
        """The reviewer could not be opened (no credentials, no usable model): nothing was
        asked. A session this run started goes, as if the run had not begun; an older one
        keeps what it holds and is incomplete for the settings of this run."""
        if self.created and not self.review.results:
            self.sessions.delete(self.sid)
            return
        self.sessions.update(self.sid, status=SessionStatus.INCOMPLETE)
        self.sessions.log(self.sid, "not_started", why)

    def interrupted(self) -> tuple[int, int]:
        done = sum(1 for r in self.review.results.values() if r.status != "failed")
        total = len(self.review.sections)
        if self.unchanged or self.finished:  # nothing of it is in the run's hands any more
            return done, total
        self.sessions.update(
            self.sid,
            status=SessionStatus.INTERRUPTED,
            usage=self.usage,
        )
        self.sessions.log(self.sid, "interrupted", f"{done} of {total} sections saved")
        return done, total

    def finish_when_done(
        self,
        prices: PriceLookup,
        notes: Callable[[], Sequence[str]],
        fallbacks: Callable[[], Sequence[dict[str, Any]]],
    ) -> None:
        """Finish now if every section has its result and no one finished it yet: a
        document's report is stored while the run's other calls go on (the notes and
        fallbacks are the run's so far)."""
        with self._lock:
            if self.finished or len(self.review.results) < len(self.review.sections):
                return
            self.finished = True
        self.finish(None, prices, notes(), fallbacks())

    def finish(
        self,
        rule_findings: Sequence[Finding] | None,
        prices: PriceLookup,
        notes: Sequence[str],
        fallbacks: Sequence[dict[str, Any]],
    ) -> None:
        """``rule_findings``: the document's, or None for :attr:`rules` (computed here)."""
        self.finished = True
        review, sessions, sid = self.review, self.sessions, self.sid
        if self.unchanged:
            self._compare_again()
            sessions.log(sid, "unchanged", f"{len(review.sections)} sections: the report stands")
            review.findings = with_decisions(review.findings, sessions.decisions(sid))
            return
        basis: object = self.rules_basis
        if not self.unchanged:
            found = self.rules() if rule_findings is None else rule_findings
            if basis is None:
                basis = [f.model_dump(mode="json") for f in found]
            combine_findings(review, found)
        self._compare()
        failed = sum(1 for r in review.results.values() if r.status == "failed")
        missing = len(review.sections) - len(review.results)
        if self.service.offline:
            status = SessionStatus.OFFLINE
        else:
            status = SessionStatus.INCOMPLETE if failed or missing else SessionStatus.COMPLETE
        with sessions.batch():  # one write: the session, its report, its activity
            self._finish(status, prices, notes, fallbacks, basis, failed, missing)
        decisions = sessions.decisions(sid)
        ids = {f.id for f in review.findings}
        kept = [i for i in (*decisions.accepted, *decisions.rejected) if i not in ids]
        if kept:
            sessions.log(
                sid,
                "decisions_kept",
                f"{len(kept)} decisions on findings this run did not report are kept: "
                + ", ".join(kept[:10]),
            )
        review.findings = with_decisions(review.findings, decisions)

    def _compare_again(self) -> None:
        """An unchanged rerun: the stored report's comparison stands, unless the run names
        another previous version; a report made before prism kept versions has its version
        recorded (a read, and one write the first time)."""
        from prism_cli.app.versions import named, remember

        since = self.since
        try:
            if since is None:
                kept = self.review.since
                if kept is None:
                    remember(self.sessions, self.review)
                elif kept.get("previous", {}).get("linked_by") in ("since", "git"):
                    # Named by an earlier run; this one found it in the session.
                    kept["previous"] = {**kept["previous"], "linked_by": "session"}
                return
            _how, previous = named(self.sessions, since, resolve_session)
        except (StoreError, InputError) as exc:
            self.service.hooks.warn(f"{self.name}: previous version not compared: {exc}")
            return
        held = (self.review.since or {}).get("previous", {}).get("session")
        if previous is not None and previous == held:
            return
        self._compare()
        if self.review.since is not None:  # kept with the report: later reruns read it
            report, inputs = self.sessions.report(self.sid), self.sessions.report_inputs(self.sid)
            if report is not None and inputs is not None:
                with_since(report["documents"][0], self.review.since)
                self.sessions.put_report(self.sid, report, inputs)

    def _compare(self) -> None:
        """The findings against the previous version's, its decisions carried (before they
        are applied): what every report shows as ``since``."""
        linked = self.link()
        if linked is None:
            return
        try:
            linked.compare()
        except StoreError as exc:
            self.service.hooks.warn(f"{self.name}: previous version not compared: {exc}")

    def _finish(
        self,
        status: SessionStatus,
        prices: PriceLookup,
        notes: Sequence[str],
        fallbacks: Sequence[dict[str, Any]],
        basis: object,
        failed: int,
        missing: int,
    ) -> None:
        review, sessions, sid = self.review, self.sessions, self.sid
        meta = sessions.update(sid, status=status, usage=self.usage, end_fresh=True)
        if not self.unchanged:
            # The stored report is the session's: usage accumulated over its runs, no
            # decisions (they are applied when it is read).
            report = build_report([review], prices, notes, fallbacks)
            report["documents"][0]["usage"] = usage_summary(meta.usage, prices)
            report["summary"]["usage"] = usage_summary(meta.usage, prices)
            sessions.put_report(sid, report, report_inputs(review, self.keys, basis))
        sessions.log(
            sid,
            "finished",
            f"{len(review.sections) - failed - missing} of {len(review.sections)} sections "
            f"{'read offline' if self.service.offline else 'reviewed'}, "
            f"{len(review.findings)} findings",
        )


class ReviewService:
    """Runs a review of documents against one store; see the module docstring."""

    def __init__(
        self,
        sessions: Sessions,
        settings: RunSettings,
        *,
        reviewer: Reviewer | None = None,
        prices: PriceLookup = lambda _model: None,
        notes: Sequence[str] = (),
        fresh: bool = False,
        wait: bool = False,
        hooks: Hooks | None = None,
        only: dict[str, set[str]] | None = None,
        again: bool = False,
        open_reviewer: Callable[[], tuple[Reviewer, list[str]]] | None = None,
        max_cost: float | None = None,
        since: Mapping[str, str] | None = None,
    ) -> None:
        """``since`` maps a document's path to its previous version (``--since``: a
        session id, a reviewed file or ``sha256:<digest>``); the others find theirs.

        ``only`` maps a document's path to the sections to review (chat's ``/review``,
        a worker's job); its other sections keep the session's results. ``again`` reviews
        those sections anew instead of reusing a stored result.

        ``open_reviewer`` builds the reviewer (and its notes) when a section is left to
        review, and not before: a rerun that reuses every section opens no client, reads no
        credentials and lists nothing over the network."""
        self.sessions = sessions
        self.settings = settings
        self.max_cost = max_cost
        """Dollars this run may spend (``--max-cost``); None: no cap."""
        self.budget: Budget | None = None
        self.reviewer = reviewer
        self.offline = reviewer is None and open_reviewer is None
        self._opening = _Opening(open_reviewer) if open_reviewer is not None else None
        self.prices = prices
        self.notes = list(notes)
        self.fresh = fresh
        self.wait = wait
        self.hooks = hooks or Hooks()
        self.only = only or {}
        self.again = again
        self.since = dict(since or {})

    def work_ahead(self) -> None:
        """A section will need a model: open the engine now, in the background, while the
        other documents are prepared (its setup reads credentials and lists models)."""
        if self.reviewer is None and self._opening is not None:
            self._opening.start()

    def run(
        self,
        reviews: list[DocumentReview],
        rule_findings: dict[str, list[Finding]] | None = None,
        *,
        rules: Rules | None = None,
    ) -> RunOutcome:
        """``rule_findings`` by document path, or ``rules`` to compute them when a report is
        built (an unchanged rerun, which takes its stored report, never runs them)."""
        from prism_cli.stores.service import Leases, parallel

        runs = [SessionRun(self, review) for review in reviews]
        for run in runs:
            if rule_findings is not None:
                found = rule_findings.get(run.review.document.path, [])
                run.rules_basis = [f.model_dump(mode="json") for f in found]
                run.rules = partial(list, found)
            elif rules is not None:
                run.rules_basis = {"rules": self.settings.framework.digest}
                run.rules = partial(rules, run.review)
            else:
                run.rules_basis = {"rules": None}
        # An unchanged document is read, not leased, and costs one write (its activity).
        unchanged = parallel(lambda run: run.take_unchanged(), runs)
        working = [run for run, same in zip(runs, unchanged, strict=True) if not same]
        leases = Leases(
            self.sessions,
            [run.sid for run in working],
            wait=self.wait,
            on_wait=self.hooks.waiting,
            on_lost=self.hooks.warn,
        )
        notes = list(self.notes)
        fallbacks: list[dict[str, Any]] = []
        no_usable: str | None = None
        with leases:
            # Documents are prepared and finished side by side: store round trips overlap.
            todo = parallel(lambda run: [] if run.unchanged else run.prepare(), runs)
            for run in runs:
                self.hooks.started(
                    run.review.document.path, run.name, len(run.review.sections), run.reused
                )
            if self.reviewer is None and self._opening is not None and any(todo):
                try:
                    self.reviewer, opened = self._opening.wait()
                except BaseException as exc:
                    why = str(exc) or type(exc).__name__
                    parallel(lambda run: run.not_started(why), working)
                    raise
                notes += opened
            if self.reviewer is None and self.offline:
                for run, sections in zip(runs, todo, strict=True):
                    for section in sections:
                        result = SectionResult(
                            section.id, SectionStatus.SKIPPED, error="offline: rules only"
                        )
                        run.record(result)
                        self.hooks.section_done(run.review.document.path, result)
            elif self.reviewer is not None:
                self._review(runs, todo, notes)
                self._remember_output(runs)
                notes += self.reviewer.notes
                if self.budget is not None and self.budget.reached:
                    held = sum(
                        1
                        for run in runs
                        for r in run.review.results.values()
                        if r.error and r.error.startswith("not started: the run reached")
                    )
                    notes.append(
                        f"the spending cap was reached (--max-cost {self.budget.limit:g}, "
                        f"${self.budget.spent:.4f} spent): {held} section"
                        f"{'s' if held != 1 else ''} not started; run the same command again "
                        "to go on (what is done is kept)"
                    )
                fallbacks = self.reviewer.engine.fallbacks()
                skipped = self.reviewer.skipped
                if skipped and all(m.model_id in skipped for m in self.reviewer.chain):
                    no_usable = "; ".join(f"{m}: {why}" for m, why in skipped.items())
            left = [run for run in runs if not run.finished]
            parallel(lambda run: run.finish(None, self.prices, notes, fallbacks), left)
        failed = sum(1 for r in reviews for x in r.results.values() if x.status == "failed")
        report = build_report(reviews, self.prices, notes, fallbacks)
        return RunOutcome(reviews, report, notes, fallbacks, failed, no_usable)

    def _remember_output(self, runs: list[SessionRun]) -> None:
        """What this run's calls wrote, per model, added to the store's history: the next dry
        run and spending cap expect it of a call."""
        totals: dict[str, list[int]] = {}
        for run in runs:
            for model, usage in run.usage.items():
                held = totals.setdefault(model, [0, 0])
                held[0] += usage.calls
                held[1] += usage.output_tokens
        for model, (calls, tokens) in totals.items():
            try:
                self.sessions.add_output_history(
                    self.settings.framework.digest, model, calls, tokens
                )
            except PrismError as exc:  # a history is a help, never a reason to fail a run
                self.hooks.warn(f"could not keep the output history: {exc}")

    def _review(
        self, runs: list[SessionRun], todo: list[list[Section]], notes: Sequence[str]
    ) -> None:
        """Review what is left; a section identical to one already queued in this run waits
        for it instead of paying again."""
        import signal

        assert self.reviewer is not None
        by_path = {run.review.document.path: run for run in runs}
        first: dict[str, tuple[SessionRun, Section]] = {}
        copies: dict[str, list[tuple[SessionRun, Section]]] = {}
        from prism_cli.core.pipeline import DocumentContext

        jobs: list[tuple[DocumentContext, Section]] = []
        for run, sections in zip(runs, todo, strict=True):
            ctx = DocumentContext(
                run.review.document.path, run.review.sections, self.settings.framework
            )
            for section in sections:
                key = run.keys[section.id]
                if key in first:
                    copies.setdefault(key, []).append((run, section))
                    continue
                first[key] = (run, section)
                jobs.append((ctx, section))

        budget = self.budget = (
            Budget(
                self.max_cost,
                self.prices,
                expected_output(self.sessions, self.settings, self.reviewer.chain[0].model_id)[0],
            )
            if self.max_cost is not None and self.reviewer.chain
            else None
        )
        reviewer = self.reviewer

        def admit(ctx: DocumentContext, section: Section) -> str | None:
            assert budget is not None
            calls = lambda: [(m, t) for m, t, _ in reviewer.estimate(ctx, section, local=True)]  # noqa: E731
            if budget.admit(f"{ctx.key}\x1f{section.id}", calls):
                return None
            return f"not started: the run reached its spending cap (--max-cost {budget.limit:g})"

        def write(ctx: DocumentContext, result: SectionResult) -> None:
            """In the call's own thread: with a remote store, writes overlap as calls do."""
            if budget is not None:
                budget.settle(f"{ctx.key}\x1f{result.section_id}", result.usage)
            if result.status == SectionStatus.INTERRUPTED:
                return
            run = by_path[ctx.key]
            run.record(result)
            self.hooks.section_done(ctx.key, result)
            key = run.keys[result.section_id]
            for other, section in copies.get(key, []):
                payload = StoredResult.payload_of(result, key, SCHEMA_VERSION)
                copy = StoredResult.from_payload(payload).to_result(section.id)
                copy.usage = {}
                if copy.status == SectionStatus.REVIEWED:
                    copy.status = SectionStatus.CACHED
                for finding in copy.findings:
                    finding.locator = _locator_for(section, finding.quote)
                other.record(copy, cache=False)
                self.hooks.section_done(other.review.document.path, copy)
                other.finish_when_done(self.prices, run_notes, run_fallbacks)
            run.finish_when_done(self.prices, run_notes, run_fallbacks)

        def run_notes() -> list[str]:
            assert self.reviewer is not None
            return [*notes, *self.reviewer.notes]

        def run_fallbacks() -> list[dict[str, Any]]:
            assert self.reviewer is not None
            return self.reviewer.engine.fallbacks()

        def on_term(_signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        in_main = threading.current_thread() is threading.main_thread()
        previous: Any = signal.signal(signal.SIGTERM, on_term) if in_main else None
        try:
            self.reviewer.review_all(jobs, write, admit=admit if budget is not None else None)
        except KeyboardInterrupt:
            if in_main:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            from prism_cli.stores.service import parallel

            counts = parallel(lambda run: run.interrupted(), runs)
            done, total = sum(d for d, _ in counts), sum(t for _, t in counts)
            ids = [run.sid for run in runs]
            named = (
                f"session{'s' if len(ids) > 1 else ''} {', '.join(ids)}"
                if len(ids) <= 3
                else f"{len(ids)} sessions"
            )
            raise Interrupted(
                f"interrupted: {done} of {total} sections are saved ({named}); "
                "run the same command again to resume"
            ) from None
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


HISTORY_MIN_CALLS = 3
"""Calls of a model the store must have seen before its history is trusted over the guess."""


def expected_output(sessions: Sessions, settings: RunSettings, model: str) -> tuple[int, str]:
    """Output tokens a call of ``model`` is expected to write for this framework: the store's
    history when it has seen enough calls, else a quarter of ``max_tokens``; and what the
    figure comes from (the dry run says it)."""
    try:
        calls, tokens = sessions.output_history(settings.framework.digest, model)
    except PrismError:
        calls, tokens = 0, 0
    if calls >= HISTORY_MIN_CALLS:
        return max(1, tokens // calls), f"the store's history ({calls} calls)"
    return settings.max_tokens // 4, "a quarter of max_tokens (no history yet)"


def make_reviewer(
    settings: RunSettings,
    *,
    region: str | None,
    profile: str | None,
    overrides: dict[str, Any] | None = None,
    concurrency: int = 4,
    on_event: Callable[[Any], None] = lambda _event: None,
    make_quota: Callable[..., Any] | None = None,
) -> tuple[Reviewer, PriceLookup, list[str]]:
    """The reviewer a run's settings call for (the chain, thinking, sampling), on Bedrock:
    what ``prism review`` builds from its options and chat's ``/review`` from the session."""
    from prism_cli.bedrock.setup import open_engine
    from prism_cli.core.pipeline import Reviewer, ReviewSettings
    from prism_cli.engine.requests import Thinking

    setup = open_engine(
        region=region,
        profile=profile,
        models=list(settings.models),
        overrides=overrides,
        thinking=Thinking(settings.thinking, settings.effort, settings.thinking_budget),
        on_event=on_event,
        make_quota=make_quota,
    )
    reviewer = Reviewer(
        setup.engine,
        ReviewSettings(
            max_tokens=settings.max_tokens,
            temperature=settings.temperature,
            min_confidence=settings.min_confidence,
            concurrency=concurrency,
            guidelines=settings.guidelines,
        ),
    )
    reviewer.details = setup.details
    return reviewer, setup.catalog.prices, setup.notes

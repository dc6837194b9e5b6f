"""Runs rebuilt from the store alone: a worker's job on one section of a stored session,
and the end of a queued batch (what a session holds becomes its review again)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from prism_cli.core.pipeline import DocumentContext, locator_for
from prism_cli.core.ports import StoreError, Usage
from prism_cli.core.report import DocumentReview, PriceLookup
from prism_cli.core.results import (
    SectionResult,
    SectionStatus,
    StoredResult,
)
from prism_cli.core.session import (
    CorruptEntry,
    Sessions,
)
from prism_cli.errors import InputError

if TYPE_CHECKING:
    from prism_cli.core.document import Document, Section
    from prism_cli.core.pipeline import Reviewer


from prism_cli.app.run import (
    ReviewService,
    RunSettings,
    SessionRun,
)


def stored_results(sessions: Sessions, sid: str) -> dict[str, StoredResult]:
    """The results a session holds, by section id; a corrupt entry counts as none."""
    held: dict[str, StoredResult] = {}
    for section_id in sessions.result_ids(sid):
        try:
            data = sessions.result(sid, section_id)
        except CorruptEntry:
            continue
        if data is not None:
            held[section_id] = data
    return held


ReviewerFor = Callable[[RunSettings], tuple["Reviewer", PriceLookup, list[str]]]


def review_stored_section(
    sessions: Sessions,
    sid: str,
    section_id: str,
    reviewer_for: ReviewerFor,
    read: dict[str, tuple[RunSettings, Document, list[Section]]] | None = None,
    *,
    keep_failed: bool = True,
) -> SectionResult | None:
    """Review one section of a stored session, rebuilt from the store alone (a worker's job).
    None when the session already holds its result for these settings (nothing is paid
    twice, whoever asks again). ``read`` keeps what was read of each session's document and
    settings for the next job of the same session. ``keep_failed=False``: a section no model
    could review is not recorded (the job will be retried; a stored result is final)."""
    from prism_cli.app import documents

    meta = sessions.require(sid)
    known = f"{sid}:{meta.document.sha256}:{json.dumps(meta.settings, sort_keys=True)}"
    if read is not None and known in read:
        settings, document, sections = read[known]
    else:
        settings = RunSettings.from_record(meta.settings)
        document = documents.stored_document(sessions, sid)
        sections = documents.sections_of(document, settings.sections)
        if read is not None:
            if len(read) > 64:
                read.clear()
            read[known] = (settings, document, sections)
    review = DocumentReview(document, sections)
    review.session_id = sid
    section = next((s for s in review.sections if s.id == section_id), None)
    if section is None:
        raise InputError(meta.document.path, f"no section {section_id} in the stored document")
    reviewer, prices, notes = reviewer_for(settings)
    service = ReviewService(sessions, settings, reviewer=reviewer, prices=prices, notes=notes)
    run = SessionRun(service, review)
    key = run.keys[section_id]
    try:
        stored = sessions.result(sid, section_id)
    except CorruptEntry:
        stored = None
    if stored is not None and stored.reusable_for(key):
        return None
    cached = None if meta.fresh_run else run._cached(key)  # --fresh: no cached answer
    if cached is not None:
        # Another session paid for it (an identical section of the batch, or any earlier
        # run): cached here, its usage not counted again.
        copy = cached.to_result(section_id)
        copy.usage = {}
        if copy.status == SectionStatus.REVIEWED:
            copy.status = SectionStatus.CACHED
        sessions.put_result(sid, copy, key, cache=False)
        sessions.log(sid, "cached", "unchanged section reused", section=section_id)
        return None
    ctx = DocumentContext(document.path, review.sections, settings.framework)
    result = reviewer.review_section(ctx, section)
    # Bedrock served (and billed) the calls: the result waits for a store that is restarting
    # rather than be lost and paid for again by the job's retry.
    deadline = time.monotonic() + RECORD_PATIENCE
    while True:
        try:
            return _record_stored(sessions, run, sid, section_id, key, result, keep_failed)
        except StoreError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


RECORD_PATIENCE = 120.0
"""Seconds a worker keeps a paid result while its store cannot take it."""


def _record_stored(
    sessions: Sessions,
    run: SessionRun,
    sid: str,
    section_id: str,
    key: str,
    result: SectionResult,
    keep_failed: bool,
) -> SectionResult:
    try:
        meanwhile = sessions.result(sid, section_id)
    except CorruptEntry:
        meanwhile = None
    if meanwhile is not None and meanwhile.reusable_for(key):
        # Another attempt stored it while this one ran (this job was taken for abandoned when
        # its heartbeat lapsed, a Redis restart): its result stands, and what this attempt
        # paid is added to it, so the report counts every call Bedrock served once.
        kept = meanwhile.to_result(section_id)
        usage = {m: Usage(**u.as_dict()) for m, u in kept.usage.items()}
        for model, paid in result.usage.items():
            usage.setdefault(model, Usage()).add(paid)
        kept.usage = usage
        sessions.put_result(sid, kept, key, cache=False)
        sessions.log(sid, "duplicate", "a second attempt's calls added", section=section_id)
        return kept
    if result.status != SectionStatus.FAILED or keep_failed:
        run.record(result)
    return result


def stored_review(sessions: Sessions, sid: str) -> tuple[RunSettings, DocumentReview]:
    """A session's run settings and document with the results it holds (findings anchored
    again); a section with no result is failed: its job failed or was cancelled."""
    from prism_cli.app import documents

    settings = RunSettings.from_record(sessions.require(sid).settings)
    review = documents.stored(sessions, sid, settings.sections)
    held = stored_results(sessions, sid)
    for section in review.sections:
        stored = held.get(section.id)
        if stored is None:
            review.results[section.id] = SectionResult(
                section.id,
                SectionStatus.FAILED,
                error="not reviewed: its job failed or was cancelled",
            )
            continue
        result = stored.to_result(section.id)
        for finding in result.findings:
            finding.locator = locator_for(section, finding.quote)
        review.results[section.id] = result
    return settings, review


def finish_stored(
    sessions: Sessions,
    sid: str,
    prices: PriceLookup,
    *,
    rules: bool,
    usage_of: set[str] | None = None,
    fallbacks: Sequence[dict[str, Any]] = (),
) -> DocumentReview:
    """Finish a session from what the store holds (the end of a queued batch): its results,
    rule findings, the report, the status; a section with no result is reported failed.
    ``usage_of``: the sections whose usage this batch adds to the session's."""
    from prism_cli.core.rules import run_rules

    settings, review = stored_review(sessions, sid)
    service = ReviewService(sessions, settings, reviewer=None, prices=prices)
    service.offline = False
    run = SessionRun(service, review)
    for section_id in usage_of or ():
        result = review.results.get(section_id)
        for model, usage in (result.usage if result else {}).items():
            run.usage.setdefault(model, Usage()).add(usage)
    document = review.document
    found = run_rules(document, review.sections, settings.framework) if rules else []
    run.finish(found, prices, [], fallbacks)
    return review


# -- reading and exporting sessions ------------------------------------------------------------

"""A document's versions: which session reviewed its previous version (its lineage), its
sections matched to the new version's before the review (an unchanged section takes the
previous version's result: no model call), and after it, its findings matched, the
reviewer's decisions carried forward and the comparison every report shows (``since``).

Lineage: ``--since OLD.docx|SESSION`` names the previous version; otherwise a session of this
very document remembers it, else the versions reviewed at the same path (the store's
``lineage/<digest of the path>``), else those of the same Word identity (``w15:docId``), which
a renamed or moved document keeps: taken only when the sections show the two are versions of
one document (a template's copies share an identity too)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_cli.core.versions import (
    Carried,
    Comparison,
    SectionChange,
    SectionState,
    SectionText,
    carry,
    match_findings,
    match_sections,
)
from prism_cli.errors import InputError, UsageError

if TYPE_CHECKING:
    from prism_cli.core.document import Section
    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.core.results import StoredResult
    from prism_cli.core.review import DocumentReview
    from prism_cli.core.sections import SectionRules
    from prism_cli.core.session import Decisions, SessionMeta, Sessions

SHA_REF = "sha256:"
"""A ``since`` reference by the previous version's digest (``--changed-since``: the file as
the base commit has it)."""
RELATED = 0.5
"""Share of the old version's sections the new one must keep for a link by Word identity."""


def texts(sections: Sequence[Section]) -> list[SectionText]:
    out = []
    for s in sections:
        body = "\n".join(
            b.text for b in s.blocks if b.text.strip() and b.locator != s.heading_locator
        )
        out.append(SectionText(s.id, s.index, s.heading, s.title, body))
    return out


def path_key(path: str) -> str:
    return "path-" + hashlib.sha256(str(Path(path).resolve()).encode("utf-8")).hexdigest()[:32]


def identity_key(identity: str) -> str:
    return "word-" + hashlib.sha256(identity.encode("utf-8")).hexdigest()[:32]


def resolve(sessions: Sessions, ref: str, resolve_session: Callable[[Sessions, str], str]) -> str:
    """The session of a ``--since`` reference: a session id or a reviewed file
    (``resolve_session``: ``app.run``'s, passed in so this module needs nothing of it)."""
    try:
        return resolve_session(sessions, ref)
    except InputError as exc:
        hint = f" (review that version first: prism review {ref})" if Path(ref).is_file() else ""
        raise UsageError(f"--since {ref}: {exc.reason}{hint}") from None


def _before(versions: Sequence[Mapping[str, str]], sha256: str) -> str | None:
    """The version reviewed before this one (the last one, when this one is not listed)."""
    shas = [v.get("sha256") for v in versions]
    upto = shas.index(sha256) if sha256 in shas else len(versions)
    earlier = [v for v in versions[:upto] if v.get("sha256") != sha256]
    return earlier[-1]["session"] if earlier else None


@dataclass
class Link:
    """A document under review and its previous version."""

    sessions: Sessions
    review: DocumentReview
    previous: SessionMeta
    how: str
    """since, session, path or identity"""
    old: DocumentReview
    sections: list[SectionChange]
    new_texts: dict[str, str]
    """The new version's sections' text (heading and body), by id."""
    remembered: str | None
    """The previous version this document's session already names (None: none yet)."""
    comparison: Comparison | None = field(default=None)

    @property
    def sid(self) -> str:
        return self.previous.id

    @cached_property
    def _unchanged(self) -> dict[str, str]:
        """New section id -> the old one, for the sections whose title and text are the same."""
        return {
            c.new[0]: c.old[0]
            for c in self.sections
            if c.state is SectionState.UNCHANGED and len(c.new) == len(c.old) == 1
        }

    def unchanged_result(self, section_id: str) -> StoredResult | None:
        """The previous version's result for a section whose title and text are the same
        (moved or numbered anew, perhaps): reused, so it costs no model call."""
        old = self._unchanged.get(section_id)
        held = self.sessions.result(self.sid, old) if old is not None else None
        return held if held is not None and held.reusable else None

    def compare(self) -> Comparison:
        """The new version's findings against the previous one's (its decisions applied),
        the decisions carried into this session, the lineage recorded."""
        from prism_cli.core.session import apply_decisions

        sessions, review = self.sessions, self.review
        report = sessions.report(self.sid)
        stored = report["documents"][0]["findings"] if report else []
        old_decisions = sessions.decisions(self.sid)
        old_findings = apply_decisions(stored, old_decisions)
        for f in old_findings:
            origin = old_decisions.carried.get(str(f["id"]))
            if origin and origin.get("status") == f["status"]:
                f["decided_on"] = origin
        own = [f for f in old_findings if f.get("source") == "reviewer"]
        new = [f.model_dump(mode="json") for f in review.findings if f.source != "reviewer"]
        matches = match_findings(old_findings, new, self.sections)
        date = self.previous.created[:10]
        carried = carry(matches, own, self.sections, self.new_texts, session=self.sid, version=date)
        previous = {
            "session": self.sid,
            "sha256": self.previous.document.sha256,
            "path": self.previous.document.path,
            "date": self.previous.created,
            "linked_by": self.how,
        }
        self.comparison = Comparison(previous, self.sections, matches, carried)
        decisions = sessions.decisions(review.session_id)
        self._keep(carried_to(decisions, carried, self.sid))
        states = self.comparison.states()
        own = [str(mine["id"]) for mine in decisions.custom if mine.get("carried_from")]
        states |= dict.fromkeys(own, "unchanged")
        # The reviewer's own findings are not in the stored report: their ids are kept here.
        review.since = {**self.comparison.record(), "own_carried": own, "states": states}
        if decisions.needs_look:
            review.since["needs_look"] = list(decisions.needs_look)
        return self.comparison

    def _keep(self, decisions: Decisions | None) -> None:
        sessions, sid = self.sessions, self.review.session_id
        if decisions is not None:
            sessions.put_decisions(sid, decisions)
            sessions.log(sid, "decisions_carried", f"from session {self.sid} (previous version)")
        if self.remembered != self.sid:  # the session names its previous version from now on
            meta = sessions.load(sid)
            if meta is not None:
                meta.previous = self.sid
                sessions.save(meta)
            self.remembered = self.sid


def carried_to(decisions: Decisions, carried: Carried, old_sid: str) -> Decisions | None:
    """``decisions`` (the new session's) with what ``carried`` brings that they do not hold
    yet; None when nothing is new. A decision taken on this version wins; one carried before
    and reopened since is not carried again."""
    from prism_cli.core.session import custom_finding

    changed = False
    decided = set(decisions.accepted) | set(decisions.rejected)
    for fid, origin in carried.decided.items():
        if fid in decisions.carried or fid in decided:
            continue
        decisions.carried[fid] = origin
        (decisions.accepted if origin["status"] == "accepted" else decisions.rejected).append(fid)
        changed = True
    taken = {c["id"] for c in decisions.custom}
    for section_id, own in carried.own:
        mark = f"{old_sid}/{own['id']}"
        if mark in decisions.carried_own:
            continue
        number = 1
        while f"{section_id}-c{number}" in taken:
            number += 1
        finding = custom_finding(
            {"id": section_id, "locator": None},
            number,
            str(own.get("severity", "medium")),
            str(own.get("description", "")),
            str(own.get("type", "important")),
            str(own.get("title", "")),
        )
        finding["quote"] = str(own.get("quote") or "")
        finding["status"] = own.get("status", "accepted")
        finding["carried_from"] = {"session": old_sid, "finding": str(own["id"])}
        taken.add(finding["id"])
        decisions.custom.append(finding)
        decisions.carried_own.append(mark)
        changed = True
    for own in carried.needs_look:
        mark = f"{old_sid}/{own['id']}"
        if mark in decisions.carried_own:
            continue
        decisions.needs_look.append(own)
        decisions.carried_own.append(mark)
        changed = True
    return decisions if changed else None


def named(
    sessions: Sessions, since: str | None, resolve_session: Callable[[Sessions, str], str]
) -> tuple[str, str | None]:
    """(how, session) of the previous version a run names: ``--since`` (a session or a
    reviewed file), ``--changed-since`` (the base commit's copy, when it was reviewed)."""
    if since and since.startswith(SHA_REF):
        return "git", sessions.session_of_document(since[len(SHA_REF) :])
    if since:
        return "since", resolve(sessions, since, resolve_session)
    return "since", None


def remember(sessions: Sessions, review: DocumentReview) -> list[tuple[str, str]]:
    """Record this version in its lineages (its path's; its Word identity's, when it has
    one), once; returns their (key, label)."""
    doc = review.document
    keys = [(path_key(doc.path), str(Path(doc.path).resolve()))]
    from prism_cli.word.properties import identity

    word_id = identity(Path(doc.path)) if Path(doc.path).is_file() else None
    if word_id:
        keys.append((identity_key(word_id), f"Word document {word_id}"))
    entry = {"session": review.session_id, "sha256": doc.sha256, "date": sessions.now()}
    for key, label in keys:
        sessions.add_version(key, label, entry)
    return keys


def link(
    sessions: Sessions,
    review: DocumentReview,
    since: str | None,
    resolve_session: Callable[[Sessions, str], str],
    rules_of: Callable[[dict[str, Any]], SectionRules],
) -> Link | None:
    """The previous version of ``review``'s document, if prism reviewed one, with the two
    versions' sections matched (the old one split by its own session's rules, ``rules_of``
    its settings). Records this version in its lineage."""
    from prism_cli.app import documents

    doc = review.document
    meta = sessions.load(review.session_id)
    how, previous = named(sessions, since, resolve_session)
    if previous is None and meta is not None and meta.previous:
        how, previous = "session", meta.previous
    keys = remember(sessions, review)
    if previous is None:
        for (key, _label), kind in zip(keys, ("path", "identity"), strict=False):
            previous = _before(sessions.lineage(key), doc.sha256)
            if previous is not None:
                how = kind
                break
    if previous is None or previous == review.session_id:
        return None
    old_meta = sessions.load(previous)
    if old_meta is None:
        return None
    old_rules = rules_of(old_meta.settings)
    try:
        old = documents.stored(sessions, previous, old_rules)
    except InputError:
        return None
    new = texts(review.sections)
    changes = match_sections(texts(old.sections), new)
    if how == "identity":
        kept = sum(1 for c in changes if c.old and c.new)
        if kept < RELATED * max(1, len(old.sections)):
            return None  # one identity, two documents (copies of one template)
    new_texts = {t.id: f"{t.heading}\n{t.body}" for t in new}
    remembered = meta.previous if meta is not None else None
    return Link(sessions, review, old_meta, how, old, changes, new_texts, remembered)


# -- prism diff --------------------------------------------------------------------------------
@dataclass
class Side:
    """One version given to ``prism diff``: its label, sections and session (if reviewed)."""

    label: str
    review: DocumentReview
    session: str | None


def side(
    sessions: Sessions,
    ref: str,
    rules: SectionRules | None,
    resolve_session: Callable[[Sessions, str], str],
    rules_of: Callable[[dict[str, Any]], SectionRules],
) -> Side:
    """A file (read and split; its session, when one reviewed these bytes) or a session id
    (its stored document, split as its run did)."""
    from prism_cli.app import documents

    path = Path(ref)
    if path.is_file() or ref.lower().endswith((".docx", ".docm", ".dotx", ".dotm")):
        review = documents.read(path, rules)
        try:
            sid: str | None = resolve_session(sessions, ref)
        except (InputError, UsageError):
            sid = None
        return Side(ref, review, sid)
    sid = resolve_session(sessions, ref)
    meta = sessions.require(sid)
    return Side(
        f"{meta.document.name} (session {sid})",
        documents.stored(sessions, sid, rules_of(meta.settings)),
        sid,
    )


def diff(sessions: Sessions, old: Side, new: Side) -> JSONObject:
    """The two versions compared: sections always (no model call), findings when both
    were reviewed (their sessions' reports, decisions applied)."""
    from prism_cli.core.session import apply_decisions

    changes = match_sections(texts(old.review.sections), texts(new.review.sections))
    out: dict[str, Any] = {
        "old": {"label": old.label, "session": old.session, "sha256": old.review.document.sha256},
        "new": {"label": new.label, "session": new.session, "sha256": new.review.document.sha256},
        "sections": [c.record() for c in changes],
        "counts": {
            state.value: sum(1 for c in changes if c.state is state) for state in SectionState
        },
    }
    notes = []
    reports = []
    for each in (old, new):
        report = sessions.report(each.session) if each.session else None
        if report is None:
            notes.append(f"{each.label} has not been reviewed: findings are not compared")
        else:
            found = report["documents"][0]["findings"]
            reports.append(apply_decisions(found, sessions.decisions(str(each.session))))
    if len(reports) == 2:
        matches = match_findings(reports[0], reports[1], changes)
        out["findings"] = [
            {
                "state": m.state.value,
                "id": (m.new or m.old or {}).get("id"),
                "was": m.old.get("id") if m.old and m.new else None,
                "severity": (m.new or m.old or {}).get("severity"),
                "title": (m.new or m.old or {}).get("title"),
                "section_id": (m.new or m.old or {}).get("section_id"),
                "status": (m.new or m.old or {}).get("status"),
            }
            for m in matches
        ]
        out["counts"] |= {
            f"findings_{state}": sum(1 for m in matches if m.state.value == state)
            for state in ("new", "unchanged", "updated", "absent")
        }
    out["notes"] = notes
    return out


# -- prism sessions history --------------------------------------------------------------------
def history(
    sessions: Sessions, ref: str, resolve_session: Callable[[Sessions, str], str]
) -> list[JSONObject]:
    """The versions of a document prism reviewed, oldest first: each one's session, date,
    sections (and how many changed since the one before), findings open, new and fixed.
    ``ref``: the document (its path's versions, and its own session's previous ones) or a
    session id."""
    from prism_cli.core.session import apply_decisions

    start: str | None = None
    try:
        start = resolve_session(sessions, ref)
    except (InputError, UsageError):
        if not Path(ref).exists():
            raise
    ids: list[str] = []
    if Path(ref).exists():
        ids += [v["session"] for v in sessions.lineage(path_key(ref))]
    seen = set(ids)
    chain: list[str] = []
    current = start or (ids[-1] if ids else None)
    while current is not None and current not in chain:  # its own line, followed back
        chain.append(current)
        meta = sessions.load(current)
        current = meta.previous if meta is not None else None
    ids += [sid for sid in reversed(chain) if sid not in seen]
    if not ids:
        raise UsageError(f"{ref}: prism has reviewed no version of it (prism review {ref})")
    out = []
    for sid in ids:
        meta = sessions.load(sid)
        if meta is None:
            continue  # deleted since
        report = sessions.report(sid)
        doc = report["documents"][0] if report else {}
        found = apply_decisions(doc.get("findings", []), sessions.decisions(sid))
        since = doc.get("since") or {}
        counts = since.get("counts", {})
        changed = sum(int(counts.get(f"sections_{k}", 0)) for k in ("changed", "added", "removed"))
        out.append(
            {
                "session": sid,
                "date": meta.created,
                "name": meta.document.name,
                "sha256": meta.document.sha256,
                "status": meta.status.value,
                "previous": meta.previous,
                "sections": len(meta.document.sections),
                "sections_changed": changed if since else None,
                "open": sum(1 for f in found if f.get("status") == "open"),
                "new": int(counts.get("new", 0)) if since else None,
                "fixed": int(counts.get("fixed", 0)) if since else None,
            }
        )
    out.sort(key=lambda v: str(v["date"]))
    return out

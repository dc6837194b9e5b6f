"""Sessions: what a review keeps in a :class:`~prism_cli.core.ports.SessionStore`.

Pure: the key layout, the checksummed encoding, schema versions and migrations, the results
cache key, activity entries, decisions and statistics. The stores (disk, Redis, S3) only move
bytes; this module decides what the bytes mean.

Layout (every value is an envelope, see :func:`encode`)::

    sessions/<id>/meta              the session (document, settings, status), schema_version
    sessions/<id>/document          the original .docx bytes (exports and chat need them)
    sessions/<id>/results/<sid>     one section's result, written as soon as it finishes
    sessions/<id>/report            the last report of this session (one document)
    sessions/<id>/decisions         accepted / rejected finding ids, the reviewer's own findings
    sessions/<id>/threads/<ns>-<r>  a chat thread started (``/clear``); the newest is current
    sessions/<id>/turns/<thread>/<ns>-<r>  one chat turn, written when it completes
    sessions/<id>/log/<ns>-<rand>   one activity entry per key (no read-modify-write races)
    cache/<key>                     a finished section result, shared by every session
    leases/<id>                     who is reviewing the session now
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from prism_cli.core.findings import Finding
from prism_cli.core.ports import SessionStore, StoreError, Usage
from prism_cli.core.results import REUSABLE as _REUSABLE
from prism_cli.core.results import SectionResult, StoredResult
from prism_cli.errors import UsageError

SCHEMA_VERSION = 1
"""Version of everything this module writes. Bump it and add a migration to change a shape."""

_MAGIC = b"prism-session "
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SessionStatus(str, Enum):
    RUNNING = "running"
    INTERRUPTED = "interrupted"
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"
    OFFLINE = "offline"
    """Read offline: rules only, no model review yet (stored reviews reused)."""
    UNREVIEWED = "unreviewed"
    """Opened by ``prism chat`` on a document never reviewed: its sections are read, nothing
    is reviewed and nothing is running."""


@dataclass(frozen=True)
class SectionInfo:
    id: str
    index: int
    title: str
    level: int
    locator: int | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SectionInfo:
        return cls(
            str(data["id"]),
            int(data.get("index", 0)),
            str(data.get("title", "")),
            int(data.get("level", 0)),
            data.get("locator"),
        )


@dataclass(frozen=True)
class DocumentInfo:
    """The document a session reviews."""

    path: str
    name: str
    sha256: str
    sections: tuple[SectionInfo, ...] = ()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentInfo:
        return cls(
            str(data.get("path", "")),
            str(data.get("name", "")),
            str(data.get("sha256", "")),
            tuple(SectionInfo.from_dict(s) for s in data.get("sections", [])),
        )

    @classmethod
    def of(cls, path: str, name: str, sha256: str, sections: Iterable[Any]) -> DocumentInfo:
        """From a document's path and its split sections (``core.document.Section``)."""
        return cls(
            path,
            name,
            sha256,
            tuple(
                SectionInfo(s.id, s.index, s.heading, s.level, s.anchor_locator) for s in sections
            ),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "name": self.name,
            "sha256": self.sha256,
            "sections": [dict(vars(s)) for s in self.sections],
        }


@dataclass
class SessionMeta:
    """A session's record (``sessions/<id>/meta``): the document, the settings that shaped its
    results (``service.RunSettings`` as a record), its status and its usage over all runs."""

    id: str
    created: str
    updated: str
    status: SessionStatus
    document: DocumentInfo
    settings: dict[str, Any]
    usage: dict[str, Usage]
    fresh_run: bool = False
    """A ``--fresh`` run started and has not finished: running it again resumes it."""
    previous: str | None = None
    """The session of this document's previous version (see ``app/versions``)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SessionMeta:
        try:
            status = SessionStatus(data.get("status", "incomplete"))
        except ValueError:
            status = SessionStatus.INCOMPLETE
        return cls(
            id=str(data["id"]),
            created=str(data.get("created", "")),
            updated=str(data.get("updated", "")),
            status=status,
            document=DocumentInfo.from_dict(data.get("document", {})),
            settings=dict(data.get("settings", {})),
            usage={m: Usage(**u) for m, u in data.get("usage", {}).items()},
            fresh_run=bool(data.get("fresh_run", False)),
            previous=str(data["previous"]) if data.get("previous") else None,
        )

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "id": self.id,
            "created": self.created,
            "updated": self.updated,
            "status": self.status.value,
            "document": self.document.as_dict(),
            "settings": self.settings,
            "usage": {m: u.as_dict() for m, u in sorted(self.usage.items())},
        }
        if self.fresh_run:
            out["fresh_run"] = True
        if self.previous:
            out["previous"] = self.previous
        return out


class Decision(str, Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    REOPEN = "reopen"


SEVERITIES = ("high", "medium", "low")
TYPES = ("critical", "important", "suggestion", "positive")


class CorruptEntry(StoreError):
    """A stored value that fails its checksum or cannot be decoded: never used silently."""


class SessionNotFound(UsageError):
    def __init__(self, session_id: str) -> None:
        super().__init__(f"no session {session_id}")
        self.session_id = session_id


def validate_session_id(session_id: str) -> str:
    """Session ids become store keys and file names: letters, digits, ``_ . -`` only."""
    if not _ID.match(session_id) or ".." in session_id:
        raise ValueError(
            f"invalid session id {session_id!r}: use 1-64 letters, digits, '_', '.' or '-'"
        )
    return session_id


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w``."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number and s, m, h, d or w (30d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(section_text: str, framework: str, guidelines: str, prompt_version: str) -> str:
    """The results-cache key: a section's text under one framework, guidelines and prompt."""
    parts = [digest(section_text), framework, digest(guidelines), prompt_version]
    return digest("\x1f".join(parts))


# -- encoding ----------------------------------------------------------------------------------
def encode(payload: Any) -> bytes:
    """``prism-session <sha256>\\n<json>``: truncation and bit rot are caught on read."""
    # Keys in the order they were made (a finding's are its model's fields): a report read
    # back serves as it was written, without dumping its findings again.
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    return _MAGIC + hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def encode_blob(data: bytes) -> bytes:
    return _MAGIC + hashlib.sha256(data).hexdigest().encode() + b"\n" + data


def _verified(key: str, raw: bytes) -> bytes:
    head, sep, body = raw.partition(b"\n")
    if not sep or not head.startswith(_MAGIC):
        raise CorruptEntry(f"stored entry {key} is corrupted (not a prism entry)")
    if hashlib.sha256(body).hexdigest().encode() != head[len(_MAGIC) :]:
        raise CorruptEntry(f"stored entry {key} is corrupted (checksum mismatch)")
    return body


def decode(key: str, raw: bytes) -> Any:
    body = _verified(key, raw)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise CorruptEntry(f"stored entry {key} is corrupted ({exc})") from exc


def decode_blob(key: str, raw: bytes) -> bytes:
    return _verified(key, raw)


# -- migrations --------------------------------------------------------------------------------
def _v0_to_v1(meta: dict[str, Any]) -> dict[str, Any]:
    # Version 0 (pre-release) called the document's sections "outline" and had no status.
    document = dict(meta.get("document", {}))
    if "outline" in document:
        document["sections"] = document.pop("outline")
    return {**meta, "document": document, "status": meta.get("status", "incomplete")}


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _v0_to_v1}
"""``MIGRATIONS[n]`` turns a version-n payload into version n+1."""


def migrate(key: str, payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise CorruptEntry(f"stored entry {key} is corrupted (not an object)")
    version = payload.get("schema_version", 0)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise CorruptEntry(
            f"stored entry {key} has schema_version {version}; this prism reads up to "
            f"{SCHEMA_VERSION} (upgrade prism)"
        )
    migrated: dict[str, Any] = payload
    while version < SCHEMA_VERSION:
        migrated = {**MIGRATIONS[version](migrated), "schema_version": version + 1}
        version += 1
    return migrated


# -- results -----------------------------------------------------------------------------------
REUSABLE = _REUSABLE
"""The statuses a stored result may be reused with (see :class:`StoredResult`)."""


# -- activity ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Activity:
    at: str
    event: str
    detail: str = ""
    section: str | None = None
    model: str | None = None
    by: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "event": self.event,
            "detail": self.detail,
            "section": self.section,
            "model": self.model,
            "by": self.by,
        }


def now_iso(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z")


# -- decisions and statistics ------------------------------------------------------------------
@dataclass
class Decisions:
    """What the reviewer decided on a session's findings: ids accepted and rejected, and
    findings of their own (stored as report findings are: JSON)."""

    accepted: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    custom: list[dict[str, Any]] = field(default_factory=list)
    carried: dict[str, dict[str, str]] = field(default_factory=dict)
    """Decisions carried from a previous version: finding id -> where it was decided
    (status, finding, session, version). Kept after a reopen, so it is not carried again."""
    carried_own: list[str] = field(default_factory=list)
    """``<session>/<id>`` of the previous versions' own findings already carried (or listed)."""
    needs_look: list[dict[str, Any]] = field(default_factory=list)
    """Own findings of a previous version whose place is gone: listed until dealt with."""
    rewrites: dict[str, str] = field(default_factory=dict)
    """Finding id -> the rewrite of its quote the reviewer accepted (chat's /suggest)."""

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Decisions:
        carried = payload.get("carried", {})
        return cls(
            [str(i) for i in payload.get("accepted", [])],
            [str(i) for i in payload.get("rejected", [])],
            [c for c in payload.get("custom", []) if isinstance(c, dict)],
            {
                str(k): {str(a): str(b) for a, b in v.items()}
                for k, v in (carried.items() if isinstance(carried, dict) else ())
                if isinstance(v, dict)
            },
            [str(i) for i in payload.get("carried_own", [])],
            [c for c in payload.get("needs_look", []) if isinstance(c, dict)],
            {
                str(k): str(v)
                for k, v in (payload.get("rewrites") or {}).items()
                if isinstance(v, str)
            },
        )

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "custom": self.custom,
        }
        if self.rewrites:
            out["rewrites"] = self.rewrites
        if self.carried or self.carried_own or self.needs_look:
            out |= {
                "carried": self.carried,
                "carried_own": self.carried_own,
                "needs_look": self.needs_look,
            }
        return out

    def status(self) -> Callable[[str], str]:
        """The status these decisions give a finding id: accepted, rejected or open."""
        accepted, rejected = set(self.accepted), set(self.rejected)
        return lambda fid: (
            "accepted" if fid in accepted else "rejected" if fid in rejected else "open"
        )


def apply_decisions(findings: Iterable[dict[str, Any]], decisions: Decisions) -> list[Any]:
    """Findings (report dicts) with ``status`` from the decisions (and the rewrites the
    reviewer accepted), plus the reviewer's own."""
    status, rewrites = decisions.status(), decisions.rewrites
    out = [
        {**f, "status": status(f["id"]), **({"replacement": rewrites[f["id"]]}
                                             if f["id"] in rewrites else {})}
        for f in findings
    ]  # fmt: skip
    out.extend(decisions.custom)
    return out


def with_decisions(findings: Iterable[Finding], decisions: Decisions) -> list[Finding]:
    """:func:`apply_decisions` for findings as objects: one is copied only when its status
    changes (a rerun of 13,000 findings re-validated them all)."""
    status, rewrites = decisions.status(), decisions.rewrites
    out = []
    for finding in findings:
        now = status(finding.id)
        update: dict[str, str] = {} if finding.status == now else {"status": now}
        if finding.id in rewrites and finding.replacement != rewrites[finding.id]:
            update["replacement"] = rewrites[finding.id]
        out.append(finding.model_copy(update=update) if update else finding)
    out.extend(Finding.model_validate(c) for c in decisions.custom)
    return out


def statistics(report_doc: dict[str, Any] | None, decisions: Decisions) -> dict[str, Any]:
    findings = apply_decisions(report_doc["findings"] if report_doc else [], decisions)
    sections = report_doc["sections"] if report_doc else []
    # A section read offline (rules only) is not reviewed yet.
    done = sum(
        1
        for s in sections
        if s["status"] in REUSABLE and not str(s.get("error") or "").startswith("offline")
    )
    by_severity = {"high": 0, "medium": 0, "low": 0}
    for f in findings:
        by_severity[f["severity"]] += 1
    return {
        "sections": len(sections),
        "sections_done": done,
        "completion_rate": round(done / len(sections), 4) if sections else 0.0,
        "findings": len(findings),
        "findings_by_severity": by_severity,
        "accepted": sum(
            1 for f in findings if f["status"] == "accepted" and f["source"] != "reviewer"
        ),
        "rejected": sum(1 for f in findings if f["status"] == "rejected"),
        "added": len(decisions.custom),
        "open": sum(1 for f in findings if f["status"] == "open"),
    }


# -- the repository over a store ---------------------------------------------------------------
class Sessions:
    """Session operations over any :class:`SessionStore` (disk, Redis, S3)."""

    def __init__(
        self,
        store: SessionStore,
        *,
        who: str = "",
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        unique: Callable[[], str] = lambda: "",
        lease_ttl: float = 30.0,
    ) -> None:
        self.store = store
        self.who = who
        self._batches = threading.local()
        self.lease_ttl = lease_ttl
        """Seconds a lease on one of these sessions lasts without renewal."""
        self._clock = clock
        self._unique = unique

    def now(self) -> str:
        """The store's clock, as the records write it."""
        return now_iso(self._clock())

    @staticmethod
    def _key(session_id: str, *parts: str) -> str:
        return "/".join(("sessions", validate_session_id(session_id), *parts))

    def _get(self, key: str) -> Any | None:
        raw = self.store.get(key)
        return None if raw is None else decode(key, raw)

    def _put(self, key: str, payload: Any) -> None:
        pending: dict[str, bytes] | None = getattr(self._batches, "pending", None)
        if pending is not None:
            pending[key] = encode(payload)
        else:
            self.store.put(key, encode(payload))

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """The writes this thread makes in the block go to the store together when it ends,
        in one transaction where the store has them (one SQLite transaction, one Redis
        MULTI): a section's result, its cache entry and its activity line are one write.
        Reads in the block do not see them; deletes are made at once."""
        if getattr(self._batches, "pending", None) is not None:
            yield  # within a batch already: its writes join it
            return
        self._batches.pending = {}
        try:
            yield
        finally:
            pending, self._batches.pending = self._batches.pending, None
            if pending:
                self.store.put_many(pending)

    # meta
    def load(self, session_id: str) -> SessionMeta | None:
        key = self._key(session_id, "meta")
        payload = self._get(key)
        if payload is None:
            return None
        try:
            return SessionMeta.from_dict(migrate(key, payload))
        except (KeyError, TypeError, ValueError) as exc:
            raise CorruptEntry(f"stored entry {key} is corrupted ({exc})") from exc

    def require(self, session_id: str) -> SessionMeta:
        meta = self.load(session_id)
        if meta is None:
            raise SessionNotFound(session_id)
        return meta

    def save(self, meta: SessionMeta) -> None:
        meta.updated = now_iso(self._clock())
        self._put(self._key(meta.id, "meta"), meta.as_dict())

    def new(
        self,
        session_id: str,
        document: DocumentInfo,
        settings: dict[str, Any],
        *,
        fresh_run: bool = False,
        status: SessionStatus = SessionStatus.RUNNING,
    ) -> SessionMeta:
        now = now_iso(self._clock())
        meta = SessionMeta(
            validate_session_id(session_id),
            now,
            now,
            status,
            document,
            settings,
            {},
            fresh_run,
        )
        self.save(meta)
        return meta

    def update(
        self,
        session_id: str,
        *,
        status: SessionStatus | None = None,
        usage: dict[str, Usage] | None = None,
        end_fresh: bool = False,
    ) -> SessionMeta:
        """Change a session's status; add a run's usage to what its runs used so far (never
        overwritten); ``end_fresh`` marks a ``--fresh`` run finished (a rerun of the same
        command then starts over rather than resumes)."""
        meta = self.require(session_id)
        if status is not None:
            meta.status = status
        for model, used in (usage or {}).items():
            meta.usage.setdefault(model, Usage()).add(used)
        if end_fresh:
            meta.fresh_run = False
        self.save(meta)
        return meta

    def session_of_document(self, sha256: str) -> str | None:
        """The session reviewing the document with this digest (a direct lookup)."""
        sid = sha256[:12]
        meta = self.load(sid)
        return sid if meta is not None and meta.document.sha256 == sha256 else None

    def clear_results(self, session_id: str) -> int:
        """Drop a session's results and report (``--fresh``); decisions and log stay."""
        keys = self.store.list(self._key(session_id, "results") + "/")
        keys += [self._key(session_id, "report"), self._key(session_id, "report_inputs")]
        self.store.delete(keys)
        return len(keys) - 2

    def ids(self) -> list[str]:
        """Ids of the stored sessions (a half-deleted one may be listed; ``load`` tells)."""
        return self.store.children("sessions/")

    def delete(self, session_id: str) -> int:
        keys = self.store.list(self._key(session_id) + "/")
        self.store.delete(keys)
        return len(keys)

    # document bytes
    def put_document(self, session_id: str, data: bytes) -> None:
        self.store.put(self._key(session_id, "document"), encode_blob(data))

    def get_document(self, session_id: str) -> bytes | None:
        key = self._key(session_id, "document")
        raw = self.store.get(key)
        return None if raw is None else decode_blob(key, raw)

    # results
    def put_result(
        self, session_id: str, result: SectionResult, key: str, *, cache: bool = True
    ) -> None:
        """The section's result in the session and, when it is a fresh review, in the cache."""
        payload = StoredResult.payload_of(result, key, SCHEMA_VERSION)
        self._put(self._key(session_id, "results", result.section_id), payload)
        if cache and result.status == "reviewed":
            self._put(f"cache/{key}", payload)

    def result_ids(self, session_id: str) -> list[str]:
        """Ids of the sections with a stored result (one listing, no reads)."""
        prefix = self._key(session_id, "results") + "/"
        return [key[len(prefix) :] for key in self.store.list(prefix)]

    def result(self, session_id: str, section_id: str) -> StoredResult | None:
        key = self._key(session_id, "results", section_id)
        payload = self._get(key)
        return None if payload is None else StoredResult.from_payload(migrate(key, payload))

    def cached(self, key: str) -> StoredResult | None:
        store_key = f"cache/{key}"
        payload = self._get(store_key)
        return None if payload is None else StoredResult.from_payload(migrate(store_key, payload))

    def drop_cached(self, key: str) -> None:
        self.store.delete([f"cache/{key}"])

    # what calls have written: the estimators' history
    @staticmethod
    def _output_key(framework: str, model: str) -> str:
        safe = "".join(ch if ch.isalnum() or ch in "-_.:" else "_" for ch in model)
        return f"stats/output/{framework}/{safe}"

    def output_history(self, framework: str, model: str) -> tuple[int, int]:
        """(calls, output tokens) the store has seen ``model`` write for reviews against the
        framework of digest ``framework``: what the dry run and ``--max-cost`` expect of a
        call. Approximate across concurrent runs (the last writer of a run adds its own)."""
        payload = self._get(self._output_key(framework, model))
        if not isinstance(payload, dict):
            return 0, 0
        return int(payload.get("calls", 0)), int(payload.get("output_tokens", 0))

    def add_output_history(self, framework: str, model: str, calls: int, tokens: int) -> None:
        if calls <= 0:
            return
        held_calls, held_tokens = self.output_history(framework, model)
        self._put(
            self._output_key(framework, model),
            {"calls": held_calls + calls, "output_tokens": held_tokens + tokens},
        )

    # versions of a document
    def lineage(self, key: str) -> list[dict[str, str]]:
        """The versions reviewed under a lineage key (a path's or a Word identity's digest),
        oldest first: session, sha256, date."""
        try:
            payload = self._get(f"lineage/{key}")
        except CorruptEntry:
            return []
        versions = payload.get("versions") if isinstance(payload, dict) else None
        return [
            {str(k): str(v) for k, v in entry.items()}
            for entry in (versions if isinstance(versions, list) else [])
            if isinstance(entry, dict) and entry.get("session")
        ]

    def add_version(self, key: str, label: str, entry: dict[str, str]) -> None:
        """Add a version (once) to a lineage; ``label``: the path or identity it stands for."""
        versions = self.lineage(key)
        if any(v.get("session") == entry["session"] for v in versions):
            return
        self._put(f"lineage/{key}", {"of": label, "versions": [*versions, entry]})

    # report, decisions, chat
    def put_report(
        self, session_id: str, document_report: dict[str, Any], inputs: str | None = None
    ) -> None:
        """The session's report, and ``inputs``: a digest of what it was made from (see
        :meth:`report_inputs`). The old digest goes first: a report is never paired with
        another report's inputs, even by a run killed between the two writes."""
        marker = self._key(session_id, "report_inputs")
        self.store.delete([marker])
        self._put(self._key(session_id, "report"), document_report)
        if inputs is not None:
            self._put(marker, {"inputs": inputs})

    def report_inputs(self, session_id: str) -> str | None:
        """The digest the stored report was made from (its sections' results keys, its rule
        findings, the document's path), if a run stored one."""
        try:
            payload = self._get(self._key(session_id, "report_inputs"))
        except CorruptEntry:
            return None
        value = payload.get("inputs") if isinstance(payload, dict) else None
        return value if isinstance(value, str) else None

    def put_chat_sections(self, session_id: str, data: dict[str, Any]) -> None:
        """The document's sections as chat grounds on them (chat parses a document once)."""
        self._put(self._key(session_id, "chat_sections"), data)

    def chat_sections(self, session_id: str) -> dict[str, Any] | None:
        try:
            payload = self._get(self._key(session_id, "chat_sections"))
        except CorruptEntry:
            return None
        return payload if isinstance(payload, dict) else None

    def report(self, session_id: str) -> dict[str, Any] | None:
        payload = self._get(self._key(session_id, "report"))
        return payload if isinstance(payload, dict) else None

    def decisions(self, session_id: str) -> Decisions:
        key = self._key(session_id, "decisions")
        payload = self._get(key)
        return Decisions() if payload is None else Decisions.from_payload(migrate(key, payload))

    def put_decisions(self, session_id: str, decisions: Decisions) -> None:
        self._put(self._key(session_id, "decisions"), decisions.payload())

    def apply(self, session_id: str, findings: Iterable[Finding]) -> list[dict[str, Any]]:
        """Findings with the reviewer's decisions applied, plus the reviewer's own."""
        return apply_decisions(
            (f.model_dump(mode="json") for f in findings), self.decisions(session_id)
        )

    def known_findings(self, session_id: str) -> set[str]:
        report = self.report(session_id)
        return {f["id"] for d in (report or {}).get("documents", []) for f in d["findings"]}

    def decide(
        self,
        session_id: str,
        decision: Decision,
        finding_ids: list[str],
        rewrites: Mapping[str, str] | None = None,
    ) -> None:
        """Accept, reject or reopen findings (``prism feedback``, chat's /accept); with
        ``rewrites``, the rewrites of their quotes the reviewer keeps (chat's /suggest)."""
        decisions = self.decisions(session_id)
        custom = {c["id"] for c in decisions.custom}
        known = self.known_findings(session_id)
        unknown = [i for i in finding_ids if i not in known and i not in custom]
        if unknown:
            raise UsageError(
                f"no finding {', '.join(unknown)} in session {session_id} "
                "(ids are in the report's findings[].id)"
            )
        for fid in finding_ids:
            decisions.accepted = [x for x in decisions.accepted if x != fid]
            decisions.rejected = [x for x in decisions.rejected if x != fid]
            if fid in custom:
                if decision is Decision.REJECT:
                    decisions.custom = [c for c in decisions.custom if c["id"] != fid]
                continue
            if decision is Decision.ACCEPT:
                decisions.accepted.append(fid)
            elif decision is Decision.REJECT:
                decisions.rejected.append(fid)
        decisions.rewrites.update(rewrites or {})
        self.put_decisions(session_id, decisions)
        past = {"accept": "accepted", "reject": "rejected", "reopen": "reopened"}[decision.value]
        self.log(session_id, f"decision_{past}", ", ".join(finding_ids))

    def set_rewrite(self, session_id: str, finding_id: str, wording: str) -> None:
        """Keep the reviewer's accepted rewrite of a finding's quote, and accept it."""
        self.decide(session_id, Decision.ACCEPT, [finding_id], {finding_id: wording})
        self.log(session_id, "rewrite_accepted", finding_id)

    def add_finding(
        self,
        session_id: str,
        section: str,
        text: str,
        *,
        severity: str = "medium",
        kind: str = "important",
        title: str = "",
        quote: str = "",
        quoted: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A reviewer's own finding on a section (id or title); returns it. ``quote``: the
        words it is about, which must be in the section's text (``quoted``, by section id)."""
        if not text.strip():
            raise UsageError('give the finding\'s text, e.g. "No owner for action 3"')
        if severity not in SEVERITIES:
            raise UsageError(f"severity must be one of {', '.join(SEVERITIES)}")
        if kind not in TYPES:
            raise UsageError(f"type must be one of {', '.join(TYPES)}")
        meta = self.require(session_id)
        sections = meta.document.sections
        match = [s for s in sections if section in (s.id, s.title)]
        if not match:
            choices = ", ".join(f"{s.id} ({s.title})" for s in sections[:12])
            raise UsageError(f"no section {section!r} in session {session_id}; sections: {choices}")
        target = vars(match[0])
        if quote and quoted is not None:
            from prism_cli.core.findings import normalize

            if normalize(quote) not in normalize(quoted.get(target["id"], "")):
                raise UsageError(
                    f"--quote is not in section {target['id']} ({target['title']}): "
                    "give words as the section has them"
                )
        decisions = self.decisions(session_id)
        taken = {c["id"] for c in decisions.custom}
        number = 1
        while f"{target['id']}-c{number}" in taken:
            number += 1
        finding = custom_finding(target, number, severity, text, kind, title)
        if quote:
            finding["quote"] = quote
        decisions.custom.append(finding)
        self.put_decisions(session_id, decisions)
        self.log(session_id, "decision_added", finding["title"], section=target["id"])
        return finding

    def delete_leased(self, session_id: str, ttl: float = 30.0) -> int:
        """Delete a session while holding its lease, so no review can start half-way."""
        from prism_cli.errors import SessionBusy

        key, owner = self.lease_key(session_id), f"{self.who} delete"
        holder = self.store.acquire(key, owner, ttl)
        if holder is not None:
            raise SessionBusy(
                f"session {session_id} is being reviewed by {holder.rsplit(' ', 1)[0]}"
            )
        try:
            return self.delete(session_id)
        finally:
            self.store.release(key, owner)

    def chat(self, session_id: str) -> list[Any]:
        """The turns of the session's current chat thread, oldest first (as dicts)."""
        return self.turns(session_id, self.thread(session_id))

    # chat: one key per turn and per thread, so two terminals on one session lose nothing
    def thread(self, session_id: str) -> str:
        """The current chat thread: the newest one started (``main`` before any)."""
        started = self.store.children(self._key(session_id, "threads") + "/")
        return started[-1] if started else "main"

    def new_thread(self, session_id: str) -> str:
        now = self._clock()
        name = f"{int(now.timestamp() * 1_000_000):017d}-{self._unique()}"
        self._put(self._key(session_id, "threads", name), {"started": now_iso(now)})
        return name

    def add_turn(self, session_id: str, thread: str, turn: dict[str, Any]) -> None:
        now = self._clock()
        stamp = f"{int(now.timestamp() * 1_000_000):017d}-{self._unique()}"
        self._put(self._key(session_id, "turns", thread, stamp), {**turn, "at": now_iso(now)})

    def turns(self, session_id: str, thread: str) -> list[dict[str, Any]]:
        out = []
        for key in self.store.list(self._key(session_id, "turns", thread) + "/"):
            payload = self._get(key)
            if isinstance(payload, dict):
                out.append(payload)
        return out

    # activity
    def log(
        self,
        session_id: str,
        event: str,
        detail: str = "",
        *,
        section: str | None = None,
        model: str | None = None,
    ) -> None:
        now = self._clock()
        entry = Activity(now_iso(now), event, detail, section, model, self.who)
        stamp = f"{int(now.timestamp() * 1_000_000):017d}-{self._unique()}"
        self._put(self._key(session_id, "log", stamp), entry.as_dict())

    def last_active(self, session_id: str) -> datetime | None:
        """When the session's newest activity line was written (from its key alone: one
        listing, no read). An unchanged rerun writes only such a line."""
        stamps = [
            key.rsplit("/", 1)[-1].split("-", 1)[0]
            for key in self.store.list(self._key(session_id, "log") + "/")
        ]
        micros = [int(s) for s in stamps if s.isdigit()]
        return datetime.fromtimestamp(max(micros) / 1_000_000, UTC) if micros else None

    def activity(self, session_id: str) -> list[dict[str, Any]]:
        out = []
        for key in self.store.list(self._key(session_id, "log") + "/"):
            payload = self._get(key)
            if isinstance(payload, dict):
                out.append(payload)
        return out

    # leases
    @staticmethod
    def lease_key(session_id: str) -> str:
        return f"leases/{validate_session_id(session_id)}"


def report_with_decisions(report: dict[str, Any], decisions: Decisions) -> dict[str, Any]:
    """A stored one-document report with the reviewer's decisions applied (and counted)."""
    documents = []
    for doc in report["documents"]:
        documents.append({**doc, "findings": apply_decisions(doc["findings"], decisions)})
    severities = {"high": 0, "medium": 0, "low": 0}
    for doc in documents:
        for f in doc["findings"]:
            severities[f["severity"]] += 1
    summary = {
        **report["summary"],
        "findings": sum(severities.values()),
        "findings_by_severity": severities,
    }
    return {**report, "documents": documents, "summary": summary}


def custom_finding(
    section: dict[str, Any], number: int, severity: str, text: str, kind: str, title: str
) -> dict[str, Any]:
    """A reviewer's own finding, shaped like every other finding of a report."""
    first_line = text.strip().splitlines()[0] if text.strip() else ""
    return Finding(
        id=f"{section['id']}-c{number}",
        section_id=section["id"],
        severity=severity,
        type=kind,
        category="reviewer",
        title=title or (first_line[:80] + ("…" if len(first_line) > 80 else "")),
        description=text.strip(),
        confidence=1.0,
        source="reviewer",
        status="accepted",
        locator=section.get("locator"),
    ).model_dump(mode="json")

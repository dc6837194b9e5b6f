"""Read models of stored sessions (``prism sessions list|show``) and their export."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from prism_cli.core.session import Decisions, SessionMeta, Sessions
from prism_cli.errors import UsageError


def session_summary(sessions: Sessions, sid: str) -> dict[str, Any]:
    """One row of ``prism sessions list``: the document, status and statistics."""
    meta = sessions.require(sid)
    return _summary(sessions, meta, sessions.report(sid), sessions.decisions(sid))


def _summary(
    sessions: Sessions,
    meta: SessionMeta,
    report: dict[str, Any] | None,
    decisions: Decisions,
) -> dict[str, Any]:
    from prism_cli.core.session import statistics

    sid = meta.id
    doc = report["documents"][0] if report else None
    stats = statistics(doc, decisions)
    if doc is None:  # never finished a run: count the stored results instead
        done = len(sessions.result_ids(sid))
        total = len(meta.document.sections)
        stats.update(
            sections=total,
            sections_done=done,
            completion_rate=round(done / total, 4) if total else 0.0,
        )
    return {
        "id": sid,
        "document": meta.document.name,
        "path": meta.document.path,
        "sha256": meta.document.sha256,
        "status": meta.status.value,
        "created": meta.created,
        "updated": meta.updated,
        "statistics": stats,
    }


def session_details(sessions: Sessions, sid: str) -> dict[str, Any]:
    """``prism sessions show``: the summary, settings, findings with their ids and the
    reviewer's decisions, usage over all runs, and the activity log."""
    from prism_cli.core.session import report_with_decisions

    meta = sessions.require(sid)
    report, decisions = sessions.report(sid), sessions.decisions(sid)
    info = _summary(sessions, meta, report, decisions)
    settings = dict(meta.settings)
    settings.pop("framework_text", None)  # long; the digest names it
    info["settings"] = settings
    findings = (
        report_with_decisions(report, decisions)["documents"][0]["findings"] if report else []
    )
    info["findings"] = [
        {k: f.get(k) for k in ("id", "section_id", "severity", "type", "status", "title")}
        for f in findings
    ]
    # Over all its runs, with the cost (the stored report holds the session's usage).
    info["usage"] = report["summary"]["usage"] if report else None
    info["previous"] = meta.previous
    since = report["documents"][0].get("since") if report else None
    info["since"] = since["headline"] if since else None
    info["activity"] = sessions.activity(sid)
    return info


def export_session(
    sessions: Sessions,
    sid: str,
    to: str,
    *,
    only_accepted: bool = False,
    kms_key: str | None = None,
    formats: Sequence[str] = (),
    warn: Callable[[str], None] = lambda _msg: None,
) -> str:
    """Write a session's results (decisions applied, its usage over all runs) to a new folder
    in a directory or on S3; returns where."""
    from prism_cli.app import export
    from prism_cli.core.session import report_with_decisions

    meta = sessions.require(sid)
    report = sessions.report(sid)
    if report is None:
        raise UsageError(f"session {sid} has no report yet: run `prism review` to finish it")
    report = report_with_decisions(report, sessions.decisions(sid))
    docx = sessions.get_document(sid)
    if docx is None:
        path = Path(meta.document.path)
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == meta.document.sha256:
            docx = path.read_bytes()
        else:
            warn(f"session {sid} has no copy of the document: no reviewed.docx")
    files = export.build_files(
        report,
        docx=docx,
        activity=sessions.activity(sid),
        chat=sessions.chat(sid),
        only_accepted=only_accepted,
        formats=list(formats),
    )
    where = export.write(files, to, export.folder_name(meta.document.name or sid), kms_key=kms_key)
    sessions.log(sid, "exported", where)
    return where

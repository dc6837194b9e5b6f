"""``prism sessions``, ``prism feedback`` and ``prism export``: work with stored sessions."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prism_cli.console import Console
from prism_cli.core.session import (
    CorruptEntry,
    SessionNotFound,
    Sessions,
    custom_finding,
    parse_duration,
    report_with_decisions,
    statistics,
    validate_session_id,
)
from prism_cli.errors import EXIT_OK, InputError, SessionBusy, UsageError

SEVERITIES = ("high", "medium", "low")
TYPES = ("critical", "important", "suggestion", "positive")


def _open(store: str | None) -> Sessions:
    from prism_cli.stores.service import open_sessions

    return open_sessions(store)


def resolve(sessions: Sessions, ref: str) -> str:
    """A session id from an id or the path of a reviewed document."""
    path = Path(ref)
    if ref.lower().endswith((".docx", ".docm", ".dotx", ".dotm")) or path.is_file():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(ref, exc.strerror or str(exc)) from exc
        sid = hashlib.sha256(data).hexdigest()[:12]
        if sessions.load(sid) is None:
            raise InputError(ref, f"no session for this document in {sessions.store.url}")
        return sid
    try:
        sid = validate_session_id(ref)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if sessions.load(sid) is None:
        raise UsageError(f"no session {sid} in {sessions.store.url} (see `prism sessions list`)")
    return sid


def _summary(sessions: Sessions, sid: str) -> dict[str, Any]:
    meta = sessions.require(sid)
    report = sessions.report(sid)
    doc = report["documents"][0] if report else None
    stats = statistics(doc, sessions.decisions(sid))
    if doc is None:  # never finished a run: count the stored results instead
        done = len(sessions.result_ids(sid))
        total = len(meta["document"].get("sections", []))
        stats.update(
            sections=total,
            sections_done=done,
            completion_rate=round(done / total, 4) if total else 0.0,
        )
    return {
        "id": sid,
        "document": meta["document"].get("name"),
        "path": meta["document"].get("path"),
        "sha256": meta["document"].get("sha256"),
        "status": meta.get("status"),
        "created": meta.get("created"),
        "updated": meta.get("updated"),
        "statistics": stats,
    }


def run_list(console: Console, store: str | None, fmt: str | None) -> int:
    sessions = _open(store)
    from prism_cli.stores.service import parallel

    def row(sid: str) -> dict[str, Any] | None:
        try:
            return _summary(sessions, sid)
        except SessionNotFound:
            return None  # deleted meanwhile
        except CorruptEntry as exc:  # a corrupted session is listed, not fatal
            return {"id": sid, "status": "corrupted", "error": exc.message}

    rows = [r for r in parallel(row, sessions.ids()) if r is not None]
    rows.sort(key=lambda r: str(r.get("updated") or ""), reverse=True)
    if (fmt or ("table" if console.stdout_is_tty else "json")) == "json":
        console.write(json.dumps({"store": sessions.store.url, "sessions": rows}, indent=2))
        return EXIT_OK
    if not rows:
        console.info(f"no sessions in {sessions.store.url}")
        return EXIT_OK
    from rich.table import Table

    table = Table(title=f"sessions in {sessions.store.url}", title_justify="left")
    for column in ("id", "document", "status", "done", "findings", "updated"):
        table.add_column(column)
    for r in rows:
        st = r.get("statistics", {})
        table.add_row(
            r["id"],
            str(r.get("document") or ""),
            str(r.get("status") or ""),
            f"{st.get('sections_done', 0)}/{st.get('sections', 0)}" if st else "",
            str(st.get("findings", "")) if st else "",
            str(r.get("updated") or r.get("error", "")),
        )
    console.render(table)
    return EXIT_OK


def run_show(console: Console, store: str | None, ref: str, fmt: str | None) -> int:
    sessions = _open(store)
    sid = resolve(sessions, ref)
    info = _summary(sessions, sid)
    activity = sessions.activity(sid)
    meta = sessions.require(sid)
    info["settings"] = meta.get("settings", {})
    info["activity"] = activity
    if (fmt or ("table" if console.stdout_is_tty else "json")) == "json":
        console.write(json.dumps(info, indent=2, ensure_ascii=False))
        return EXIT_OK
    st = info["statistics"]
    sev = st["findings_by_severity"]
    lines = [
        f"session   {sid}  ({info['status']})",
        f"document  {info['document']}  sha256 {str(info['sha256'])[:16]}…",
        f"created   {info['created']}   updated {info['updated']}",
        f"sections  {st['sections_done']}/{st['sections']} done "
        f"({st['completion_rate'] * 100:.0f}% complete)",
        f"findings  {st['findings']}: {sev['high']} high, {sev['medium']} medium, {sev['low']} low",
        f"decisions {st['accepted']} accepted, {st['rejected']} rejected, {st['added']} added, "
        f"{st['open']} open",
        "",
        "recent activity:",
    ]
    for entry in activity[-15:]:
        where = " ".join(x for x in (entry.get("section"), entry.get("model")) if x)
        lines.append(
            f"  {entry['at']}  {entry['event']:<13} {where}  {entry.get('detail', '')}".rstrip()
        )
    console.write("\n".join(lines))
    return EXIT_OK


def _delete(sessions: Sessions, sid: str) -> int:
    """Delete a session while holding its lease, so no review can start half-way through."""
    key, owner = Sessions.lease_key(sid), f"{sessions.who} delete"
    holder = sessions.store.acquire(key, owner, 30.0)
    if holder is not None:
        raise SessionBusy(f"session {sid} is being reviewed by {holder.rsplit(' ', 1)[0]}")
    try:
        return sessions.delete(sid)
    finally:
        sessions.store.release(key, owner)


def run_delete(console: Console, store: str | None, refs: list[str]) -> int:
    sessions = _open(store)
    sids = [resolve(sessions, ref) for ref in refs]  # all valid before deleting any
    for sid in sids:
        count = _delete(sessions, sid)
        console.info(f"deleted session {sid} ({count} entries)")
    return EXIT_OK


def run_prune(console: Console, store: str | None, older_than: str, dry_run: bool) -> int:
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from exc
    sessions = _open(store)
    cutoff = datetime.now(UTC) - age
    pruned = 0
    for sid in sessions.ids():
        try:
            meta = sessions.load(sid)
        except CorruptEntry:  # its age is unknown: leave it for `prism sessions delete`
            continue
        if meta is None:
            continue
        updated = datetime.fromisoformat(str(meta.get("updated", "")).replace("Z", "+00:00"))
        if updated >= cutoff:
            continue
        pruned += 1
        if dry_run:
            console.write(
                f"would delete {sid} ({meta['document'].get('name')}, updated {meta['updated']})"
            )
            continue
        _delete(sessions, sid)
        console.info(f"deleted session {sid} ({meta['document'].get('name')})")
    console.info(f"{pruned} session(s) older than {older_than}{' (dry run)' if dry_run else ''}")
    return EXIT_OK


def run_feedback(
    console: Console,
    store: str | None,
    ref: str,
    action: str,
    items: list[str],
    section: str | None,
    severity: str,
    kind: str,
    title: str,
) -> int:
    sessions = _open(store)
    sid = resolve(sessions, ref)
    decisions = sessions.decisions(sid)
    if action in ("accept", "reject", "reopen"):
        if not items:
            raise UsageError(f"feedback {action}: give one or more finding ids")
        report = sessions.report(sid)
        known = {f["id"] for d in (report or {}).get("documents", []) for f in d["findings"]}
        custom = {c["id"] for c in decisions["custom"]}
        unknown = [i for i in items if i not in known and i not in custom]
        if unknown:
            raise UsageError(
                f"no finding {', '.join(unknown)} in session {sid} "
                "(ids are in the report's findings[].id)"
            )
        for fid in items:
            decisions["accepted"] = [x for x in decisions["accepted"] if x != fid]
            decisions["rejected"] = [x for x in decisions["rejected"] if x != fid]
            if fid in custom:
                if action == "reject":
                    decisions["custom"] = [c for c in decisions["custom"] if c["id"] != fid]
                continue
            if action == "accept":
                decisions["accepted"].append(fid)
            elif action == "reject":
                decisions["rejected"].append(fid)
        sessions.put_decisions(sid, decisions)
        past = {"accept": "accepted", "reject": "rejected", "reopen": "reopened"}[action]
        sessions.log(sid, f"decision_{past}", ", ".join(items))
        console.info(f"{past} {len(items)} finding(s) in session {sid}")
        return EXIT_OK
    if action == "add":
        text = " ".join(items).strip()
        if not text:
            raise UsageError('feedback add: give the finding\'s text, e.g. "No owner for action 3"')
        if severity not in SEVERITIES:
            raise UsageError(f"--severity must be one of {', '.join(SEVERITIES)}")
        if kind not in TYPES:
            raise UsageError(f"--type must be one of {', '.join(TYPES)}")
        meta = sessions.require(sid)
        sections = meta["document"].get("sections", [])
        if section is None:
            raise UsageError("feedback add needs --section (an id like s3, or a section title)")
        match = [s for s in sections if section in (s["id"], s["title"])]
        if not match:
            choices = ", ".join(f"{s['id']} ({s['title']})" for s in sections[:12])
            raise UsageError(f"no section {section!r} in session {sid}; sections: {choices}")
        target = match[0]
        taken = {c["id"] for c in decisions["custom"]}
        number = 1
        while f"{target['id']}-c{number}" in taken:
            number += 1
        finding = custom_finding(target, number, severity, text, kind, title)
        decisions["custom"].append(finding)
        sessions.put_decisions(sid, decisions)
        sessions.log(sid, "decision_added", finding["title"], section=target["id"])
        console.info(f"added {finding['id']} to session {sid}")
        console.write(finding["id"])
        return EXIT_OK
    raise UsageError(f"unknown feedback action {action!r}: use accept, reject, reopen or add")


def run_export(
    console: Console,
    store: str | None,
    ref: str,
    to: str,
    only_accepted: bool,
    kms_key: str | None,
    formats: list[str] | None = None,
) -> int:
    from prism_cli import export

    unknown = [f for f in formats or [] if f not in export.FORMATS]
    if unknown:
        raise UsageError(f"--format must be among {', '.join(export.FORMATS)}")

    sessions = _open(store)
    sid = resolve(sessions, ref)
    meta = sessions.require(sid)
    report = sessions.report(sid)
    if report is None:
        raise UsageError(f"session {sid} has no report yet: run `prism review` to finish it")
    report = report_with_decisions(report, sessions.decisions(sid))
    docx = sessions.get_document(sid)
    if docx is None:
        path = Path(str(meta["document"].get("path", "")))
        if (
            path.is_file()
            and hashlib.sha256(path.read_bytes()).hexdigest() == meta["document"]["sha256"]
        ):
            docx = path.read_bytes()
        else:
            console.warn(f"session {sid} has no copy of the document: no reviewed.docx")
    files = export.build_files(
        report,
        docx=docx,
        activity=sessions.activity(sid),
        chat=sessions.chat(sid),
        only_accepted=only_accepted,
        formats=formats or [],
    )
    where = export.write(
        files, to, export.folder_name(str(meta["document"].get("name") or sid)), kms_key=kms_key
    )
    sessions.log(sid, "exported", where)
    console.info(f"exported session {sid} to {where}")
    console.write(where)
    return EXIT_OK

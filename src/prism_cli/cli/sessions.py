"""``prism sessions``, ``prism feedback`` and ``prism export``: work with stored sessions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_cli.core.jsontypes import JSONObject

from prism_cli.cli.application import Application
from prism_cli.core.session import (
    CorruptEntry,
    SessionNotFound,
    Sessions,
    parse_duration,
)
from prism_cli.errors import EXIT_OK, UsageError

SEVERITIES = ("high", "medium", "low")
TYPES = ("critical", "important", "suggestion", "positive")


def resolve(sessions: Sessions, ref: str) -> str:
    from prism_cli.service import resolve_session

    return resolve_session(sessions, ref)


def _summary(sessions: Sessions, sid: str) -> JSONObject:
    from prism_cli.service import session_summary

    return session_summary(sessions, sid)


def run_list(app: Application, fmt: str | None) -> int:
    console, sessions = app.console, app.sessions
    from prism_cli.stores.service import parallel

    def row(sid: str) -> JSONObject | None:
        try:
            return _summary(sessions, sid)
        except SessionNotFound:
            return None  # deleted meanwhile
        except CorruptEntry as exc:  # a corrupted session is listed, not fatal
            return {"id": sid, "status": "corrupted", "error": exc.message}

    rows = [r for r in parallel(row, sessions.ids()) if r is not None]
    rows.sort(key=lambda r: str(r.get("updated") or ""), reverse=True)
    if app.output_format(fmt) == "json":
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


def run_show(app: Application, ref: str, fmt: str | None) -> int:
    console, sessions = app.console, app.sessions
    sid = resolve(sessions, ref)
    from prism_cli.service import session_details

    info = session_details(sessions, sid)
    activity = info["activity"]
    if app.output_format(fmt) == "json":
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
    ]
    if info["usage"]:
        used = info["usage"]
        lines.append(
            f"usage     {used['calls']} calls, {used['input_tokens']} in / "
            f"{used['output_tokens']} out tokens, ${used['cost_usd']:.4f} over all its runs"
        )
    if info["findings"]:
        lines += ["", "findings (accept or reject with `prism feedback`):"]
        width = max(len(f["id"]) for f in info["findings"])
        for f in info["findings"]:
            lines.append(
                f"  {f['id']:<{width}}  {f['severity']:<6}  {f['status']:<8}  {f['title']}"
            )
    lines += ["", "recent activity:"]
    for entry in activity[-15:]:
        where = " ".join(x for x in (entry.get("section"), entry.get("model")) if x)
        lines.append(
            f"  {entry['at']}  {entry['event']:<13} {where}  {entry.get('detail', '')}".rstrip()
        )
    console.write("\n".join(lines))
    return EXIT_OK


def _delete(sessions: Sessions, sid: str) -> int:
    return sessions.delete_leased(sid)


def run_delete(app: Application, refs: list[str]) -> int:
    console, sessions = app.console, app.sessions
    sids = [resolve(sessions, ref) for ref in refs]  # all valid before deleting any
    for sid in sids:
        count = _delete(sessions, sid)
        console.info(f"deleted session {sid} ({count} entries)")
    return EXIT_OK


def run_prune(app: Application, older_than: str, dry_run: bool) -> int:
    console = app.console
    try:
        age = parse_duration(older_than)
    except ValueError as exc:
        raise UsageError(f"--older-than: {exc}") from exc
    sessions = app.sessions
    cutoff = datetime.now(UTC) - age
    pruned = 0
    for sid in sessions.ids():
        try:
            meta = sessions.load(sid)
        except CorruptEntry:  # its age is unknown: leave it for `prism sessions delete`
            continue
        if meta is None:
            continue
        updated = datetime.fromisoformat(meta.updated.replace("Z", "+00:00"))
        if updated >= cutoff:
            continue
        pruned += 1
        if dry_run:
            console.write(f"would delete {sid} ({meta.document.name}, updated {meta.updated})")
            continue
        _delete(sessions, sid)
        console.info(f"deleted session {sid} ({meta.document.name})")
    console.info(f"{pruned} session(s) older than {older_than}{' (dry run)' if dry_run else ''}")
    return EXIT_OK


def run_feedback(
    app: Application,
    ref: str,
    action: str,
    items: list[str],
    section: str | None,
    severity: str,
    kind: str,
    title: str,
) -> int:
    from prism_cli.core.session import Decision

    console, sessions = app.console, app.sessions
    sid = resolve(sessions, ref)
    if action in ("accept", "reject", "reopen"):
        if not items:
            raise UsageError(f"feedback {action}: give one or more finding ids")
        sessions.decide(sid, Decision(action), items)
        past = {"accept": "accepted", "reject": "rejected", "reopen": "reopened"}[action]
        console.info(f"{past} {len(items)} finding(s) in session {sid}")
        return EXIT_OK
    if action == "add":
        if section is None:
            raise UsageError("feedback add needs --section (an id like s3, or a section title)")
        try:
            finding = sessions.add_finding(
                sid, section, " ".join(items), severity=severity, kind=kind, title=title
            )
        except UsageError as exc:
            raise UsageError(f"feedback add: {exc}") from exc
        console.info(f"added {finding['id']} to session {sid}")
        console.write(finding["id"])
        return EXIT_OK
    raise UsageError(f"unknown feedback action {action!r}: use accept, reject, reopen or add")


def run_export(
    app: Application,
    ref: str,
    to: str,
    only_accepted: bool,
    kms_key: str | None,
    formats: list[str] | None = None,
) -> int:

    from prism_cli.reports import EXPORT_FORMATS

    unknown = [f for f in formats or [] if f not in EXPORT_FORMATS]
    if unknown:
        raise UsageError(f"--format must be among {', '.join(EXPORT_FORMATS)}")

    from prism_cli.service import export_session

    console, sessions = app.console, app.sessions
    sid = resolve(sessions, ref)
    where = export_session(
        sessions,
        sid,
        to,
        only_accepted=only_accepted,
        kms_key=kms_key,
        formats=formats or [],
        warn=console.warn,
    )
    console.info(f"exported session {sid} to {where}")
    console.write(where)
    return EXIT_OK

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
    from prism_cli.app.sessions import session_summary

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
    from rich.text import Text

    # Document names are the documents' own: shown literally (Text), never read as markup.
    if console.rich_out().width < 80:
        # Too narrow for the table's six columns (at 60 the name's column vanished and the
        # id was cut): a session per two lines, its facts, then its document, whole.
        console.render(Text(f"sessions in {sessions.store.url}"))
        for r in rows:
            st = r.get("statistics", {})
            facts = [r["id"], str(r.get("status") or "")]
            if st:
                facts += [
                    f"{st.get('sections_done', 0)}/{st.get('sections', 0)} done",
                    f"{st.get('findings', 0)} findings",
                ]
            facts.append(_when(str(r.get("updated") or ""))[5:] or str(r.get("error", "")))
            console.render(Text("  ".join(f for f in facts if f)))
            console.render(Text(f"  {r.get('document') or ''}", style="dim"))
        return EXIT_OK
    table = Table(title=Text(f"sessions in {sessions.store.url}"), title_justify="left")
    # Everything but the document's name fits on one line; the name wraps, whole, so two
    # versions of a document never read the same (brand_registry_v1 / _v2).
    table.add_column("id", no_wrap=True)
    table.add_column("document", overflow="fold", min_width=12)
    table.add_column("status", no_wrap=True)
    table.add_column("done", no_wrap=True, justify="right")
    table.add_column("findings", no_wrap=True, justify="right")
    table.add_column("updated", no_wrap=True)
    for r in rows:
        st = r.get("statistics", {})
        cells = (
            r["id"],
            str(r.get("document") or ""),
            str(r.get("status") or ""),
            f"{st.get('sections_done', 0)}/{st.get('sections', 0)}" if st else "",
            str(st.get("findings", "")) if st else "",
            _when(str(r.get("updated") or "")) or str(r.get("error", "")),
        )
        table.add_row(*(Text(str(c)) for c in cells))
    console.render(table)
    return EXIT_OK


def _when(stamp: str) -> str:
    """``2026-12-04T07:26:10Z`` as ``2026-12-04 07:26`` (UTC): a table column's worth."""
    if len(stamp) >= 16 and stamp[10] == "T":
        return f"{stamp[:10]} {stamp[11:16]}"
    return stamp


def _wrapped(lines: list[str], width: int | None) -> str:
    """Lines wrapped at words to ``width`` (a terminal's), each continuation indented under
    the text it continues; unwrapped when ``width`` is None (a pipe reads whole lines)."""
    if width is None:
        return "\n".join(lines)
    import textwrap

    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        # Continue under the last column: after the widest run of two spaces (id, severity...).
        gap = line.rfind("  ", 0, max(indent + 1, min(len(line), width // 2 + 8)))
        hang = gap + 2 if gap >= indent and gap + 2 < width // 2 + 8 else indent + 2
        out.extend(
            textwrap.wrap(
                line,
                width=width,
                initial_indent="",
                subsequent_indent=" " * hang,
                break_long_words=True,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [line]
        )
    return "\n".join(out)


def run_show(app: Application, ref: str, fmt: str | None) -> int:
    console, sessions = app.console, app.sessions
    sid = resolve(sessions, ref)
    from prism_cli.app.sessions import session_details

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
    import shutil

    columns = shutil.get_terminal_size((100, 24)).columns if console.stdout_is_tty else None
    console.write(_wrapped(lines, columns))
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
        from prism_cli.core.findings import SEVERITY_ORDER, TYPE_ORDER

        if severity not in SEVERITY_ORDER:
            hint = f" ({severity} is a --type)" if severity in TYPE_ORDER else ""
            raise UsageError(f"--severity must be one of {', '.join(SEVERITY_ORDER)}{hint}")
        if kind not in TYPE_ORDER:
            hint = f" ({kind} is a --severity)" if kind in SEVERITY_ORDER else ""
            raise UsageError(f"--type must be one of {', '.join(TYPE_ORDER)}{hint}")
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

    from prism_cli.app.sessions import export_session

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

"""``prism sessions``: list, show, delete and prune stored sessions."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

if TYPE_CHECKING:
    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.core.session import Sessions

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    SHORT,
    ListFormat,
    SessionArgument,
    StoreOption,
    application,
    command_app,
)
from prism_cli.errors import EXIT_OK, UsageError


def _summary(sessions: Sessions, sid: str) -> JSONObject:
    from prism_cli.app.sessions import session_summary

    return session_summary(sessions, sid)


def run_list(app: Application, fmt: str | None) -> int:
    from prism_cli.core.session import CorruptEntry, SessionNotFound
    from prism_cli.stores.service import parallel

    console, sessions = app.console, app.sessions

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


def run_show(app: Application, ref: str, fmt: str | None) -> int:
    console, sessions = app.console, app.sessions
    from prism_cli.app.run import resolve_session

    sid = resolve_session(sessions, ref)
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
    if info.get("since"):
        lines.append(f"versions  {info['since']} (session {info['previous']})")
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
    console.write_wrapped(lines)
    return EXIT_OK


def _delete(sessions: Sessions, sid: str) -> int:
    return sessions.delete_leased(sid)


def run_delete(app: Application, refs: list[str]) -> int:
    console, sessions = app.console, app.sessions
    from prism_cli.app.run import resolve_session

    sids = [resolve_session(sessions, ref) for ref in refs]  # all valid before deleting any
    for sid in sids:
        count = _delete(sessions, sid)
        console.info(f"deleted session {sid} ({count} entries)")
    return EXIT_OK


def run_prune(app: Application, older_than: str, dry_run: bool) -> int:
    from prism_cli.core.session import CorruptEntry, parse_duration

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
        active = sessions.last_active(sid)  # an unchanged rerun leaves the session as it was
        if max(updated, active or updated) >= cutoff:
            continue
        pruned += 1
        if dry_run:
            console.write(f"would delete {sid} ({meta.document.name}, updated {meta.updated})")
            continue
        _delete(sessions, sid)
        console.info(f"deleted session {sid} ({meta.document.name})")
    console.info(f"{pruned} session(s) older than {older_than}{' (dry run)' if dry_run else ''}")
    return EXIT_OK


command = command_app(
    name="sessions",
    help="Manage stored review sessions.",
    short_help=SHORT["sessions"],
)


@command.command("list", cls=PanelCommand)
def sessions_list(ctx: typer.Context, store: StoreOption = None, fmt: ListFormat = None) -> None:
    """List sessions, most recently updated first."""
    raise typer.Exit(run_list(application(ctx, store=store), fmt.value if fmt else None))


@command.command("show", cls=PanelCommand)
def sessions_show(
    ctx: typer.Context, session: SessionArgument, store: StoreOption = None, fmt: ListFormat = None
) -> None:
    """Statistics and recent activity of one session."""
    raise typer.Exit(run_show(application(ctx, store=store), session, fmt.value if fmt else None))


@command.command("history", cls=PanelCommand)
def sessions_history(
    ctx: typer.Context,
    document: Annotated[str, typer.Argument(metavar="FILE", help="A document (or a session id).")],
    store: StoreOption = None,
    fmt: ListFormat = None,
) -> None:
    """The versions of a document prism reviewed: dates, sections changed, findings open,
    new and fixed."""
    raise typer.Exit(
        run_history(application(ctx, store=store), document, fmt.value if fmt else None)
    )


def run_history(app: Application, ref: str, fmt: str | None) -> int:
    from prism_cli.app.run import resolve_session
    from prism_cli.app.versions import history

    versions = history(app.sessions, ref, resolve_session)
    fmt = fmt or ("table" if app.console.stdout_is_tty else "json")
    if fmt == "json":
        app.console.write(json.dumps(versions, indent=2, ensure_ascii=False))
        return EXIT_OK

    def dash(value: object) -> str:
        return "-" if value is None else str(value)

    rows = [
        (str(n), _when(v["date"]), v["session"], str(v["sections"]), dash(v["sections_changed"]),
         str(v["open"]), dash(v["new"]), dash(v["fixed"]))
        for n, v in enumerate(versions, 1)
    ]  # fmt: skip
    head = ("version", "date", "session", "sections", "changed", "open", "new", "fixed")
    if fmt == "markdown":
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    elif app.console.stdout_is_tty:  # a terminal: a table that fits its width
        from rich.table import Table

        table = Table(box=None, pad_edge=False, header_style="bold", padding=(0, 1, 0, 0))
        narrow = {"version": "#", "date": "reviewed"}
        for i, name in enumerate(head):  # nothing cut: a session id is copied from here
            table.add_column(
                narrow.get(name, name),
                justify="left" if i < 3 else "right",
                overflow="fold",
                no_wrap=name != "date",
                min_width=10 if name == "date" else None,
            )
        for row in rows:
            table.add_row(*row)
        app.console.render(table)
        return EXIT_OK
    else:
        widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=False)]
        lines = [
            "  ".join(
                x.ljust(w) if i < 3 else x.rjust(w)
                for i, (x, w) in enumerate(zip(row, widths, strict=True))
            )
            for row in (head, *rows)
        ]
    app.console.write("\n".join(lines))
    return EXIT_OK


@command.command("delete", cls=PanelCommand)
def sessions_delete(
    ctx: typer.Context,
    session: Annotated[
        list[str], typer.Argument(metavar="SESSION", help="Session ids or reviewed .docx files.")
    ],
    store: StoreOption = None,
) -> None:
    """Delete sessions (refused while one is being reviewed)."""
    raise typer.Exit(run_delete(application(ctx, store=store), session))


@command.command("prune", cls=PanelCommand)
def sessions_prune(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="AGE", help="Age like 30d, 12h, 2w.", show_default=False
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list them.")] = False,
    store: StoreOption = None,
) -> None:
    """Delete sessions not updated for a while."""
    raise typer.Exit(run_prune(application(ctx, store=store), older_than, dry_run))

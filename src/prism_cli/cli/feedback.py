"""``prism feedback``: the reviewer's decisions on a session's findings, and their own."""

from __future__ import annotations

from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, SessionArgument, StoreOption, application, command_app
from prism_cli.errors import EXIT_OK, UsageError

command = command_app()


@command.command("feedback", cls=PanelCommand, short_help=SHORT["feedback"])
def feedback(
    ctx: typer.Context,
    session: SessionArgument,
    action: Annotated[str, typer.Argument(metavar="ACTION", help="accept, reject, reopen or add.")],
    items: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ITEM",
            help="Finding ids (accept/reject/reopen) or the text (add).",
            show_default=False,
        ),
    ] = None,
    section: Annotated[
        str | None, typer.Option(metavar="SECTION", help="add: the section id (s3) or title.")
    ] = None,
    severity: Annotated[
        str, typer.Option(metavar="LEVEL", help="add: high, medium or low.")
    ] = "medium",
    kind: Annotated[
        str,
        typer.Option(
            "--type", metavar="TYPE", help="add: critical, important, suggestion or positive."
        ),
    ] = "important",
    title: Annotated[
        str, typer.Option(metavar="TEXT", help="add: a title (default: the text's first line).")
    ] = "",
    quote: Annotated[
        str, typer.Option(metavar="TEXT", help="add: the words it is about, as in the section.")
    ] = "",
    store: StoreOption = None,
) -> None:
    """Record the reviewer's decisions: accept or reject findings, or add your own.

    \b
    prism feedback ID accept s2-m1 s3-r1
    prism feedback ID add --section s3 --severity high "text"
    """
    app = application(ctx, store=store)
    raise typer.Exit(
        run_feedback(app, session, action, list(items or []), section, severity, kind, title, quote)
    )


def run_feedback(
    app: Application,
    ref: str,
    action: str,
    items: list[str],
    section: str | None,
    severity: str,
    kind: str,
    title: str,
    quote: str = "",
) -> int:
    from prism_cli.app.run import resolve_session
    from prism_cli.core.session import Decision

    console, sessions = app.console, app.sessions
    sid = resolve_session(sessions, ref)
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
                sid,
                section,
                " ".join(items),
                severity=severity,
                kind=kind,
                title=title,
                quote=quote,
                quoted=_quoted(sessions, sid) if quote else None,
            )
        except UsageError as exc:
            raise UsageError(f"feedback add: {exc}") from exc
        console.info(f"added {finding['id']} to session {sid}")
        console.write(finding["id"])
        return EXIT_OK
    raise UsageError(f"unknown feedback action {action!r}: use accept, reject, reopen or add")


def _quoted(sessions: object, sid: str) -> dict[str, str]:
    """Each section's text (by id), from the session's stored document: a quote is checked
    against it, so it names words the document has."""
    from prism_cli.app import documents
    from prism_cli.app.run import RunSettings
    from prism_cli.core.session import Sessions

    assert isinstance(sessions, Sessions)
    rules = RunSettings.from_record(sessions.require(sid).settings).sections
    review = documents.stored(sessions, sid, rules)
    return {s.id: s.text for s in review.sections}

"""``prism export``: a session's results to a folder or to S3."""

from __future__ import annotations

from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, SessionArgument, StoreOption, application, command_app, opt
from prism_cli.errors import EXIT_OK, UsageError

command = command_app()


@command.command("export", cls=PanelCommand, short_help=SHORT["export"])
def export(
    ctx: typer.Context,
    session: SessionArgument,
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="DEST", help="A directory or s3://bucket/prefix.", show_default=False
        ),
    ],
    only_accepted: Annotated[
        bool, typer.Option("--only-accepted", help="reviewed.docx: only accepted findings.")
    ] = False,
    sse_kms_key: Annotated[
        str | None, opt(metavar="KEY", env="SSE_KMS_KEY", help="KMS key for S3 (default: AES256).")
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Also write the report as sarif, junit or github (repeatable); "
            "report.json and report.md are always written.",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write a session's results to a folder <UTC time>_<document>_<id>/ in DEST (a directory
    or S3)."""
    app = application(ctx, store=store)
    raise typer.Exit(run_export(app, session, to, only_accepted, sse_kms_key, list(fmt or [])))


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

    from prism_cli.app.run import resolve_session
    from prism_cli.app.sessions import export_session

    console, sessions = app.console, app.sessions
    sid = resolve_session(sessions, ref)
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

"""``prism baseline``: the reviewer's decisions on documents' findings, written into a file
kept in the repository (:mod:`prism_cli.app.baseline`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, StoreOption, application, command_app
from prism_cli.errors import EXIT_OK

command = command_app()


@command.command("baseline", cls=PanelCommand, short_help=SHORT["baseline"])
def baseline(
    ctx: typer.Context,
    documents: Annotated[
        list[str],
        typer.Argument(
            metavar="DOC", help="Reviewed documents (or session ids).", show_default=False
        ),
    ],
    file: Annotated[
        Path,
        typer.Option(
            "--file", metavar="FILE", help="The baseline to write (kept in the repository)."
        ),
    ] = Path(".prism/baseline.json"),
    why: Annotated[
        str, typer.Option(metavar="TEXT", help="Why (kept with each finding decided now).")
    ] = "",
    who: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Who decided (default: git's user.name, else $USER)."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write the decisions on documents' findings (prism feedback accept/reject) into a
    baseline file, so CI honours them: commit it with the documents.

    \b
    prism feedback report.docx reject s3-m1a2b3c --store ...
    prism baseline report.docx --why "agreed with legal, 4 Dec"
    prism review --changed-since origin/main --baseline .prism/baseline.json --new-only
    """
    app = application(ctx, store=store)
    raise typer.Exit(run_baseline(app, documents, file, why, who))


def run_baseline(
    app: Application, documents: list[str], file: Path, why: str, who: str | None
) -> int:
    from prism_cli.app import baseline as decisions

    def said(document: str, count: int, gone: int) -> None:
        removed = f", {gone} no longer decided" if gone else ""
        app.console.info(f"{document}: {count} decided finding{'s' if count != 1 else ''}{removed}")

    held = decisions.write_decisions(
        app.sessions, documents, file, who=who or _who(), why=why, said=said
    )
    app.console.info(f"wrote {file} ({held} findings): commit it with the documents")
    return EXIT_OK


def _who() -> str:
    import getpass
    import subprocess

    try:
        name = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"

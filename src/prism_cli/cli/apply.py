"""``prism apply``: a reviewed document with its findings' rewrites applied
(:mod:`prism_cli.app.apply`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, SessionArgument, StoreOption, application, command_app
from prism_cli.errors import EXIT_OK, UsageError

command = command_app()


@command.command("apply", cls=PanelCommand, short_help=SHORT["apply"])
def apply(
    ctx: typer.Context,
    session: SessionArgument,
    accepted: Annotated[
        bool, typer.Option("--accepted", help="Only the findings you accepted.")
    ] = False,
    clean: Annotated[
        bool,
        typer.Option(
            "--clean", help="Apply the rewrites outright: no tracked changes, no comments."
        ),
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="A file or a folder (default: NAME.suggested.docx here).",
        ),
    ] = None,
    author: Annotated[
        str, typer.Option("--author", metavar="NAME", help="The tracked changes' author.")
    ] = "prism",
    store: StoreOption = None,
) -> None:
    """Write a copy of a reviewed document with its findings' rewrites as tracked changes
    the author accepts or rejects in Word (or, --clean, applied outright). Rejected findings
    are left out; --accepted keeps only the ones you accepted.

    \b
    prism feedback report.docx accept s2-m1a2b3c s4-m9f0e1d
    prism apply report.docx --accepted -o report.for-author.docx
    """
    app = application(ctx, store=store)
    raise typer.Exit(run_apply(app, session, accepted, clean, output, author))


def run_apply(
    app: Application,
    ref: str,
    accepted: bool,
    clean: bool,
    output: Path | None,
    author: str,
) -> int:
    from prism_cli.app import apply as use_case
    from prism_cli.cli.outcome import refuse_inputs
    from prism_cli.outputs import is_stdout, write_bytes

    if not author.strip():
        raise UsageError("--author needs a name")
    console = app.console
    done = use_case.apply(app.sessions, ref, accepted_only=accepted, clean=clean, author=author)
    name = Path(done.name or "document.docx")
    default = f"{name.stem}.{'edited' if clean else 'suggested'}.docx"
    target: Path = output or Path.cwd() / default
    if output is not None and not is_stdout(output) and output.is_dir():
        target = output / default  # a folder: the copy goes in it, as review's does
    if is_stdout(target) and console.stdout_is_tty:
        raise UsageError("-o - writes a binary Word file to standard output: redirect it")
    if Path(ref).is_file():
        refuse_inputs(target, [ref])
    write_bytes(target, done.copy.data)
    for fid, why in done.copy.kept_as_comments:
        console.note(f"note: {fid}'s rewrite was not applied: {why}")
    if not is_stdout(target):
        how = "applied" if clean else "as tracked changes"
        console.info(
            f"wrote {target} ({done.copy.suggestions} of {done.chosen} rewrites {how}, "
            f"session {done.session})"
        )
    return EXIT_OK

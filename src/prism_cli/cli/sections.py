"""``prism sections``: read documents and show their sections."""

from __future__ import annotations

from typing import Annotated

import typer

from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, TableFormat, application, command_app
from prism_cli.cli.sections_run import run_sections

command = command_app()


@command.command("sections", cls=PanelCommand, short_help=SHORT["sections"])
def sections(
    ctx: typer.Context,
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH", help="Files, directories or globs.", show_default=False),
    ],
    fmt: Annotated[
        TableFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, json or markdown (default: table on a terminal, else json).",
        ),
    ] = None,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain",
            help="For each heading and each near miss: the evidence, and why it was taken or "
            "left ([sections] in prism.toml changes the rules).",
        ),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Show the sections found in documents (no model call)."""
    app = application(ctx, quiet=quiet)
    raise typer.Exit(
        run_sections(
            app.console,
            paths,
            fmt.value if fmt else None,
            rules=app.settings.section_rules,
            explain=explain,
        )
    )

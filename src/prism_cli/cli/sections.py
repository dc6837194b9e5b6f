"""``prism sections``: read documents and show their sections."""

from __future__ import annotations

from typing import Annotated

import typer

from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, TableFormat, command_app
from prism_cli.cli.sections_run import run_sections
from prism_cli.console import Console

command = command_app()


@command.command("sections", cls=PanelCommand, short_help=SHORT["sections"])
def sections(
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
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Show the sections found in documents (no model call)."""
    raise typer.Exit(run_sections(Console(quiet=quiet), paths, fmt.value if fmt else None))

"""``prism sections``: read documents and show their sections."""

from __future__ import annotations

from typing import Annotated

import typer

from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, TableFormat, command_app
from prism_cli.console import Console
from prism_cli.errors import EXIT_INPUT, EXIT_OK

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


def run_sections(console: Console, args: list[str], fmt: str | None) -> int:
    from prism_cli.app import documents
    from prism_cli.reports import sections as report

    fmt = fmt or ("table" if console.stdout_is_tty else "json")
    loaded = documents.load_args(args)
    for problem in loaded.unreadable:
        console.error(str(problem.error))
    code = EXIT_INPUT if loaded.unreadable else EXIT_OK
    items = [report.DocumentSections(r.document, r.sections) for r in loaded.reviews]
    if fmt == "json":
        console.write(report.to_json(items))
    elif fmt == "markdown":
        if items:
            console.write(report.to_markdown(items))
    else:
        for table in report.to_table(items):
            console.render(table)
    return code

"""The ``prism`` command. Heavy libraries are imported inside the commands that use them,
so ``prism --help`` and ``prism --version`` stay fast (a test checks the imports)."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Annotated, NoReturn

import typer

from prism_cli import __version__
from prism_cli.console import Console
from prism_cli.errors import EXIT_INTERRUPTED, PrismError

app = typer.Typer(
    name="prism",
    help="Review Word documents with Claude on Amazon Bedrock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"prism {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Review Word documents with Claude on Amazon Bedrock."""


class SectionsFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def sections(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories or globs.", show_default=False)
    ],
    fmt: Annotated[
        SectionsFormat | None,
        typer.Option(
            "--format", "-f", help="Output format [default: table on a terminal, else json]."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Show the sections found in documents (no model call)."""
    from prism_cli.cli.sections import run_sections

    console = Console(quiet=quiet)
    raise typer.Exit(run_sections(console, paths, fmt.value if fmt else None))


def main() -> NoReturn:
    """Entry point: click handles usage errors (exit 2); prism's own errors are mapped here."""
    console = Console()
    try:
        app()
    except PrismError as exc:
        console.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)

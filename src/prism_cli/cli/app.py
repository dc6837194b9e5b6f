"""The ``prism`` command: it only assembles the commands. Each command module declares its own
options (hatch's way) and is imported when that command runs, so ``prism review --help`` pays
for review's options and nothing else; heavy libraries are imported inside the commands that
use them (a test checks the imports)."""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, NoReturn

import typer
from typer import _click
from typer.core import TyperGroup

from prism_cli import __version__
from prism_cli.cli.commands import COMMANDS, SUMMARY, guarded

MODULES = {
    "sections": "sections",
    "review": "review",
    "worker": "worker",
    "models": "models",
    "feedback": "feedback",
    "baseline": "baseline",
    "diff": "diff",
    "apply": "apply",
    "chat": "chat",
    "doctor": "doctor",
    "export": "export",
    "batch": "batch",
    "sessions": "sessions",
}
"""Each command and the module under ``prism_cli.cli`` whose ``command`` it is."""


class Commands(TyperGroup):
    """The root group: commands listed in :data:`COMMANDS` order, each built on first use
    (once: the root callback reads its options for prism.toml, then click runs it)."""

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [name for name, _ in COMMANDS]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        module = MODULES.get(cmd_name)
        if module is None:
            return None
        built: dict[str, _click.Command] = self.__dict__.setdefault("_built", {})
        if cmd_name not in built:
            found: typer.Typer = importlib.import_module(f"prism_cli.cli.{module}").command
            built[cmd_name] = typer.main.get_command(found)
            built[cmd_name].name = cmd_name
        return built[cmd_name]


app = typer.Typer(
    name="prism",
    cls=Commands,
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"prism {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Review Word documents with Claude on Amazon Bedrock."""
    from prism_cli.cli.config import configure

    configure(ctx)


def main() -> NoReturn:
    """Entry point: click handles usage errors (exit 2); prism's own errors are mapped by
    :func:`~prism_cli.cli.commands.guarded`."""
    guarded(lambda: app(prog_name="prism"))

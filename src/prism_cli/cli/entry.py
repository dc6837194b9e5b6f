"""The ``prism`` entry point. ``prism --version`` and ``prism --help`` answer here, without
importing typer or anything a command needs; everything else goes to :mod:`prism_cli.cli.app`.
The command list is declared once, in :mod:`prism_cli.cli.commands`: the app uses the same
summaries (a test checks that both print the same help)."""

from __future__ import annotations

import os
import sys

from prism_cli.cli.commands import COMMANDS, SUMMARY, guarded


def help_text() -> str:
    width = max(len(name) for name, _ in COMMANDS)
    lines = [
        "Usage: prism [OPTIONS] COMMAND [ARGS]...",
        "",
        f"  {SUMMARY}",
        "",
        "Options:",
        "  --version   Show the version and exit.",
        "  -h, --help  Show this message and exit.",
        "",
        "Commands:",
        *(f"  {name.ljust(width)}  {summary}" for name, summary in COMMANDS),
    ]
    return "\n".join(lines) + "\n"


def sections_args(args: list[str]) -> tuple[list[str], str | None, bool] | None:
    """``prism sections`` in its plain forms (paths, ``-f``/``--format`` with a valid format,
    ``-q``/``--quiet``): (paths, format, quiet), run without typer, whose import alone is a
    third of reading a 300-page document. Other forms (help, an unknown or misspelt
    option, a bad format, no path) is None: typer parses it and says what is wrong."""
    from prism_cli.cli.sections_run import FORMATS

    if not args or args[0] != "sections":
        return None
    paths: list[str] = []
    fmt: str | None = None
    quiet = False
    rest = iter(args[1:])
    for arg in rest:
        if arg == "--":
            paths.extend(rest)
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg in ("-f", "--format") or arg.startswith("--format="):
            value = arg.partition("=")[2] if "=" in arg else next(rest, None)
            if value not in FORMATS:
                return None
            fmt = value
        elif arg.startswith("-"):
            return None
        else:
            paths.append(arg)
    return (paths, fmt, quiet) if paths else None


def tune_gc() -> None:
    """Fewer full collections. A run builds its report from tens of thousands of small
    objects that all live until it ends; with Python's default thresholds the collector
    walked them all again and again (a fifth of an unchanged rerun of a 1,200-section
    document, bench/large.py). Young cycles are still collected as often as before; the old
    generation is walked about thirty times less often."""
    import gc

    gc.set_threshold(2000, 20, 50)


def main() -> None:
    args = sys.argv[1:]
    if args == ["--version"]:
        from prism_cli import __version__

        sys.stdout.write(f"prism {__version__}\n")
        sys.exit(0)
    if args in ([], ["--help"], ["-h"]):
        sys.stdout.write(help_text())
        sys.exit(0 if args else 2)  # no command at all is a usage error, as click says
    # An empty AWS_PROFILE (`export AWS_PROFILE=`) is a profile named "" to botocore, which
    # then fails everywhere with a traceback; it means "no profile".
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        if os.environ.get(name) == "":
            del os.environ[name]
    tune_gc()
    # pydantic looks for plugins among every installed distribution's entry points when it
    # builds its first model (30 ms); prism uses none.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    plain = sections_args(args)
    if plain is not None:
        from prism_cli.cli.config import find_config

        if find_config() is None:  # a prism.toml is checked (and warned about) by the app
            from prism_cli.cli.sections_run import run_sections
            from prism_cli.console import Console

            paths, fmt, quiet = plain
            guarded(lambda: run_sections(Console(quiet=quiet), paths, fmt))
    from prism_cli.cli.app import main as run

    run()

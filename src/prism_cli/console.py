"""The one object that writes to the terminal.

Reports go to stdout, progress and log lines to stderr (DESIGN.md "Streams"). ``NO_COLOR``
and ``--quiet`` are respected; nothing else in prism calls ``print``.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console as RichConsole


class Console:
    def __init__(
        self,
        *,
        quiet: bool = False,
        verbose: bool = False,
        stdout: TextIO | None = None,
        stderr: TextIO | None = None,
    ) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self._stdout = stdout or sys.stdout
        self._stderr = stderr or sys.stderr
        self._rich_out: RichConsole | None = None
        self._rich_err: RichConsole | None = None
        self.live: RichConsole | None = None
        """While a live display (progress) owns the terminal, lines go through it, above it."""

    @property
    def no_color(self) -> bool:
        return bool(os.environ.get("NO_COLOR"))

    @property
    def stdout_is_tty(self) -> bool:
        return self._stdout.isatty()

    @property
    def stderr_is_tty(self) -> bool:
        return self._stderr.isatty()

    def rich_out(self) -> RichConsole:
        if self._rich_out is None:
            from rich.console import Console as RichConsole

            self._rich_out = RichConsole(file=self._stdout, no_color=self.no_color, soft_wrap=False)
        return self._rich_out

    def rich_err(self, *, margin: int = 0) -> RichConsole:
        """stderr as a rich console; ``margin`` columns narrower than the terminal."""
        from rich.console import Console as RichConsole

        if margin:
            width = RichConsole(file=self._stderr).width
            return RichConsole(
                file=self._stderr, no_color=self.no_color, width=max(20, width - margin)
            )
        if self._rich_err is None:
            self._rich_err = RichConsole(file=self._stderr, no_color=self.no_color)
        return self._rich_err

    # -- stdout: the report --------------------------------------------------------------
    def write(self, text: str) -> None:
        self._stdout.write(text)
        if not text.endswith("\n"):
            self._stdout.write("\n")
        self._stdout.flush()

    def write_wrapped(self, lines: list[str]) -> None:
        """Lines of plain text, wrapped at words to the terminal's width (each continuation
        indented under the text it continues); whole lines into a pipe."""
        import shutil

        width = shutil.get_terminal_size((100, 24)).columns if self.stdout_is_tty else None
        self.write(wrapped(lines, width))

    def render(self, renderable: Any) -> None:
        self.rich_out().print(renderable)

    # -- stderr: diagnostics -------------------------------------------------------------
    def _line(self, text: str) -> None:
        live = self.live
        if live is not None:
            live.print(text, markup=False, highlight=False)
            return
        self._stderr.write(f"{text}\n")
        self._stderr.flush()

    def error(self, message: str) -> None:
        """One line ``error: ...``; never suppressed by --quiet."""
        line = " ".join(message.splitlines()) or "unknown error"
        self._line(f"error: {line}")

    def warn(self, message: str) -> None:
        if not self.quiet:
            self._line(f"warning: {message}")

    def info(self, message: str) -> None:
        if not self.quiet:
            self._line(message)

    def note(self, message: str) -> None:
        """Prose for a person: on a terminal it wraps at words, at the terminal's width."""
        if self.quiet:
            return
        if self.stderr_is_tty and self.live is None:
            self.rich_err().print(message, markup=False, highlight=False)
            return
        self._line(message)

    def debug(self, message: str) -> None:
        if self.verbose and not self.quiet:
            self._line(f"debug: {message}")


def wrapped(lines: list[str], width: int | None) -> str:
    """Lines wrapped at words to ``width`` (a terminal's), each continuation indented under
    the text it continues; unwrapped when ``width`` is None (a pipe reads whole lines)."""
    if width is None:
        return "\n".join(lines)
    import textwrap

    out = []
    for line in lines:
        if len(line) <= width:
            out.append(line)
            continue
        body = line.lstrip(" ")
        indent = len(line) - len(body)
        # Continue under the last column: after the widest run of two spaces (id, severity...).
        gap = line.rfind("  ", 0, max(indent + 1, min(len(line), width // 2 + 8)))
        hang = gap + 2 if gap >= indent and gap + 2 < width // 2 + 8 else indent + 2
        out.extend(
            textwrap.wrap(
                line,
                width=width,
                initial_indent="",
                subsequent_indent=" " * hang,
                break_long_words=True,
                break_on_hyphens=False,
                drop_whitespace=True,
            )
            or [line]
        )
    return "\n".join(out)

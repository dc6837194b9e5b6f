"""Report renderers: one module per output format, each a function of the JSON report."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prism_cli.reports.ci import Base


@dataclass(frozen=True)
class ReportFormat:
    """One output format: what ``--format`` accepts, the file it is written to, and whether
    an export folder carries it (``always``) or adds it on request."""

    name: str
    extension: str
    export_name: str | None
    """The file name in an export folder; None: not exported (terminal or Word formats)."""
    always_exported: bool = False
    text: bool = True
    """False for formats that are not text on stdout (docx: a reviewed copy)."""


REGISTRY: dict[str, ReportFormat] = {
    f.name: f
    for f in (
        ReportFormat("table", ".txt", None),
        ReportFormat("json", ".json", "report.json", always_exported=True),
        ReportFormat("markdown", ".md", "report.md", always_exported=True),
        ReportFormat("sarif", ".sarif", "report.sarif"),
        ReportFormat("junit", ".xml", "report.xml"),
        ReportFormat("github", ".txt", "report.github.txt"),
        ReportFormat("docx", ".reviewed.docx", None, text=False),
    )
}
"""Every report format, read by ``review``, ``export`` and the option types."""

REVIEW_FORMATS = tuple(REGISTRY)

_BY_SUFFIX = {
    ".json": "json",
    ".md": "markdown",
    ".markdown": "markdown",
    ".sarif": "sarif",
    ".xml": "junit",
    ".docx": "docx",
}
_KIND = {
    "json": "a JSON",
    "markdown": "a Markdown",
    "sarif": "a SARIF",
    "junit": "a JUnit XML",
    "docx": "a Word",
}


def format_for_path(path: str) -> str | None:
    """The report format a file name calls for by its extension (``x.sarif.json`` is SARIF),
    or None when it says none (``.txt``, no extension)."""
    name = path.casefold()
    if name.endswith(".sarif.json"):
        return "sarif"
    dot = name.rfind(".")
    slash = max(name.rfind("/"), name.rfind("\\"))
    return _BY_SUFFIX.get(name[dot:]) if dot > slash + 1 else None


def output_format(fmt: str | None, output: str | None, default: str) -> str:
    """The format of a run writing to ``output`` (a file, ``-`` or None): ``--format`` if
    given, else what the file's extension says, else ``default``. A format that contradicts
    the extension is a usage error: ``-o rev.docx`` never holds JSON."""
    from prism_cli.errors import UsageError

    wanted = format_for_path(output) if output and output != "-" else None
    if fmt is not None and wanted is not None and fmt != wanted:
        raise UsageError(
            f"-o {output} names {_KIND[wanted]} file but --format is {fmt}: "
            f"use -f {wanted}, or a file name for {fmt} (say report{EXTENSIONS[fmt]})"
        )
    return fmt or wanted or default


EXPORT_FORMATS = tuple(n for n, f in REGISTRY.items() if f.export_name)
EXTENSIONS = {n: f.extension for n, f in REGISTRY.items()}


def render(
    fmt: str,
    report: dict[str, Any],
    fail_on: str = "high",
    *,
    base: Base | None = None,
    annotate_level: str | None = None,
) -> str:
    """The report as text in ``fmt`` (table is rendered without colour, 120 columns).
    ``base``: the repository root CI paths are relative to; ``annotate_level``: the lowest
    severity GitHub annotations show (default: ``fail_on``, or high with ``never``)."""
    if fmt == "json":
        from prism_cli.reports.jsontext import dumps

        return dumps(report)
    if fmt == "markdown":
        from prism_cli.reports import markdown

        return markdown.render(report)
    if fmt == "sarif":
        from prism_cli.reports import sarif

        return sarif.render(report, base)
    if fmt == "junit":
        from prism_cli.reports import junit

        return junit.render(report, fail_on)
    if fmt == "github":
        from prism_cli.reports import github

        level = annotate_level or (fail_on if fail_on != "never" else "high")
        return github.render(report, base, level)
    from io import StringIO

    from rich.console import Console as RichConsole

    from prism_cli.reports import table

    buffer = StringIO()
    rich = RichConsole(file=buffer, no_color=True, width=120)
    for renderable in table.render(report):
        rich.print(renderable)
    return buffer.getvalue()

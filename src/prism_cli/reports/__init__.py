"""Report renderers: one module per output format, each a function of the JSON report."""

from __future__ import annotations

from typing import Any

EXTENSIONS = {
    "json": ".json",
    "markdown": ".md",
    "sarif": ".sarif",
    "junit": ".xml",
    "github": ".txt",
    "table": ".txt",
}


def render(fmt: str, report: dict[str, Any], fail_on: str = "high") -> str:
    """The report as text in ``fmt`` (table is rendered without colour, 120 columns)."""
    import json

    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        from prism_cli.reports import markdown

        return markdown.render(report)
    if fmt == "sarif":
        from prism_cli.reports import sarif

        return sarif.render(report)
    if fmt == "junit":
        from prism_cli.reports import junit

        return junit.render(report, fail_on)
    if fmt == "github":
        from prism_cli.reports import github

        return github.render(report)
    from io import StringIO

    from rich.console import Console as RichConsole

    from prism_cli.reports import table

    buffer = StringIO()
    rich = RichConsole(file=buffer, no_color=True, width=120)
    for renderable in table.render(report):
        rich.print(renderable)
    return buffer.getvalue()

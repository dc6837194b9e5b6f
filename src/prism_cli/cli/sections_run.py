"""What ``prism sections`` does once its arguments are parsed, without typer: the entry point
runs it directly for the plain forms of the command (:func:`prism_cli.cli.entry.sections_args`),
:mod:`prism_cli.cli.sections` for everything else."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prism_cli.console import Console
from prism_cli.errors import EXIT_INPUT, EXIT_OK

if TYPE_CHECKING:
    from prism_cli.core.sections import SectionRules

FORMATS = ("table", "json", "markdown")


def run_sections(
    console: Console,
    args: list[str],
    fmt: str | None,
    *,
    rules: SectionRules | None = None,
    explain: bool = False,
) -> int:
    from prism_cli.app import documents
    from prism_cli.reports import sections as report

    fmt = fmt or ("table" if console.stdout_is_tty else "json")
    loaded = documents.load_args(args, rules)
    for problem in loaded.unreadable:
        console.error(str(problem.error))
    code = EXIT_INPUT if loaded.unreadable else EXIT_OK
    items = [report.DocumentSections(r.document, r.sections, r.title) for r in loaded.reviews]
    if explain:
        from prism_cli.core.sections import DEFAULT_RULES, analyse

        items = [
            report.DocumentSections(
                item.document,
                item.sections,
                item.title,
                analyse(item.document.blocks, rules or DEFAULT_RULES).verdicts,
            )
            for item in items
        ]
    if fmt == "json":
        console.write(report.to_json(items))
    elif fmt == "markdown":
        if items:
            console.write(report.to_markdown(items))
    else:
        for table in report.to_table(items):
            console.render(table)
    return code

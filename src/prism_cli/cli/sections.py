"""``prism sections``: read documents and show their sections."""

from __future__ import annotations

from prism_cli.console import Console
from prism_cli.errors import EXIT_INPUT, EXIT_OK, PrismError
from prism_cli.inputs import expand_paths


def run_sections(console: Console, args: list[str], fmt: str | None) -> int:
    from prism_cli.core.sections import split_sections
    from prism_cli.reports import sections as report
    from prism_cli.word.reader import read_document

    fmt = fmt or ("table" if console.stdout_is_tty else "json")
    expanded = expand_paths(args)
    code = EXIT_OK
    for err in expanded.errors:
        console.error(str(err))
        code = EXIT_INPUT
    items: list[report.DocumentSections] = []
    for path in expanded.paths:
        try:
            document = read_document(path)
        except PrismError as exc:
            console.error(str(exc))
            code = EXIT_INPUT
            continue
        items.append(report.DocumentSections(document, split_sections(document.blocks)))
    if fmt == "json":
        console.write(report.to_json(items))
    elif fmt == "markdown":
        if items:
            console.write(report.to_markdown(items))
    else:
        for table in report.to_table(items):
            console.render(table)
    return code

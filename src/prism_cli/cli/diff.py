"""``prism diff OLD NEW``: two versions of a document compared, sections and findings, with
no model call (:func:`prism_cli.app.versions.diff`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import SHORT, StoreOption, application, command_app
from prism_cli.errors import EXIT_OK, UsageError

if TYPE_CHECKING:
    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.core.sections import SectionRules

command = command_app()
FORMATS = ("table", "json", "markdown")


@command.command("diff", cls=PanelCommand, short_help=SHORT["diff"])
def diff(
    ctx: typer.Context,
    old: Annotated[
        str, typer.Argument(metavar="OLD", help="The earlier version: .docx or session.")
    ],
    new: Annotated[str, typer.Argument(metavar="NEW", help="The later version: .docx or session.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", "-f", metavar="FORMAT", help="table, json or markdown."),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Compare two versions of a document: sections added, removed and changed (a word-level
    summary), and, when both were reviewed, findings new, persisting and fixed. No model call.

    \b
    prism diff plan-v1.docx plan-v2.docx
    prism diff 3f9a2c1b7d0e plan-v2.docx -f json
    """
    app = application(ctx, store=store)
    raise typer.Exit(run_diff(app, old, new, fmt))


def run_diff(app: Application, old: str, new: str, fmt: str | None) -> int:
    from prism_cli.app import versions
    from prism_cli.app.run import RunSettings, resolve_session

    fmt = fmt or ("table" if app.console.stdout_is_tty else "json")
    if fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    sessions = app.sessions
    rules = app.settings.section_rules

    def rules_of(record: JSONObject) -> SectionRules:
        return RunSettings.from_record(record).sections

    left = versions.side(sessions, old, rules, resolve_session, rules_of)
    right = versions.side(sessions, new, rules, resolve_session, rules_of)
    result = versions.diff(sessions, left, right)
    if fmt == "json":
        import json

        app.console.write(json.dumps(result, indent=2, ensure_ascii=False))
    elif fmt == "markdown":
        app.console.write(render(result, markdown=True))
    else:
        app.console.write_wrapped(render(result, markdown=False).split("\n"))
    for note in result["notes"]:
        app.console.note(f"note: {note}")
    return EXIT_OK


def render(result: JSONObject, *, markdown: bool) -> str:
    from prism_cli.reports.versions import change_lines

    counts = result["counts"]
    head = f"{result['old']['label']} → {result['new']['label']}"
    out = [f"# {head}" if markdown else head, ""]
    out.append(
        "sections: "
        + ", ".join(f"{counts[k]} {k}" for k in ("unchanged", "changed", "added", "removed"))
    )
    bullet = "- " if markdown else "  "
    out += [bullet + line for line in change_lines({"sections": result["sections"]})]
    if "findings" in result:
        out += [
            "",
            f"findings: {counts['findings_new']} new, "
            f"{counts['findings_unchanged'] + counts['findings_updated']} persisting "
            f"({counts['findings_updated']} updated), {counts['findings_absent']} fixed",
        ]
        for f in result["findings"]:
            if f["state"] == "unchanged":
                continue
            word = {"absent": "fixed"}.get(f["state"], f["state"])
            out.append(f"{bullet}{word}: [{f['severity']}] {f['title']} ({f['id']})")
    return "\n".join(out)

"""GitHub Actions workflow commands: one annotation per finding at or above a level (GitHub
shows only about ten per type per step), with repository-relative ``file=``; an ``::error``
for every unreadable document and every section no model could review."""

from __future__ import annotations

from typing import Any

from prism_cli.core.findings import SEVERITY_ORDER
from prism_cli.reports import ci
from prism_cli.reports.heading import heading

COMMANDS = {"high": "error", "medium": "warning", "low": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: dict[str, Any], base: ci.Base | None = None, level: str = "low") -> str:
    limit = SEVERITY_ORDER.get(level, -1)
    lines = []
    for bad in report["summary"].get("unreadable", []):
        lines.append(
            f"::error file={_prop(ci.display_path(bad['path'], base))},"
            f"title={_prop('prism: document not reviewed')}::{_data(bad['error'])}"
        )
    for doc in report["documents"]:
        file = _prop(ci.display_path(doc["path"], base))
        for sec in doc["sections"]:
            if sec["status"] == "failed":
                lines.append(
                    f"::error file={file},title={_prop('prism: section not reviewed')}::"
                    f"{_data(heading(sec) + ': ' + (sec['error'] or ''))}"
                )
        for f in doc["findings"]:
            if f["status"] == "rejected" or SEVERITY_ORDER[f["severity"]] > limit:
                continue
            title = _prop("prism [" + f["severity"] + "] " + f["title"])
            message = f["description"] + (
                f" Suggestion: {f['suggestion']}" if f["suggestion"] else ""
            )
            lines.append(
                f"::{COMMANDS[f['severity']]} file={file},line={(f.get('locator') or 0) + 1},"
                f"title={title}::{_data(message)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")

"""GitHub Actions workflow commands: one annotation line per finding."""

from __future__ import annotations

from typing import Any

COMMANDS = {"high": "error", "medium": "warning", "low": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def render(report: dict[str, Any]) -> str:
    lines = []
    for doc in report["documents"]:
        for sec in doc["sections"]:
            if sec["status"] == "failed":
                lines.append(
                    f"::error file={_prop(doc['path'])},title={_prop('prism: section not reviewed')}::{_data(sec['title'] + ': ' + (sec['error'] or ''))}"
                )
        for f in doc["findings"]:
            if f["status"] == "rejected":
                continue
            title = _prop("prism [" + f["severity"] + "] " + f["title"])
            message = f["description"] + (
                f" Suggestion: {f['suggestion']}" if f["suggestion"] else ""
            )
            lines.append(
                f"::{COMMANDS[f['severity']]} file={_prop(doc['path'])},line={(f.get('locator') or 0) + 1},"
                f"title={title}::{_data(message)}"
            )
    return "\n".join(lines) + ("\n" if lines else "")

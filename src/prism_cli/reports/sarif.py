"""SARIF 2.1.0 for code scanning. A Word file has no lines: ``startLine`` is the number of the
paragraph (its locator + 1) the finding is anchored on. Paths are relative to the repository
(``%SRCROOT%``), fingerprints survive edits elsewhere in a document, rule ids come from a fixed
set (:mod:`prism_cli.reports.ci`). Unreadable documents and sections no model could review are
tool execution notifications."""

from __future__ import annotations

import json
from typing import Any

from prism_cli import __version__
from prism_cli.reports import ci
from prism_cli.reports.heading import heading

LEVELS = {"high": "error", "medium": "warning", "low": "note"}


def render(report: dict[str, Any], base: ci.Base | None = None) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    notifications: list[dict[str, Any]] = []
    checkpoints = ci.checkpoints(report)
    for doc in report["documents"]:
        where = ci.artifact(doc["path"], base)
        seen: dict[str, int] = {}
        titles = {s["id"]: heading(s) for s in doc["sections"]}
        for sec in doc["sections"]:
            if sec["status"] == "failed":
                notifications.append(
                    {
                        "level": "error",
                        "message": {
                            "text": f"section {heading(sec)!r} not reviewed: {sec['error'] or ''}"
                        },
                        "locations": [{"physicalLocation": {"artifactLocation": where}}],
                    }
                )
        for f in doc["findings"]:
            if f["status"] == "rejected":
                continue
            rid, about = ci.rule(f, checkpoints)
            rules.setdefault(rid, {"id": rid, "shortDescription": {"text": about}})
            text = f["title"] + ". " + f["description"]
            if f["suggestion"]:
                text += " Suggestion: " + f["suggestion"]
            section = titles.get(f["section_id"], f["section_id"])
            fingerprint = ci.fingerprint(f, section, where["uri"])
            seen[fingerprint] = seen.get(fingerprint, -1) + 1
            if seen[fingerprint]:
                fingerprint = ci.fingerprint(f, section, where["uri"], seen[fingerprint])
            results.append(
                {
                    "ruleId": rid,
                    "level": LEVELS[f["severity"]],
                    "message": {"text": text},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": where,
                                "region": {
                                    "startLine": (f.get("locator") or 0) + 1,
                                    **({"snippet": {"text": f["quote"]}} if f["quote"] else {}),
                                },
                            },
                            "logicalLocations": [{"name": section, "kind": "section"}],
                        }
                    ],
                    "partialFingerprints": {"prismFinding/v2": fingerprint},
                    "properties": {
                        "id": f["id"],
                        "category": f["category"],
                        "severity": f["severity"],
                        "type": f["type"],
                        "confidence": f["confidence"],
                        "source": f["source"],
                        "status": f["status"],
                        "framework_refs": f["framework_refs"],
                    },
                }
            )
    for bad in report["summary"].get("unreadable", []):
        notifications.append(
            {
                "level": "error",
                "message": {"text": f"not reviewed: {bad['error']}"},
                "locations": [
                    {"physicalLocation": {"artifactLocation": ci.artifact(bad["path"], base)}}
                ],
            }
        )
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "prism",
                "version": __version__,
                "informationUri": "https://github.com/prism-cli/prism",
                "rules": list(rules.values()),
            }
        },
        "invocations": [
            {
                "executionSuccessful": not notifications,
                "toolExecutionNotifications": notifications,
            }
        ],
        "results": results,
    }
    if base is not None:
        root = base.root.replace("\\", "/").rstrip("/") + "/"
        from urllib.parse import quote

        run["originalUriBaseIds"] = {ci.SRCROOT: {"uri": "file://" + quote(root, safe="/")}}
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [run],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)

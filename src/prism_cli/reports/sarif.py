"""SARIF 2.1.0 for code-scanning tools. A Word file has no lines: ``startLine`` is the number of
the paragraph (its locator + 1) the finding is anchored on."""

from __future__ import annotations

import json
from typing import Any

from prism_cli import __version__

LEVELS = {"high": "error", "medium": "warning", "low": "note"}


def _rule_id(f: dict[str, Any]) -> str:
    if f.get("rule"):
        return f"prism/rules/{f['rule']}"
    return "prism/model/" + "-".join(f["category"].lower().split()) or "prism/model/general"


def render(report: dict[str, Any]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for doc in report["documents"]:
        titles = {s["id"]: s["title"] for s in doc["sections"]}
        for f in doc["findings"]:
            if f["status"] == "rejected":
                continue
            rid = _rule_id(f)
            rules.setdefault(rid, {"id": rid, "shortDescription": {"text": f["category"] or rid}})
            text = f["title"] + ". " + f["description"]
            if f["suggestion"]:
                text += " Suggestion: " + f["suggestion"]
            results.append(
                {
                    "ruleId": rid,
                    "level": LEVELS[f["severity"]],
                    "message": {"text": text},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": doc["path"]},
                                "region": {
                                    "startLine": (f.get("locator") or 0) + 1,
                                    **({"snippet": {"text": f["quote"]}} if f["quote"] else {}),
                                },
                            },
                            "logicalLocations": [
                                {
                                    "name": titles.get(f["section_id"], f["section_id"]),
                                    "kind": "section",
                                }
                            ],
                        }
                    ],
                    "partialFingerprints": {"prismFinding/v1": f"{doc['sha256'][:16]}:{f['id']}"},
                    "properties": {
                        "severity": f["severity"],
                        "type": f["type"],
                        "confidence": f["confidence"],
                        "source": f["source"],
                        "status": f["status"],
                        "framework_refs": f["framework_refs"],
                    },
                }
            )
    sarif = {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "prism",
                        "version": __version__,
                        "informationUri": "https://github.com/prism-cli/prism",
                        "rules": list(rules.values()),
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(sarif, indent=2, ensure_ascii=False)

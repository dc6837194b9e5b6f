"""SARIF 2.1.0 for code scanning, as GitHub's rules want it. A Word file has no lines: each
result's region is the file's start, its paragraph (locator + 1) a property and its section the
logical location. Paths are relative to the repository (``%SRCROOT%``); fingerprints survive an
edit elsewhere in a document and a move of the document; rules come from a fixed set
(:mod:`prism_cli.reports.ci`) with descriptions, help, tags and precision. Unreadable
documents and sections no model could review are tool execution notifications."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from prism_cli import __version__
from prism_cli.reports import ci
from prism_cli.reports.heading import heading

LEVELS = {"high": "error", "medium": "warning", "low": "note"}


README = "https://github.com/prism-cli/prism#ci-review-what-a-pull-request-changed"


def _slug(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def rule_descriptor(rid: str, about: str, details: dict[str, str]) -> dict[str, Any]:
    """A SARIF rule as GitHub's rules want one: short and full descriptions, help in text and
    Markdown, tags and precision, from a fixed text (a built-in rule, a framework checkpoint,
    a finding type), never the model's free text."""
    kind, _, key = rid.removeprefix("prism/").partition("/")
    if kind == "rules":
        full, tags, precision = ci.RULE_HELP.get(key, about), ["rules"], "high"
    elif kind == "framework":
        detail = details.get(key, "")
        full = f"{about}. {detail}".strip() if detail else f"Framework checkpoint {key}: {about}."
        tags, precision = ["framework"], "medium"
    elif kind == "reviewer":
        full = "A finding a reviewer added by hand (prism feedback add)."
        tags, precision = ["reviewer"], "very-high"
    else:
        full, tags, precision = ci.TYPE_HELP.get(key, about), ["model"], "medium"
    return {
        "id": rid,
        "name": _slug(rid.removeprefix("prism/")),
        "shortDescription": {"text": about},
        "fullDescription": {"text": full},
        "help": {"text": full, "markdown": f"**{about}**\n\n{full}"},
        "helpUri": README,
        "properties": {"tags": ["prism", "documents", *tags], "precision": precision},
    }


def render(report: dict[str, Any], base: ci.Base | None = None) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    notifications: list[dict[str, Any]] = []
    checkpoints = ci.checkpoints(report)
    details = ci.checkpoint_details(report)
    seen: dict[str, int] = {}  # over the run: a document moved keeps its fingerprints
    for doc in report["documents"]:
        where = ci.artifact(doc["path"], base)
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
        prints = ci.fingerprints(doc, seen, keep=lambda f: f["status"] != "rejected")
        for f in doc["findings"]:
            if f["status"] == "rejected":
                continue
            rid, about = ci.rule(f, checkpoints)
            if rid not in rules:
                rules[rid] = rule_descriptor(rid, about, details)
            text = f["title"] + ". " + f["description"]
            if f["suggestion"]:
                text += " Suggestion: " + f["suggestion"]
            section = titles.get(f["section_id"], f["section_id"])
            fingerprint = prints[str(f["id"])]
            results.append(
                {
                    "ruleId": rid,
                    "level": LEVELS[f["severity"]],
                    "message": {"text": text},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": where,
                                # A Word file has no lines: the region is the file's start (what
                                # code scanning requires), the paragraph is in the properties and
                                # the section is the logical location.
                                "region": {"startLine": 1},
                            },
                            "logicalLocations": [
                                {"name": section, "fullyQualifiedName": section, "kind": "section"}
                            ],
                        }
                    ],
                    "partialFingerprints": {"prismFinding/v3": fingerprint},
                    **({"baselineState": f["baseline_state"]} if f.get("baseline_state") else {}),
                    "properties": {
                        "id": f["id"],
                        "paragraph": (f.get("locator") or 0) + 1,
                        **({"quote": f["quote"]} if f["quote"] else {}),
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
        "automationDetails": {"id": f"prism/{_framework_key(report)}/{_run_key(report)}"},
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


def _framework_key(report: dict[str, Any]) -> str:
    name = str((report.get("framework") or {}).get("name") or "default")
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "default"


def _run_key(report: dict[str, Any]) -> str:
    """The run's id in its category: the documents it reviewed (their contents), so the same
    run uploaded twice is one analysis and another run is another."""
    shas = sorted(str(d.get("sha256") or d.get("path")) for d in report["documents"])
    return hashlib.sha256("\n".join(shas).encode()).hexdigest()[:16]

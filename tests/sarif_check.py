"""What GitHub code scanning requires of a SARIF file, as Microsoft's validator checks it with
GitHub's rules (``--rule-kind "Sarif;Gh"``), written out for the suite (the validator needs
.NET). Returns the problems, empty when there are none."""

from __future__ import annotations

from typing import Any

MAX_RESULTS = 25_000  # per run (GH1004 and GitHub's upload limits)
MAX_RULES = 25_000
MAX_LOCATIONS = 1_000  # per result


def github_problems(sarif: dict[str, Any]) -> list[str]:
    out: list[str] = []
    if sarif.get("version") != "2.1.0":
        out.append("version is not 2.1.0")
    for r, run in enumerate(sarif.get("runs", [])):
        driver = run.get("tool", {}).get("driver", {})
        if not driver.get("name"):
            out.append(f"run {r}: tool.driver.name missing")
        rules = driver.get("rules", [])
        ids = {rule.get("id") for rule in rules}
        if len(rules) > MAX_RULES:
            out.append(f"run {r}: {len(rules)} rules")
        for rule in rules:
            for field in ("shortDescription", "fullDescription"):
                if not (rule.get(field) or {}).get("text"):
                    out.append(f"rule {rule.get('id')}: no {field} (GH2012)")
            if not (rule.get("help") or {}).get("text"):
                out.append(f"rule {rule.get('id')}: no help (GH2012)")
        results = run.get("results", [])
        if len(results) > MAX_RESULTS:
            out.append(f"run {r}: {len(results)} results")
        if not (run.get("automationDetails") or {}).get("id"):
            out.append(f"run {r}: no automationDetails.id")
        for n, result in enumerate(results):
            where = f"run {r} result {n}"
            if result.get("ruleId") not in ids:
                out.append(f"{where}: ruleId {result.get('ruleId')!r} not among the rules")
            if not (result.get("message") or {}).get("text"):
                out.append(f"{where}: no message text (GH1007)")
            if not result.get("partialFingerprints"):
                out.append(f"{where}: no partialFingerprints")
            locations = result.get("locations") or []
            if not locations or len(locations) > MAX_LOCATIONS:
                out.append(f"{where}: {len(locations)} locations (GH1001)")
            for location in locations:
                physical = location.get("physicalLocation") or {}
                uri = (physical.get("artifactLocation") or {}).get("uri")
                if not uri:
                    out.append(f"{where}: no artifactLocation.uri (GH1001)")
                elif "://" in uri and not uri.startswith("file://"):
                    out.append(f"{where}: uri {uri!r} neither relative nor file: (GH1005)")
                start = (physical.get("region") or {}).get("startLine")
                if not isinstance(start, int) or start < 1:
                    out.append(f"{where}: no region.startLine (GH1003)")
    return out

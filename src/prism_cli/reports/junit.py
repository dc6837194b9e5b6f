"""JUnit XML: one test case per section; a failure per section with findings at or above
``--fail-on``, an error per section no model could review."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from xml.etree import ElementTree as ET

from prism_cli.core.findings import SEVERITY_ORDER
from prism_cli.reports.heading import heading


def render(report: dict[str, Any], fail_on: str = "high") -> str:
    import socket
    from datetime import datetime

    # The run's time, shared out by sections (a section's own time is not kept): what GitLab
    # shows per suite; JUnit's timestamp is local-free ISO 8601 without a zone (UTC here).
    seconds = float(report["summary"].get("seconds") or 0.0)
    sections = max(1, sum(len(d["sections"]) for d in report["documents"]))
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    host = socket.gethostname() or "localhost"
    root = ET.Element("testsuites", name="prism", time=f"{seconds:.3f}", timestamp=stamp)
    totals = {"tests": 0, "failures": 0, "errors": 0}
    limit = SEVERITY_ORDER.get(fail_on, -1)
    for doc in report["documents"]:
        share = seconds * len(doc["sections"]) / sections
        suite = ET.SubElement(
            root,
            "testsuite",
            name=doc["path"],
            time=f"{share:.3f}",
            timestamp=stamp,
            hostname=host,
        )
        if doc.get("since"):  # what changed since the previous version, on the suite
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="prism.since", value=doc["since"]["headline"])
        per_case = share / max(1, len(doc["sections"]))
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for sec in doc["sections"]:
            counts["tests"] += 1
            case = ET.SubElement(
                suite,
                "testcase",
                classname=doc["path"],
                name=f"{sec['id']} {heading(sec)}",
                time=f"{per_case:.3f}",
            )
            if sec["status"] == "failed":
                counts["errors"] += 1
                ET.SubElement(
                    case, "error", message=sec["error"] or "not reviewed", type="incomplete"
                )
                continue
            if sec["status"] == "skipped":
                counts["skipped"] += 1
                ET.SubElement(case, "skipped", message="no text")
                continue
            bad = [
                f for f in doc["findings"]
                if f["section_id"] == sec["id"] and f["status"] != "rejected" and f["type"] != "positive"
                and SEVERITY_ORDER[f["severity"]] <= limit
            ]  # fmt: skip
            if bad:
                counts["failures"] += 1
                failure = ET.SubElement(
                    case,
                    "failure",
                    message=f"{len(bad)} finding(s) at or above {fail_on}",
                    type="findings",
                )
                failure.text = "\n".join(
                    f"[{f['severity']}]{_state(f)} {f['title']}: {f['description']}" for f in bad
                )
        for key, value in counts.items():
            suite.set(key, str(value))
        for key in totals:
            totals[key] += counts[key]
    for bad in report["summary"].get("unreadable", []):
        suite = ET.SubElement(
            root,
            "testsuite",
            name=bad["path"],
            tests="1",
            failures="0",
            time="0.000",
            timestamp=stamp,
            hostname=host,
        )
        suite.set("errors", "1")
        suite.set("skipped", "0")
        case = ET.SubElement(
            suite, "testcase", classname=bad["path"], name="read the document", time="0.000"
        )
        ET.SubElement(case, "error", message=bad["error"], type="unreadable")
        totals["tests"] += 1
        totals["errors"] += 1
    for key, value in totals.items():
        root.set(key, str(value))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _state(f: dict[str, Any]) -> str:
    """`` [new]`` or `` [updated]`` since the document's previous version; "" otherwise."""
    state = f.get("baseline_state")
    return f" [{state}]" if state in ("new", "updated") else ""

"""Markdown report: for a pull-request comment or a wiki page."""

from __future__ import annotations

from typing import Any

from prism_cli.reports.heading import heading
from prism_cli.reports.versions import (
    change_lines,
    fixed_lines,
    headline,
    look_lines,
    section_counts,
)

ICONS = {"high": "🔴", "medium": "🟠", "low": "🟡"}


def render(report: dict[str, Any]) -> str:
    out: list[str] = ["# prism review", ""]
    s = report["summary"]
    sev = s["findings_by_severity"]
    out.append(
        f"{s['documents']} document(s), {s['sections']} section(s): {s['reviewed']} reviewed, "
        f"{s['failed']} failed. Findings: {sev['high']} high, {sev['medium']} medium, {sev['low']} low. "
        f"Model calls: {s['usage']['calls']}, estimated cost ${s['usage']['cost_usd']:.4f}."
    )
    unreadable = s.get("unreadable", [])
    if unreadable:
        out += ["", "## Not reviewed", ""]
        out += [f"- ⚠️ `{bad['path']}`: {bad['error']}" for bad in unreadable]
    for doc in report["documents"]:
        out += ["", f"## {doc['path']}", ""]
        since = doc.get("since")
        if since:
            out += [f"**{headline(since)}** ({section_counts(since)})", ""]
            out += [f"- {line}" for line in change_lines(since)]
            out += [f"- ✅ fixed: {line}" for line in fixed_lines(since)]
            out += [f"- ❔ needs a look: {line}" for line in look_lines(since)]
            out += [""] if since.get("sections") or since.get("fixed") else []
        titles = {sec["id"]: heading(sec) for sec in doc["sections"]}
        failed = [sec for sec in doc["sections"] if sec["status"] == "failed"]
        for sec in failed:
            out.append(f"- ⚠️ Section **{heading(sec)}** could not be reviewed: {sec['error']}")
        if not doc["findings"]:
            out.append("No findings.")
        for f in doc["findings"]:
            status = "" if f["status"] == "open" else f" _({f['status']})_"
            if f.get("baseline_state") in ("new", "updated"):
                status += f" `{f['baseline_state']}`"
            origin = (since or {}).get("carried", {}).get(f["id"])
            if origin and origin.get("status") == f["status"]:
                status += f" _(decided on the version of {origin.get('version', '')})_"
            out += [
                f"### {ICONS[f['severity']]} {f['title']}{status}",
                "",
                f"**{f['severity']}** · {f['type']} · {f['category']} · section: {titles.get(f['section_id'], f['section_id'])} · "
                f"source: {f['source']} · id `{f['id']}`",
                "",
                f["description"],
            ]
            if f["quote"]:
                out += ["", f"> {f['quote']}"]
            if f.get("replacement"):
                out += ["", f"**Rewrite:** “{f['quote']}” → “{f['replacement']}”"]
            if f["suggestion"]:
                out += ["", f"**Suggestion:** {f['suggestion']}"]
            if f["example"]:
                out += ["", f"**Example:** {f['example']}"]
            for q in f["questions"]:
                out.append(f"- ❓ {q}")
            if f["framework_refs"]:
                out += ["", "Framework: " + ", ".join(f["framework_refs"])]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


TITLE_CUT = 90
"""A finding's title in a table row is cut here (a title may quote a long heading)."""


def _cut(text: str, limit: int = TITLE_CUT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def summary(report: dict[str, Any], limit: int = 30, outcome: str | None = None) -> str:
    """A short Markdown summary for a CI page (``$GITHUB_STEP_SUMMARY``): the outcome (its
    exit code), the counts, what could not be reviewed, the documents deleted, and the most
    severe open findings as a table."""
    s = report["summary"]
    sev = s["findings_by_severity"]
    out = [
        "### prism review",
        "",
        *([f"**{outcome}**", ""] if outcome else []),
        f"{s['documents']} document(s), {s['sections']} section(s): {s['reviewed']} reviewed, "
        f"{s['failed']} failed · {sev['high']} high, {sev['medium']} medium, {sev['low']} low · "
        f"${s['usage']['cost_usd']:.4f}",
    ]
    problems = [f"`{b['path']}`: {b['error']}" for b in s.get("unreadable", [])]
    for doc in report["documents"]:
        problems += [
            f"`{doc['path']}` § {heading(sec)}: {sec['error']}"
            for sec in doc["sections"]
            if sec["status"] == "failed"
        ]
    if problems:
        out += ["", "**Not reviewed**", ""] + [f"- ⚠️ {p}" for p in problems]
    if s.get("deleted"):
        out += ["", "**Deleted** (not reviewed)", ""] + [f"- `{path}`" for path in s["deleted"]]
    versions = [(doc["path"], doc["since"]) for doc in report["documents"] if doc.get("since")]
    if versions:
        out += ["", "**Since the previous versions**", ""]
        out += [f"- `{path}`: {headline(since).split(': ', 1)[-1]}" for path, since in versions]
        out += [
            f"- ✅ `{path}` fixed: {line}"
            for path, since in versions
            for line in fixed_lines(since)
        ][:limit]
    rows = [
        (doc["path"], f)
        for doc in report["documents"]
        for f in doc["findings"]
        if f["status"] != "rejected" and f["type"] != "positive"
    ]
    order = {"high": 0, "medium": 1, "low": 2}
    rows.sort(key=lambda row: order[row[1]["severity"]])
    if rows:
        out += ["", "| | document | finding | id |", "|---|---|---|---|"]
        for path, f in rows[:limit]:
            title = _cut(f["title"]).replace("|", "\\|")
            if f.get("baseline_state") == "new":
                title = "🆕 " + title
            out.append(f"| {ICONS[f['severity']]} | `{path}` | {title} | `{f['id']}` |")
        if len(rows) > limit:
            out.append(f"\n…and {len(rows) - limit} more in the full report.")
    return "\n".join(out) + "\n"

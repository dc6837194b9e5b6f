"""The terminal report (rich): per document, per section, one compact row per finding.

A row is severity, id and title; the id is never cut (it is what ``prism feedback`` takes), the
title wraps. Sections come in reading order (s1, s2, s3: the document as it reads) and the
findings of a section by severity, high first. ``verbose`` adds the description, suggestion and quote
beneath each row. The footer names the session and the commands that act on it.
"""

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

STYLES = {"high": "bold red", "medium": "yellow", "low": "cyan"}
RANK = {"high": 0, "medium": 1, "low": 2}
CHANGES_SHOWN = 8
"""Section changes since the previous version listed under a document's head (all with -v)."""


def _sections(doc: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    by_section: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        by_section.setdefault(f["section_id"], []).append(f)
    order = {s["id"]: i for i, s in enumerate(doc["sections"])}
    known = {s["id"]: s for s in doc["sections"]}
    groups = []
    for sid, findings in by_section.items():
        findings.sort(key=lambda f: (RANK.get(f["severity"], 3), f["id"]))
        section = known.get(sid, {"id": sid, "title": sid})
        groups.append((section, findings))
    groups.sort(key=lambda g: order.get(g[0]["id"], 1 << 30))
    return groups


def render(report: dict[str, Any], *, verbose: bool = False) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    sessions: list[str] = []
    id_width = max((len(f["id"]) for d in report["documents"] for f in d["findings"]), default=4)
    for doc in report["documents"]:
        if doc.get("session_id"):
            sessions.append(doc["session_id"])
        count = len(doc["findings"])
        by_sev = {k: sum(1 for f in doc["findings"] if f["severity"] == k) for k in RANK}
        head = Text(doc["path"], style="bold")
        head.append(f"  {count} finding{'s' if count != 1 else ''}", style="")
        if count:
            head.append(
                " (" + ", ".join(f"{n} {k}" for k, n in by_sev.items() if n) + ")", style="dim"
            )
        out.append(head)
        since = doc.get("since")
        if since:
            out.append(Text("  " + headline(since), style="bold"))
            out.append(Text("  " + section_counts(since), style="dim"))
            changes = change_lines(since)
            for line in changes[:CHANGES_SHOWN] if not verbose else changes:
                out.append(Text("    " + line, style="dim"))
            if len(changes) > CHANGES_SHOWN and not verbose:
                out.append(Text(f"    …{len(changes) - CHANGES_SHOWN} more (-v)", style="dim"))
        for section, findings in _sections(doc):
            out.append(Text(f"  {section['id']}  {heading(section)}", style="bold dim"))
            grid = Table.grid(padding=(0, 1), expand=False)
            grid.add_column(width=2)  # indent
            grid.add_column(width=6, no_wrap=True)
            grid.add_column(width=id_width, no_wrap=True)
            grid.add_column(ratio=1, overflow="fold")
            for f in findings:
                status = "" if f["status"] == "open" else f"  [{f['status']}]"
                title = Text(f["title"])
                if status:
                    title.append(status, style="dim")
                state = f.get("baseline_state")
                if state in ("new", "updated"):
                    title.append(f"  [{state}]", style="bold magenta" if state == "new" else "")
                origin = (since or {}).get("carried", {}).get(f["id"])
                if origin and origin.get("status") == f["status"]:
                    title.append(f" (on the version of {origin.get('version', '')})", style="dim")
                if verbose:
                    if f["description"]:
                        title.append("\n" + f["description"], style="dim")
                    if f["suggestion"]:
                        title.append("\n→ " + f["suggestion"], style="green")
                    if f["quote"]:
                        title.append(f"\n“{f['quote']}”", style="italic dim")
                    if f.get("replacement"):
                        title.append(f"\n  → “{f['replacement']}”", style="green")
                grid.add_row(
                    "", Text(f["severity"], style=STYLES.get(f["severity"], "")), f["id"], title
                )
            out.append(grid)
        for sec in doc["sections"]:
            if sec["status"] == "failed":
                out.append(Text(f"  not reviewed: {sec['title']}: {sec['error']}", style="red"))
        if since:
            for line in fixed_lines(since):
                out.append(Text("  ✓ fixed: " + line, style="green"))
            for line in look_lines(since):
                out.append(Text("  ? needs a look: " + line, style="yellow"))
        out.append(Text(""))
    s = report["summary"]
    sev = s["findings_by_severity"]
    usage = s["usage"]
    out.append(
        Text(
            f"{s['documents']} document{'s' if s['documents'] != 1 else ''}, "
            f"{s['sections']} sections ({s['reviewed']} reviewed, {s['failed']} failed) · "
            f"{sev['high']} high, {sev['medium']} medium, {sev['low']} low · "
            f"{usage['calls']} calls, ~${usage['cost_usd']:.4f}"
        )
    )
    if sessions:
        one = sessions[0] if len(sessions) == 1 else "<session>"
        label = "session " if len(sessions) == 1 else "sessions: "
        out.append(Text(label + ", ".join(sessions), style="bold"))
        out.append(
            Text(
                f"  prism sessions show {one}\n"
                f"  prism feedback {one} accept|reject <finding id>...\n"
                f"  prism export {one} --to <dir>",
                style="dim",
            )
        )
    if not verbose and any(d["findings"] for d in report["documents"]):
        out.append(Text("  (-v shows each finding's description, suggestion and quote)", "dim"))
    return out

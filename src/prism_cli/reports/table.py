"""The terminal report (rich): findings per document, then the summary with usage and cost."""

from __future__ import annotations

from typing import Any

STYLES = {"high": "bold red", "medium": "yellow", "low": "cyan"}


def render(report: dict[str, Any]) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    out: list[Any] = []
    for doc in report["documents"]:
        titles = {s["id"]: s["title"] for s in doc["sections"]}
        table = Table(
            title=f"{doc['path']}  ({len(doc['findings'])} findings)",
            title_justify="left",
            expand=False,
        )
        table.add_column("sev")
        table.add_column("section")
        table.add_column("finding")
        table.add_column("id", style="dim")
        for f in doc["findings"]:
            body = Text(f["title"], style="bold")
            body.append("\n" + f["description"], style="")
            if f["suggestion"]:
                body.append("\n→ " + f["suggestion"], style="green")
            if f["quote"]:
                body.append(f"\n“{f['quote']}”", style="italic dim")
            status = "" if f["status"] == "open" else f" ({f['status']})"
            table.add_row(
                Text(f["severity"] + status, style=STYLES[f["severity"]]),
                titles.get(f["section_id"], ""),
                body,
                f["id"],
            )
        out.append(table)
        for sec in doc["sections"]:
            if sec["status"] == "failed":
                out.append(Text(f"  not reviewed: {sec['title']}: {sec['error']}", style="red"))
    s = report["summary"]
    sev = s["findings_by_severity"]
    usage = s["usage"]
    out.append(
        Text(
            f"{s['documents']} document(s), {s['sections']} sections: {s['reviewed']} reviewed, {s['failed']} failed · "
            f"{sev['high']} high, {sev['medium']} medium, {sev['low']} low · "
            f"{usage['calls']} calls, {usage['input_tokens']} in / {usage['output_tokens']} out tokens, "
            f"cache {usage['cache_read_tokens']} read / {usage['cache_write_tokens']} written · ~${usage['cost_usd']:.4f}"
        )
    )
    return out

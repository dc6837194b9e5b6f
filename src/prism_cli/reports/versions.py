"""What every report says of a document's previous version (its ``since``): the headline,
the sections that changed, the findings fixed, the reviewer's own findings that need a
look. Text from the document is shown as it is (each renderer escapes what it must)."""

from __future__ import annotations

from typing import Any


def headline(since: dict[str, Any]) -> str:
    """``Since the version of 2026-11-02: 3 new, 5 persisting, 4 fixed``."""
    from prism_cli.core.versions import headline as line

    return line(since)


def section_counts(since: dict[str, Any]) -> str:
    counts = since.get("counts", {})
    parts = [
        f"{counts.get(f'sections_{state}', 0)} {state}"
        for state in ("unchanged", "changed", "added", "removed")
    ]
    moved = sum(1 for c in since.get("sections", []) if c.get("moved"))
    if moved:
        parts.append(f"{moved} moved")
    return "sections: " + ", ".join(parts)


def _one(f: dict[str, Any]) -> str:
    return f"{f.get('title', '')} ({f.get('severity', '')}, was {f.get('id', '')})"


def fixed_lines(since: dict[str, Any]) -> list[str]:
    return [_one(f) for f in since.get("fixed", [])]


def look_lines(since: dict[str, Any]) -> list[str]:
    return [
        f"{f.get('title', '')}: {f.get('why', '')} (was {f.get('id', '')})"
        for f in since.get("needs_look", [])
    ]


def change_lines(since: dict[str, Any]) -> list[str]:
    """A line per section that changed, was added, removed, split, merged or moved."""
    out = []
    for c in since.get("sections", []):
        state, old, new = c["state"], c.get("old_heading", ""), c.get("new_heading", "")
        if state == "unchanged" and not c.get("moved"):
            continue
        if state == "added":
            line = f"added “{new}”"
        elif state == "removed":
            line = f"removed “{old}”"
        else:
            renamed = f"“{old}” → “{new}”" if c.get("renamed") else f"“{new}”"
            line = f"{c.get('kind') or state} {renamed}"
            if c.get("moved"):
                line += " (moved)"
        if c.get("summary"):
            line += f": {c['summary']}"
        out.append(line)
    return out


def since_comment(since: dict[str, Any]) -> str:
    """The one comment at the top of a new version's reviewed copy: the headline, what was
    fixed, and the reviewer's own findings that need a look."""
    lines = [f"prism: {headline(since)}."]
    fixed = fixed_lines(since)
    if fixed:
        lines += ["Fixed since the previous version:", *(f"- {line}" for line in fixed)]
    else:
        lines.append("Nothing was fixed since the previous version.")
    look = look_lines(since)
    if look:
        lines += ["Needs a look (a reviewer's own finding):", *(f"- {line}" for line in look)]
    return "\n".join(lines)

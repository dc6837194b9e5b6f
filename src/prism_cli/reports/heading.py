"""A report section's heading as the document shows it (a leaf: every format uses it)."""

from __future__ import annotations

from typing import Any


def heading(section: dict[str, Any]) -> str:
    """Its number and its title (a report from before numbers were a field: the title)."""
    number = section.get("number") or ""
    return f"{number} {section['title']}" if number else str(section["title"])

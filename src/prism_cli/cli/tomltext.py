"""Where a key sits in prism.toml's text, for messages that name the file and line."""

from __future__ import annotations


def line_of(text: str, table: str | None, key: str | None) -> int | None:
    """The line where ``key`` is set in ``[table]`` (or where ``[table]`` starts)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.strip("[]").split("#")[0].strip().strip("]").strip()
            if key is None and current == table:
                return number
            continue
        if key is not None and current == table:
            name = stripped.split("=", 1)[0].strip().strip("\"'")
            if "=" in stripped and name == key:
                return number
    return None

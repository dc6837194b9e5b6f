"""JSON as prism writes it: indented for a reader down to the records (a section, a finding),
each record on one line. Python's encoder indents in pure Python, and indenting a 13,000-finding
report took longer than building it; a record on one line is written by the C encoder, and is
what ``grep`` and a diff want anyway."""

from __future__ import annotations

import json
from typing import Any

_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "))


def dumps(value: Any, *, depth: int = 4) -> str:
    """``value`` as JSON: dicts and lists indented by two spaces for ``depth`` levels, what is
    deeper on one line."""
    parts: list[str] = []
    _write(value, depth, "", parts)
    return "".join(parts)


def _write(value: Any, depth: int, indent: str, out: list[str]) -> None:
    if depth <= 0 or not isinstance(value, (dict, list)) or not value:
        out.append(_COMPACT.encode(value))
        return
    inner = indent + "  "
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("\n" if i == 0 else ",\n") + inner + _COMPACT.encode(str(key)) + ": ")
            _write(item, depth - 1, inner, out)
        out.append("\n" + indent + "}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("\n" if i == 0 else ",\n") + inner)
            _write(item, depth - 1, inner, out)
        out.append("\n" + indent + "]")

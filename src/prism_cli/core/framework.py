"""Review frameworks: a named list of numbered checkpoints (TOML), built-in or the user's own."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from typing import Any

from prism_cli.errors import FrameworkError


@dataclass(frozen=True)
class Checkpoint:
    id: str
    title: str
    description: str
    expects_section: tuple[str, ...] = ()
    applies_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framework:
    name: str
    checkpoints: tuple[Checkpoint, ...]
    version: str = "1"
    digest: str = field(default="", compare=False)
    source: str = field(default="", compare=False, repr=False)
    """The TOML it was parsed from (kept in sessions, so a worker can rebuild a run)."""

    def checklist(self) -> str:
        return "\n".join(f"{c.id}. {c.title}: {c.description}" for c in self.checkpoints)

    def record(self) -> dict[str, object]:
        """The framework as reports name it (SARIF's rules come from its checkpoints)."""
        return {
            "name": self.name,
            "checkpoints": [
                {"id": c.id, "title": c.title, "description": c.description}
                for c in self.checkpoints
            ],
        }


def parse_framework(text: str) -> Framework:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FrameworkError(f"not valid TOML: {exc}") from exc
    raw = data.get("checkpoints")
    if not isinstance(raw, list) or not raw:
        raise FrameworkError("needs at least one [[checkpoints]] table")
    checkpoints = []
    for n, entry in enumerate(raw, start=1):
        if not isinstance(entry, dict) or not entry.get("title") or not entry.get("description"):
            raise FrameworkError(f"checkpoint {n} needs a title and a description")
        expects = entry.get("expects_section", [])
        if isinstance(expects, str):
            expects = [expects]
        checkpoints.append(
            Checkpoint(
                str(entry.get("id") or f"C{n}"),
                str(entry["title"]),
                str(entry["description"]),
                tuple(str(e).casefold() for e in expects),
                tuple(str(k).casefold() for k in entry.get("applies_to", [])),
            )
        )
    ids = [c.id for c in checkpoints]
    if len(set(ids)) != len(ids):
        raise FrameworkError("checkpoint ids must be unique")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Framework(
        str(data.get("name") or "custom framework"),
        tuple(checkpoints),
        str(data.get("version", "1")),
        digest,
        text,
    )

"""A section's result: what a run produced for it (:class:`SectionResult`), and what a store
holds of it (:class:`StoredResult`, the one place that decides whether it can be reused)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from pydantic import TypeAdapter

from prism_cli.core.findings import Finding, finding_id
from prism_cli.core.ports import Usage


class SectionStatus(StrEnum):
    """Where a section stands after a run (a ``str``: reports and stores hold the value)."""

    REVIEWED = "reviewed"
    """A model reviewed it in this run."""
    CACHED = "cached"
    """Its result was reused: the session's own, or the shared cache's for the same text."""
    SKIPPED = "skipped"
    """Nothing to review (an empty section), or read offline (rules only)."""
    FAILED = "failed"
    """No model of the chain could review it."""
    INTERRUPTED = "interrupted"
    """The run stopped before it finished (never stored)."""


REUSABLE = frozenset({SectionStatus.REVIEWED, SectionStatus.CACHED, SectionStatus.SKIPPED})
"""The statuses a stored result may be reused with."""


@dataclass
class Event:
    """One line of the activity log: what happened to a section, with which model."""

    kind: str
    section_id: str
    model: str | None = None
    detail: str = ""
    at: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "section_id": self.section_id,
            "model": self.model,
            "detail": self.detail,
            "at": self.at,
        }


@dataclass
class SectionResult:
    section_id: str
    status: SectionStatus
    model: str | None = None
    attempts: int = 0
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)
    usage: dict[str, Usage] = field(default_factory=dict)
    """Usage per model id that was called for this section."""
    events: list[Event] = field(default_factory=list)
    """What happened on the way (fallbacks, remaps, splits), for the activity log."""
    thinking: str | None = None
    """How the model thought for this section (``adaptive`` | ``budget``), None if it did not."""


@cache
def finding_list() -> TypeAdapter[list[Finding]]:
    """Validates a result's findings in one call (a rerun reads thousands)."""
    return TypeAdapter(list[Finding])


def _status(value: Any) -> SectionStatus:
    try:
        return SectionStatus(value)
    except ValueError:
        return SectionStatus.FAILED  # not one we write: never reused


@dataclass(frozen=True)
class StoredResult:
    """A result as a store holds it (the session's, or the shared cache's): its key and
    status read, its findings validated only when it is used (:meth:`to_result`)."""

    section_id: str
    cache_key: str
    status: SectionStatus
    payload: dict[str, Any] = field(repr=False, compare=False)
    """The stored JSON, as read (migrated to the current schema)."""

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> StoredResult:
        return cls(
            str(payload.get("section_id") or ""),
            str(payload.get("cache_key") or ""),
            _status(payload.get("status", SectionStatus.REVIEWED)),
            payload,
        )

    @staticmethod
    def payload_of(result: SectionResult, key: str, schema_version: int) -> dict[str, Any]:
        """What a store keeps of ``result`` made under ``key``."""
        return {
            "schema_version": schema_version,
            "section_id": result.section_id,
            "cache_key": key,
            "status": str(result.status),
            "model": result.model,
            "attempts": result.attempts,
            "error": result.error,
            "thinking": result.thinking,
            "usage": {m: u.as_dict() for m, u in result.usage.items()},
            "findings": [f.model_dump(mode="json") for f in result.findings],
        }

    @property
    def reusable(self) -> bool:
        """Finished well enough to stand for its section (whatever settings made it)."""
        return self.status in REUSABLE

    def reusable_for(self, key: str) -> bool:
        """Made from the same text under the same settings, and finished."""
        return self.cache_key == key and self.reusable

    @property
    def calls(self) -> int:
        """The model calls it took."""
        usage = self.payload.get("usage") or {}
        return sum(int(u.get("calls", 0)) for u in usage.values() if isinstance(u, dict))

    def to_result(self, section_id: str) -> SectionResult:
        """The result reused for ``section_id`` (ids are rewritten when it was stored for
        another section: the cache is shared between documents)."""
        data = self.payload
        items = []
        taken: set[str] = set()
        # The ids of a result stored for this very section were given by this rule already.
        same = self.section_id == section_id
        for item in data.get("findings", []):
            fid = item.get("id") if same else None
            if not (isinstance(fid, str) and fid.startswith(f"{section_id}-") and fid not in taken):
                title, quote = str(item.get("title", "")), str(item.get("quote", ""))
                fid = finding_id(section_id, title, quote, taken)
            taken.add(fid)
            items.append({**item, "section_id": section_id, "id": fid})
        findings = finding_list().validate_python(items) if items else []
        usage = {m: Usage(**u) for m, u in data.get("usage", {}).items()}
        return SectionResult(
            section_id,
            self.status,
            model=data.get("model"),
            attempts=int(data.get("attempts", 0)),
            error=data.get("error"),
            findings=findings,
            usage=usage,
            thinking=data.get("thinking"),
        )

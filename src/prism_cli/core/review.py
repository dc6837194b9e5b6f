"""One document under review: its sections, the results a run holds for them and the
findings they combine into. Kept free of the findings model's imports, so reading a document
(``prism sections``) does not load pydantic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prism_cli.core.document import Document, Section

if TYPE_CHECKING:
    from prism_cli.core.findings import Finding
    from prism_cli.core.ports import Usage
    from prism_cli.core.results import SectionResult


@dataclass
class DocumentReview:
    document: Document
    sections: Sequence[Section]
    results: dict[str, SectionResult] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    session_id: str = ""
    title: str | None = None
    """The document's title (its Title paragraph or its cover), not a section."""
    since: dict[str, Any] | None = None
    """The comparison with the document's previous version (``core.versions.Comparison``'s
    record), when prism reviewed one."""
    dumped: dict[int, tuple[Finding, dict[str, Any]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Findings already turned into dicts (see :func:`_finding_dicts`); a finding changed
    after it was dumped is replaced by a copy, never edited in place."""

    def usage_by_model(self) -> dict[str, Usage]:
        from prism_cli.core.ports import Usage

        out: dict[str, Usage] = {}
        for result in self.results.values():
            for model, usage in result.usage.items():
                out.setdefault(model, Usage()).add(usage)
        return out

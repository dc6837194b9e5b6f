"""Render the sections of read documents (``prism sections``) as JSON, Markdown or a table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from prism_cli.core.chunking import DEFAULT_CHUNK_TOKENS, chunk_paragraphs, estimate_tokens
from prism_cli.core.document import Document, Section
from prism_cli.core.sections import Verdict

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class DocumentSections:
    document: Document
    sections: Sequence[Section]
    title: str | None = None
    verdicts: Sequence[Verdict] | None = None
    """With ``--explain``: why each heading was taken and each near miss left."""


def verdict_dict(verdict: Verdict) -> dict[str, Any]:
    return {
        "locator": verdict.locator,
        "text": verdict.text,
        "heading": verdict.taken,
        "level": verdict.level,
        "evidence": list(verdict.evidence),
        "why": verdict.reason,
    }


def section_dict(section: Section, budget: int = DEFAULT_CHUNK_TOKENS) -> dict[str, Any]:
    text = section.text
    paragraphs = [b.text for b in section.blocks if b.text.strip()]
    return {
        "id": section.id,
        "index": section.index,
        "number": section.number,
        "title": section.title,
        "level": section.level,
        "parent_id": section.parent_id,
        "detected_by": section.detected_by,
        "locator": section.anchor_locator,
        "text": text,
        "chars": len(text),
        "words": len(text.split()),
        "tokens": estimate_tokens(text),
        "chunks": len(chunk_paragraphs(paragraphs, budget)) if paragraphs else 0,
    }


def to_json(items: Sequence[DocumentSections]) -> str:
    payload = {
        "schema_version": SCHEMA_VERSION,
        "documents": [
            {
                "path": item.document.path,
                "sha256": item.document.sha256,
                "title": item.title,
                "sections": [section_dict(s) for s in item.sections],
                **(
                    {"explain": [verdict_dict(v) for v in item.verdicts]}
                    if item.verdicts is not None
                    else {}
                ),
            }
            for item in items
        ],
    }
    from prism_cli.reports.jsontext import dumps

    return dumps(payload)


def to_markdown(items: Sequence[DocumentSections]) -> str:
    out: list[str] = []
    for item in items:
        out.append(f"# {item.document.path}\n")
        if item.title:
            out.append(f"_Title: {item.title}_\n")
        if not item.sections:
            out.append("_No text in this document._\n")
        for section in item.sections:
            hashes = "#" * min(max(section.level, 1) + 1, 6)
            out.append(f"{hashes} {section.heading}\n")
            if section.text:
                out.append(section.text + "\n")
        if item.verdicts is not None:
            out.append("## Why these headings\n")
            for v in item.verdicts:
                mark = f"heading (level {v.level})" if v.taken else "left"
                evidence = ", ".join(v.evidence) or "no evidence"
                out.append(f"- ¶{v.locator} `{v.text[:80]}`: {mark}; {evidence}; {v.reason}")
            out.append("")
    return "\n".join(out)


def to_table(items: Sequence[DocumentSections]) -> list[Any]:
    from rich.table import Table
    from rich.text import Text

    # A document's path and headings are its own text: shown literally (Text), never markup.
    tables: list[Any] = []
    for item in items:
        named = f"  “{item.title}”" if item.title else ""
        table = Table(
            title=Text(f"{item.document.path}{named}  ({len(item.sections)} sections)"),
            title_justify="left",
        )
        table.add_column("id", style="dim")
        table.add_column("no.")
        table.add_column("section")
        table.add_column("found by", style="dim")
        table.add_column("words", justify="right")
        table.add_column("~tokens", justify="right")
        for section in item.sections:
            indent = "  " * max(section.level - 1, 0)
            text = section.text
            table.add_row(
                Text(section.id),
                Text(section.number),
                Text(f"{indent}{section.title}"),
                Text(section.detected_by),
                str(len(text.split())),
                str(estimate_tokens(text)),
            )
        tables.append(table)
        if item.verdicts is not None:
            tables.append(_explain_table(item))
    return tables


def _explain_table(item: DocumentSections) -> Any:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text("why these headings"), title_justify="left", show_lines=False)
    table.add_column("¶", justify="right", style="dim")
    table.add_column("")
    table.add_column("line", overflow="fold", ratio=3)
    table.add_column("evidence", style="dim", ratio=2)
    table.add_column("why", ratio=3)
    for v in item.verdicts or ():
        table.add_row(
            Text(str(v.locator)),
            Text(f"H{v.level}" if v.taken else "·", style="bold green" if v.taken else "dim"),
            Text(v.text[:120]),
            Text(", ".join(v.evidence)),
            Text(v.reason),
        )
    return table

"""Write a reviewed copy of a document: one real Word comment per finding.

Each comment spans exactly the words a finding quotes (runs are split at the quote's ends,
keeping their formatting; see :mod:`prism_cli.word.anchor`), or the section heading when there
is no quote or it is not found. The author is "prism" ("Reviewer" for a reviewer's own
finding) and the text starts with the severity. python-docx writes the comments part and escapes every character, so ``&``, ``<``
and emoji are safe; characters XML cannot hold at all (control codes) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prism_cli.core.findings import Finding
from prism_cli.errors import InputError

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
AUTHOR = "prism"
INITIALS = "PR"
REVIEWER = "Reviewer"
REVIEWER_INITIALS = "R"


def comment_text(f: Finding) -> str:
    parts = [f"[{f.severity.upper()}] {f.title}", f.description]
    if f.suggestion:
        parts.append(f"Suggestion: {f.suggestion}")
    if f.example:
        parts.append(f"Example: {f.example}")
    parts += [f"Question: {q}" for q in f.questions]
    if f.framework_refs:
        parts.append("Framework: " + ", ".join(f.framework_refs))
    parts.append(f"({f.source}, {f.id})")
    return _XML_ILLEGAL.sub("", "\n".join(p for p in parts if p))


def _runs_for(paragraph: Any) -> list[Any]:
    runs = list(paragraph.runs)
    if runs:
        return runs
    # Text only inside hyperlinks or content controls, or an empty paragraph: anchor on a new run.
    return [paragraph.add_run("")]


_SPAN = 60
"""Paragraphs searched for a quote, from the one it was found in (a table's cells, a list)."""


def _author(f: Finding) -> tuple[str, str]:
    return (REVIEWER, REVIEWER_INITIALS) if f.source == "reviewer" else (AUTHOR, INITIALS)


def reviewed_copy(source: Path, findings: Sequence[Finding]) -> tuple[bytes, int]:
    """The document with one comment per finding, and the number of comments added."""
    import io

    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

    from prism_cli.word.anchor import quote_range

    try:
        document = docx.Document(str(source))
    except Exception as exc:  # python-docx raises ValueError/KeyError/PackageNotFoundError
        raise InputError(str(source), f"cannot write a reviewed copy: {exc}") from exc
    body = document.element.body
    paragraphs = list(body.iter(qn("w:p")))
    added = 0
    for finding in findings:
        locator = finding.locator if finding.locator is not None else 0
        if not paragraphs:
            paragraphs = [document.add_paragraph("")._p]
        at = min(max(locator, 0), len(paragraphs) - 1)
        paragraph = Paragraph(paragraphs[at], document._body)
        span = quote_range(paragraphs[at : at + _SPAN], finding.quote) if finding.quote else None
        # No quote, or not found: the paragraph it points to (the section heading).
        runs = [Run(r, paragraph) for r in span] if span is not None else _runs_for(paragraph)
        author, initials = _author(finding)
        document.add_comment(runs, text=comment_text(finding), author=author, initials=initials)
        added += 1
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue(), added


def annotate(source: Path, target: Path | str, findings: Sequence[Finding]) -> int:
    """Write the reviewed copy to ``target`` (``-``: standard output); returns the number of
    comments added. A file is replaced atomically: never a partial one."""
    from prism_cli.outputs import write_bytes

    data, added = reviewed_copy(source, findings)
    write_bytes(target, data)
    return added

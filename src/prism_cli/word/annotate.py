"""Write a reviewed copy of a document: one real Word comment per finding.

Each comment is anchored on the paragraph holding the finding's quote (its locator), or on the
section heading when there is no quote; the author is "prism" and the text starts with the
severity. python-docx writes the comments part and escapes every character, so ``&``, ``<``
and emoji are safe; characters XML cannot hold at all (control codes) are dropped.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prism_cli.core.findings import Finding
from prism_cli.errors import InputError

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
AUTHOR = "prism"
INITIALS = "PR"


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


def annotate(source: Path, target: Path, findings: Sequence[Finding]) -> int:
    """Write ``target``; returns the number of comments added. Atomic: no partial file."""
    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph

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
        element = paragraphs[min(max(locator, 0), len(paragraphs) - 1)]
        paragraph = Paragraph(element, document._body)
        document.add_comment(
            _runs_for(paragraph), text=comment_text(finding), author=AUTHOR, initials=INITIALS
        )
        added += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".docx", delete=False) as tmp:
        tmp_path = Path(tmp.name)
    try:
        document.save(str(tmp_path))
        shutil.move(str(tmp_path), str(target))
    finally:
        tmp_path.unlink(missing_ok=True)
    return added

"""Suggested rewrites as Word tracked changes: the quoted words deleted (``w:del``) and the
new words inserted (``w:ins``), as a reviewer using Track Changes leaves them, for the author
to accept or reject with one click.

The quote is found as comments find it (:func:`prism_cli.word.anchor.quote_range`: across runs
of different formatting, in hyperlinks, next to tracked changes; deleted text is not seen) and
must lie in one paragraph. Each run of it is wrapped in a deletion where it stands (in its
hyperlink, or in another author's insertion), its text becoming ``w:delText``; one insertion
follows the last, in the formatting of the first replaced run. The document's own revisions
are left as they are. A quote that overlaps a suggestion already written is not rewritten
again: the caller leaves that finding a comment.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from docx.oxml.ns import qn

from prism_cli.core.versions import common_ends
from prism_cli.word.anchor import run_text, split_run, visible_runs

W_R = qn("w:r")
W_T = qn("w:t")
W_P = qn("w:p")
W_RPR = qn("w:rPr")
W_INS = qn("w:ins")
W_DEL = qn("w:del")
W_ID = qn("w:id")
W_AUTHOR = qn("w:author")
W_DATE = qn("w:date")
_DELETED = {qn("w:t"): qn("w:delText"), qn("w:instrText"): qn("w:delInstrText")}
_REVISION_TAGS = {
    W_INS, W_DEL, qn("w:moveFrom"), qn("w:moveTo"), qn("w:rPrChange"), qn("w:pPrChange"),
    qn("w:sectPrChange"), qn("w:tblPrChange"), qn("w:trPrChange"), qn("w:tcPrChange"),
    qn("w:tblGridChange"), qn("w:numberingChange"), qn("w:cellIns"), qn("w:cellDel"),
    qn("w:cellMerge"), qn("w:commentRangeStart"), qn("w:commentRangeEnd"),
    qn("w:commentReference"), qn("w:bookmarkStart"), qn("w:bookmarkEnd"),
}  # fmt: skip
"""Elements whose ``w:id`` a new revision must not take (annotations share one id space)."""
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
AUTHOR = "prism"


class Anchor:
    """What a comment spans (``_r``: the element its range markers go around), shaped as the
    python-docx runs the commenter takes."""

    def __init__(self, element: Any) -> None:
        self._r = element


@dataclass
class Reviser:
    """Writes suggestions into one document body: revision ids after every id it holds,
    one author and one date for the copy."""

    body: Any
    author: str = AUTHOR
    reserve: int = 0
    """Ids kept free after the document's own (for the comments written with the revisions)."""
    when: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    )
    written: int = 0
    _mine: set[int] = field(default_factory=set)
    _held: list[Any] = field(default_factory=list)
    """The revisions written (held, so their ids in ``_mine`` stay theirs)."""

    def __post_init__(self) -> None:
        used = [
            int(value)
            for element in self.body.iter(*_REVISION_TAGS)
            if (value := element.get(W_ID)) is not None and value.isdigit()
        ]
        self._next = max(used, default=0) + 1 + self.reserve

    def _id(self) -> str:
        self._next += 1
        return str(self._next - 1)

    def _mark(self, tag: str) -> Any:
        from lxml import etree

        element = etree.Element(tag)
        element.set(W_ID, self._id())
        element.set(W_AUTHOR, self.author)
        element.set(W_DATE, self.when)
        self._mine.add(id(element))
        self._held.append(element)
        return element

    def overlaps(self, first: Any, last: Any) -> bool:
        """Whether the run range touches a suggestion this copy already holds."""
        for run in _between(first, last):
            parent = run.getparent()
            while parent is not None and parent.tag != W_P:
                if id(parent) in self._mine:
                    return True
                parent = parent.getparent()
        return False

    def suggest(self, first: Any, last: Any, replacement: str) -> tuple[Anchor, Anchor] | None:
        """Replace the runs ``first`` .. ``last`` (one paragraph's) by ``replacement`` as
        tracked changes, as a person would: only the words that differ are deleted and
        inserted ("Keys ~~should~~ must rotate"). Returns what a comment should span (the
        first change's start, the last one's end), or None when the range cannot take a
        suggestion (it crosses paragraphs or another suggestion, or changes nothing)."""
        if _paragraph(first) is not _paragraph(last) or self.overlaps(first, last):
            return None
        runs = _between(first, last)
        if not runs:
            return None
        raw = "".join(run_text(run) for run in runs)
        edit = _edit(raw, replacement)
        if edit is None:
            return None
        cut_start, cut_end, text = edit
        style = _style_at(runs, cut_start)
        whole = list(runs)
        runs = _cut(whole, cut_start, cut_end)  # an insertion only: ``whole`` is split there
        deletions = self._delete(runs) if runs else []
        insertion = None
        if text:
            insertion = self._mark(W_INS)
            insertion.append(_run(text, copy.deepcopy(style) if style is not None else None))
            if deletions:
                last_deletion = deletions[-1]
                host = last_deletion.getparent()
                # Not inside another author's insertion or deletion: after it.
                (host if host.tag in (W_INS, W_DEL) else last_deletion).addnext(insertion)
            else:
                at = _run_at(whole, cut_start, whole[-1])
                host = at.getparent()
                (host if host.tag in (W_INS, W_DEL) else at).addprevious(insertion)
        self.written += 1
        changes = [*deletions, *([insertion] if insertion is not None else [])]
        return Anchor(changes[0]), Anchor(changes[-1])

    def accept(self) -> None:
        """Apply this copy's suggestions outright (``prism apply --clean``): its insertions
        become plain text, its deletions go; the document's own revisions stay."""
        for element in self._held:
            parent = element.getparent()
            if parent is None:
                continue
            if element.tag == W_DEL:
                parent.remove(element)
            else:
                _unwrap(element)
        self._held.clear()
        self._mine.clear()

    def _delete(self, runs: Sequence[Any]) -> list[Any]:
        groups: list[list[Any]] = []
        for run in runs:  # consecutive runs of one parent are one deletion
            if groups and groups[-1][-1].getnext() is run:
                groups[-1].append(run)
            else:
                groups.append([run])
        deletions = []
        for group in groups:
            deletion = self._mark(W_DEL)
            group[0].addprevious(deletion)
            for run in group:
                deletion.append(run)  # moves it
                for piece in run.iter(*_DELETED):
                    piece.tag = _DELETED[piece.tag]
            deletions.append(deletion)
        return deletions


Place = tuple[Any, int, int]
"""A run range as (its paragraph, start, end): offsets in the paragraph's visible text, which
splitting runs does not change."""


def place(first: Any, last: Any) -> Place | None:
    """Where the run range ``first`` .. ``last`` stands (None: across paragraphs)."""
    paragraph = _paragraph(first)
    runs = visible_runs(paragraph) if paragraph is not None else []
    if paragraph is None or _paragraph(last) is not paragraph or first not in runs:
        return None
    start = sum(len(run_text(r)) for r in runs[: runs.index(first)])
    return paragraph, start, start + sum(len(run_text(r)) for r in _between(first, last))


def overlaps(places: Sequence[tuple[int, Place | None]]) -> set[int]:
    """The keys of the places that overlap an earlier one."""
    taken: dict[Any, list[tuple[int, int]]] = {}  # by paragraph
    out: set[int] = set()
    for key, where in places:
        if where is None:
            continue
        paragraph, start, end = where
        held = taken.setdefault(paragraph, [])
        if any(start < e and s < end for s, e in held):
            out.add(key)
        else:
            held.append((start, end))
    return out


def _edit(raw: str, replacement: str) -> tuple[int, int, str] | None:
    """Where ``raw`` must change to read ``replacement``, word by word: the characters
    [start, end) to delete and the text to insert there; the words both share at the start
    and at the end are kept. None when nothing changes."""
    import re

    spans = [m.span() for m in re.finditer(r"\S+", raw)]
    old = [raw[a:b] for a, b in spans]
    new = replacement.split()
    head, tail = common_ends(old, new)
    middle_old, middle_new = old[head : len(old) - tail], new[head : len(new) - tail]
    if not middle_old and not middle_new:
        return None
    text = " ".join(middle_new)
    if middle_old:
        start, end = spans[head][0], spans[len(old) - tail - 1][1]
        if not text:  # a deletion only: take one space with it
            if end < len(raw) and raw[end] == " ":
                end += 1
            elif start > 0 and raw[start - 1] == " ":
                start -= 1
        return start, end, text
    if head < len(old):  # an insertion only, before the word that follows it
        at = spans[head][0]
        return at, at, text + " "
    return len(raw), len(raw), " " + text


def _style_at(runs: Sequence[Any], offset: int) -> Any | None:
    """The properties of the run holding character ``offset`` of ``runs`` (the first run's
    when it is past the end)."""
    at = 0
    for run in runs:
        length = len(run_text(run))
        if offset < at + length:
            return run.find(W_RPR)
        at += length
    return runs[-1].find(W_RPR) if runs else None


def _cut(runs: list[Any], start: int, end: int) -> list[Any]:
    """The runs holding characters [start, end) of ``runs``' text, split where needed."""
    if start >= end:
        if start < sum(len(run_text(r)) for r in runs):
            _split_at(runs, start)
        return []
    _split_at(runs, end)
    runs = _reread(runs)
    _split_at(runs, start)
    runs = _reread(runs)
    out, at = [], 0
    for run in runs:
        length = len(run_text(run))
        if at >= start and at + length <= end and length:
            out.append(run)
        at += length
    return out


def _reread(runs: list[Any]) -> list[Any]:
    return _between(runs[0], runs[-1]) if runs else runs


def _split_at(runs: list[Any], offset: int) -> None:
    """Split the run in which character ``offset`` falls (when it falls inside one)."""
    at = 0
    for i, run in enumerate(runs):
        length = len(run_text(run))
        if at < offset < at + length:
            after = split_run(run, offset - at)
            runs.insert(i + 1, after)
            return
        at += length


def _run_at(runs: Sequence[Any], offset: int, default: Any) -> Any:
    """The run whose text starts at character ``offset`` of ``runs``."""
    at = 0
    for run in runs:
        if at == offset:
            return run
        at += len(run_text(run))
    return default


def _run(text: str, rpr: Any | None) -> Any:
    from lxml import etree

    run = etree.Element(W_R)
    if rpr is not None:
        for change in rpr.findall(qn("w:rPrChange")):  # the run's own formatting history
            rpr.remove(change)
        run.append(rpr)
    t = etree.SubElement(run, W_T)
    t.text = text
    t.set(XML_SPACE, "preserve")
    return run


def _paragraph(element: Any) -> Any:
    parent = element.getparent()
    while parent is not None and parent.tag != W_P:
        parent = parent.getparent()
    return parent


def _between(first: Any, last: Any) -> list[Any]:
    """The visible runs from ``first`` to ``last`` of one paragraph, in reading order."""
    paragraph = _paragraph(first)
    if paragraph is None:
        return []
    runs = visible_runs(paragraph)
    try:
        start, end = runs.index(first), runs.index(last)
    except ValueError:
        return []
    return runs[start : end + 1]


def accept_all(paragraphs: Sequence[Any]) -> None:
    """Accept every revision in ``paragraphs`` as Word's "Accept All" does: insertions kept
    (unwrapped), deletions dropped (what ``prism apply --clean`` and the tests use)."""
    for paragraph in paragraphs:
        for deletion in list(paragraph.iter(W_DEL)):
            if deletion.getparent() is not None and deletion.getparent().tag != W_RPR:
                deletion.getparent().remove(deletion)
        for insertion in list(paragraph.iter(W_INS)):
            parent = insertion.getparent()
            if parent is not None and parent.tag != W_RPR:
                _unwrap(insertion)


def _unwrap(element: Any) -> None:
    """Put ``element``'s children where it stands, and drop it (an insertion accepted)."""
    parent = element.getparent()
    at = parent.index(element)
    for child in list(element):
        parent.insert(at, child)
        at += 1
    parent.remove(element)

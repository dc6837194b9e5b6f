"""Find a finding's quote among a document's runs and make it a run range a comment can span.

Word anchors a comment on whole runs (``w:commentRangeStart`` before the first,
``w:commentRangeEnd`` after the last), so the runs are split at the quote's first and last
character; each part keeps the run's formatting. The quote is matched as the findings module
matches it (:func:`~prism_cli.core.findings.find_whole`): whitespace collapsed, curly quotes
straightened, whole words only, the exact case first and then any case, over the visible text
of the paragraph it was found in and the ones after it: across runs, formatting changes,
hyperlinks, tracked insertions and paragraph breaks. Deleted text (``w:del``) is not visible and
is skipped.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from docx.oxml.ns import qn

from prism_cli.core.findings import STRAIGHT_QUOTES, collapse, find_whole

W_R = qn("w:r")
W_T = qn("w:t")
W_RPR = qn("w:rPr")
_HIDDEN = {qn("w:del"), qn("w:moveFrom")}
_CHARS = {qn("w:tab"): "\t", qn("w:ptab"): "\t", qn("w:br"): "\n", qn("w:cr"): "\n"}
_CHARS[qn("w:noBreakHyphen")] = "-"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _piece(child: Any) -> str:
    if child.tag == W_T:
        return str(child.text or "")
    return _CHARS.get(child.tag, "")


def run_text(run: Any) -> str:
    return "".join(_piece(c) for c in run if c.tag != W_RPR)


def visible_runs(paragraph: Any) -> list[Any]:
    """The ``w:r`` of a paragraph in reading order, deleted text left out."""
    runs = []
    for run in paragraph.iter(W_R):
        parent = run.getparent()
        hidden = False
        while parent is not None and parent is not paragraph:
            if parent.tag in _HIDDEN:
                hidden = True
                break
            parent = parent.getparent()
        if not hidden:
            runs.append(run)
    return runs


def split_run(run: Any, offset: int) -> Any:
    """Split ``run`` before its ``offset``-th character; returns the new run after it (the
    original keeps the characters before). Both keep the run's properties."""
    after = copy.deepcopy(run)
    run.addnext(after)
    mine = [c for c in run if c.tag != W_RPR]
    theirs = [c for c in after if c.tag != W_RPR]
    position = 0
    for child, twin in zip(mine, theirs, strict=True):
        length = len(_piece(child))
        start, end = position, position + length
        position = end
        if length == 0:
            # A mark without text (a field character, a drawing) stays on its side; at the
            # split point, with the text before it.
            if start <= offset:
                after.remove(twin)
            else:
                run.remove(child)
        elif end <= offset:
            after.remove(twin)  # wholly before the split
        elif start >= offset:
            run.remove(child)  # wholly after it
        else:  # a w:t that the split cuts in two
            text = str(child.text or "")
            child.text, twin.text = text[: offset - start], text[offset - start :]
            child.set(XML_SPACE, "preserve")
            twin.set(XML_SPACE, "preserve")
    return after


def quote_range(paragraphs: Sequence[Any], quote: str) -> tuple[Any, Any] | None:
    """Split runs so that ``quote`` is exactly a run range in ``paragraphs`` (searched in order,
    as one text with a break between paragraphs); returns its (first, last) ``w:r``, or None
    when the quote is not there."""
    wanted = collapse(quote)
    if not wanted:
        return None
    where: list[tuple[Any, int] | None] = []  # for each raw character: its run and offset
    raw: list[str] = []
    for paragraph in paragraphs:
        if raw:
            raw.append("\n")
            where.append(None)
        for run in visible_runs(paragraph):
            for offset, char in enumerate(run_text(run)):
                raw.append(char)
                where.append((run, offset))
    # The text as quotes are matched (whitespace collapsed, quotes straightened), case kept
    # and case folded, each with the raw character every one of its characters came from.
    kept: list[str] = []
    folded: list[str] = []
    kept_at: list[int] = []
    folded_at: list[int] = []
    space = True
    for i, char in enumerate("".join(raw).translate(STRAIGHT_QUOTES)):
        if char.isspace():
            if not space:
                kept.append(" ")
                kept_at.append(i)
                folded.append(" ")
                folded_at.append(i)
            space = True
            continue
        space = False
        kept.append(char)
        kept_at.append(i)
        for piece in char.casefold():
            folded.append(piece)
            folded_at.append(i)
    # Whole words, the exact case first ("IN" is not in "selling", nor "in" of "sign in").
    found = find_whole("".join(kept), wanted)
    index, size = kept_at, len(wanted)
    if found < 0:
        found = find_whole("".join(folded), wanted.casefold())
        index, size = folded_at, len(wanted.casefold())
    if found < 0:
        return None
    first_at, last_at = where[index[found]], where[index[found + size - 1]]
    if first_at is None or last_at is None:
        return None
    (first, start), (last, end) = first_at, last_at
    end += 1
    if end < len(run_text(last)):
        split_run(last, end)
    if start > 0:
        tail = split_run(first, start)
        if first is last:
            last = tail
        first = tail
    return first, last

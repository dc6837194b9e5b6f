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

import bisect
import copy
import re
from collections.abc import Sequence
from typing import Any

from docx.oxml.ns import qn

from prism_cli.core.findings import STRAIGHT_QUOTES, collapse, find_whole, wordish

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


def _pattern(wanted: str) -> str:
    """A regular expression for a collapsed quote over raw text: any run of whitespace for a
    space, a curly quote for a straight one (``re.escape`` leaves quote marks as they are)."""
    pattern = r"\s+".join(re.escape(word) for word in wanted.split(" "))
    return pattern.replace("'", "['\u2019]").replace('"', '["\u201c\u201d]')


def _whole(raw: str, start: int, end: int, wanted: str) -> bool:
    """The match is not part of a longer word (a quote of three words or more may be cut)."""
    if wanted.count(" ") >= 2:
        return True
    before = start == 0 or not (wordish(raw[start - 1]) and wordish(wanted[0]))
    after = end == len(raw) or not (wordish(raw[end]) and wordish(wanted[-1]))
    return before and after


Texts = dict[int, tuple[Any, list[str], list[Any]]]
"""What :func:`quote_range` read of each paragraph (by ``id``: the paragraph, its visible runs'
texts and the runs), kept between quotes of one copy; a paragraph whose runs are split is
read again."""


def _paragraph_text(paragraph: Any, texts: Texts | None) -> tuple[list[str], list[Any]]:
    if texts is not None:
        held = texts.get(id(paragraph))
        if held is not None and held[0] is paragraph:
            return held[1], held[2]
    pieces, owners = [], []
    for run in visible_runs(paragraph):
        text = run_text(run)
        if text:
            pieces.append(text)
            owners.append(run)
    if texts is not None:
        texts[id(paragraph)] = (paragraph, pieces, owners)
    return pieces, owners


def _search(
    paragraphs: Sequence[Any], wanted: str, texts: Texts | None = None
) -> tuple[Any, int, Any, int] | None:
    """(first run, offset, last run, offset after) of ``wanted`` in ``paragraphs``: the exact
    case first, then any case."""
    pieces: list[str] = []
    owners: list[Any] = []  # the run of each piece (None: a paragraph break)
    starts: list[int] = []
    at = 0
    for paragraph in paragraphs:
        if pieces:
            pieces.append("\n")
            owners.append(None)
            starts.append(at)
            at += 1
        mine, runs = _paragraph_text(paragraph, texts)
        for text, run in zip(mine, runs, strict=True):
            pieces.append(text)
            owners.append(run)
            starts.append(at)
            at += len(text)
    raw = "".join(pieces)
    pattern = _pattern(wanted)
    span = None
    for flags in (0, re.IGNORECASE):
        for match in re.finditer(pattern, raw, flags):
            if _whole(raw, match.start(), match.end(), wanted):
                span = match.start(), match.end()
                break
        if span is not None:
            break
    if span is None and not (wanted.isascii() and raw.isascii()):
        span = _folded_search(raw, wanted)
    if span is None:
        return None
    first = bisect.bisect_right(starts, span[0]) - 1
    last = bisect.bisect_right(starts, span[1] - 1) - 1
    if owners[first] is None or owners[last] is None:
        return None
    return owners[first], span[0] - starts[first], owners[last], span[1] - starts[last]


def _folded_search(raw: str, wanted: str) -> tuple[int, int] | None:
    """Any case by full case folding ("STRASSE" is "straße"), where a regular expression's
    simple folding differs: the text collapsed and folded, each character traced back."""
    folded: list[str] = []
    folded_at: list[int] = []
    space = True
    for i, char in enumerate(raw.translate(STRAIGHT_QUOTES)):
        if char.isspace():
            if not space:
                folded.append(" ")
                folded_at.append(i)
            space = True
            continue
        space = False
        for piece in char.casefold():
            folded.append(piece)
            folded_at.append(i)
    target = wanted.casefold()
    found = find_whole("".join(folded), target)
    if found < 0:
        return None
    return folded_at[found], folded_at[found + len(target) - 1] + 1


def quote_range(
    paragraphs: Sequence[Any], quote: str, texts: Texts | None = None
) -> tuple[Any, Any] | None:
    """Split runs so that ``quote`` is exactly a run range in ``paragraphs`` (searched in order,
    as one text with a break between paragraphs); returns its (first, last) ``w:r``, or None
    when the quote is not there. ``texts`` keeps what was read of each paragraph for the next
    quote (one dict per document being annotated).

    The first paragraph (where the findings module located the quote) is searched alone
    first, then the whole span: the cost follows the paragraphs a quote needs, not the span.
    """
    wanted = collapse(quote)
    if not wanted:
        return None
    found = _search(paragraphs[:1], wanted, texts)
    if found is None and len(paragraphs) > 1:
        found = _search(paragraphs, wanted, texts)
    if found is None:
        return None
    first, start, last, end = found
    if end < len(run_text(last)):
        split_run(last, end)
        _forget(last, texts)
    if start > 0:
        tail = split_run(first, start)
        _forget(first, texts)
        if first is last:
            last = tail
        first = tail
    return first, last


W_P = qn("w:p")


def _forget(run: Any, texts: Texts | None) -> None:
    """The paragraph of ``run`` has new runs: read it again next time."""
    if texts is None:
        return
    parent = run.getparent()
    while parent is not None and parent.tag != W_P:
        parent = parent.getparent()
    if parent is not None:
        texts.pop(id(parent), None)

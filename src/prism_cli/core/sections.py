"""Section detection: turn the body's blocks into titled, levelled sections.

Evidence for a heading, strongest first (DESIGN.md "Sections"):

1. an outline level 0-8 on the paragraph or its style chain (9 means body text);
2. a style named ``heading N`` or ``Title`` anywhere on the ``basedOn`` chain, by name or id,
   including common localised names (``Überschrift 1``, ``Titre 1``, ``Заголовок 1``, ...);
3. only when the document has no structural heading besides a Title: short bold-only lines,
   numbered lines (``1.``, ``2.1``, ``A.``) and all-caps short lines, with guards against
   false positives (never in tables, no terminal period, followed by body text, not CJK
   sentences, not long runs of such lines, which are lists).

No heading at all gives one section for the whole document; text before the first heading
becomes a "Preamble" section when it has content.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from prism_cli.core.document import Block, Section

# "heading 1" in many languages, by display name and by the style ids Word derives from them
# (ids drop spaces and non-ASCII letters: "Überschrift 1" -> "berschrift1").
_HEADING_WORDS = (
    "heading",
    "überschrift",
    "berschrift",
    "titre",
    "título",
    "titulo",
    "ttulo",
    "kop",
    "nadpis",
    "заголовок",
    "rubrik",
    "otsikko",
    "overskrift",
    "nagłówek",
    "nagwek",
    "intestazione",
    "titolo",
    "címsor",
    "cmsor",
    "başlık",
    "balk",
    "επικεφαλίδα",
    "見出し",
    "标题",
    "標題",
    "제목",
)
_HEADING_RE = re.compile(
    r"^(?:" + "|".join(re.escape(w) for w in _HEADING_WORDS) + r")\s*([1-9])$", re.IGNORECASE
)
_TITLE_NAMES = {"title", "titel", "titre", "título", "titolo", "заголовок", "название", "tytuł"}

_NUMBERED_RE = re.compile(
    r"^(?P<num>(?:\d{1,2}(?:\.\d{1,2}){0,4}\.?)|(?:[A-Z]\.))\s+(?P<rest>\S.*)$"
)
_CJK_FIRST = "\u3040"
"""No CJK letter comes before this one; the pattern below (4 ms to compile, so compiled only
when a line reaches that far) finds them."""


@cache
def _cjk_re() -> re.Pattern[str]:
    return re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _has_cjk(text: str) -> bool:
    return max(text) >= _CJK_FIRST and _cjk_re().search(text) is not None


_TERMINAL = (".", ",", ";", "!", "?", "。", "，", "；")
MAX_HEURISTIC_WORDS = 12
MAX_HEURISTIC_CHARS = 100
MAX_HEADING_RUN = 3
"""More consecutive heading-like lines than this are a list or a table of contents."""

BULLET = "•"
PREAMBLE_TITLE = "Preamble"
WHOLE_DOCUMENT_TITLE = "Document"


@dataclass(frozen=True, slots=True)
class _Heading:
    level: int
    detected_by: str


def style_heading_level(style_names: Sequence[str]) -> tuple[int, str] | None:
    """Heading level from style names/ids along the ``basedOn`` chain (nearest first)."""
    for name in style_names:
        key = name.strip().casefold()
        match = _HEADING_RE.match(key)
        if match:
            return int(match.group(1)), "style"
        if key in _TITLE_NAMES:
            return 0, "title"
    return None


def structural_heading(block: Block) -> _Heading | None:
    if not block.is_paragraph or not block.text.strip():
        return None
    if block.outline_level is not None:
        if 0 <= block.outline_level <= 8:
            return _Heading(block.outline_level + 1, "outline")
        return None  # explicit body-text level beats the style's name
    found = style_heading_level(block.style_names)
    if found is None:
        return None
    return _Heading(found[0], found[1])


def _heuristic_kind(block: Block) -> tuple[int, str] | None:
    """Whether a paragraph *looks* like a heading, and which rule says so."""
    if not block.is_paragraph or block.list_marker == BULLET:
        return None
    text = " ".join(block.text.split())
    if len(text) < 2 or len(text) > MAX_HEURISTIC_CHARS:
        return None
    if text.endswith(_TERMINAL) or len(text.split()) > MAX_HEURISTIC_WORDS:
        return None
    if len(text) > 20 and _has_cjk(text):
        return None
    if not any(ch.isalpha() for ch in text):
        return None
    numbered = _NUMBERED_RE.match(text)
    if numbered and not block.list_marker:
        rest = numbered.group("rest")
        if rest[:1].isupper() and len(rest.split()) <= 10:
            depth = numbered.group("num").rstrip(".").count(".") + 1
            return min(depth, 9), "numbered"
    if block.bold:
        return 1, "bold"
    letters = [ch for ch in text if ch.isalpha()]
    if len(letters) >= 3 and all(ch.isupper() for ch in letters) and not block.list_marker:
        return 1, "caps"
    return None


def _heuristic_headings(blocks: Sequence[Block]) -> dict[int, _Heading]:
    kinds = [_heuristic_kind(b) for b in blocks]
    content = [i for i, b in enumerate(blocks) if b.text.strip()]
    accepted: dict[int, _Heading] = {}
    run: list[int] = []

    def close_run(followed_by_body: bool) -> None:
        if run and followed_by_body and len(run) <= MAX_HEADING_RUN:
            for i in run:
                level, rule = kinds[i]  # type: ignore[misc]
                accepted[i] = _Heading(level, rule)
        run.clear()

    for i in content:
        if kinds[i] is not None:
            run.append(i)
        else:
            close_run(followed_by_body=True)
    close_run(followed_by_body=False)
    return accepted


def detect_headings(blocks: Sequence[Block]) -> dict[int, _Heading]:
    """Map block index -> heading, by the strongest evidence the document offers."""
    structural = {i: h for i, b in enumerate(blocks) if (h := structural_heading(b))}
    if any(h.detected_by != "title" for h in structural.values()):
        return structural
    heuristic = _heuristic_headings(blocks)
    heuristic.update(structural)  # a Title stays a title
    return heuristic


def split_sections(blocks: Sequence[Block]) -> list[Section]:
    """Group blocks into sections under their headings."""
    headings = detect_headings(blocks)
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, id) of open ancestors

    def add(title: str, level: int, locator: int | None, body: list[Block], rule: str) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        index = len(sections)
        sid = f"s{index + 1}"
        parent = stack[-1][1] if stack else None
        sections.append(Section(sid, index, title, level, locator, tuple(body), parent, rule))
        stack.append((level, sid))

    if not headings:
        if any(b.text.strip() for b in blocks):
            add(WHOLE_DOCUMENT_TITLE, 1, None, list(blocks), "none")
        return sections

    first = min(headings)
    preamble = list(blocks[:first])
    if any(b.text.strip() for b in preamble):
        add(PREAMBLE_TITLE, min(h.level for h in headings.values()), None, preamble, "preamble")
        stack.clear()  # the preamble is not anybody's parent
    order = sorted(headings)
    for n, i in enumerate(order):
        end = order[n + 1] if n + 1 < len(order) else len(blocks)
        block = blocks[i]
        title = " ".join(block.text.split())
        if block.list_marker and not title.startswith(block.list_marker):
            title = f"{block.list_marker} {title}"
        add(
            title,
            headings[i].level,
            block.locator,
            list(blocks[i + 1 : end]),
            headings[i].detected_by,
        )
    return sections

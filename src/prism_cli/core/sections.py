"""Section detection: turn the body's blocks into titled, numbered, levelled sections, as a
reader sees them (DESIGN.md "Sections").

Evidence is weighed together, per document, not in tiers:

* **styles**: a style named ``heading N`` (by name or id, through ``basedOn``, localised), a
  custom style whose name says heading (``Main Heading``, ``Abstract Title``), the ``TOC
  Heading`` of a table of contents, ``Title`` below the document's start, and the styles a
  user names in ``[sections] heading_styles``;
* **outline levels** 0-8 on the paragraph or its style chain;
* **the look of a line**: bold, underlined, in capitals, larger than the body, centred,
  numbered (Word's list number or a typed one: ``1.2``, ``IV.``, ``B.``, ``Article 5``,
  ``第一章``, ``一、``), short, no sentence end, no ``label: value`` shape, set apart by body
  text after it.

Every candidate must look like a heading (short, not a sentence, not a table-of-contents
entry, not a bullet). Lines of one look are grouped; a group whose lines are each followed by
body text is the document's own habit for headings, a line of a look met once only counts
when it stands out (larger, or bold with capitals, centring or a number); several lines of one
look in a row are a list. Then the document's habits decide: when its styled headings are
its structure, a bold line in the body is not a heading; when its real structure is in the
look of its lines (a third of real documents), a stray outline level or heading style on an
ordinary paragraph does not switch that off.

The document's title (a ``Title`` paragraph at its start, else its cover: the larger or
centred lines before any body text) is the document's, not a section; a "Preamble" section
holds what comes before the first heading only when that includes body text. Numbers are kept
apart from titles: ``Section.number`` is ``"1.2"`` or ``"Article 5"``, ``Section.title`` the
rest (``Section.heading`` is both, as the document shows them).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache

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
_SUBTITLE_NAMES = {"subtitle", "untertitel", "sous-titre", "subtítulo", "sottotitolo"}
_CONTENTS_STYLES = {"toc heading", "tocheading", "inhaltsverzeichnisüberschrift"}
_CUSTOM_HEADING_RE = re.compile(r"(?:^|\W)(?:heading|title)(?:\W|$)", re.IGNORECASE)
_NOT_HEADING_STYLE_RE = re.compile(r"^(?:toc|index|caption|table of|header|footer)", re.I)
_CONTENTS = {
    "contents",
    "content",
    "table of contents",
    "contents page",
    "оглавление",
    "содержание",
    "inhalt",
    "inhaltsverzeichnis",
    "índice",
    "indice",
    "sommaire",
    "table des matières",
    "spis treści",
    "indholdsfortegnelse",
    "innehåll",
    "sisällys",
    "inhoud",
    "inhoudsopgave",
    "目录",
    "目次",
    "目 录",
    "فهرست",
    "المحتويات",
}

_SECTION_NAMES = {
    "abstract", "acknowledgements", "acknowledgments", "annex", "appendix", "background",
    "bibliography", "conclusion", "conclusions", "definitions", "glossary", "introduction",
    "references", "summary", "executive summary", "scope", "purpose", "recommendations",
    "referencias", "bibliografía", "bibliografia", "conclusión", "conclusiones", "introducción",
    "conclusão", "introdução", "referências", "anexo", "einleitung", "zusammenfassung", "fazit",
    "literatur", "anhang", "literaturverzeichnis", "введение", "заключение", "литература",
    "список литературы", "приложение", "wstęp", "podsumowanie", "załącznik",
    "références", "conclusion générale", "annexe", "indledning", "konklusion", "litteratur",
    "参考文献", "结论", "引言", "はじめに", "おわりに", "参考文献一覧", "المراجع", "مقدمه", "منابع",
}  # fmt: skip
"""Names a reader knows as sections: one such bold line stands out alone."""

_TERMINAL = (".", ",", ";", "!", "?", "。", "，", "；", "！", "？")
_COLONS = (":", "：")
_TOC_STYLE_RE = re.compile(r"^(?:toc|inhaltsverzeichnis|verzeichnis)\s*\d", re.IGNORECASE)
_CODE_STARTS = ("* ", "// ", "/*", "<", "{", "#!")
_TOC_LINE_RE = re.compile(r"\t\s*(?:\d+|[ivxlc]+|n/a)\s*$", re.IGNORECASE)
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\ufeff")
)

_CONTENT_PROBLEMS = ("a label", "a lead-in", "ends as a sentence", "too long", "a bullet")
"""Lines these problems keep from being headings read as content under one."""

MAX_HEADING_WORDS = 15
MAX_HEADING_CHARS = 120
MAX_STYLED_WORDS = 30
MAX_CJK_CHARS = 40
MIN_BODY_WORDS = 4
MAX_HEADING_RUN = 3
"""More consecutive heading-like lines than this are a list or a table of contents."""

BULLET = "•"
PREAMBLE_TITLE = "Preamble"
WHOLE_DOCUMENT_TITLE = "Document"


@dataclass(frozen=True, slots=True)
class SectionRules:
    """What a user can say about a document's headings (``[sections]`` in prism.toml)."""

    heading_styles: tuple[str, ...] = ()
    """Paragraph styles (names or ids) that are headings, level 1 unless written
    ``"Name:2"``."""
    ignore_styles: tuple[str, ...] = ()
    """Paragraph styles that are never headings, whatever they look like."""
    numbered_headings: bool = True
    """Whether a numbered line (``1.2 Scope``) counts as evidence of a heading."""
    formatting_headings: bool = True
    """Whether the look of a line (bold, size, capitals) counts as evidence at all."""
    outline_levels: bool = True
    """Whether outline levels count."""

    def as_record(self) -> dict[str, object]:
        return {
            "heading_styles": list(self.heading_styles),
            "ignore_styles": list(self.ignore_styles),
            "numbered_headings": self.numbered_headings,
            "formatting_headings": self.formatting_headings,
            "outline_levels": self.outline_levels,
        }

    @classmethod
    def from_record(cls, record: object) -> SectionRules:
        """Rules from a record (a session's settings, prism.toml's ``[sections]``, checked
        already); anything missing takes its default."""
        if not isinstance(record, dict):
            return DEFAULT_RULES
        return cls(
            heading_styles=tuple(str(s) for s in record.get("heading_styles", ())),
            ignore_styles=tuple(str(s) for s in record.get("ignore_styles", ())),
            numbered_headings=bool(record.get("numbered_headings", True)),
            formatting_headings=bool(record.get("formatting_headings", True)),
            outline_levels=bool(record.get("outline_levels", True)),
        )


DEFAULT_RULES = SectionRules()


# -- numbers --------------------------------------------------------------------------------
_CJK_DIGITS = "一二三四五六七八九十百零〇两"
_WORD_NUMBER = (
    r"(?:chapter|section|article|artigo|artículo|articulo|article|art\.|part|appendix|annex|"
    r"schedule|exhibit|attachment|clause|§|capítulo|capitulo|cap[ií]tulo|kapitel|abschnitt|"
    r"anhang|anlage|глава|раздел|статья|часть|приложение|rozdział|artykuł|załącznik|"
    r"bilag|kapitel|afsnit|paragraf)"
)
_ORDINALS = (
    r"(?:primeiro|segundo|terceiro|quarto|quinto|sexto|s[eé]timo|oitavo|nono|d[eé]cimo|"
    r"primero|tercero|cuarto|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|"
    r"tenth|premier|deuxième|troisième|único|unico)"
)
_NUMBER_RES = (
    # 第一章 / 第3条 / 附件一 / 附件十二：
    ("cjk-chapter", re.compile(rf"^(第[{_CJK_DIGITS}\d]+[章节條条部篇编卷款])[\s:：、.．]*")),
    ("cjk-annex", re.compile(rf"^(附[件录錄][{_CJK_DIGITS}\d]*)[\s:：、.．]*")),
    # 一、 / （一） / (一)
    ("cjk", re.compile(rf"^([{_CJK_DIGITS}]+、)\s*")),
    ("cjk-paren", re.compile(rf"^([（(][{_CJK_DIGITS}]+[)）])\s*")),
    # Article 5 / SECTION 1 / Artigo Primeiro / § 3 / Appendix B / Chapter IV
    (
        "word",
        re.compile(
            rf"^((?:§\s*|{_WORD_NUMBER}\s+)(?:\d+(?:[.\-]\d+)*|[IVXLCDM]+\b|[A-Z]\b|{_ORDINALS})[ºª°]?)"
            r"(?:\s*[.:\-–—]\s*|\s+|$)",
            re.IGNORECASE,
        ),
    ),
    # 1. / 1.2 / 1.2.3. / 18.33.010 / 1) / 1、 / 8.1資格 (CJK straight after)
    ("decimal", re.compile(r"^(\d{1,3}(?:[.．]\d{1,3}){0,4}[.．)、]?)(?:\s+|(?=[^\x00-\x7f\d.]))")),
    # IV. / B. / B) — a letter or roman numeral needs its stop and a following word
    # One letter is a roman numeral only as I, V or X: "C." and "D." follow "B." far more
    # often than they count a hundred or five hundred.
    ("roman", re.compile(r"^((?:[IVXLCDM]{2,5}|[IVX])[.)])\s+(?=\S)")),
    ("letter", re.compile(r"^([A-Z][.)])\s+(?=\S)")),
)
_MONTH_RE = re.compile(
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|janv|févr|avr|mai|juin|juil|août|"
    r"sept|déc|ene|abr|ago|dic|fev|set|out|dez|märz|okt|stycz|lut|янв|фев|мар|апр|мая|июн|"
    r"июл|авг|сен|окт|ноя|дек)\w*\b",
    re.IGNORECASE,
)
_MARKS = "▲△★☆■□◆◇●○►▶*"


@dataclass(frozen=True, slots=True)
class Numbered:
    number: str
    title: str
    kind: str
    depth: int


def split_number(text: str, list_marker: str = "") -> Numbered:
    """Word's list number (``list_marker``, already in front of ``text`` as the reader
    renders it) or a typed one, apart from the title. A line that is only a number keeps it as
    its title (``"Section 1"``), with the number noted."""
    text = " ".join(text.split())
    if list_marker and list_marker != BULLET and text.startswith(list_marker):
        rest = text[len(list_marker) :].strip()
        inner = _typed_number(rest)
        kind = _marker_kind(list_marker)
        if inner is not None and inner.title:  # "1. Section 1.1"? no: "1." then "2.1 Scope"
            return Numbered(list_marker, rest, kind, _depth(list_marker))
        return Numbered(list_marker, rest or text, kind, _depth(list_marker))
    typed = _typed_number(text)
    return typed if typed is not None else Numbered("", text, "", 0)


def _typed_number(text: str) -> Numbered | None:
    stripped = text.lstrip(_MARKS + " ")
    for kind, pattern in _NUMBER_RES:
        match = pattern.match(stripped)
        if match is None:
            continue
        number = match.group(1).strip()
        rest = stripped[match.end() :].strip()
        if kind == "decimal" and not rest[:1].isalpha() and not _cjk_start(rest):
            continue  # "2024 budget"? "10 000"? only a number before words
        if kind == "decimal" and re.fullmatch(r"\d{4}", number.rstrip(".)")):
            continue  # a year
        if kind == "decimal" and _MONTH_RE.match(rest):
            continue  # a date: "12 March 2026"
        return Numbered(number, rest, kind, _depth(number))
    return None


def _cjk_start(text: str) -> bool:
    return bool(text) and "\u3040" <= text[0] <= "\u9fff"


def _depth(number: str) -> int:
    core = number.strip().rstrip(".．)、:")
    if re.fullmatch(r"\d+(?:[.．]\d+)*", core):
        return core.count(".") + core.count("．") + 1
    return 1


def _marker_kind(marker: str) -> str:
    core = marker.strip()
    if re.fullmatch(r"\d+(?:\.\d+)*[.)]?", core):
        return "decimal"
    if re.fullmatch(r"(?:[IVXLCDM]{2,}|[IVX])[.)]", core):
        return "roman"
    if re.fullmatch(r"[A-Za-z][.)]", core):
        return "letter"
    return "list"


# -- what each paragraph offers ------------------------------------------------------------
@dataclass(slots=True)
class Line:
    """One paragraph as heading detection sees it."""

    index: int
    block: Block
    text: str
    numbered: Numbered
    words: int
    style: tuple[str, int] | None  # (kind, level): heading, title, subtitle, contents, user
    outline: int | None
    bold: bool
    underline: bool
    caps: bool
    larger: int  # half-points above the body size (0: not larger)
    centered: bool
    problems: list[str] = field(default_factory=list)
    """Why the line cannot be a heading by its look (empty: it can)."""

    @property
    def look(self) -> tuple[object, ...]:
        """The signature of its look: lines of one signature are one habit."""
        return (
            self.bold,
            self.underline,
            self.caps,
            self.larger,
            self.centered,
            self.numbered.kind if self.numbered.number else "",
        )

    @property
    def has_look(self) -> bool:
        return self.bold or self.underline or self.caps or self.larger > 0

    def evidence(self, body_size: int | None) -> list[str]:
        out: list[str] = []
        if self.style is not None:
            name = self.block.style_names[0] if self.block.style_names else "?"
            out.append(f"style {name!r} ({self.style[0]})")
        if self.outline is not None:
            out.append(f"outline level {self.outline}")
        if self.numbered.number:
            out.append(f"numbered {self.numbered.number!r}")
        for flag, name in (
            (self.bold, "bold"),
            (self.underline, "underlined"),
            (self.caps, "capitals"),
            (self.centered, "centred"),
        ):
            if flag:
                out.append(name)
        if self.larger and self.block.size and body_size:
            out.append(f"{self.block.size / 2:g} pt (body {body_size / 2:g} pt)")
        return out


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    detected_by: str
    number: str = ""
    title: str = ""
    consumed: tuple[int, ...] = ()
    """Blocks after the heading that belong to it (the title line under "附件一")."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why one line was taken as a heading or left (``prism sections --explain``)."""

    index: int
    locator: int
    """The paragraph's place among the document's (as findings and ``--explain`` count)."""
    text: str
    taken: bool
    level: int
    evidence: tuple[str, ...]
    reason: str


@dataclass
class Analysis:
    title: str | None
    title_blocks: set[int]
    headings: dict[int, Heading]
    body_size: int | None
    lines: dict[int, Line] = field(default_factory=dict, repr=False)
    reasons: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def verdicts(self) -> list[Verdict]:
        """Why each heading was taken and each near miss left (worked out when asked: only
        ``--explain`` shows them)."""
        return _verdicts(self.lines, self.headings, self.reasons, self.body_size, self.title_blocks)


def _normal(text: str) -> str:
    return " ".join(text.translate(_INVISIBLE).split())


@lru_cache(maxsize=512)
def _style_kind(names: tuple[str, ...], rules: SectionRules) -> tuple[str, int] | None:
    """What the style chain (names and ids, nearest first) says of a paragraph (a document
    has few style chains: each is worked out once)."""
    lowered = [unicodedata.normalize("NFKC", n).strip().casefold() for n in names]
    ignored = {s.casefold() for s in rules.ignore_styles}
    if any(n in ignored for n in lowered):
        return ("ignored", 0)
    for spec in rules.heading_styles:
        name, _, level = spec.partition(":")
        if name.strip().casefold() in lowered:
            return ("user", int(level) if level.strip().isdigit() else 1)
    for key in lowered:
        match = _HEADING_RE.match(key)
        if match:
            return ("heading", int(match.group(1)))
        if key in _CONTENTS_STYLES:
            return ("contents", 1)
        if key in _TITLE_NAMES:
            return ("title", 1)
        if key in _SUBTITLE_NAMES:
            return ("subtitle", 2)
    nearest = lowered[0] if lowered else ""
    if nearest and _CUSTOM_HEADING_RE.search(nearest) and not _NOT_HEADING_STYLE_RE.match(nearest):
        return ("heading", 1)
    return None


def _is_contents(text: str) -> bool:
    key = text.strip(" :.").casefold()
    return key in _CONTENTS or (key.endswith(("目录", "目次")) and len(key) <= 10)


def _body_size(blocks: Sequence[Block]) -> int | None:
    sizes: Counter[int | None] = Counter()
    for b in blocks:
        if b.is_paragraph and b.text:
            sizes[b.size] += len(b.text)
    return sizes.most_common(1)[0][0] if sizes else None


_LONG = 400
"""Characters past which a paragraph is body text whatever else it shows (a heading is at
most :data:`MAX_STYLED_WORDS` words): read no further, as most of a long document is."""


def _line(i: int, block: Block, body_size: int | None, rules: SectionRules) -> Line:
    if len(block.text) > _LONG:
        words = block.text.count(" ") + 1
        style = _style_kind(block.style_names, rules)
        outline = block.outline_level if rules.outline_levels else None
        long = Line(
            i, block, block.text, Numbered("", block.text, "", 0), words, style,
            outline if outline is not None and 0 <= outline <= 8 else None,
            block.bold, block.underline, block.caps, 0, block.centered,
        )  # fmt: skip
        long.problems = [f"too long for a heading ({len(block.text)} characters)"]
        return long
    text = _normal(block.text)
    numbered = split_number(text, block.list_marker)
    title = numbered.title
    caps = block.caps or (  # a long paragraph is no heading: its capitals are not looked at
        len(title) <= 2 * MAX_HEADING_CHARS
        and title.isupper()
        and sum(1 for ch in title if ch.isalpha()) >= 3
    )
    larger = 0
    if block.size and body_size and block.size >= body_size + 2:
        larger = block.size
    outline = block.outline_level if rules.outline_levels else None
    style = _style_kind(block.style_names, rules)
    if style is not None and style[0] == "heading" and (block.outline_level or 0) >= 9:
        style = None  # an explicit body-text level beats the style's name
    line = Line(
        i,
        block,
        text,
        numbered,
        len(text.split()),
        style,
        outline if outline is not None and 0 <= outline <= 8 else None,
        block.bold,
        block.underline,
        caps,
        larger,
        block.centered,
    )
    line.problems = _problems(line)
    return line


def _problems(line: Line) -> list[str]:
    """Why this line cannot be a heading, whatever its style or look."""
    text, block = line.text, line.block
    out: list[str] = []
    if not text or not any(ch.isalpha() for ch in text):
        out.append("no words")
        return out
    if block.list_marker == BULLET:
        out.append("a bullet item")
    if any(_TOC_STYLE_RE.match(name) for name in block.style_names[:1]) or (
        _TOC_LINE_RE.search(block.text)
    ):
        out.append("a table-of-contents entry")
    cjk = _cjk_share(text) > 0.5
    numbered = bool(line.numbered.number)
    styled = line.style is not None and line.style[0] not in {"ignored"}
    limit_words = MAX_STYLED_WORDS if styled else MAX_HEADING_WORDS
    if (cjk and len(text) > MAX_CJK_CHARS) or (not cjk and line.words > limit_words):
        out.append(f"too long for a heading ({line.words} words)")
    elif not styled and not cjk and len(text) > MAX_HEADING_CHARS:
        out.append(f"too long for a heading ({len(text)} characters)")
    if text.endswith(("。", "；", "，")) or (
        text.endswith(_TERMINAL) and not (numbered and line.words <= 8 and "," not in text)
    ):
        if styled and not text.endswith(("。", "，", "；")) and line.words <= 10:
            pass  # "Beautiful is better than ugly." styled as a heading
        else:
            out.append("ends as a sentence does")
    if text[:1] in "(（" and text[-1:] in ")）":
        out.append("a parenthetical note")
    if text.startswith(_CODE_STARTS):
        out.append("reads as code or markup")
    if not styled and not numbered:
        head, colon, tail = _split_label(line.numbered.title)
        if colon and (len(tail.split()) >= 2 or _has_cjk(head) or any(c.isdigit() for c in tail)):
            out.append(f"a label and its value ({head}{colon} …)")
        elif text.endswith(_COLONS) and not line.underline:
            out.append("a lead-in or a label (ends with a colon)")
    return out


def _split_label(text: str) -> tuple[str, str, str]:
    for colon in _COLONS:
        head, found, tail = text.partition(colon)
        if found and 0 < len(head.split()) <= 4 and tail.strip() and not head.startswith("http"):
            return head, colon, tail.strip()
    return text, "", ""


@cache
def _cjk_re() -> re.Pattern[str]:
    return re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _cjk_share(text: str) -> float:
    if not text or max(text) < "\u3040":
        return 0.0
    return len(_cjk_re().findall(text)) / max(1, len(text.replace(" ", "")))


def _has_cjk(text: str) -> bool:
    return _cjk_share(text) > 0


# -- weighing the evidence -------------------------------------------------------------------
def analyse(blocks: Sequence[Block], rules: SectionRules = DEFAULT_RULES) -> Analysis:
    """Which blocks are headings (and of what level), the document's title, and a verdict
    for every line that had any evidence of being a heading."""
    body_size = _body_size(blocks)
    lines: dict[int, Line] = {
        i: _line(i, b, body_size, rules) for i, b in enumerate(blocks) if b.is_paragraph and b.text
    }
    content = [i for i, b in enumerate(blocks) if b.text]
    reasons: dict[int, str] = {}

    def is_body(i: int) -> bool:
        """Whether block ``i`` reads as content under a heading."""
        block = blocks[i]
        if not block.is_paragraph:
            return True
        line = lines[i]
        if any(p.startswith("a table-of-contents") for p in line.problems):
            return False
        if block.list_marker or any(p.startswith(_CONTENT_PROBLEMS) for p in line.problems):
            return True
        if line.style is not None and line.style[0] not in {"ignored"}:
            return False
        if _cjk_share(line.text) > 0.5:
            return len(line.text) >= 8
        return line.words >= MIN_BODY_WORDS or line.text.endswith(_TERMINAL)

    # 1. Styled headings, outline levels, the look of lines: who is a candidate of what.
    styled: dict[int, Line] = {}
    outlined: dict[int, Line] = {}
    looks: dict[int, Line] = {}
    for i, line in lines.items():
        if line.style is not None and line.style[0] == "ignored":
            reasons[i] = "its style is one [sections] ignore_styles names"
            continue
        if line.problems:
            continue
        if line.style is not None or (_is_contents(line.text) and line.has_look):
            styled[i] = line
        elif line.outline is not None:
            outlined[i] = line
        elif rules.formatting_headings and line.has_look:
            looks[i] = line
        elif rules.numbered_headings and line.numbered.number and not line.block.list_marker:
            looks[i] = line  # a typed number: "1.2 Scope", "Artigo 5"

    # Number-only lines ("附件一", "CHAPTER 1") over their title line read as one.
    pairs: dict[int, int] = {}
    position = {i: n for n, i in enumerate(content)}

    def next_content(i: int) -> int | None:
        n = position[i] + 1
        return content[n] if n < len(content) else None

    for i, line in lines.items():
        if not line.numbered.number or line.problems:
            continue
        j = next_content(i)
        if j is None or j not in lines or lines[j].problems:
            continue
        follower = lines[j]
        if not line.numbered.title.strip(" :："):
            if follower.has_look or follower.centered or follower.style is not None:
                pairs[i] = j  # "附件一" over "谈判响应书"
        elif _key(follower.text) == _key(line.numbered.title):
            pairs[i] = j  # "附件五 X" over "X" again
    for j in pairs.values():
        for group in (styled, outlined, looks):
            group.pop(j, None)

    def after(i: int) -> int | None:
        return next_content(pairs.get(i, i))

    # 2. The look of lines: a line must stand apart (body text after it, or a less
    #    prominent line of another look that is itself followed by body text); several lines
    #    of one look in a row are a list.
    supported: set[int] = set()
    for i in looks:
        line = lines[i]
        previous = content[position[i] - 1] if position[i] > 0 else None
        if (
            previous is not None
            and previous in looks
            and lines[previous].look == line.look
            and after(previous) == i
        ):
            reasons[i] = "one of several lines of one look in a row (a list)"
            continue
        run, j = [i], after(i)
        while j is not None and j in looks and len(run) <= MAX_HEADING_RUN:
            if lines[j].look == line.look:
                break
            if _prominence(lines[j]) >= _prominence(lines[run[-1]]):
                break
            run.append(j)
            j = after(j)
        if j is not None and j in looks and lines[j].look == line.look:
            reasons[i] = "one of several lines of one look in a row (a list)"
            continue
        if j is None or not is_body(j):
            reasons[i] = "no body text follows it"
            continue
        supported.add(i)

    # 3. The title: a Title paragraph at the start, else the cover: larger or centred lines
    #    before any body text and any heading, of a look no heading later has.
    title_blocks: set[int] = set()
    title: str | None = None
    for i in content:
        if i in title_blocks:
            continue
        found = lines.get(i)
        if found is None:
            break
        line = found
        kind = line.style[0] if line.style else None
        if kind in {"title", "subtitle"} and not _is_contents(line.text):
            title_blocks.add(i)
            if kind == "title" and title is None:
                title = line.text
            continue
        if kind is not None:
            break
        later = any(lines[k].look == line.look for k in supported if k > i) or (
            i in outlined and any(lines[k].outline == line.outline for k in outlined if k > i)
        )
        shown = line.centered or line.larger or (line.bold and line.caps)
        if shown and not later and line.words <= MAX_HEADING_WORDS and not line.problems:
            title_blocks.add(i)
            if i in pairs:  # "APPENDIX B" over the title
                title_blocks.add(pairs[i])
            continue
        if line.words <= 3 and title_blocks and not later and not line.problems:
            title_blocks.add(i)  # an author, a date under the title
            continue
        break
    if title is None and title_blocks:
        title = " — ".join(lines[i].text for i in sorted(title_blocks))[:300]
    for i in title_blocks:
        for group in (styled, outlined, looks):
            group.pop(i, None)
        supported.discard(i)
        reasons[i] = "part of the document's title"
    title_key = _key(title) if title else None
    cover_keys = {_key(lines[i].text) for i in title_blocks if i in lines} | (
        {title_key} if title_key else set()
    )
    """The title's lines, each: a line that repeats one of them is no section."""

    groups = Counter(lines[i].look for i in supported)
    accepted_look: dict[int, Line] = {}
    for i in supported:
        line = lines[i]
        if _key(line.numbered.title) in cover_keys or _key(line.text) in cover_keys:
            reasons[i] = "repeats the document's title"
            continue
        strong = (
            line.larger > 0
            or (
                (line.bold or line.caps)
                and (line.centered or bool(line.numbered.number and rules.numbered_headings))
            )
            or bool(line.underline and line.numbered.number and rules.numbered_headings)
        )
        if groups[line.look] >= 2:
            accepted_look[i] = line
            reasons[i] = (
                f"the document's habit: {groups[line.look]} lines look like this, each over body text"
            )
        elif strong or _is_contents(line.text) or _key(line.numbered.title) in _SECTION_NAMES:
            accepted_look[i] = line
            reasons[i] = (
                "the title of a table of contents"
                if _is_contents(line.text)
                else "stands out alone (larger than the body, or bold with centring or a number)"
                if strong
                else "a section name a reader knows, set apart"
            )
        else:
            reasons[i] = "its look is met once, and is not enough alone"
    if len(accepted_look) >= 2:
        # A document that sets its headings apart by their look: a bold line in title case,
        # over body text, is one more of them ("Radiation Exposure Compensation Act").
        for i in supported:
            line = lines[i]
            if reasons.get(i) == "repeats the document's title":
                continue
            if i not in accepted_look and line.bold and _title_case(line.numbered.title):
                accepted_look[i] = line
                reasons[i] = "bold and in title case, in a document whose headings are bold"

    if any(line.has_look for line in accepted_look.values()):
        for i in [i for i, line in accepted_look.items() if not line.has_look]:
            del accepted_look[i]
            reasons[i] = "the document sets its headings apart by their look; a number alone is not"

    # 4. The document's habit: styled headings, or the look of lines.
    for i in list(styled):
        line = styled[i]
        if title_key and _key(line.numbered.title) == title_key and line.style != ("heading", 1):
            reasons[i] = "repeats the document's title"
            del styled[i]
    look_mode = len(accepted_look) >= 2 * len(styled) + 2 or not styled
    taken: dict[int, Line] = dict(styled)
    if look_mode:
        taken.update(accepted_look)
        for i, line in outlined.items():
            if line.has_look or line.numbered.number or not accepted_look:
                taken[i] = line
            else:
                reasons[i] = "an outline level on a line that looks like the body"
    else:
        for i, line in outlined.items():
            taken[i] = line
        for i in accepted_look:
            reasons[i] = "the document's headings are styled; its look alone is not a heading"

    # 5. Levels, numbers, and the lines a heading takes with it.
    headings = _levels(taken, lines, pairs)
    return Analysis(title, title_blocks, headings, body_size, lines, reasons)


def _title_case(text: str) -> bool:
    """Most of its words (of four letters or more) capitalised, and at least two of them."""
    words = [w for w in text.split() if sum(ch.isalpha() for ch in w) >= 4]
    capital = sum(1 for w in words if w[:1].isupper())
    return capital >= 2 and capital >= 0.6 * len(words) and not text.isupper()


def _key(text: str | None) -> str:
    return " ".join((text or "").casefold().split()).strip(" .:：")


def _prominence(line: Line) -> tuple[int, bool, bool, bool, bool]:
    return (line.larger, line.centered, line.caps, line.bold, line.underline)


def _levels(
    taken: dict[int, Line], lines: dict[int, Line], pairs: dict[int, int]
) -> dict[int, Heading]:
    out: dict[int, Heading] = {}
    rank: list[object] = []  # the look (or numbering) of look-found headings, outer first
    for i in sorted(taken):
        line = taken[i]
        number, title = line.numbered.number, line.numbered.title
        extra: tuple[int, ...] = ()
        if i in pairs:  # "附件一" / "CHAPTER 1" over the title line, or the title again
            extra = (pairs[i],)
            if not title.strip(" :："):
                title = lines[pairs[i]].numbered.title
        if not title.strip(" :："):
            title, number = line.text, ""
        if line.style is not None:
            kind, level = line.style
            rule = {"title": "title", "contents": "contents"}.get(kind, "style")
            if kind == "title":
                level = 0  # a title inside the document: above its headings
            if kind == "heading" and line.outline is not None:
                level = line.outline + 1
        elif line.outline is not None:
            level, rule = line.outline + 1, "outline"
        else:
            key = line.numbered.kind if line.numbered.number else line.look
            if key not in rank:
                rank.append(key)
            level = rank.index(key) + 1 + max(0, line.numbered.depth - 1)
            rule = (
                "numbered"
                if line.numbered.number
                else "size"
                if line.larger
                else "bold"
                if line.bold
                else "caps"
                if line.caps
                else "underline"
            )
        out[i] = Heading(min(level, 9), rule, number, title, extra)
    return out


def _verdicts(
    lines: dict[int, Line],
    headings: dict[int, Heading],
    reasons: dict[int, str],
    body_size: int | None,
    title_blocks: set[int],
) -> list[Verdict]:
    out: list[Verdict] = []
    for i, line in lines.items():
        evidence = line.evidence(body_size)
        heading = headings.get(i)
        if heading is not None:
            why = {
                "style": "its style is a heading style",
                "title": "a Title below the document's start",
                "contents": "the title of a table of contents",
                "outline": "its outline level, on a line that looks like a heading",
            }.get(heading.detected_by) or reasons.get(i, "its look is a heading's")
            out.append(
                Verdict(i, line.block.locator, line.text, True, heading.level, tuple(evidence), why)
            )
            continue
        if not evidence and i not in title_blocks:
            continue  # body text: nothing said it could be a heading
        reason = reasons.get(i) or "; ".join(line.problems) or "nothing it shows is a heading"
        out.append(Verdict(i, line.block.locator, line.text, False, 0, tuple(evidence), reason))
    return out


@dataclass(frozen=True, slots=True)
class Split:
    title: str | None
    sections: list[Section]


def split_document(blocks: Sequence[Block], rules: SectionRules = DEFAULT_RULES) -> Split:
    """The document's title and its sections."""
    analysis = analyse(blocks, rules)
    return Split(analysis.title, _sections(blocks, analysis))


def split_sections(blocks: Sequence[Block], rules: SectionRules = DEFAULT_RULES) -> list[Section]:
    """Group blocks into sections under their headings."""
    return split_document(blocks, rules).sections


def _sections(blocks: Sequence[Block], analysis: Analysis) -> list[Section]:
    headings = analysis.headings
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []  # (level, id) of open ancestors

    def add(
        title: str,
        level: int,
        locator: int | None,
        body: list[Block],
        rule: str,
        number: str = "",
        shown: str = "",
    ) -> None:
        while stack and stack[-1][0] >= level:
            stack.pop()
        index = len(sections)
        sid = f"s{index + 1}"
        parent = stack[-1][1] if stack else None
        joined = f"{number} {title}" if number else title
        section = Section(sid, index, title, level, locator, tuple(body), parent, rule, number)
        if shown and shown != joined:
            section = replace(section, shown=shown)
        sections.append(section)
        stack.append((level, sid))

    if not headings:
        rest = [b for i, b in enumerate(blocks) if i not in analysis.title_blocks]
        if any(b.text.strip() for b in rest):
            add(WHOLE_DOCUMENT_TITLE, 1, None, rest, "none")
        elif any(b.text.strip() for b in blocks):
            add(WHOLE_DOCUMENT_TITLE, 1, None, list(blocks), "none")  # nothing but a title
        return sections

    first = min(headings)
    preamble = [b for i, b in enumerate(blocks[:first]) if i not in analysis.title_blocks]
    if any(b.text.strip() for b in preamble):
        add(PREAMBLE_TITLE, min(h.level for h in headings.values()), None, preamble, "preamble")
        stack.clear()  # the preamble is not anybody's parent
    order = sorted(headings)
    for n, i in enumerate(order):
        end = order[n + 1] if n + 1 < len(order) else len(blocks)
        heading = headings[i]
        body = [b for k, b in enumerate(blocks[i + 1 : end], i + 1) if k not in heading.consumed]
        line = " ".join(blocks[i].text.split())
        marker = blocks[i].list_marker
        if marker and marker != BULLET and not line.startswith(marker):
            line = f"{marker} {line}"
        add(
            heading.title,
            heading.level,
            blocks[i].locator,
            body,
            heading.detected_by,
            heading.number,
            "" if heading.consumed else line,
        )
    return sections

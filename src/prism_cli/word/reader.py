"""Read a Word document into prism's document model by walking ``w:body`` ourselves.

python-docx's ``document.paragraphs`` misses content controls, text boxes, tracked insertions
and table text, so the body is walked here with lxml. Rules (issue #2, DESIGN.md):

* tables stay where they are, one block each, rows rendered ``a | b``;
* list items carry their rendered marker (``1.``, ``a)``, ``•``);
* hyperlinks, content controls (``w:sdt``), smart tags and custom XML are transparent;
* text boxes are read once: ``mc:Choice`` when present, else ``mc:Fallback`` — never both;
* tracked changes read as accepted: ``w:ins``/``w:moveTo`` in, ``w:del``/``w:moveFrom`` out;
* fields give their result text, never their codes;
* every block keeps a locator: its order among all ``w:p`` of the body.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from lxml import etree

from prism_cli.core.document import Block, BlockKind, Document
from prism_cli.word.package import Package, open_package
from prism_cli.word.styles import Numbering, Style, StyleSheet, on_off, run_look, w

MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"

W_BODY = w("body")
W_P = w("p")
W_R = w("r")
W_T = w("t")
W_TBL = w("tbl")
W_TR = w("tr")
W_TC = w("tc")
W_PPR = w("pPr")
W_RPR = w("rPr")
W_SDT = w("sdt")
W_SDTCONTENT = w("sdtContent")
W_TXBX = w("txbxContent")
W_FLDCHAR = w("fldChar")
W_VAL = w("val")
MC_ALT = f"{{{MC}}}AlternateContent"
MC_CHOICE = f"{{{MC}}}Choice"
MC_FALLBACK = f"{{{MC}}}Fallback"

_CHAR_TEXT = {w("tab"): "\t", w("br"): "\n", w("cr"): "\n", w("noBreakHyphen"): "-"}
# Subtrees whose text is not part of the accepted document.
_SKIP = frozenset(
    {
        w("del"),
        w("moveFrom"),
        w("instrText"),
        w("delText"),
        w("delInstrText"),
        W_PPR,
        W_RPR,
        w("commentReference"),
        w("footnoteReference"),
        w("endnoteReference"),
    }
)
# Containers that only wrap blocks (content controls, custom XML, tracked insertions).
_BLOCK_WRAPPERS = frozenset(
    {W_SDT, W_SDTCONTENT, w("customXml"), w("ins"), w("moveTo"), w("smartTag")}
)
_TRACKED = frozenset({w("ins"), w("del"), w("moveFrom"), w("moveTo")})
_COMMENT_MARKS = frozenset({w("commentRangeStart"), w("commentReference")})


def _alternate(el: etree._Element) -> etree._Element | None:
    """The one branch of an ``mc:AlternateContent`` we read."""
    choice = el.find(MC_CHOICE)
    return choice if choice is not None else el.find(MC_FALLBACK)


_PSTYLE, _OUTLINE, _NUMPR, _NUMID, _ILVL = (
    w("pStyle"),
    w("outlineLvl"),
    w("numPr"),
    w("numId"),
    w("ilvl"),
)
_RSTYLE, _FLDCHARTYPE = w("rStyle"), w("fldCharType")
_KEEPNEXT, _JC = w("keepNext"), w("jc")


class _StyleFacts(NamedTuple):
    chain: tuple[Style, ...]
    look: _Look
    outline: int | None
    num_id: str | None
    num_level: int
    names: tuple[str, ...]
    keep_next: bool
    centered: bool


class _Look(NamedTuple):
    """How a run's text looks: bold, underlined, in capitals, its size (half-points)."""

    bold: bool
    underline: bool
    caps: bool
    size: int | None


def _first(chain: tuple[Style, ...], attr: str) -> object:
    return next((v for s in chain if (v := getattr(s, attr)) is not None), None)


class _BodyReader:
    def __init__(self, body: etree._Element, styles: StyleSheet, numbering: Numbering) -> None:
        self.styles = styles
        self.numbering = numbering
        self.locators = {p: i for i, p in enumerate(body.iter(W_P))}
        self.body = body
        self._facts: dict[str | None, _StyleFacts] = {}

    # -- blocks ---------------------------------------------------------------------------
    def blocks(self, container: etree._Element) -> list[Block]:
        out: list[Block] = []
        self.collect(container, out)
        return out

    def collect(self, container: etree._Element, out: list[Block]) -> None:
        """The blocks of ``container``, in reading order, onto ``out``."""
        for child in container:
            tag = child.tag
            if tag == W_P:
                self.paragraph(child, out)
            elif tag == W_TBL:
                out.append(self.table(child))
            elif tag in _BLOCK_WRAPPERS:
                self.collect(child, out)
            elif tag == MC_ALT:
                branch = _alternate(child)
                if branch is not None:
                    self.collect(branch, out)

    def style_facts(self, style_id: str | None) -> _StyleFacts:
        """What a paragraph takes from its style chain, worked out once per style."""
        facts = self._facts.get(style_id)
        if facts is None:
            chain = self.styles.chain(style_id)
            numbered = next((s for s in chain if s.num_id is not None), None)
            size = _first(chain, "size")
            facts = _StyleFacts(
                chain,
                _Look(
                    bool(_first(chain, "bold")),
                    bool(_first(chain, "underline")),
                    bool(_first(chain, "caps")),
                    size if isinstance(size, int) else self.styles.default_size,
                ),
                next((s.outline_level for s in chain if s.outline_level is not None), None),
                numbered.num_id if numbered is not None else None,
                (numbered.num_level or 0) if numbered is not None else 0,
                tuple(name for style in chain for name in (style.name, style.id)),
                bool(_first(chain, "keep_next")),
                bool(_first(chain, "centered")),
            )
            self._facts[style_id] = facts
        return facts

    def paragraph(self, p: etree._Element, out: list[Block]) -> None:
        ppr = p.find(W_PPR)
        style_id = None
        outline = None
        num_id = None
        ilvl = 0
        keep = centered = None
        if ppr is not None:
            ps = ol = numpr = None
            for prop in ppr:  # one pass over the properties (the first of each counts)
                tag = prop.tag
                if tag == _PSTYLE:
                    ps = prop if ps is None else ps
                elif tag == _OUTLINE:
                    ol = prop if ol is None else ol
                elif tag == _NUMPR:
                    numpr = prop if numpr is None else numpr
                elif tag == _KEEPNEXT:
                    keep = on_off(prop) if keep is None else keep
                elif tag == _JC:
                    centered = prop.get(W_VAL) == "center" if centered is None else centered
            style_id = ps.get(W_VAL) if ps is not None else None
            if ol is not None:
                outline = _to_int(ol.get(W_VAL))
            if numpr is not None:
                nid = numpr.find(_NUMID)
                lvl = numpr.find(_ILVL)
                num_id = nid.get(W_VAL) if nid is not None else None
                ilvl = (_to_int(lvl.get(W_VAL)) if lvl is not None else 0) or 0
        facts = self.style_facts(style_id)
        if outline is None:
            outline = facts.outline
        if num_id is None and facts.num_id is not None:
            num_id, ilvl = facts.num_id, facts.num_level

        collector = _Collector(self.styles, facts.look)
        plain = _plain_text(p)
        if plain is not None:  # the common case: runs of text and nothing else
            text = plain[0].strip()
            for rpr, visible in plain[1]:
                collector.count(rpr, visible)
        else:
            collector.walk(p)
            text = "".join(collector.parts).strip()
        marker = ""
        if num_id is not None and text:
            marker = self.numbering.marker(num_id, ilvl)
            if marker:
                text = f"{marker} {text}"
        chars = collector.chars
        out.append(
            Block(  # positional: one per paragraph, so its cost shows (the order of Block's fields)
                BlockKind.PARAGRAPH,
                text,
                self.locators.get(p, -1),
                facts.names,
                outline,
                chars > 0 and collector.bold_chars == chars,
                marker,
                chars > 0 and collector.underline_chars == chars,
                chars > 0 and collector.caps_chars == chars,
                collector.size(),
                facts.keep_next if keep is None else keep,
                facts.centered if centered is None else centered,
            )
        )
        for box in collector.text_boxes:
            self.collect(box, out)

    def table(self, tbl: etree._Element) -> Block:
        rows: list[str] = []
        paragraphs: list[tuple[int, str]] = []
        for tr in _children(tbl, W_TR):
            trpr = tr.find(w("trPr"))
            if trpr is not None and trpr.find(w("del")) is not None:
                continue  # a deleted row, read as accepted
            cells: list[str] = []
            for tc in _children(tr, W_TC):
                texts: list[str] = []
                for block in self.blocks(tc):
                    if block.text:
                        texts.append(block.text.replace("\n", " / "))
                    paragraphs.extend(block.anchors())
                cells.append(" ".join(texts))
            if any(cells):
                rows.append(" | ".join(cells))
        first = next(iter(tbl.iter(W_P)), None)
        locator = self.locators.get(first, -1) if first is not None else -1
        return Block(BlockKind.TABLE, "\n".join(rows), locator, paragraphs=tuple(paragraphs))


_NOT_PLAIN = frozenset({W_FLDCHAR, W_TXBX, MC_ALT, W_P})
"""What only :class:`_Collector` reads: fields (their code is hidden), text boxes (read as
blocks of their own), alternate content and nested paragraphs."""


def _plain_text(
    p: etree._Element,
) -> tuple[str, list[tuple[etree._Element | None, int]]] | None:
    """A paragraph of plain runs (text, tabs and breaks, in hyperlinks, insertions and the
    like; nothing in :data:`_NOT_PLAIN`): its text, and each run's properties with its count
    of visible characters. ``None`` for anything else, which :class:`_Collector` reads: this
    is the same reading without its bookkeeping for fields and text boxes."""
    parts: list[str] = []
    runs: list[tuple[etree._Element | None, int]] = []
    return ("".join(parts), runs) if _plain_runs(p, parts, runs) else None


def _plain_runs(
    container: etree._Element, parts: list[str], runs: list[tuple[etree._Element | None, int]]
) -> bool:
    for child in container:
        tag = child.tag
        if tag == W_R:
            rpr = None
            visible = 0
            for part in child:
                kind = part.tag
                if kind == W_T:
                    text = part.text or ""
                    parts.append(text)
                    visible += len(text.strip())
                elif kind == W_RPR:
                    rpr = part if rpr is None else rpr
                elif kind in _CHAR_TEXT:
                    char = _CHAR_TEXT[kind]
                    parts.append(char)
                    visible += len(char.strip())
                elif kind in _SKIP or not isinstance(kind, str):
                    continue
                elif kind in _NOT_PLAIN or len(part):  # fields; drawings may hold text boxes
                    return False
            if visible:
                runs.append((rpr, visible))
        elif tag in _SKIP or not isinstance(tag, str):
            continue
        elif tag in _NOT_PLAIN or not _plain_runs(child, parts, runs):
            return False
    return True


def _children(parent: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Children with ``tag``, looking through content controls and custom XML wrappers."""
    for child in parent:
        if child.tag == tag:
            yield child
        elif child.tag in _BLOCK_WRAPPERS:
            yield from _children(child, tag)


def _to_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _Collector:
    """Collects one paragraph's visible text, its boldness and the text boxes it holds."""

    __slots__ = (
        "bold_chars",
        "caps_chars",
        "chars",
        "field_code",
        "in_code",
        "parts",
        "sizes",
        "style_look",
        "styles",
        "text_boxes",
        "underline_chars",
    )

    def __init__(self, styles: StyleSheet, style_look: _Look) -> None:
        self.styles = styles
        self.style_look = style_look
        self.parts: list[str] = []
        self.text_boxes: list[etree._Element] = []
        self.field_code: list[bool] = []  # stack: inside a field's code part?
        self.in_code = 0
        """How many of the fields on the stack are in their code part (text not shown)."""
        self.chars = self.bold_chars = self.underline_chars = self.caps_chars = 0
        self.sizes: dict[int | None, int] = {}
        """Visible characters by font size."""

    def walk(self, el: etree._Element) -> None:
        for child in el:
            tag = child.tag
            if tag == W_R:
                self.run(child)
            elif tag in _SKIP:
                continue
            elif tag == W_TXBX:
                self.text_boxes.append(child)
            elif tag == MC_ALT:
                branch = _alternate(child)
                if branch is not None:
                    self.walk(branch)
            elif tag == W_P:
                # A paragraph nested without a text box wrapper (rare): keep its text inline.
                self.walk(child)
            elif isinstance(tag, str):
                self.walk(child)

    def run(self, r: etree._Element) -> None:
        parts = self.parts
        first = len(parts)
        rpr = None
        for child in r:
            tag = child.tag
            if tag == W_RPR:
                rpr = child if rpr is None else rpr
            elif tag == W_T:
                if not self.in_code:
                    parts.append(child.text or "")
            elif tag in _CHAR_TEXT:
                if not self.in_code:
                    parts.append(_CHAR_TEXT[tag])
            elif tag == W_FLDCHAR:
                kind = child.get(_FLDCHARTYPE)
                if kind == "begin":
                    self.form_field(child)
                    self.field_code.append(True)
                    self.in_code += 1
                elif kind == "separate" and self.field_code:
                    if self.field_code[-1]:
                        self.in_code -= 1
                    self.field_code[-1] = False
                elif kind == "end" and self.field_code:
                    self.in_code -= self.field_code.pop()  # one less in its code part
            elif tag in _SKIP:
                continue
            elif tag == MC_ALT:
                branch = _alternate(child)
                if branch is not None:
                    self.walk(branch)
            elif isinstance(tag, str):
                self.walk(child)  # drawings and picts hold text boxes
        if len(parts) == first:
            return
        visible = 0
        for piece in parts[first:]:
            visible += len(piece.strip())
        if visible:
            self.count(rpr, visible)

    def form_field(self, fld_char: etree._Element) -> None:
        """Legacy form fields keep their value in ``w:ffData``, not in the result runs."""
        data = fld_char.find(w("ffData"))
        if data is None:
            return
        box = data.find(w("checkBox"))
        if box is not None:
            checked = on_off(box.find(w("checked")))
            if checked is None:
                default = box.find(w("default"))
                checked = default is not None and default.get(W_VAL) not in {"0", "false"}
            self.parts.append("☒" if checked else "☐")
            return
        dropdown = data.find(w("ddList"))
        if dropdown is not None:
            entries = [e.get(W_VAL) or "" for e in dropdown.findall(w("listEntry"))]
            result = dropdown.find(w("result"))
            index = _to_int(result.get(W_VAL)) if result is not None else 0
            if entries and index is not None and 0 <= index < len(entries):
                self.parts.append(entries[index])

    def count(self, rpr: etree._Element | None, visible: int) -> None:
        """Count a run's ``visible`` characters by how they look (its properties ``rpr``)."""
        look = self._run_look(rpr)
        self.chars += visible
        if look.bold:
            self.bold_chars += visible
        if look.underline:
            self.underline_chars += visible
        if look.caps:
            self.caps_chars += visible
        self.sizes[look.size] = self.sizes.get(look.size, 0) + visible

    def size(self) -> int | None:
        """The size most of the paragraph's text is set in."""
        if not self.sizes:
            return self.style_look.size
        return max(self.sizes.items(), key=lambda item: item[1])[0]

    def _run_look(self, rpr: etree._Element | None) -> _Look:
        """How a run (its properties ``rpr``) looks: set directly, else by its character
        style, else as its paragraph's style says."""
        base = self.style_look
        if rpr is None:
            return base
        bold, underline, caps, size = run_look(rpr)
        rstyle = rpr.find(_RSTYLE)
        if rstyle is not None:
            for style in self.styles.chain(rstyle.get(W_VAL)):
                bold = style.bold if bold is None else bold
                underline = style.underline if underline is None else underline
                caps = style.caps if caps is None else caps
                size = style.size if size is None else size
        return _Look(
            base.bold if bold is None else bold,
            base.underline if underline is None else underline,
            base.caps if caps is None else caps,
            base.size if size is None else size,
        )


_SHEETS: dict[bytes, StyleSheet] = {}
_SHEETS_KEPT = 16
_SHEETS_LOCK = threading.Lock()


def _stylesheet(package: Package, part: str) -> StyleSheet:
    """The style sheet in ``part``, parsed once for the documents of one template (a folder
    of them shares the same bytes; a sheet is only read, its chain memo the same for all)."""
    data = package.read_part(part)
    sheet = _SHEETS.get(data)
    if sheet is None:
        sheet = StyleSheet.parse(package.parse_xml(part, data))
        with _SHEETS_LOCK:
            if len(_SHEETS) >= _SHEETS_KEPT:
                del _SHEETS[next(iter(_SHEETS))]
            _SHEETS[data] = sheet
    return sheet


def read_document(path: Path) -> Document:
    """Open and read ``path``; raises :class:`InputError` for anything unusable."""
    with open_package(path) as package:
        return _read(package)


def _read(package: Package) -> Document:
    root = package.read_xml(package.main_part)
    body = root.find(W_BODY)
    if body is None:
        from prism_cli.errors import InputError

        raise InputError(str(package.path), f"{package.main_part} has no w:body")
    styles_part = package.related_part(package.main_part, "/styles")
    numbering_part = package.related_part(package.main_part, "/numbering")
    comments_part = package.related_part(package.main_part, "/comments")
    styles = (
        _stylesheet(package, styles_part)
        if styles_part and package.has_part(styles_part)
        else StyleSheet.parse(None)
    )
    numbering = Numbering.parse(
        package.read_xml(numbering_part)
        if numbering_part and package.has_part(numbering_part)
        else None
    )
    reader = _BodyReader(body, styles, numbering)
    blocks = tuple(reader.blocks(body))
    has_comments = bool(comments_part and package.has_part(comments_part)) and any(
        True for el in body.iter(*_COMMENT_MARKS)
    )
    has_tracked = any(True for _ in body.iter(*_TRACKED))
    return Document(str(package.path), package.sha256, blocks, has_comments, has_tracked)

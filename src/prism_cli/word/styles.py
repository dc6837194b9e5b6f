"""Style and numbering facts from ``styles.xml`` and ``numbering.xml`` that reading needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def w(tag: str) -> str:
    return f"{{{W}}}{tag}"


W_VAL = w("val")
_FALSE = {"0", "false", "off", "none"}


def on_off(el: etree._Element | None) -> bool | None:
    """Value of a Word on/off property element (``<w:b/>``, ``<w:b w:val="0"/>``)."""
    if el is None:
        return None
    return (el.get(W_VAL) or "true").lower() not in _FALSE


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _start(el: etree._Element | None) -> int:
    value = _int(el.get(W_VAL)) if el is not None else None
    return 1 if value is None else value


@dataclass(slots=True)
class Style:
    id: str
    name: str
    based_on: str | None
    outline_level: int | None
    bold: bool | None
    num_id: str | None
    num_level: int | None
    underline: bool | None = None
    caps: bool | None = None
    size: int | None = None
    """Font size in half-points (``w:sz``)."""
    keep_next: bool | None = None
    centered: bool | None = None


def run_look(
    rpr: etree._Element | None,
) -> tuple[bool | None, bool | None, bool | None, int | None]:
    """(bold, underline, caps, size) set directly in a run or style ``w:rPr``."""
    if rpr is None:
        return None, None, None, None
    bold = underline = caps = None
    size = None
    for prop in rpr:
        tag = prop.tag
        if tag == _B:
            bold = on_off(prop) if bold is None else bold
        elif tag == _U:
            if underline is None:
                underline = (prop.get(W_VAL) or "single") != "none"
        elif tag == _CAPS:
            caps = on_off(prop) if caps is None else caps
        elif tag == _SZ:
            size = _int(prop.get(W_VAL)) if size is None else size
    return bold, underline, caps, size


_B, _U, _CAPS, _SZ = w("b"), w("u"), w("caps"), w("sz")


@dataclass(slots=True)
class StyleSheet:
    styles: dict[str, Style] = field(default_factory=dict)
    default_paragraph: str | None = None
    default_size: int | None = None
    """The document's default font size (``w:docDefaults``), half-points."""
    _chains: dict[str, tuple[Style, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, root: etree._Element | None) -> StyleSheet:
        sheet = cls()
        if root is None:
            return sheet
        defaults = root.find(w("docDefaults"))
        if defaults is not None:
            sz = defaults.find(f"{w('rPrDefault')}/{w('rPr')}/{w('sz')}")
            sheet.default_size = _int(sz.get(W_VAL)) if sz is not None else None
        for el in root.iter(w("style")):
            sid = el.get(w("styleId")) or ""
            name_el = el.find(w("name"))
            name = (name_el.get(W_VAL) if name_el is not None else None) or sid
            based = el.find(w("basedOn"))
            ppr = el.find(w("pPr"))
            rpr = el.find(w("rPr"))
            outline = num_id = num_level = None
            if ppr is not None:
                ol = ppr.find(w("outlineLvl"))
                outline = _int(ol.get(W_VAL)) if ol is not None else None
                numpr = ppr.find(w("numPr"))
                if numpr is not None:
                    nid = numpr.find(w("numId"))
                    ilvl = numpr.find(w("ilvl"))
                    num_id = nid.get(W_VAL) if nid is not None else None
                    num_level = _int(ilvl.get(W_VAL)) if ilvl is not None else 0
            bold, underline, caps, size = run_look(rpr)
            keep_next = centered = None
            if ppr is not None:
                keep_next = on_off(ppr.find(w("keepNext")))
                jc = ppr.find(w("jc"))
                if jc is not None:
                    centered = jc.get(W_VAL) == "center"
            sheet.styles[sid] = Style(
                sid,
                name,
                based.get(W_VAL) if based is not None else None,
                outline,
                bold,
                num_id,
                num_level,
                underline,
                caps,
                size,
                keep_next,
                centered,
            )
            is_default = (el.get(w("default")) or "").lower() in {"1", "true", "on"}
            if el.get(w("type")) == "paragraph" and is_default:
                sheet.default_paragraph = sid
        return sheet

    def chain(self, style_id: str | None) -> tuple[Style, ...]:
        """The style and its ``basedOn`` ancestors, nearest first (cycles cut)."""
        sid = style_id or self.default_paragraph
        if sid is None:
            return ()
        cached = self._chains.get(sid)
        if cached is not None:
            return cached
        chain: list[Style] = []
        seen: set[str] = set()
        current: str | None = sid
        while current and current not in seen and current in self.styles:
            seen.add(current)
            style = self.styles[current]
            chain.append(style)
            current = style.based_on
        result = tuple(chain)
        self._chains[sid] = result
        return result


_ROMAN = [
    (1000, "m"), (900, "cm"), (500, "d"), (400, "cd"), (100, "c"), (90, "xc"),
    (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"), (4, "iv"), (1, "i"),
]  # fmt: skip


def _roman(n: int) -> str:
    out = []
    for value, letters in _ROMAN:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def _letters(n: int) -> str:
    # Word repeats the letter: a..z, aa..zz, aaa...
    if n <= 0:
        return ""
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1)


def format_number(n: int, fmt: str) -> str:
    if fmt == "lowerLetter":
        return _letters(n)
    if fmt == "upperLetter":
        return _letters(n).upper()
    if fmt == "lowerRoman":
        return _roman(n)
    if fmt == "upperRoman":
        return _roman(n).upper()
    if fmt == "decimalZero":
        return f"{n:02d}"
    if fmt == "none":
        return ""
    return str(n)


@dataclass(slots=True)
class Level:
    fmt: str = "decimal"
    text: str = "%1."
    start: int = 1


BULLET = "•"


@dataclass(slots=True)
class Numbering:
    """List definitions plus the running counters that render each item's marker."""

    levels: dict[str, dict[int, Level]] = field(default_factory=dict)
    starts: dict[tuple[str, int], int] = field(default_factory=dict)
    counters: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def parse(cls, root: etree._Element | None) -> Numbering:
        numbering = cls()
        if root is None:
            return numbering
        abstract: dict[str, dict[int, Level]] = {}
        for an in root.iter(w("abstractNum")):
            levels: dict[int, Level] = {}
            for lvl in an.iter(w("lvl")):
                ilvl = _int(lvl.get(w("ilvl"))) or 0
                fmt_el = lvl.find(w("numFmt"))
                text_el = lvl.find(w("lvlText"))
                start_el = lvl.find(w("start"))
                levels[ilvl] = Level(
                    (fmt_el.get(W_VAL) if fmt_el is not None else None) or "decimal",
                    (text_el.get(W_VAL) if text_el is not None else None) or "",
                    _start(start_el),
                )
            abstract[an.get(w("abstractNumId")) or ""] = levels
        for num in root.iter(w("num")):
            nid = num.get(w("numId")) or ""
            ref = num.find(w("abstractNumId"))
            aid = ref.get(W_VAL) if ref is not None else None
            numbering.levels[nid] = abstract.get(aid or "", {})
            for override in num.iter(w("lvlOverride")):
                start = override.find(w("startOverride"))
                ilvl = _int(override.get(w("ilvl"))) or 0
                if start is not None:
                    numbering.starts[(nid, ilvl)] = _int(start.get(W_VAL)) or 1
        return numbering

    def marker(self, num_id: str, ilvl: int) -> str:
        """Advance the list's counter at ``ilvl`` and render the item's marker."""
        levels = self.levels.get(num_id)
        if num_id == "0" or levels is None:
            return ""
        ilvl = max(0, min(ilvl, 8))
        level = levels.get(ilvl, Level())
        counters = self.counters.setdefault(num_id, [0] * 9)
        start = self.starts.get((num_id, ilvl), level.start)
        counters[ilvl] = max(counters[ilvl] + 1, start) if counters[ilvl] else start
        for deeper in range(ilvl + 1, 9):
            counters[deeper] = 0
        if level.fmt == "bullet":
            return BULLET
        if level.fmt == "none":
            return ""
        text = level.text
        for i in range(ilvl + 1):
            placeholder = f"%{i + 1}"
            if placeholder in text:
                lv = levels.get(i, Level())
                value = counters[i] or self.starts.get((num_id, i), lv.start)
                text = text.replace(placeholder, format_number(value, lv.fmt))
        return text.strip()

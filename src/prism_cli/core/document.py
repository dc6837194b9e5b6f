"""The document model: what the Word reader produces and section detection consumes.

A :class:`Block` is one paragraph or one table of the body, in reading order, with the
formatting facts heading detection needs. ``locator`` is the block's order among all ``w:p``
elements of ``w:body`` (document order, every descendant counted), which is how findings are
anchored back into the file later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class BlockKind(str, Enum):
    PARAGRAPH = "paragraph"
    TABLE = "table"


@dataclass(slots=True, unsafe_hash=True)
class Block:
    """One paragraph or table. Treat it as immutable (it is hashed, and shared by sections
    and sessions); it is not declared frozen because a frozen dataclass pays for every field
    on construction, and the reader builds one per paragraph: 4 ms of a 300-page document's
    ``prism sections`` (``bench/startup.py``)."""

    kind: BlockKind
    text: str
    locator: int
    # Paragraph facts (empty/None for tables).
    style_names: tuple[str, ...] = ()
    """Names *and* ids of the paragraph style and its ``basedOn`` chain, nearest first."""
    outline_level: int | None = None
    """``w:outlineLvl`` of the paragraph, else of its style chain (0-8 heading, 9 body)."""
    bold: bool = False
    """Every run carrying text is bold."""
    list_marker: str = ""
    """The rendered list marker (``1.``, ``a)``, ``•``) when the paragraph is a list item."""
    underline: bool = False
    """Every run carrying text is underlined."""
    caps: bool = False
    """Every run carrying text is set in capitals by its formatting (``w:caps``)."""
    size: int | None = None
    """The font size most of the text is set in, half-points."""
    keep_next: bool = False
    """Kept with the next paragraph (``w:keepNext``), as headings are."""
    centered: bool = False
    # For tables: (locator, text) of every paragraph inside, so a quote can find its cell.
    paragraphs: tuple[tuple[int, str], ...] = ()

    @property
    def is_paragraph(self) -> bool:
        return self.kind is BlockKind.PARAGRAPH

    def anchors(self) -> tuple[tuple[int, str], ...]:
        """(locator, text) pairs a finding's quote can be anchored on."""
        return self.paragraphs if self.paragraphs else ((self.locator, self.text),)


@dataclass(frozen=True, slots=True)
class Document:
    path: str
    sha256: str
    blocks: tuple[Block, ...]
    has_comments: bool = False
    has_tracked_changes: bool = False


@dataclass(frozen=True, slots=True)
class Section:
    id: str
    index: int
    title: str
    level: int
    heading_locator: int | None
    """Locator of the heading paragraph; None for a Preamble or a whole-document section."""
    blocks: tuple[Block, ...] = field(default=())
    parent_id: str | None = None
    detected_by: str = "none"
    """How the heading was found: style, outline, title, contents, numbered, size, bold, caps,
    underline; preamble or none for a section without a heading."""
    number: str = ""
    """The heading's number as the document shows it (Word's list number or a typed one:
    ``1.2``, ``IV.``, ``Article 5``, ``第一章``); "" when it has none. ``title`` is without it."""

    shown: str = ""
    """The heading line as the document shows it (whitespace collapsed), when it is more
    than number and title ("Article 5 - Scope"); "" otherwise."""

    @property
    def heading(self) -> str:
        """The heading as the document shows it: number and title, as they are written."""
        if self.shown:
            return self.shown
        return f"{self.number} {self.title}" if self.number else self.title

    @property
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks if b.text.strip())

    @property
    def anchor_locator(self) -> int:
        if self.heading_locator is not None:
            return self.heading_locator
        return self.blocks[0].locator if self.blocks else 0

"""The session a reviewed copy came from, kept in the copy itself: a custom document property
(``docProps/custom.xml``, File > Properties > Custom in Word) named ``prism session``. Word
keeps custom properties when the copy is edited and saved, so ``prism chat copy.docx`` finds
the review's session even after the analyst has worked in the file."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

NAME = "prism session"
CT_CUSTOM = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
RT_CUSTOM = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/custom-properties"
NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
_SESSION = re.compile(
    r'<(?:\w+:)?property\b[^>]*\bname="prism session"[^>]*>\s*<(?:\w+:)?lpwstr>([^<]*)<',
)


def set_session(document: Any, session_id: str) -> None:
    """Record ``session_id`` in a python-docx document's custom properties (kept: the
    document's own properties; replaced: an older ``prism session``)."""
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part
    from lxml import etree

    package = document.part.package
    value = escape(session_id)
    for rel in package.rels.values():
        if rel.reltype == RT_CUSTOM and not rel.is_external:
            part = rel.target_part
            root = etree.fromstring(part.blob)
            for old in root.findall(f"{{{NS}}}property"):
                if old.get("name") == NAME:
                    root.remove(old)
            pids = [int(p.get("pid", "1")) for p in root.findall(f"{{{NS}}}property")]
            prop = etree.SubElement(root, f"{{{NS}}}property")
            prop.set("fmtid", FMTID)
            prop.set("pid", str(max(pids, default=1) + 1))
            prop.set("name", NAME)
            etree.SubElement(prop, f"{{{VT}}}lpwstr").text = session_id
            part._blob = etree.tostring(
                root, xml_declaration=True, encoding="UTF-8", standalone=True
            )
            return
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<Properties xmlns="{NS}" xmlns:vt="{VT}"><property fmtid="{FMTID}" pid="2" '
        f'name="{NAME}"><vt:lpwstr>{value}</vt:lpwstr></property></Properties>'
    )
    part = Part(PackURI("/docProps/custom.xml"), CT_CUSTOM, xml.encode("utf-8"), package)
    package.relate_to(part, RT_CUSTOM)


def _part_text(path: Path, name: str) -> str | None:
    """A part of a .docx as text (read without python-docx); None when it cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(name).decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile, ValueError):
        return None


def session_of_copy(path: Path) -> str | None:
    """The ``prism session`` property of a .docx, if it has one (read without python-docx)."""
    match = _SESSION.search(_part_text(path, "docProps/custom.xml") or "")
    return match.group(1).strip() if match else None


_DOC_ID = re.compile(r"<w15:docId\b[^>]*\bw15:val=\"\{?([0-9A-Fa-f-]{8,64})\}?\"")


def identity(path: Path) -> str | None:
    """The Word identity of a .docx (``w15:docId`` in its settings): Word keeps it through
    edits and saves, so a renamed or moved document is still known. None when it has none."""
    match = _DOC_ID.search(_part_text(path, "word/settings.xml") or "")
    return match.group(1).upper() if match else None

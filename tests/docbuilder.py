"""Build Word packages in code, so every test says exactly which XML it reads.

``p("text", style="Heading1", bold=True)`` and friends give body XML snippets;
``make_docx(path, body)`` wraps them into a valid package (content types, relationships,
styles with localised names, numbering).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
STRICT_W_NS = "http://purl.oclc.org/ooxml/wordprocessingml/main"
NSDECL = (
    f'xmlns:w="{W_NS}" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
    'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" '
    'xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape" '
    'xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing" '
    'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" '
    'mc:Ignorable="wps"'
)

DEFAULT_STYLES = [
    ("Normal", "Normal", None, None, True),
    ("Heading1", "heading 1", "Normal", 0, False),
    ("Heading2", "heading 2", "Normal", 1, False),
    ("Title", "Title", "Normal", None, False),
    # Heading styles without outline level: found by (localised) name only.
    ("berschrift1", "Überschrift 1", "Normal", None, False),
    ("Titre2", "Titre 2", "Normal", None, False),
    ("Kop3", "Kop 3", "Normal", None, False),
    ("Zagolovok1", "Заголовок 1", "Normal", None, False),
    # A custom style based on a heading: found through basedOn.
    ("MyReportHeading", "My Report Heading", "Heading1", None, False),
    ("BodyTextOutline9", "Body Outline", "Heading1", 9, False),
    ("ListParagraph", "List Paragraph", "Normal", None, False),
    ("StrongPara", "Strong Para", "Normal", None, False),
]


def r(text: str, *, bold: bool = False, tag: str = "t") -> str:
    rpr = "<w:rPr><w:b/></w:rPr>" if bold else ""
    return f'<w:r>{rpr}<w:{tag} xml:space="preserve">{escape(text)}</w:{tag}></w:r>'


def p(
    text: str = "",
    *,
    style: str | None = None,
    bold: bool = False,
    outline: int | None = None,
    num: tuple[int, int] | None = None,
    runs: str | None = None,
) -> str:
    ppr = ""
    if style:
        ppr += f'<w:pStyle w:val="{style}"/>'
    if num:
        ppr += f'<w:numPr><w:ilvl w:val="{num[1]}"/><w:numId w:val="{num[0]}"/></w:numPr>'
    if outline is not None:
        ppr += f'<w:outlineLvl w:val="{outline}"/>'
    inner = runs if runs is not None else (r(text, bold=bold) if text else "")
    return f"<w:p>{f'<w:pPr>{ppr}</w:pPr>' if ppr else ''}{inner}</w:p>"


def table(rows: list[list[str]]) -> str:
    body = "".join(
        "<w:tr>" + "".join(f"<w:tc>{p(cell)}</w:tc>" for cell in row) + "</w:tr>" for row in rows
    )
    return f"<w:tbl>{body}</w:tbl>"


def styles_xml(extra: str = "") -> str:
    parts = []
    for sid, name, based, outline, default in DEFAULT_STYLES:
        ppr = f'<w:pPr><w:outlineLvl w:val="{outline}"/></w:pPr>' if outline is not None else ""
        based_xml = f'<w:basedOn w:val="{based}"/>' if based else ""
        dflt = ' w:default="1"' if default else ""
        parts.append(
            f'<w:style w:type="paragraph"{dflt} w:styleId="{sid}"><w:name w:val="{name}"/>'
            f"{based_xml}{ppr}</w:style>"
        )
    parts.append(
        '<w:style w:type="paragraph" w:styleId="StrongParaB"><w:name w:val="Strong Para B"/>'
        "<w:rPr><w:b/></w:rPr></w:style>"
    )
    return f"<w:styles {NSDECL}>{''.join(parts)}{extra}</w:styles>"


NUMBERING = f"""<w:numbering {NSDECL}>
<w:abstractNum w:abstractNumId="1">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="decimal"/><w:lvlText w:val="%1."/></w:lvl>
  <w:lvl w:ilvl="1"><w:start w:val="1"/><w:numFmt w:val="lowerLetter"/><w:lvlText w:val="%2)"/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="2">
  <w:lvl w:ilvl="0"><w:numFmt w:val="bullet"/><w:lvlText w:val="\uf0b7"/></w:lvl>
</w:abstractNum>
<w:abstractNum w:abstractNumId="3">
  <w:lvl w:ilvl="0"><w:start w:val="1"/><w:numFmt w:val="upperRoman"/><w:lvlText w:val="%1."/></w:lvl>
</w:abstractNum>
<w:num w:numId="1"><w:abstractNumId w:val="1"/></w:num>
<w:num w:numId="2"><w:abstractNumId w:val="2"/></w:num>
<w:num w:numId="3"><w:abstractNumId w:val="3"/></w:num>
</w:numbering>"""

CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
<Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/>
<Override PartName="/word/numbering.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.numbering+xml"/>
</Types>"""

ROOT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>
</Relationships>"""

DOC_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>
<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/numbering" Target="numbering.xml"/>
</Relationships>"""


def document_xml(body: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f"<w:document {NSDECL}><w:body>{body}<w:sectPr/></w:body></w:document>"
    )


def make_docx(
    path: Path,
    body: str,
    *,
    strict: bool = False,
    parts: dict[str, bytes | str] | None = None,
    omit: tuple[str, ...] = (),
) -> Path:
    files: dict[str, bytes | str] = {
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": ROOT_RELS,
        "word/_rels/document.xml.rels": DOC_RELS,
        "word/document.xml": document_xml(body),
        "word/styles.xml": styles_xml(),
        "word/numbering.xml": NUMBERING,
    }
    files.update(parts or {})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            if name in omit:
                continue
            raw = data.encode() if isinstance(data, str) else data
            if strict:
                raw = raw.replace(W_NS.encode(), STRICT_W_NS.encode())
            zf.writestr(name, raw)
    return path

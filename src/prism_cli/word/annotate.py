"""Write a reviewed copy of a document: one real Word comment per finding.

Each comment spans exactly the words a finding quotes (runs are split at the quote's ends,
keeping their formatting; see :mod:`prism_cli.word.anchor`), or the section heading when there
is no quote or it is not found. The author is "prism" ("Reviewer" for a reviewer's own
finding) and the text starts with the severity. python-docx writes the comments part and escapes every character, so ``&``, ``<``
and emoji are safe; characters XML cannot hold at all (control codes) are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism_cli.core.findings import Finding
from prism_cli.errors import InputError

_XML_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
AUTHOR = "prism"
INITIALS = "PR"
REVIEWER = "Reviewer"
REVIEWER_INITIALS = "R"


def comment_text(f: Finding) -> str:
    parts = [f"[{f.severity.upper()}] {f.title}", f.description]
    if f.suggestion:
        parts.append(f"Suggestion: {f.suggestion}")
    if f.example:
        parts.append(f"Example: {f.example}")
    parts += [f"Question: {q}" for q in f.questions]
    if f.framework_refs:
        parts.append("Framework: " + ", ".join(f.framework_refs))
    if f.replacement:
        parts.append(f"Rewrite: “{f.replacement}”")
    parts.append(f"({f.source}, {f.id})")
    return _XML_ILLEGAL.sub("", "\n".join(p for p in parts if p))


def _runs_for(paragraph: Any) -> list[Any]:
    runs = list(paragraph.runs)
    if runs:
        return runs
    # Text only inside hyperlinks or content controls, or an empty paragraph: anchor on a new run.
    return [paragraph.add_run("")]


_SPAN = 60
"""Paragraphs searched for a quote, from the one it was found in (a table's cells, a list)."""


def _author(f: Finding) -> tuple[str, str]:
    return (REVIEWER, REVIEWER_INITIALS) if f.source == "reviewer" else (AUTHOR, INITIALS)


@dataclass
class Copy:
    """A reviewed copy: its bytes, the comments in it, the suggestions written as tracked
    changes, and the findings whose suggestion stayed a comment (and why)."""

    data: bytes
    comments: int
    suggestions: int = 0
    kept_as_comments: list[tuple[str, str]] = field(default_factory=list)


def reviewed_copy(
    source: Path,
    findings: Sequence[Finding],
    session_id: str | None = None,
    summary: str | None = None,
    suggest: str | None = None,
    *,
    clean: bool = False,
) -> Copy:
    """The document with one comment per finding; the session it came from is recorded in
    it (:mod:`prism_cli.word.properties`). ``summary``: one more comment, on the first
    paragraph (what was fixed since the previous version). ``suggest``: the author under
    whom each finding's replacement is written as a tracked change (the comment spans it);
    None: comments only. ``clean``: the suggestions applied outright, and no comments (what
    ``prism apply --clean`` hands an author)."""
    import io

    import docx
    from docx.oxml.ns import qn
    from docx.text.paragraph import Paragraph
    from docx.text.run import Run

    from prism_cli.word.anchor import Texts, quote_range

    try:
        document = docx.Document(str(source))
    except Exception as exc:  # python-docx raises ValueError/KeyError/PackageNotFoundError
        raise InputError(str(source), f"cannot write a reviewed copy: {exc}") from exc
    body = document.element.body
    paragraphs = list(body.iter(qn("w:p")))
    if not paragraphs and (findings or summary):  # an empty body: something to anchor on
        paragraphs = [document.add_paragraph("")._p]
    added = 0
    threads: list[tuple[str, str | None]] = []
    new_comment = _Commenter(document) if (findings and not clean) or summary else None
    texts: Texts = {}
    reviser = None
    kept: list[tuple[str, str]] = []
    if suggest is not None:
        from prism_cli.word.revise import Reviser

        refuse_locked(source)
        reviser = Reviser(body, author=suggest, reserve=len(findings) + 2)
    if summary:
        assert new_comment is not None
        first = Paragraph(paragraphs[0], document._body)
        top = new_comment(_runs_for(first), _XML_ILLEGAL.sub("", summary), AUTHOR, INITIALS)
        threads.append((top, None))
        added += 1
    overlapping: set[int] = set()
    if reviser is not None:
        from prism_cli.word.revise import overlaps, place

        # Which suggestions overlap an earlier one, judged on the text as it stands (once a
        # suggestion is written its old words are deleted text, which quotes do not see).
        spans = []
        for i, finding in enumerate(findings):
            if finding.replacement and finding.quote:
                at = min(max(finding.locator or 0, 0), len(paragraphs) - 1)
                found = quote_range(paragraphs[at : at + _SPAN], finding.quote, texts)
                if found is not None:  # where it stands now: later quotes may split its runs
                    spans.append((i, place(*found)))
        overlapping = overlaps(spans)
    for index, finding in enumerate(findings):
        locator = finding.locator if finding.locator is not None else 0
        at = min(max(locator, 0), len(paragraphs) - 1)
        paragraph = Paragraph(paragraphs[at], document._body)
        span = (
            quote_range(paragraphs[at : at + _SPAN], finding.quote, texts)
            if finding.quote
            else None
        )
        # No quote, or not found: the paragraph it points to (the section heading).
        runs: Sequence[Any] = (
            [Run(r, paragraph) for r in span] if span is not None else _runs_for(paragraph)
        )
        if reviser is not None and finding.replacement:
            if index in overlapping:
                kept.append((finding.id, "it overlaps another suggestion"))
            else:
                revised = reviser.suggest(*span, finding.replacement) if span else None
                if revised is not None:
                    runs = revised
                else:
                    kept.append((finding.id, _why_kept(span)))
        if clean:
            continue
        assert new_comment is not None
        author, initials = _author(finding)
        comment = new_comment(runs, comment_text(finding), author, initials)
        added += 1
        if finding.status == "accepted" and finding.source != "reviewer":
            # The reviewer's decision, as a reply in the comment's thread.
            reply = new_comment(runs, ACCEPTED, REVIEWER, REVIEWER_INITIALS)
            threads.append((comment, reply))
        else:
            threads.append((comment, None))
    if reviser is not None and clean:
        reviser.accept()
    if new_comment is not None:
        new_comment.flush()
    if any(reply for _, reply in threads):
        _add_comments_extended(document, threads)
    if session_id:
        from prism_cli.word.properties import set_session

        set_session(document, session_id)
    buffer = io.BytesIO()
    document.save(buffer)
    written = reviser.written if reviser is not None else 0
    return Copy(buffer.getvalue(), added, written, kept)


def _why_kept(span: tuple[Any, Any] | None) -> str:
    if span is None:
        return "its quote is not in the document as written"
    return "its quote spans paragraphs"


def refuse_locked(source: Path) -> None:
    """A document that is signed or protected against editing is not rewritten: a tracked
    change would break the signature, or edit what its author locked."""
    import re
    import zipfile

    try:
        with zipfile.ZipFile(source) as archive:
            names = archive.namelist()
            settings = (
                archive.read("word/settings.xml").decode("utf-8", "replace")
                if "word/settings.xml" in names
                else ""
            )
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(str(source), f"cannot write suggestions: {exc}") from exc
    if any(name.startswith("_xmlsignatures/") for name in names):
        raise InputError(
            str(source),
            "it is digitally signed: suggestions would break the signature (comments only: "
            "leave out --suggest)",
        )
    protection = re.search(r"<w:documentProtection\b[^>]*>", settings)
    if protection and re.search(r'w:enforcement="(1|true|on)"', protection.group(0)):
        edit = re.search(r'w:edit="(\w+)"', protection.group(0))
        kind = edit.group(1) if edit else "editing"
        raise InputError(
            str(source),
            f"it is protected ({kind}): unprotect it in Word to take suggestions, or leave out "
            "--suggest",
        )


W14 = "http://schemas.microsoft.com/office/word/2010/wordml"
W15 = "http://schemas.microsoft.com/office/word/2012/wordml"
CT_COMMENTS_EXTENDED = (
    "application/vnd.openxmlformats-officedocument.wordprocessingml.commentsExtended+xml"
)
RT_COMMENTS_EXTENDED = "http://schemas.microsoft.com/office/2011/relationships/commentsExtended"
ACCEPTED = "Accepted by the reviewer."


class _Commenter:
    """Adds comments as ``Document.add_comment`` does, numbered from a counter: python-docx
    looks for the highest id among all comments for every new one (a 13,000-comment copy spent
    minutes there). Numbering starts after the comments part's ids and after the range markers
    of the body, which a broken copy may hold for comments its part lacks, so a new comment
    never takes over an old range.

    A comment's XML is written as text and all of a copy's comments are parsed in one piece by
    :meth:`flush`; the range markers are copies of one parsed template. Parsing each comment
    and its markers on their own was a third of a 13,000-comment copy."""

    def __init__(self, document: Any) -> None:
        import datetime as dt

        from docx.oxml.ns import nsdecls
        from docx.oxml.parser import parse_xml

        # Once per copy, not per comment (a copy may get 13,000): the library's pieces, the
        # namespace declaration, and the time every comment of this copy is dated.
        self._parse, self._ns = parse_xml, f'{nsdecls("w")} xmlns:w14="{W14}"'
        self.when = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.comments = document.comments
        used = [
            int(x)
            for x in document.element.body.xpath(
                ".//w:commentRangeStart/@w:id | .//w:commentRangeEnd/@w:id"
                " | .//w:commentReference/@w:id"
            )
            if str(x).isdigit()
        ]
        used += [int(x) for x in self.comments._comments_elm.xpath("./w:comment/@w:id")]
        self.next_id = max(used, default=-1) + 1
        # The range markers, as Run.mark_comment_range places them: a start before the first
        # run, an end and a reference run after the last.
        self._markers = parse_xml(
            f'<w:p {nsdecls("w")}><w:commentRangeStart w:id="0"/>'
            '<w:commentRangeEnd w:id="0"/><w:r><w:rPr>'
            '<w:rStyle w:val="CommentReference"/></w:rPr>'
            '<w:commentReference w:id="0"/></w:r></w:p>'
        )
        self._id_attr = f"{{{self._markers.nsmap['w']}}}id"
        self._pending: list[str] = []

    def __call__(self, runs: Sequence[Any], text: str, author: str, initials: str) -> str:
        """A comment of ``text`` (a paragraph per line, each in the CommentText style, as
        python-docx writes it) on ``runs``; returns the ``w14:paraId`` of its last paragraph
        (what a reply is linked by). The comment itself is added by :meth:`flush`."""
        from copy import deepcopy
        from xml.sax.saxutils import escape, quoteattr

        comment_id = self.next_id
        self.next_id += 1
        para_id = f"{0x10000000 + comment_id:08X}"  # unique per comment, below 0x80000000
        style = '<w:pPr><w:pStyle w:val="CommentText"/></w:pPr>'
        mark = '<w:r><w:rPr><w:rStyle w:val="CommentReference"/></w:rPr><w:annotationRef/></w:r>'
        lines = text.split("\n")
        paragraphs = []
        for i, line in enumerate(lines):
            pieces = "<w:tab/>".join(
                f'<w:t xml:space="preserve">{escape(piece)}</w:t>' if piece else ""
                for piece in line.split("\t")
            )
            run = f"<w:r>{pieces}</w:r>" if pieces else ""
            last = f' w14:paraId="{para_id}"' if i == len(lines) - 1 else ""
            paragraphs.append(f"<w:p{last}>{style}{mark if i == 0 else ''}{run}</w:p>")
        self._pending.append(
            f'<w:comment w:id="{comment_id}" w:author={quoteattr(author)}'
            f' w:initials={quoteattr(initials)} w:date="{self.when}">{"".join(paragraphs)}'
            "</w:comment>"
        )
        start, end, reference = deepcopy(self._markers)
        for marker in (start, end, reference[-1]):
            marker.set(self._id_attr, str(comment_id))
        runs[0]._r.addprevious(start)
        runs[-1]._r.addnext(reference)
        runs[-1]._r.addnext(end)
        return para_id

    def flush(self) -> None:
        """Add the comments written so far to the comments part, in one parse."""
        if not self._pending:
            return
        parsed = self._parse(f"<w:comments {self._ns}>{''.join(self._pending)}</w:comments>")
        self._pending.clear()
        target = self.comments._comments_elm
        for comment in list(parsed):
            target.append(comment)


def _add_comments_extended(document: Any, threads: list[tuple[str, str | None]]) -> None:
    """The part that makes replies replies (python-docx writes comments, not threads)."""
    from docx.opc.packuri import PackURI
    from docx.opc.part import Part

    entries = []
    for parent, reply in threads:
        entries.append(f'<w15:commentEx w15:paraId="{parent}" w15:done="0"/>')
        if reply is not None:
            entries.append(
                f'<w15:commentEx w15:paraId="{reply}" w15:paraIdParent="{parent}" w15:done="0"/>'
            )
    for rel in document.part.rels.values():
        if rel.reltype == RT_COMMENTS_EXTENDED and not rel.is_external:
            # The document's own threads are kept; ours are added to them.
            existing = rel.target_part
            blob = existing.blob
            end = blob.rfind(b"</w15:commentsEx>")
            if end >= 0:
                existing._blob = blob[:end] + "".join(entries).encode() + blob[end:]
                return
    xml = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<w15:commentsEx xmlns:w15="{W15}">' + "".join(entries) + "</w15:commentsEx>"
    )
    part = Part(
        PackURI("/word/commentsExtended.xml"),
        CT_COMMENTS_EXTENDED,
        xml.encode("utf-8"),
        document.part.package,
    )
    document.part.relate_to(part, RT_COMMENTS_EXTENDED)


def annotate(
    source: Path,
    target: Path | str,
    findings: Sequence[Finding],
    session_id: str | None = None,
    summary: str | None = None,
    suggest: str | None = None,
) -> Copy:
    """Write the reviewed copy to ``target`` (``-``: standard output); returns what it holds.
    A file is replaced atomically: never a partial one."""
    from prism_cli.outputs import write_bytes

    made = reviewed_copy(source, findings, session_id, summary, suggest)
    write_bytes(target, made.data)
    return made

"""Word comments span exactly the words a finding quotes, read back from document.xml."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from docbuilder import W_NS, make_docx, p, r
from prism_cli.core.findings import Finding
from prism_cli.word.annotate import reviewed_copy

W = f"{{{W_NS}}}"


def finding(fid: str, quote: str, locator: int, source: str = "model") -> Finding:
    return Finding(
        id=fid, section_id="s1", severity="high", type="critical", category="c",
        title=f"About {quote or 'the section'}", description="d", quote=quote,
        locator=locator, source=source,  # type: ignore[arg-type]
    )  # fmt: skip


def spans(data: bytes) -> dict[str, str]:
    """For each comment id: the text between its range start and end, in reading order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = etree.fromstring(zf.read("word/document.xml"))
    open_ids: list[str] = []
    text: dict[str, str] = {}
    first_paragraph = True
    for el in root.iter():
        if el.tag == f"{W}p":
            if not first_paragraph:
                for cid in open_ids:
                    text[cid] += "\n"
            first_paragraph = False
        elif el.tag == f"{W}commentRangeStart":
            open_ids.append(el.get(f"{W}id"))
            text[el.get(f"{W}id")] = ""
        elif el.tag == f"{W}commentRangeEnd":
            open_ids.remove(el.get(f"{W}id"))
        elif el.tag == f"{W}t":
            for cid in open_ids:
                text[cid] += el.text or ""
    return text


def formatting(data: bytes) -> list[tuple[str, bool]]:
    """(text, bold) for every run of the document."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = etree.fromstring(zf.read("word/document.xml"))
    return [
        ("".join(t.text or "" for t in run.iter(f"{W}t")), run.find(f"{W}rPr/{W}b") is not None)
        for run in root.iter(f"{W}r")
        if run.find(f"{W}t") is not None
    ]


def hyperlink(text: str) -> str:
    return f'<w:hyperlink w:anchor="x">{r(text)}</w:hyperlink>'


def inserted(text: str) -> str:
    return f'<w:ins w:id="90" w:author="a" w:date="2026-01-01T00:00:00Z">{r(text)}</w:ins>'


def deleted(text: str) -> str:
    return (
        f'<w:del w:id="91" w:author="a" w:date="2026-01-01T00:00:00Z">'
        f'<w:r><w:delText xml:space="preserve">{text}</w:delText></w:r></w:del>'
    )


def test_each_comment_spans_exactly_its_quote(tmp_path: Path) -> None:
    body = (
        p("Scope", style="Heading1")  # 0
        + p("The budget is TBD until the board\u2019s meeting in spring.")  # 1
        + p(runs=r("Costs are ") + r("very", bold=True) + r(" high this year."))  # 2: crosses bold
        + p(runs=r("See the ") + hyperlink("policy page") + r(" for details."))  # 3: hyperlink
        + p(runs=r("We will ") + deleted("never ") + inserted("always ") + r("check twice."))  # 4
        + p("The plan ends here.")  # 5: a quote over two paragraphs ...
        + p("Next steps follow later.")  # 6
    )
    source = make_docx(tmp_path / "d.docx", body)
    findings = [
        finding("a", "TBD", 1),
        finding("b", "are very high", 2),  # starts mid-run, ends mid-run, bold in between
        finding("c", "the policy page for", 3),
        finding("d", "will always check", 4),  # the deleted word is not visible text
        finding("e", "ends here. Next steps", 5),
        finding("f", "", 0),  # no quote: the heading
        finding("g", "words nowhere in it", 2),  # not found: the paragraph it points to
        finding("h", "the  BUDGET is", 1),  # case and spacing as the findings module matches
        finding("i", "board's", 1),  # a straight apostrophe for the text's curly one
    ]
    made = reviewed_copy(source, findings)
    data, added = made.data, made.comments
    assert added == len(findings)
    got = spans(data)
    assert got == {
        "0": "TBD",
        "1": "are very high",
        "2": "the policy page for",
        "3": "will always check",
        "4": "ends here.\nNext steps",
        "5": "Scope",
        "6": "Costs are very high this year.",
        "7": "The budget is",
        "8": "board\u2019s",
    }
    # Splitting kept each part's formatting, and no text was lost or doubled.
    runs = formatting(data)
    assert ("very", True) in runs
    assert ("are ", False) in runs
    assert (" high", False) in runs
    text = "".join(t for t, _ in runs)
    assert "The budget is TBD until the board\u2019s meeting in spring." in text
    assert "Costs are very high this year." in text


def test_the_document_reopens_with_every_comment(tmp_path: Path) -> None:
    import docx

    source = make_docx(
        tmp_path / "d.docx",
        p("Scope", style="Heading1") + p(runs=r("Alpha ") + r("beta", bold=True) + r(" gamma")),
    )
    data = reviewed_copy(
        source, [finding("a", "ha be", 1), finding("b", "gamma", 1, source="reviewer")]
    ).data
    reopened = docx.Document(io.BytesIO(data))
    comments = list(reopened.comments)
    assert [c.author for c in comments] == ["prism", "Reviewer"]
    assert reopened.paragraphs[1].text == "Alpha beta gamma"


def test_an_accepted_finding_carries_the_reviewer_s_reply(tmp_path: Path) -> None:
    import docx

    source = make_docx(tmp_path / "d.docx", p("Scope", style="Heading1") + p("Budget is TBD."))
    accepted = finding("a", "TBD", 1).model_copy(update={"status": "accepted"})
    made = reviewed_copy(source, [accepted, finding("b", "Budget", 1)])
    data, added = made.data, made.comments
    assert added == 2
    reopened = docx.Document(io.BytesIO(data))
    comments = {c.comment_id: c for c in reopened.comments}
    assert [(c.author, c.text) for c in comments.values()][1] == (
        "Reviewer",
        "Accepted by the reviewer.",
    )
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        extended = etree.fromstring(zf.read("word/commentsExtended.xml"))
        comments_xml = etree.fromstring(zf.read("word/comments.xml"))
        types = zf.read("[Content_Types].xml").decode()
    assert "word/commentsExtended.xml" in names
    assert "commentsExtended+xml" in types
    w14 = "{http://schemas.microsoft.com/office/word/2010/wordml}paraId"
    w15 = "{http://schemas.microsoft.com/office/word/2012/wordml}"
    para = {
        c.get(f"{W}id"): c.findall(f"{W}p")[-1].get(w14) for c in comments_xml.iter(f"{W}comment")
    }
    links = {e.get(f"{w15}paraId"): e.get(f"{w15}paraIdParent") for e in extended}
    assert links[para["1"]] == para["0"]  # the reply's parent is the accepted finding
    assert links[para["0"]] is None
    assert links[para["2"]] is None  # an open finding has no reply
    assert spans(data)["1"] == "TBD"  # the reply spans the same words


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_libreoffice_opens_the_copy_with_every_comment(tmp_path: Path) -> None:
    body = (
        p("Scope", style="Heading1")
        + p(runs=r("Costs are ") + r("very", bold=True) + r(" high this year."))
        + p(runs=r("See the ") + hyperlink("policy page") + r(" for details."))
    )
    source = make_docx(tmp_path / "d.docx", body)
    accepted = finding("a", "are very high", 1).model_copy(update={"status": "accepted"})
    data = reviewed_copy(
        source, [accepted, finding("b", "policy page", 2), finding("c", "", 0)]
    ).data
    copy = tmp_path / "copy.docx"
    copy.write_bytes(data)
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "odt", "--outdir", str(tmp_path), str(copy)],
        capture_output=True, timeout=180, check=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )  # fmt: skip
    with zipfile.ZipFile(tmp_path / "copy.odt") as zf:
        content = zf.read("content.xml").decode()
    assert content.count("<office:annotation ") + content.count("<office:annotation>") == 4
    assert "Accepted by the reviewer." in content


def test_new_comments_never_take_over_a_broken_copy_s_old_ranges(tmp_path: Path) -> None:
    # A body with comment ranges whose comments are missing (what a broken tool wrote).
    orphan = '<w:commentRangeStart w:id="7"/>' + r("Old range") + '<w:commentRangeEnd w:id="7"/>'
    source = make_docx(tmp_path / "d.docx", p("Scope", style="Heading1") + p(runs=orphan))
    data = reviewed_copy(source, [finding("a", "range", 1)]).data
    got = spans(data)
    assert got["7"] == "Old range"  # untouched
    assert got["8"] == "range"  # ours, numbered after it


def test_a_quote_is_anchored_on_whole_words_the_exact_case_first(tmp_path: Path) -> None:
    """#20 item 3: "IN" was anchored on "sell[in]g", "RE" on "cor[re]cted", "RA" on "b[ra]nd"."""
    from docx import Document

    from prism_cli.word.anchor import quote_range, run_text

    path = make_docx(
        tmp_path / "w.docx", p("We are selling the corrected brand in IN scope: RE and RA.")
    )
    paragraphs = Document(str(path)).paragraphs
    for quote, expected in (("IN", "IN"), ("RE", "RE"), ("RA", "RA"), ("in", "in"),
                            ("brand", "brand"), ("Corrected Brand", "corrected brand")):  # fmt: skip
        doc = Document(str(path))
        span = quote_range([par._p for par in doc.paragraphs], quote)
        assert span is not None, quote
        first, last = span
        runs = []
        node = first
        while node is not None:
            runs.append(run_text(node))
            if node is last:
                break
            node = node.getnext()
        assert "".join(runs) == expected, (quote, runs)
    inside = quote_range([par._p for par in Document(str(path)).paragraphs], "ellin")
    assert inside is None  # inside a word: never
    assert paragraphs  # the document was read


def test_quotes_are_whole_words_in_the_findings_too() -> None:
    from prism_cli.core.findings import locate_quote, quote_in_text

    assert not quote_in_text("IN", "We are selling it")
    assert quote_in_text("in", "Sign IN here")
    assert quote_in_text("事故", "本次事故的原因")  # CJK has no spaces: no word boundary asked
    anchors = [(1, "the brand in question"), (2, "IN scope")]
    assert locate_quote("IN", anchors) == 2  # the exact case first
    assert locate_quote("in", anchors) == 1

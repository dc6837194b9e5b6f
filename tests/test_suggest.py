"""Suggested rewrites as Word tracked changes: the revision XML for a quote inside one run,
across runs of different formatting, inside a hyperlink, next to the document's own tracked
changes, and overlapping another suggestion; "accept all" gives the text with every
replacement in place."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import docx
import pytest
from lxml import etree

from conftest import run_prism
from docbuilder import make_docx, p, r
from fake_bedrock import FakeBedrock
from prism_cli.core.findings import Finding
from prism_cli.word.annotate import reviewed_copy
from prism_cli.word.revise import accept_all

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NS = {"w": W}


def finding(quote: str, replacement: str, n: int = 1, locator: int = 0) -> Finding:
    return Finding(
        id=f"s1-m{n}", section_id="s1", severity="medium", type="suggestion",
        category="clarity", title=f"Finding {n}", description="Say it plainly.",
        quote=quote, replacement=replacement, locator=locator,
    )  # fmt: skip


def copy_of(tmp_path: Path, body: str, findings: list[Finding], author: str = "prism") -> Any:
    source = make_docx(tmp_path / "in.docx", body)
    return reviewed_copy(source, findings, suggest=author)


def body_of(data: bytes) -> Any:
    return etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("word/document.xml"))


def text_after_accept_all(data: bytes) -> list[str]:
    """Each paragraph's text once every revision is accepted (applied on the XML)."""
    root = body_of(data)
    paragraphs = root.findall(".//w:body/w:p", NS)
    accept_all(paragraphs)
    return ["".join(t.text or "" for t in para.iter(f"{{{W}}}t")) for para in paragraphs]


def texts(element: Any, tag: str) -> str:
    return "".join(t.text or "" for t in element.iter(f"{{{W}}}{tag}"))


def test_a_quote_inside_one_run(tmp_path: Path) -> None:
    made = copy_of(
        tmp_path,
        p("Invoices are paid within thirty days of receipt."),
        [finding("within thirty days", "within 30 calendar days")],
        author="Ana Reviewer",
    )
    assert made.suggestions == 1
    root = body_of(made.data)
    (deletion,) = root.iter(f"{{{W}}}del")
    (insertion,) = root.iter(f"{{{W}}}ins")
    # Only the words that differ change, as a person would mark them.
    assert texts(deletion, "delText") == "thirty"
    assert texts(deletion, "t") == ""  # deleted text is w:delText only
    assert texts(insertion, "t") == "30 calendar"
    for change in (deletion, insertion):
        assert change.get(f"{{{W}}}author") == "Ana Reviewer"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", change.get(f"{{{W}}}date"))
    assert deletion.get(f"{{{W}}}id") != insertion.get(f"{{{W}}}id")
    # The comment spans the revision: its start before the deletion, its end after the insertion.
    children = list(deletion.getparent())
    start = root.find(".//w:commentRangeStart", NS)
    end = root.find(".//w:commentRangeEnd", NS)
    assert children.index(start) + 1 == children.index(deletion)
    assert children.index(insertion) + 1 == children.index(end)
    assert text_after_accept_all(made.data) == [
        "Invoices are paid within 30 calendar days of receipt."
    ]
    docx.Document(io.BytesIO(made.data))  # python-docx opens it


def test_a_quote_across_three_runs_of_different_formatting(tmp_path: Path) -> None:
    runs = (
        r("The vendor ") + r("should", bold=True)
        + '<w:r><w:rPr><w:i/></w:rPr><w:t xml:space="preserve"> probably </w:t></w:r>'
        + r("confirm soon.")
    )  # fmt: skip
    made = copy_of(
        tmp_path, p(runs=runs), [finding("should probably confirm soon", "must confirm by 5 May")]
    )
    root = body_of(made.data)
    deletions = list(root.iter(f"{{{W}}}del"))
    assert len(deletions) == 1  # consecutive runs: one deletion
    deleted = deletions[0].findall("w:r", NS)
    assert [texts(run, "delText") for run in deleted] == ["should", " probably ", "confirm soon"]
    # Each deleted run kept its own formatting.
    assert deleted[0].find("w:rPr/w:b", NS) is not None
    assert deleted[1].find("w:rPr/w:i", NS) is not None
    (insertion,) = root.iter(f"{{{W}}}ins")
    # The insertion takes the formatting of the first replaced run.
    assert insertion.find("w:r/w:rPr/w:b", NS) is not None
    assert text_after_accept_all(made.data) == ["The vendor must confirm by 5 May."]


def test_a_quote_inside_a_hyperlink(tmp_path: Path) -> None:
    runs = (
        r("See ")
        + '<w:hyperlink w:anchor="policy">' + r("the old policy page") + "</w:hyperlink>"
        + r(" for details.")
    )  # fmt: skip
    made = copy_of(tmp_path, p(runs=runs), [finding("old policy page", "2026 policy page")])
    root = body_of(made.data)
    link = root.find(".//w:hyperlink", NS)
    # The revision stays in the link: the new words are linked as the old ones were.
    assert texts(link.find("w:del", NS), "delText") == "old"
    assert texts(link.find("w:ins", NS), "t") == "2026"
    assert text_after_accept_all(made.data) == ["See the 2026 policy page for details."]


def test_next_to_the_documents_own_tracked_changes(tmp_path: Path) -> None:
    """Alice's insertion holds the quote; Bob's deletion stands before it: both stay, the
    suggestion nests its deletion in Alice's insertion and puts its insertion after it."""
    runs = (
        r("Costs are ")
        + '<w:del w:id="7" w:author="Bob" w:date="2026-11-01T00:00:00Z"><w:r>'
        '<w:delText xml:space="preserve">roughly </w:delText></w:r></w:del>'
        + '<w:ins w:id="8" w:author="Alice" w:date="2026-11-02T00:00:00Z">'
        + r("about ten percent") + "</w:ins>"
        + r(" over plan.")
    )  # fmt: skip
    made = copy_of(tmp_path, p(runs=runs), [finding("about ten percent", "9.6%")])
    root = body_of(made.data)
    alice = root.find('.//w:ins[@w:author="Alice"]', NS)
    bob = root.find('.//w:del[@w:author="Bob"]', NS)
    assert bob is not None
    assert texts(bob, "delText") == "roughly "  # the document's own revision, untouched
    mine = alice.find('w:del[@w:author="prism"]', NS)
    assert texts(mine, "delText") == "about ten percent"
    ours = alice.getnext()
    assert ours.tag == f"{{{W}}}ins"
    assert ours.get(f"{{{W}}}author") == "prism"
    ids = [e.get(f"{{{W}}}id") for e in root.iter(f"{{{W}}}ins", f"{{{W}}}del")]
    assert len(ids) == len(set(ids))  # no revision takes another's id
    assert "7" in ids
    assert "8" in ids
    assert text_after_accept_all(made.data) == ["Costs are 9.6% over plan."]


def test_overlapping_suggestions_are_not_both_revisions(tmp_path: Path) -> None:
    made = copy_of(
        tmp_path,
        p("The team should review the budget every quarter."),
        [
            finding("should review the budget", "must review the figures", 1),
            finding("the budget every quarter", "the budget monthly", 2),
        ],
    )
    assert made.suggestions == 1
    assert made.kept_as_comments == [("s1-m2", "it overlaps another suggestion")]
    comments = zipfile.ZipFile(io.BytesIO(made.data)).read("word/comments.xml").decode()
    assert comments.count("<w:comment ") == 2  # the later one is still a comment
    assert text_after_accept_all(made.data) == ["The team must review the figures every quarter."]


def test_a_word_only_added_or_only_taken_out(tmp_path: Path) -> None:
    made = copy_of(
        tmp_path,
        p("Submit the form by Friday.") + p("The very important meeting is at noon."),
        [finding("Submit the form", "Submit the signed form", 1, 0),
         finding("The very important meeting", "The meeting", 2, 1)],
    )  # fmt: skip
    root = body_of(made.data)
    assert [texts(e, "t") for e in root.iter(f"{{{W}}}ins")] == ["signed "]
    assert [texts(e, "delText") for e in root.iter(f"{{{W}}}del")] == ["very important "]
    assert text_after_accept_all(made.data) == [
        "Submit the signed form by Friday.",
        "The meeting is at noon.",
    ]


def test_a_quote_across_paragraphs_stays_a_comment(tmp_path: Path) -> None:
    made = copy_of(
        tmp_path, p("First line ends here.") + p("Second line starts."),
        [finding("ends here. Second line", "x")],
    )  # fmt: skip
    assert made.suggestions == 0
    assert made.kept_as_comments == [("s1-m1", "its quote spans paragraphs")]


def test_a_protected_or_signed_document_is_refused(tmp_path: Path) -> None:
    from prism_cli.errors import InputError

    settings = (
        f'<w:settings xmlns:w="{W}"><w:documentProtection w:edit="readOnly" '
        'w:enforcement="1"/></w:settings>'
    )
    locked = make_docx(tmp_path / "locked.docx", p("Text."), parts={"word/settings.xml": settings})
    with pytest.raises(InputError, match=r"protected \(readOnly\)"):
        reviewed_copy(locked, [finding("Text", "Words")], suggest="prism")
    signed = make_docx(
        tmp_path / "signed.docx", p("Text."), parts={"_xmlsignatures/sig1.xml": "<x/>"}
    )
    with pytest.raises(InputError, match="digitally signed"):
        reviewed_copy(signed, [finding("Text", "Words")], suggest="prism")
    # Comments only are still written.
    assert reviewed_copy(signed, [finding("Text", "Words")]).comments == 1


def rewrite_findings(_model: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    out = []
    for sentence in re.findall(r"[^.\n]*\bshould\b[^.\n]*\.", text):
        quote = sentence.strip().rstrip(".")
        out.append(
            {
                "severity": "medium", "type": "suggestion", "category": "clarity",
                "title": "A vague obligation", "description": "Say who must do what.",
                "quote": quote, "replacement": quote.replace("should", "must"),
                "confidence": 0.95,
            }
        )  # fmt: skip
    return out


def plan(path: Path) -> Path:
    return make_docx(
        path,
        p("Payments", style="Heading1")
        + p("Vendors should confirm invoices by the fifth day. Late fees are waived.")
        + p("Security", style="Heading1")
        + p(runs=r("Keys ") + r("should", bold=True) + r(" rotate every quarter.")),
    )


def test_review_suggest_writes_tracked_changes(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = rewrite_findings
    doc = plan(tmp_path / "plan.docx")
    out = tmp_path / "plan.suggested.docx"
    result = run_prism(
        "review", str(doc), "--no-rules", "-f", "docx", "--suggest", "-o", str(out),
        "--suggest-author", "Legal review",
    )  # fmt: skip
    assert result.code == 0, result.stderr  # medium findings: --fail-on high passes
    assert "2 comments, 2 suggested changes" in result.stderr
    assert text_after_accept_all(out.read_bytes())[1::2] == [
        "Vendors must confirm invoices by the fifth day. Late fees are waived.",
        "Keys must rotate every quarter.",
    ]
    xml = zipfile.ZipFile(out).read("word/document.xml").decode()
    assert set(re.findall(r'w:author="([^"]+)"', xml)) == {"Legal review"}
    # The source is untouched; JSON and Markdown carry the replacement.
    assert zipfile.ZipFile(doc).read("word/document.xml").count(b"<w:del ") == 0
    report = json.loads(run_prism("review", str(doc), "--no-rules", "-f", "json").stdout)
    replacements = [f["replacement"] for f in report["documents"][0]["findings"]]
    assert "Keys must rotate every quarter" in replacements
    markdown = run_prism("review", str(doc), "--no-rules", "-f", "markdown").stdout
    assert "**Rewrite:** “Keys should rotate every quarter” → “Keys must rotate every quarter”" in (
        markdown
    )
    # Without --suggest: comments only, as before.
    plain = tmp_path / "plain.docx"
    run_prism("review", str(doc), "--no-rules", "-f", "docx", "-o", str(plain))
    assert b"<w:ins " not in zipfile.ZipFile(plain).read("word/document.xml")


def test_suggest_needs_the_word_copy(tmp_path: Path) -> None:
    doc = plan(tmp_path / "plan.docx")
    result = run_prism("review", str(doc), "--offline", "-f", "json", "--suggest")
    assert result.code == 2
    assert "use it with -f docx" in result.stderr


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_the_suggestions_survive_a_round_trip_through_libreoffice(tmp_path: Path) -> None:
    """LibreOffice reads the copy and writes it again: the revisions are still revisions, and
    accepting them all gives the text with every replacement in place."""
    runs = r("The vendor ") + r("should", bold=True) + r(" confirm soon.")
    body = (
        p(runs=runs)
        + p(runs=r("See ") + '<w:hyperlink w:anchor="x">' + r("the old page") + "</w:hyperlink>")
        + p("Costs are about ten percent over plan.")
    )  # fmt: skip
    made = copy_of(
        tmp_path,
        body,
        [
            finding("should confirm soon", "must confirm by 5 May", 1, 0),
            finding("the old page", "the 2026 page", 2, 1),
            finding("about ten percent", "9.6%", 3, 2),
        ],
    )
    suggested = tmp_path / "suggested.docx"
    suggested.write_bytes(made.data)
    out = tmp_path / "lo"
    subprocess.run(
        ["soffice", "--headless", "--convert-to", "docx", "--outdir", str(out), str(suggested)],
        check=True, capture_output=True, timeout=180,
        env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    again = (out / "suggested.docx").read_bytes()
    root = body_of(again)
    deleted = texts(root, "delText")
    inserted = "".join(texts(e, "t") for e in root.iter(f"{{{W}}}ins"))
    for old in ("should", "confirm soon", "old", "about ten percent"):
        assert old in deleted
    for new in ("must confirm by 5 May", "2026", "9.6%"):
        assert new in inserted
    assert [t for t in text_after_accept_all(again) if t] == [
        "The vendor must confirm by 5 May.",
        "See the 2026 page",
        "Costs are 9.6% over plan.",
    ]


def test_apply_writes_the_chosen_rewrites(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = rewrite_findings
    doc = plan(tmp_path / "plan.docx")
    report = json.loads(run_prism("review", str(doc), "--no-rules", "-f", "json").stdout)
    first, second = report["documents"][0]["findings"]
    # Nothing accepted yet: --accepted has nothing to apply, and says why in one line.
    nothing = run_prism("apply", str(doc), "--accepted", cwd=tmp_path)
    assert nothing.code == 2
    assert "nothing to apply" in nothing.stderr
    assert run_prism("feedback", str(doc), "accept", first["id"]).code == 0
    done = run_prism("apply", str(doc), "--accepted", cwd=tmp_path)
    assert done.code == 0, done.stderr
    copy = tmp_path / "plan.suggested.docx"
    assert "1 of 1 rewrites as tracked changes" in done.stderr
    assert text_after_accept_all(copy.read_bytes())[1::2] == [
        "Vendors must confirm invoices by the fifth day. Late fees are waived.",
        "Keys should rotate every quarter.",
    ]
    # Rejected findings are never applied; --clean applies the rest outright.
    assert run_prism("feedback", str(doc), "reject", second["id"]).code == 0
    clean = tmp_path / "clean.docx"
    done = run_prism("apply", str(doc), "--clean", "-o", str(clean), cwd=tmp_path)
    assert done.code == 0, done.stderr
    data = zipfile.ZipFile(clean).read("word/document.xml")
    assert b"<w:ins " not in data
    assert b"<w:del " not in data
    assert b"commentRangeStart" not in data
    assert [q.text for q in docx.Document(str(clean)).paragraphs][1::2] == [
        "Vendors must confirm invoices by the fifth day. Late fees are waived.",
        "Keys should rotate every quarter.",
    ]
    # The source is never the target.
    refused = run_prism("apply", str(doc), "-o", str(doc), cwd=tmp_path)
    assert refused.code == 2
    assert "never overwrites its input" in refused.stderr


def test_chat_suggest_then_accept_carries_the_rewrite(bedrock: FakeBedrock, tmp_path: Path) -> None:
    """A finding without a rewrite: /suggest asks the model for one (streamed), /accept keeps
    it, and the next `prism apply` and `-f docx --suggest` write it as a tracked change."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_chat import SONNET, answer

    def no_rewrite(model: str, body: dict[str, Any], text: str) -> list[dict[str, Any]]:
        return [{**f, "replacement": ""} for f in rewrite_findings(model, body, text)]

    bedrock.findings = no_rewrite
    doc = plan(tmp_path / "plan.docx")
    report = json.loads(run_prism("review", str(doc), "--no-rules", "-f", "json").stdout)
    target = report["documents"][0]["findings"][1]  # "Keys should rotate every quarter"
    assert target["replacement"] == ""
    bedrock.queue(SONNET, answer("“Keys must rotate every quarter”"))
    stdin = f"/suggest {target['id']}\n/accept\n"
    chatted = run_prism("chat", str(doc), "--region", "us-east-1", stdin=stdin, cwd=tmp_path)
    assert chatted.code == 0, chatted.stderr
    assert f"accepted {target['id']} with its rewrite “Keys must rotate every quarter”" in (
        chatted.stdout
    )
    sent = bedrock.calls("converse_stream")[-1][1]
    assert "<passage>\nKeys should rotate every quarter\n</passage>" in json.dumps(
        sent, ensure_ascii=False
    ).replace("\\n", "\n")
    done = run_prism("apply", str(doc), "--accepted", "-o", "out.docx", cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert text_after_accept_all((tmp_path / "out.docx").read_bytes())[3] == (
        "Keys must rotate every quarter."
    )
    copy = tmp_path / "copy.docx"
    result = run_prism("review", str(doc), "--no-rules", "-f", "docx", "--suggest", "-o", str(copy))
    assert "1 suggested change)" in result.stderr


def test_chat_refuses_a_rewrite_that_cannot_stand_in(bedrock: FakeBedrock, tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_chat import SONNET, answer

    bedrock.findings = rewrite_findings
    doc = plan(tmp_path / "plan.docx")
    report = json.loads(run_prism("review", str(doc), "--no-rules", "-f", "json").stdout)
    target = report["documents"][0]["findings"][1]
    bedrock.queue(SONNET, answer("Keys should rotate every quarter"))  # unchanged
    stdin = f"/suggest {target['id']}\n/accept\n"
    chatted = run_prism("chat", str(doc), "--region", "us-east-1", stdin=stdin, cwd=tmp_path)
    assert "this rewrite cannot be used" in chatted.stdout
    assert "/accept ID...: give finding ids" in chatted.stderr


def test_apply_into_a_folder_and_through_a_symlink(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = rewrite_findings
    doc = plan(tmp_path / "plan.docx")
    assert run_prism("review", str(doc), "--no-rules", "-f", "json").code == 0
    (tmp_path / "out").mkdir()
    into = run_prism("apply", str(doc), "-o", "out", cwd=tmp_path)
    assert into.code == 0, into.stderr
    assert (tmp_path / "out" / "plan.suggested.docx").is_file()
    here = run_prism("apply", str(doc), "--clean", "-o", ".", cwd=tmp_path)
    assert here.code == 0, here.stderr
    assert (tmp_path / "plan.edited.docx").is_file()
    target = tmp_path / "target.docx"
    target.write_bytes(b"")
    (tmp_path / "link.docx").symlink_to(target)
    through = run_prism("apply", str(doc), "-o", "link.docx", cwd=tmp_path)
    assert through.code == 0, through.stderr
    assert (tmp_path / "link.docx").is_symlink()
    assert zipfile.is_zipfile(target)

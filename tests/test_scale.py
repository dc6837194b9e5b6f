"""What a large document costs grows with the size of a section, not the square of the document.

Counted, not timed (bench/large.py times it): comparisons made to merge near-duplicates,
paragraphs read to anchor a quote, and python-docx's id search per comment.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from docbuilder import make_docx, p
from fakes import Counted
from prism_cli.core import findings as findings_module
from prism_cli.core.findings import Finding, merge_near_duplicates
from prism_cli.reports.jsontext import dumps
from prism_cli.word import anchor
from prism_cli.word.annotate import reviewed_copy


def many(sections: int, per_section: int) -> list[Finding]:
    return [
        Finding(
            id=f"s{s}-m{n}",
            section_id=f"s{s}",
            severity="medium",
            type="important",
            category=f"c{n}",
            title=f"Distinct remark number {n} {'x' * n}",
            description="d",
            quote=f"words {n} of {s}",
            locator=s,
        )
        for s in range(sections)
        for n in range(per_section)
    ]


def test_merging_compares_findings_of_one_section_only(monkeypatch: pytest.MonkeyPatch) -> None:
    compared = Counted(monkeypatch, findings_module, "_similar")
    merged = merge_near_duplicates(many(300, 6))
    assert len(merged) == 1800
    # 300 sections x 15 pairs; comparing across sections was 1.6 million.
    assert compared.calls <= 300 * 15


def test_merging_still_keeps_the_stronger_of_two_alike_in_a_section() -> None:
    weak, strong = many(1, 1)[0], many(1, 1)[0].model_copy(update={"severity": "high", "id": "x"})
    other = many(2, 1)[1]
    assert [f.id for f in merge_near_duplicates([weak, other, strong])] == ["x", other.id]


def test_a_quote_is_searched_in_its_own_paragraph_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    count = 300
    doc = make_docx(
        tmp_path / "long.docx",
        "".join(p(f"Paragraph {i} says the batch number {i} was late.") for i in range(count)),
    )
    read = Counted(monkeypatch, anchor, "visible_runs")
    found = [
        Finding(
            id=f"f{i}",
            section_id="s1",
            severity="low",
            type="suggestion",
            category="c",
            title=f"t{i}",
            description="d",
            quote=f"batch number {i} was",
            locator=i,
        )
        for i in range(count)
    ]
    made = reviewed_copy(doc, found)
    data, added = made.data, made.comments
    assert added == count
    assert read.calls == count  # one paragraph each; the 60-paragraph span was 60 each
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("word/document.xml").decode()
    assert xml.count("<w:commentRangeStart") == count


def test_comment_ids_are_counted_not_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docx.oxml.comments import CT_Comments

    def searched(_self: object) -> int:
        raise AssertionError("python-docx searched every comment id for a new comment")

    monkeypatch.setattr(CT_Comments, "_next_available_comment_id", searched)
    doc = make_docx(tmp_path / "d.docx", p("One line of text.") + p("Another line."))
    found = many(1, 50)
    made = reviewed_copy(doc, found)
    data, added = made.data, made.comments
    import docx

    copy = docx.Document(io.BytesIO(data))
    ids = [c.comment_id for c in copy.comments]
    assert added == 50
    assert len(set(ids)) == 50


def test_report_json_is_indented_to_the_record_and_round_trips() -> None:
    import json

    report = {
        "documents": [{"findings": [{"id": "a", "quote": "é [/bold] \u202e", "n": [1, 2]}]}],
        "empty": {},
        "none": [],
    }
    text = dumps(report)
    assert json.loads(text) == report
    assert '    {\n      "findings": [\n        {"id": "a", "quote": "é [/bold] \u202e", ' in text


def test_full_case_folding_still_finds_a_quote(tmp_path: Path) -> None:
    doc = make_docx(tmp_path / "de.docx", p("Die Hauptstraße ist gesperrt.") + p("Ende."))
    quote = "HAUPTSTRASSE"  # what casefold() makes of "Hauptstraße", upper-cased
    found = [
        Finding(
            id="f",
            section_id="s1",
            severity="low",
            type="suggestion",
            category="c",
            title="t",
            description="d",
            quote=quote,
            locator=0,
        )
    ]
    data = reviewed_copy(doc, found).data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        xml = zf.read("word/document.xml").decode()
    start = xml.index("<w:commentRangeStart")
    end = xml.index("<w:commentRangeEnd")
    assert "Hauptstraße" in xml[start:end]
    assert "gesperrt" not in xml[start:end]

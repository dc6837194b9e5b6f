"""Text fidelity of the body walk (issue #2, item 4)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from docbuilder import make_docx, p, r, table
from prism_cli.core.document import BlockKind
from prism_cli.word.reader import read_document


def texts(tmp_path: Path, body: str, **kw: object) -> list[str]:
    doc = read_document(make_docx(tmp_path / "d.docx", body, **kw))  # type: ignore[arg-type]
    return [b.text for b in doc.blocks if b.text]


def test_table_rows_stay_in_place(tmp_path: Path) -> None:
    body = p("Before") + table([["Risk", "Owner"], ["Fire", "Facilities"]]) + p("After")
    doc = read_document(make_docx(tmp_path / "d.docx", body))
    assert [b.text for b in doc.blocks] == ["Before", "Risk | Owner\nFire | Facilities", "After"]
    assert doc.blocks[1].kind is BlockKind.TABLE
    # The table's cells keep their own paragraph locators for anchoring.
    assert [loc for loc, _ in doc.blocks[1].paragraphs] == [1, 2, 3, 4]
    assert doc.blocks[2].locator == 5


def test_nested_table_text_is_kept(tmp_path: Path) -> None:
    inner = table([["inner a", "inner b"]])
    body = f"<w:tbl><w:tr><w:tc>{p('outer')}{inner}</w:tc></w:tr></w:tbl>"
    assert texts(tmp_path, body) == ["outer inner a | inner b"]


def test_list_markers(tmp_path: Path) -> None:
    body = (
        p("First", num=(1, 0))
        + p("Sub one", num=(1, 1))
        + p("Sub two", num=(1, 1))
        + p("Second", num=(1, 0))
        + p("Sub again", num=(1, 1))
        + p("Bullet", num=(2, 0))
        + p("Roman", num=(3, 0))
    )
    assert texts(tmp_path, body) == [
        "1. First",
        "a) Sub one",
        "b) Sub two",
        "2. Second",
        "a) Sub again",
        "• Bullet",
        "I. Roman",
    ]


def test_hyperlink_text(tmp_path: Path) -> None:
    runs = r("See ") + f'<w:hyperlink r:id="rId9">{r("the policy")}</w:hyperlink>' + r(".")
    assert texts(tmp_path, p(runs=runs)) == ["See the policy."]


def test_content_controls_block_and_inline(tmp_path: Path) -> None:
    block_sdt = f"<w:sdt><w:sdtPr/><w:sdtContent>{p('In a block control')}</w:sdtContent></w:sdt>"
    inline = r("Owner: ") + f"<w:sdt><w:sdtPr/><w:sdtContent>{r('Jane Doe')}</w:sdtContent></w:sdt>"
    assert texts(tmp_path, block_sdt + p(runs=inline)) == ["In a block control", "Owner: Jane Doe"]


def test_text_box_read_once(tmp_path: Path) -> None:
    box = f"<w:txbxContent>{p('Boxed text')}</w:txbxContent>"
    alt = (
        "<mc:AlternateContent>"
        f'<mc:Choice Requires="wps"><w:drawing><wps:txbx>{box}</wps:txbx></w:drawing></mc:Choice>'
        f"<mc:Fallback><w:pict><v:textbox>{box}</v:textbox></w:pict></mc:Fallback>"
        "</mc:AlternateContent>"
    )
    body = p(runs=r("Host paragraph") + f"<w:r>{alt}</w:r>")
    assert texts(tmp_path, body) == ["Host paragraph", "Boxed text"]


def test_fallback_used_when_no_choice(tmp_path: Path) -> None:
    box = f"<w:txbxContent>{p('Only fallback')}</w:txbxContent>"
    alt = f"<mc:AlternateContent><mc:Fallback><w:pict><v:textbox>{box}</v:textbox></w:pict></mc:Fallback></mc:AlternateContent>"
    assert texts(tmp_path, p(runs=f"<w:r>{alt}</w:r>")) == ["Only fallback"]


def test_tracked_changes_read_as_accepted(tmp_path: Path) -> None:
    runs = (
        r("The limit is ")
        + '<w:del w:id="1" w:author="a"><w:r><w:delText>ten</w:delText></w:r></w:del>'
        + f'<w:ins w:id="2" w:author="a">{r("twenty")}</w:ins>'
        + f'<w:moveFrom w:id="3" w:author="a">{r(" moved-away")}</w:moveFrom>'
        + f'<w:moveTo w:id="4" w:author="a">{r(" euros")}</w:moveTo>'
    )
    doc = read_document(make_docx(tmp_path / "d.docx", p(runs=runs)))
    assert doc.blocks[0].text == "The limit is twenty euros"
    assert doc.has_tracked_changes


def test_deleted_table_row_is_dropped(tmp_path: Path) -> None:
    body = (
        "<w:tbl><w:tr>" + f"<w:tc>{p('kept')}</w:tc>" + "</w:tr>"
        '<w:tr><w:trPr><w:del w:id="1" w:author="a"/></w:trPr>'
        + f"<w:tc>{p('gone')}</w:tc></w:tr></w:tbl>"
    )
    assert texts(tmp_path, body) == ["kept"]


def test_field_result_not_code(tmp_path: Path) -> None:
    runs = (
        r("Page ")
        + '<w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        + '<w:r><w:instrText xml:space="preserve"> PAGE \\* MERGEFORMAT </w:instrText></w:r>'
        + '<w:r><w:fldChar w:fldCharType="separate"/></w:r>'
        + r("7")
        + '<w:r><w:fldChar w:fldCharType="end"/></w:r>'
        + f'<w:fldSimple w:instr=" NUMPAGES ">{r("12")}</w:fldSimple>'
    )
    assert texts(tmp_path, p(runs=runs)) == ["Page 712"]


def test_tabs_and_breaks(tmp_path: Path) -> None:
    runs = "<w:r><w:t>a</w:t><w:tab/><w:t>b</w:t><w:br/><w:t>c</w:t></w:r>"
    assert texts(tmp_path, p(runs=runs)) == ["a\tb\nc"]


def test_locators_count_every_paragraph_of_the_body(tmp_path: Path) -> None:
    body = p("zero") + p("") + table([["two"]]) + p("three")
    doc = read_document(make_docx(tmp_path / "d.docx", body))
    assert [(b.text, b.locator) for b in doc.blocks] == [
        ("zero", 0),
        ("", 1),
        ("two", 2),
        ("three", 3),
    ]


def test_form_fields_show_their_value(tmp_path: Path) -> None:
    runs = (
        '<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:checked/></w:checkBox>'
        "</w:ffData></w:fldChar></w:r><w:r><w:instrText> FORMCHECKBOX </w:instrText></w:r>"
        '<w:r><w:fldChar w:fldCharType="end"/></w:r>' + r(" Approved")
    )
    assert texts(tmp_path, p(runs=runs)) == ["☒ Approved"]


def test_special_characters_survive(tmp_path: Path) -> None:
    assert texts(tmp_path, p("R&D <costs> “quoted” 🚀 naïve")) == ["R&D <costs> “quoted” 🚀 naïve"]


# -- the plain-paragraph fast path reads exactly as the full walk ----------------------------
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_PIECES = {
    "t": '<w:t xml:space="preserve">{}</w:t>',
    "tab": "<w:tab/>",
    "br": "<w:br/>",
    "hyphen": "<w:noBreakHyphen/>",
    "bold": '<w:rPr><w:b w:val="{}"/><w:u w:val="single"/><w:sz w:val="28"/></w:rPr>',
    "instr": "<w:instrText>PAGE</w:instrText>",
    "begin": '<w:fldChar w:fldCharType="begin"/>',
    "separate": '<w:fldChar w:fldCharType="separate"/>',
    "end": '<w:fldChar w:fldCharType="end"/>',
    "sym": '<w:sym w:char="F0FC"/>',
    "box": "<w:drawing><w:txbxContent><w:p><w:r><w:t>boxed</w:t></w:r></w:p></w:txbxContent>"
    "</w:drawing>",
}
_WRAPPERS = ["{}", "<w:hyperlink>{}</w:hyperlink>", "<w:ins>{}</w:ins>", "<w:del>{}</w:del>"]


@st.composite
def _paragraph_xml(draw: st.DrawFn) -> str:
    runs = []
    for _ in range(draw(st.integers(0, 5))):
        pieces = draw(st.lists(st.sampled_from(sorted(_PIECES)), max_size=4))
        inner = "".join(
            _PIECES[p].format(
                draw(st.sampled_from(["word", " ", "", "two words "]))
                if p == "t"
                else draw(st.sampled_from(["1", "0"]))
            )
            for p in pieces
        )
        run = f"<w:r>{inner}</w:r>"
        runs.append(draw(st.sampled_from(_WRAPPERS)).format(run))
        if draw(st.booleans()):
            runs.append('<w:bookmarkStart w:id="1" w:name="b"/><w:proofErr/>')
    return f'<w:p xmlns:w="{_W}">{"".join(runs)}</w:p>'


@settings(max_examples=300, deadline=None)
@given(_paragraph_xml(), st.booleans())
def test_plain_paragraphs_read_as_the_full_walk_reads_them(xml: str, style_bold: bool) -> None:
    from lxml import etree

    from prism_cli.word import reader
    from prism_cli.word.styles import StyleSheet

    p = etree.fromstring(xml)
    look = reader._Look(style_bold, False, False, 22)
    full = reader._Collector(StyleSheet.parse(None), look)
    full.walk(p)
    plain = reader._plain_text(p)
    if plain is None:
        return  # read by the full walk only
    assert full.text_boxes == []
    assert plain[0] == "".join(full.parts)
    fast = reader._Collector(StyleSheet.parse(None), look)
    for rpr, visible in plain[1]:
        fast.count(rpr, visible)
    counts = ("chars", "bold_chars", "underline_chars", "caps_chars", "sizes")
    assert [getattr(fast, c) for c in counts] == [getattr(full, c) for c in counts]


def test_the_fast_path_takes_plain_runs_and_hyperlinks_and_leaves_fields() -> None:
    from lxml import etree

    from prism_cli.word import reader

    plain = etree.fromstring(
        f'<w:p xmlns:w="{_W}"><w:r><w:t>Go </w:t></w:r>'
        "<w:hyperlink><w:r><w:rPr><w:b/></w:rPr><w:t>here</w:t><w:tab/></w:r></w:hyperlink></w:p>"
    )
    taken = reader._plain_text(plain)
    assert taken is not None
    assert taken[0] == "Go here\t"
    assert [visible for _, visible in taken[1]] == [2, 4]
    field = etree.fromstring(
        f'<w:p xmlns:w="{_W}"><w:r><w:fldChar w:fldCharType="begin"/></w:r></w:p>'
    )
    assert reader._plain_text(field) is None

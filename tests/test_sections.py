"""Section detection: every rule of DESIGN.md "Sections", on documents built in code."""

from __future__ import annotations

from pathlib import Path

from docbuilder import make_docx, p, r, table
from prism_cli.core.document import Section
from prism_cli.core.sections import split_sections
from prism_cli.word.reader import read_document

BODY = "This paragraph is ordinary body text that explains the situation in detail."


def sections_of(tmp_path: Path, body: str) -> list[Section]:
    doc = read_document(make_docx(tmp_path / "d.docx", body))
    return split_sections(doc.blocks)


def titles(sections: list[Section]) -> list[tuple[str, int, str]]:
    return [(s.title, s.level, s.detected_by) for s in sections]


def test_outline_level_on_paragraph(tmp_path: Path) -> None:
    secs = sections_of(tmp_path, p("Scope", outline=0) + p(BODY) + p("Detail", outline=1) + p(BODY))
    assert titles(secs) == [("Scope", 1, "outline"), ("Detail", 2, "outline")]
    assert secs[1].parent_id == secs[0].id


def test_outline_level_from_style_chain(tmp_path: Path) -> None:
    secs = sections_of(
        tmp_path, p("Intro", style="Heading1") + p(BODY) + p("Sub", style="Heading2") + p(BODY)
    )
    assert titles(secs) == [("Intro", 1, "style"), ("Sub", 2, "style")]


def test_body_text_outline_level_beats_heading_style(tmp_path: Path) -> None:
    # BodyTextOutline9 is based on Heading1 but declares outline level 9 (body text).
    body = (
        p("Real", style="Heading1")
        + p(BODY)
        + p("Not a heading", style="BodyTextOutline9")
        + p(BODY)
    )
    assert [s.title for s in sections_of(tmp_path, body)] == ["Real"]


def test_localised_style_names_and_ids(tmp_path: Path) -> None:
    body = (
        p("Einleitung", style="berschrift1")
        + p(BODY)
        + p("Contexte", style="Titre2")
        + p(BODY)
        + p("Details", style="Kop3")
        + p(BODY)
        + p("Введение", style="Zagolovok1")
        + p(BODY)
    )
    assert titles(sections_of(tmp_path, body)) == [
        ("Einleitung", 1, "style"),
        ("Contexte", 2, "style"),
        ("Details", 3, "style"),
        ("Введение", 1, "style"),
    ]


def test_heading_style_through_based_on(tmp_path: Path) -> None:
    secs = sections_of(tmp_path, p("Findings", style="MyReportHeading") + p(BODY))
    assert titles(secs) == [("Findings", 1, "style")]


def test_title_and_preamble(tmp_path: Path) -> None:
    body = (
        p("Prepared by the audit team.")
        + p("Annual Review", style="Title")
        + p(BODY)
        + p("Scope", style="Heading1")
        + p(BODY)
    )
    secs = sections_of(tmp_path, body)
    assert titles(secs) == [
        ("Preamble", 0, "preamble"),
        ("Annual Review", 0, "title"),
        ("Scope", 1, "style"),
    ]
    assert secs[0].text == "Prepared by the audit team."
    assert secs[2].parent_id == secs[1].id


def test_no_preamble_when_nothing_before_first_heading(tmp_path: Path) -> None:
    secs = sections_of(tmp_path, p("") + p("Scope", style="Heading1") + p(BODY))
    assert [s.title for s in secs] == ["Scope"]


def test_bold_lines_when_no_structural_heading(tmp_path: Path) -> None:
    body = p("Executive Summary", bold=True) + p(BODY) + p("Background", bold=True) + p(BODY)
    secs = sections_of(tmp_path, body)
    assert titles(secs) == [("Executive Summary", 1, "bold"), ("Background", 1, "bold")]
    assert secs[0].text == BODY


def test_bold_from_paragraph_style(tmp_path: Path) -> None:
    body = p("Overview", style="StrongParaB") + p(BODY) + p("Risks", style="StrongParaB") + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Overview", 1, "bold"), ("Risks", 1, "bold")]


def test_a_look_met_once_is_not_enough_alone(tmp_path: Path) -> None:
    # One bold line in running text is emphasis; larger, or bold and centred, stands out.
    body = p(BODY) + p("Please note", bold=True) + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_bold_lines_ignored_when_document_has_heading_styles(tmp_path: Path) -> None:
    body = p("Scope", style="Heading1") + p(BODY) + p("Important note", bold=True) + p(BODY)
    assert [s.title for s in sections_of(tmp_path, body)] == ["Scope"]


def test_numbered_lines_with_depth(tmp_path: Path) -> None:
    body = (
        p("1. Introduction")
        + p(BODY)
        + p("1.1 Scope of work")
        + p(BODY)
        + p("2. Findings")
        + p(BODY)
    )
    secs = sections_of(tmp_path, body)
    assert titles(secs) == [
        ("Introduction", 1, "numbered"),
        ("Scope of work", 2, "numbered"),
        ("Findings", 1, "numbered"),
    ]
    assert [s.number for s in secs] == ["1.", "1.1", "2."]
    assert [s.heading for s in secs] == ["1. Introduction", "1.1 Scope of work", "2. Findings"]


def test_all_caps_lines(tmp_path: Path) -> None:
    body = p("GENERAL INFORMATION") + p(BODY) + p("RISKS") + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [
        ("GENERAL INFORMATION", 1, "caps"),
        ("RISKS", 1, "caps"),
    ]


def test_guard_terminal_period(tmp_path: Path) -> None:
    body = p("This is a bold sentence.", bold=True) + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_guard_not_in_tables(tmp_path: Path) -> None:
    body = table([["RISK", "OWNER"], ["Fire", "Facilities"]]) + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_guard_must_be_followed_by_body_text(tmp_path: Path) -> None:
    body = p(BODY) + p("Signed", bold=True)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_guard_long_runs_of_short_lines_are_lists(tmp_path: Path) -> None:
    items = "".join(p(f"ITEM {n}") for n in ("ONE", "TWO", "THREE", "FOUR", "FIVE"))
    assert titles(sections_of(tmp_path, items + p(BODY))) == [("Document", 1, "none")]


def test_guard_cjk_sentences(tmp_path: Path) -> None:
    body = p("本公司在参加采购编号为的政府采购活动中郑重声明如下内容和条款", bold=True) + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_guard_bullet_items_are_not_headings(tmp_path: Path) -> None:
    body = p("Short bold bullet", bold=True, num=(2, 0)) + p(BODY)
    assert titles(sections_of(tmp_path, body)) == [("Document", 1, "none")]


def test_whole_document_and_empty_document(tmp_path: Path) -> None:
    assert titles(sections_of(tmp_path, p(BODY) + p(BODY))) == [("Document", 1, "none")]
    assert sections_of(tmp_path, p("") + p("   ")) == []


def test_long_heading_text_is_normalised(tmp_path: Path) -> None:
    secs = sections_of(tmp_path, p("Root   cause\tanalysis", style="Heading1") + p(BODY))
    assert secs[0].title == "Root cause analysis"


def test_a_stray_outline_level_on_cover_and_clauses_does_not_hide_the_real_headings(
    tmp_path: Path,
) -> None:
    # A contract whose template put outline levels on its cover lines and its numbered body
    # clauses; its real headings are bold numbered lines in capitals.
    clause = "Поставщик обязуется поставить товар в срок, указанный в спецификации к контракту."
    body = (
        p("КОНТРАКТ № 17/2026", outline=0, runs=r("КОНТРАКТ № 17/2026", bold=True))
        + p("г. Москва, 12 марта 2026 г.", outline=0)
        + p("1. ПРЕДМЕТ КОНТРАКТА", bold=True)
        + p(f"1.1. {clause}", outline=1)
        + p(f"1.2. {clause}", outline=1)
        + p("2. ЦЕНА КОНТРАКТА", bold=True)
        + p(f"2.1. {clause}", outline=1)
        + p("3. СРОК ДЕЙСТВИЯ", bold=True)
        + p(f"3.1. {clause}", outline=1)
    )
    secs = sections_of(tmp_path, body)
    assert [(s.number, s.title) for s in secs if s.detected_by != "preamble"] == [
        ("1.", "ПРЕДМЕТ КОНТРАКТА"),
        ("2.", "ЦЕНА КОНТРАКТА"),
        ("3.", "СРОК ДЕЙСТВИЯ"),
    ]


def test_labels_lead_ins_and_lettered_items_are_not_headings(tmp_path: Path) -> None:
    body = (
        p("Wydarzenie:", bold=True)
        + p("Konferencja naukowa")
        + p("Miejsce:", bold=True)
        + p("Kraków")
        + p("Opis", bold=True)
        + p(BODY)
        + p("Program", bold=True)
        + p("We are required to:")
        + p("keep the logs", num=(1, 1))
        + p("review them", num=(1, 1))
        + p(BODY)
    )
    assert [s.title for s in sections_of(tmp_path, body)] == ["Preamble", "Opis", "Program"]


def test_invisible_marks_and_a_custom_heading_style(tmp_path: Path) -> None:
    from docbuilder import styles_xml

    custom = '<w:style w:type="paragraph" w:styleId="MainHeading"><w:name w:val="Main Heading"/></w:style>'
    body = (
        p("Scope\u200f", style="MainHeading")
        + p(BODY)
        + p("Risks\u200e", style="MainHeading")
        + p(BODY)
    )
    doc = read_document(
        make_docx(tmp_path / "c.docx", body, parts={"word/styles.xml": styles_xml(custom)})
    )
    assert [(s.title, s.detected_by) for s in split_sections(doc.blocks)] == [
        ("Scope", "style"),
        ("Risks", "style"),
    ]


def test_a_lone_known_section_name_stands_out(tmp_path: Path) -> None:
    body = (
        p(BODY) + p(BODY) + p("References", bold=True) + p("Smith, J. (2020). A study of things.")
    )
    assert [s.title for s in sections_of(tmp_path, body)] == ["Preamble", "References"]


def test_a_heading_reads_as_the_document_writes_it(tmp_path: Path) -> None:
    # Number and title apart, and the heading line whole (prompts, SARIF and rules read it).
    body = p("Article 5 - Scope", bold=True) + p(BODY) + p("Article 6: Fees", bold=True) + p(BODY)
    secs = sections_of(tmp_path, body)
    assert [(s.number, s.title) for s in secs] == [("Article 5", "Scope"), ("Article 6", "Fees")]
    assert [s.heading for s in secs] == ["Article 5 - Scope", "Article 6: Fees"]


def test_a_bold_title_case_line_joins_a_document_whose_headings_are_bold(tmp_path: Path) -> None:
    from docbuilder import styles_xml

    big = '<w:style w:type="paragraph" w:styleId="Big"><w:name w:val="Big"/><w:rPr><w:b/><w:sz w:val="32"/></w:rPr></w:style>'
    body = (
        p("Overview", style="Big") + p(BODY)
        + p("Radiation Exposure Compensation Act", bold=True) + p(BODY)
        + p("Program Description", style="Big") + p(BODY)
    )  # fmt: skip
    doc = read_document(
        make_docx(tmp_path / "b.docx", body, parts={"word/styles.xml": styles_xml(big)})
    )
    titles_found = [s.title for s in split_sections(doc.blocks)]
    assert titles_found == [
        "Overview",
        "Radiation Exposure Compensation Act",
        "Program Description",
    ]


def test_lettered_headings_c_and_d_are_letters_not_roman_numerals(tmp_path: Path) -> None:
    body = "".join(
        p(f"{x}. {t}") + p(BODY)
        for x, t in zip("ABCD", ["PURPOSE", "ROLE", "DUTIES", "PLEDGE"], strict=True)
    )
    secs = sections_of(tmp_path, body)
    assert [(s.number, s.title, s.level) for s in secs] == [
        ("A.", "PURPOSE", 1),
        ("B.", "ROLE", 1),
        ("C.", "DUTIES", 1),
        ("D.", "PLEDGE", 1),
    ]

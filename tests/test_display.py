"""What a person reads at 80 columns: sessions listed and shown, a note said once, the
framework's expected sections only where they fit the kind of document."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from prism_cli.core.document import Block, BlockKind, Section
from prism_cli.core.rules import document_kind


def offline(tmp_path: Path, name: str, body: str) -> None:
    path = make_docx(tmp_path / name, body)
    result = run_prism("review", str(path), "--offline", "-f", "json", cwd=tmp_path)
    assert result.code in (0, 1), result.stderr


def test_sessions_list_at_80_columns_keeps_names_apart_and_the_time(tmp_path: Path) -> None:
    body = p("Scope", style="Heading1") + p("The registry holds every brand.")
    offline(tmp_path, "brand_registry_guidelines_2026_v1.docx", body)
    offline(tmp_path, "brand_registry_guidelines_2026_v2.docx", body + p("One more line."))
    listed = run_prism("sessions", "list", "-f", "table", cwd=tmp_path, env={"COLUMNS": "80"})
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), listed.stdout
    names: list[str] = []
    for line in lines:
        cells = line.split("│")
        if len(cells) < 4:
            continue
        if cells[1].strip():  # a row starts where its id is
            names.append("")
        if names:
            names[-1] += cells[2].strip()
    assert sorted(names) == [
        "brand_registry_guidelines_2026_v1.docx",
        "brand_registry_guidelines_2026_v2.docx",
    ]
    import re

    assert len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d", listed.stdout)) == 2


def test_sessions_show_wraps_at_words_on_a_terminal(tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    long_title = "The budget line " + " ".join(f"word{i}" for i in range(30)) + " is open."
    offline(tmp_path, "plan.docx", p("Plan", style="Heading1") + p("The budget is TBD."))
    added = run_prism("feedback", "plan.docx", "add", "--section", "s1", "--title", long_title,
                      "text", cwd=tmp_path)  # fmt: skip
    assert added.code == 0, added.stderr
    child = pexpect.spawn(
        sys.executable, ["-m", "prism_cli", "sessions", "show", "plan.docx"],
        cwd=str(tmp_path), env={**os.environ, "TERM": "xterm"}, encoding="utf-8",
        timeout=30, dimensions=(40, 80),
    )  # fmt: skip
    child.expect(pexpect.EOF)
    out = child.before.replace("\r", "")
    lines = out.splitlines()
    assert lines, out
    assert all(len(line) <= 80 for line in lines), out
    # Every word of the title is whole on some line: nothing is cut mid-word.
    words = {w.rstrip(".,") for line in lines for w in line.split()}
    assert {f"word{i}" for i in range(30)} <= words, out
    assert "activity:" in words


def test_feedback_says_critical_is_a_type(tmp_path: Path) -> None:
    offline(tmp_path, "plan.docx", p("Plan", style="Heading1") + p("The budget is TBD."))
    result = run_prism(
        "feedback", "plan.docx", "add", "--severity", "critical", "Owner missing", cwd=tmp_path
    )
    assert result.code == 2
    assert "--severity must be one of high, medium, low (critical is a --type)" in result.stderr


def sections(*titles: str) -> list[Section]:
    return [
        Section(f"s{i + 1}", i, t, 1, i * 2, (Block(BlockKind.PARAGRAPH, "Text.", i * 2 + 1),))
        for i, t in enumerate(titles)
    ]


@pytest.mark.parametrize(
    ("titles", "kind"),
    [
        (("Summary", "Timeline", "Root Cause", "Actions"), "investigation"),
        (("Incident overview", "Impact", "Next steps"), "investigation"),
        (("Risk Assessment", "Risk register", "Mitigations"), "risk"),
        (("Statement of Work", "Deliverables", "Payment terms"), "other"),
        (("招标公告", "投标人须知", "评标办法"), "other"),
    ],
)
def test_the_kind_of_a_document_comes_from_its_headings(titles: tuple[str, ...], kind: str) -> None:
    assert document_kind(sections(*titles)) == kind


def test_a_statement_of_work_gets_no_missing_timeline(tmp_path: Path) -> None:
    import json

    body = "".join(
        p(t, style="Heading1") + p(f"{t} text of the agreement, with enough words to count.")
        for t in ("Statement of Work", "Deliverables", "Acceptance", "Payment terms")
    )
    path = make_docx(tmp_path / "sow.docx", body)
    result = run_prism("review", str(path), "--offline", "-f", "json", cwd=tmp_path)
    titles = [f["title"] for f in json.loads(result.stdout)["documents"][0]["findings"]]
    assert not [t for t in titles if t.startswith("No section for")], titles
    incident = "".join(
        p(t, style="Heading1") + p(f"{t}: what the team found, with enough words to count.")
        for t in ("Incident summary", "Impact", "Actions")
    )
    path = make_docx(tmp_path / "incident.docx", incident)
    result = run_prism("review", str(path), "--offline", "-f", "json", cwd=tmp_path)
    titles = [f["title"] for f in json.loads(result.stdout)["documents"][0]["findings"]]
    assert "No section for: Timeline" in titles


def test_a_note_of_the_region_is_said_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from prism_cli.cli.notes import first_time

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    note = "global.anthropic.claude-sonnet-5-5: no sa-east-1 profile; global"
    assert first_time(note) is True
    assert first_time(note) is False
    assert first_time(note.replace("sa-east-1", "me-south-1")) is True


def test_a_bracketed_document_name_is_listed_literally(tmp_path: Path) -> None:
    name = "[bold]plan[red] x.docx"
    offline(tmp_path, name, p("Scope", style="Heading1") + p("[/b] All of it."))
    listed = run_prism("sessions", "list", "-f", "table", cwd=tmp_path, env={"COLUMNS": "200"})
    assert listed.code == 0, listed.stderr
    assert name in listed.stdout
    sections = run_prism("sections", name, "-f", "table", cwd=tmp_path, env={"COLUMNS": "200"})
    assert sections.code == 0, sections.stderr
    assert name in sections.stdout


def test_a_framework_that_names_no_kind_expects_its_sections_of_any_document(
    tmp_path: Path,
) -> None:
    import json

    (tmp_path / "sow.toml").write_text(
        'name = "statements of work"\n[[checkpoints]]\nid = "W1"\ntitle = "Payment schedule"\n'
        'description = "When and how much is paid."\nexpects_section = ["payment schedule"]\n'
    )
    body = "".join(p(t, style="Heading1") + p(f"{t} text.") for t in ("Scope", "Terms", "Fees"))
    path = make_docx(tmp_path / "sow.docx", body)
    result = run_prism(
        "review", str(path), "--offline", "-f", "json", "--framework", "sow.toml", cwd=tmp_path
    )
    titles = [f["title"] for f in json.loads(result.stdout)["documents"][0]["findings"]]
    assert "No section for: Payment schedule" in titles


def test_the_default_framework_is_unchanged() -> None:
    """Its digest is in every cached result's key: an edit re-reviews every user's documents.
    Change it on purpose (and say so in the changelog), then update this digest."""
    from prism_cli.app.inputs import load_framework

    assert load_framework(None).digest == "dff187f7a992ec13"


def test_sessions_list_at_60_columns_is_a_session_per_two_lines(tmp_path: Path) -> None:
    body = p("Scope", style="Heading1") + p("The registry holds every brand.")
    offline(tmp_path, "brand_registry_guidelines_2026_v1.docx", body)
    listed = run_prism("sessions", "list", "-f", "table", cwd=tmp_path, env={"COLUMNS": "60"})
    assert listed.code == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert all(len(line) <= 60 for line in lines), listed.stdout
    assert "  brand_registry_guidelines_2026_v1.docx" in lines
    facts = lines[lines.index("  brand_registry_guidelines_2026_v1.docx") - 1]
    assert "offline" in facts
    assert "0/1 done" in facts

"""``prism sections`` end to end, as a user runs it (subprocess), with exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, run_prism
from docbuilder import make_docx, p, styles_xml, table


def test_json_envelope(tmp_path: Path) -> None:
    doc = make_docx(
        tmp_path / "a.docx", p("Scope", style="Heading1") + p("Body text.") + table([["a", "b"]])
    )
    result = run_prism("sections", str(doc), "--format", "json")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    data = json.loads(result.stdout)
    assert data["schema_version"] == 1
    (document,) = data["documents"]
    assert document["path"] == str(doc)
    assert len(document["sha256"]) == 64
    (section,) = document["sections"]
    assert {k: section[k] for k in ("id", "index", "title", "level", "text")} == {
        "id": "s1",
        "index": 0,
        "title": "Scope",
        "level": 1,
        "text": "Body text.\na | b",
    }


def test_piped_output_defaults_to_json(tmp_path: Path) -> None:
    doc = make_docx(tmp_path / "a.docx", p("Body"))
    assert (
        json.loads(run_prism("sections", str(doc)).stdout)["documents"][0]["sections"][0]["text"]
        == "Body"
    )


def test_markdown_and_table(tmp_path: Path) -> None:
    doc = make_docx(tmp_path / "a.docx", p("Scope", style="Heading1") + p("Body text."))
    md = run_prism("sections", str(doc), "-f", "markdown")
    assert md.code == 0
    assert f"# {doc}\n\n## Scope\n\nBody text." in md.stdout
    tbl = run_prism("sections", str(doc), "-f", "table")
    assert tbl.code == 0
    assert "Scope" in tbl.stdout
    assert "s1" in tbl.stdout


def test_directories_globs_and_lock_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    make_docx(tmp_path / "a.docx", p("A"))
    make_docx(tmp_path / "sub" / "b.docm", p("B"))
    make_docx(tmp_path / "sub" / "c.dotx", p("C"))
    make_docx(tmp_path / "~$a.docx", p("lock"))
    (tmp_path / "notes.txt").write_text("ignored")
    data = json.loads(run_prism("sections", str(tmp_path)).stdout)
    assert sorted(Path(d["path"]).name for d in data["documents"]) == ["a.docx", "b.docm", "c.dotx"]
    data = json.loads(run_prism("sections", str(tmp_path / "**" / "*.docm")).stdout)
    assert [Path(d["path"]).name for d in data["documents"]] == ["b.docm"]


def test_batch_goes_on_after_bad_files(tmp_path: Path) -> None:
    good = make_docx(tmp_path / "good.docx", p("Fine"))
    bad = tmp_path / "bad.docx"
    bad.write_text("nope")
    result = run_prism("sections", str(bad), str(tmp_path / "missing.docx"), str(good))
    assert result.code == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'missing.docx'}: no such file or directory",
        f"error: {bad}: not a Word document (not a zip-based .docx package)",
    ]
    assert "Traceback" not in result.stderr
    assert [d["path"] for d in json.loads(result.stdout)["documents"]] == [str(good)]


def test_usage_error_exit_code() -> None:
    result = run_prism("sections", "--format", "yaml", "x.docx")
    assert result.code == 2
    assert "Traceback" not in result.stderr


def test_version_and_module_entry_point() -> None:
    from prism_cli import __version__

    result = run_prism("--version")
    assert (result.code, result.stdout) == (0, f"prism {__version__}\n")


def test_shipped_examples(tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "investigation.docx", tmp_path)
    data = json.loads(run_prism("sections", str(tmp_path / "investigation.docx")).stdout)
    titles = [s["title"] for s in data["documents"][0]["sections"]]
    assert titles[:4] == ["Preamble", "Executive Summary", "Background", "Timeline of Events"]


def test_the_plain_forms_run_without_typer_and_say_what_the_app_says(tmp_path: Path) -> None:
    """The entry point runs ``prism sections`` itself for its plain forms (typer's import is a
    third of reading a 300-page document); every form answers as the Typer app does."""
    import subprocess
    import sys

    doc = make_docx(tmp_path / "a.docx", p("Scope", style="Heading1") + p("Body text."))
    (tmp_path / "-odd.docx").write_bytes(doc.read_bytes())
    (tmp_path / "broken.docx").write_bytes(b"not a zip")
    forms = [
        ["sections", "a.docx", "-f", "json"],
        ["sections", "-f", "markdown", "a.docx"],
        ["sections", "a.docx", "--format=table", "-q"],
        ["sections", ".", "--format", "json"],
        ["sections", "a.docx", "broken.docx", "missing.docx", "-f", "json"],
        ["sections", "--", "-odd.docx"],
        ["sections", "a.docx", "-f", "yaml"],
        ["sections", "a.docx", "--fromat", "json"],
        ["sections", "-f", "json"],
        ["sections", "a.docx", "-h"],
    ]
    for argv in forms:
        fast = run_prism(*argv, cwd=tmp_path, env={"COLUMNS": "100"})
        app = run_prism(*argv, cwd=tmp_path, env={"COLUMNS": "100"}, typer_app=True)
        assert (fast.code, fast.stdout, fast.stderr) == (app.code, app.stdout, app.stderr), argv
    code = (
        "import sys\nsys.argv = ['prism', 'sections', 'a.docx', '-f', 'json']\n"
        "from prism_cli.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TYPER=' + str('typer' in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True
    )
    assert out.stdout.strip().splitlines()[-1] == "TYPER=False"
    (tmp_path / "prism.toml").write_text("[reveiw]\n")  # a config: the app checks it, and warns
    warned = run_prism("sections", "a.docx", "-f", "json", cwd=tmp_path)
    assert "unknown section [reveiw]" in warned.stderr


BODY_TEXT = "This paragraph is ordinary body text that explains the situation in detail."


def test_explain_says_why_each_heading_was_taken_and_each_near_miss_left(tmp_path: Path) -> None:
    body = (
        p("Annual Review", style="Title")
        + p("1. Scope", bold=True)
        + p(BODY_TEXT)
        + p("Goal: keep the logs for seven years", bold=True, outline=1)
        + p(BODY_TEXT)
        + p("2. Findings", bold=True)
        + p(BODY_TEXT)
        + p("Please note", bold=True)
        + p(BODY_TEXT)
    )
    make_docx(tmp_path / "plan.docx", body)
    result = run_prism("sections", "plan.docx", "-f", "json", "--explain", cwd=tmp_path)
    assert result.code == 0, result.stderr
    (document,) = json.loads(result.stdout)["documents"]
    assert document["title"] == "Annual Review"
    assert [(s["number"], s["title"]) for s in document["sections"]] == [
        ("1.", "Scope"),
        ("2.", "Findings"),
    ]
    why = {v["text"]: (v["heading"], v["why"]) for v in document["explain"]}
    assert why["1. Scope"][0] is True
    assert "2 lines look like this" in why["1. Scope"][1]
    assert why["Goal: keep the logs for seven years"] == (False, "a label and its value (Goal: …)")
    assert why["Please note"] == (False, "its look is met once, and is not enough alone")
    assert why["Annual Review"] == (False, "part of the document's title")
    # The table shows the same, with each line's text literal (a bracket is not markup).
    make_docx(tmp_path / "b.docx", p("[bold]Odd[/bold] heading", style="Heading1") + p(BODY_TEXT))
    table = run_prism("sections", "b.docx", "-f", "table", "--explain", cwd=tmp_path)
    assert "why these headings" in table.stdout
    assert "[bold]Odd[/bold] heading" in table.stdout
    # Without --explain, no explanation.
    plain = run_prism("sections", "plan.docx", "-f", "json", cwd=tmp_path)
    assert "explain" not in json.loads(plain.stdout)["documents"][0]


def test_sections_config_changes_the_rules_without_code(tmp_path: Path) -> None:
    custom = '<w:style w:type="paragraph" w:styleId="BigLine"><w:name w:val="Big Line"/></w:style>'
    body = (
        p("Purpose", style="BigLine")
        + p(BODY_TEXT)
        + p("1. Scope")
        + p(BODY_TEXT)
        + p("2. Method")
        + p(BODY_TEXT)
    )
    make_docx(tmp_path / "d.docx", body, parts={"word/styles.xml": styles_xml(custom)})

    def titles() -> list[str]:
        result = run_prism("sections", "d.docx", "-f", "json", cwd=tmp_path)
        assert result.code == 0, result.stderr
        return [s["title"] for s in json.loads(result.stdout)["documents"][0]["sections"]]

    assert titles() == ["Preamble", "Scope", "Method"]  # typed numbers; "Big Line" is no heading
    (tmp_path / "prism.toml").write_text('[sections]\nnumbered_headings = false\nformat = "json"\n')
    assert titles() == ["Document"]
    (tmp_path / "prism.toml").write_text('[sections]\nheading_styles = ["Big Line"]\n')
    assert titles() == ["Purpose"]  # its styled heading is the document's habit
    # The rules travel with the review's session (a worker splits as the run did).
    result = run_prism("review", "d.docx", "--offline", "-f", "json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert [s["title"] for s in json.loads(result.stdout)["documents"][0]["sections"]] == [
        "Purpose"
    ]
    # A bad value names the file, the line and the key; nothing is split by a guess.
    (tmp_path / "prism.toml").write_text('[sections]\nnumbered_headings = "sometimes"\n')
    bad = run_prism("sections", "d.docx", "-f", "json", cwd=tmp_path)
    assert bad.code == 4
    assert bad.stderr.startswith(
        f"error: {tmp_path / 'prism.toml'}:2: [sections] numbered_headings"
    )
    assert bad.stdout == ""
    # An unknown key is a warning with a suggestion.
    (tmp_path / "prism.toml").write_text("[sections]\nheading_style = []\n")
    warned = run_prism("sections", "d.docx", "-f", "json", cwd=tmp_path)
    assert "unknown key 'heading_style' in [sections]; did you mean 'heading_styles'?" in (
        warned.stderr
    )

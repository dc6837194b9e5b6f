"""``prism sections`` end to end, as a user runs it (subprocess), with exit codes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, run_prism
from docbuilder import make_docx, p, table


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

"""Decisions kept in the repository: `prism baseline` writes the reviewer's decisions, a
review in CI honours them, and a moved document keeps them."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_prism
from docbuilder import make_docx, p


def plan(path: Path) -> Path:
    body = (
        p("Summary", style="Heading1") + p("Payments were sent twice on Monday; TBD who pays.")
        + p("Actions", style="Heading1") + p("Remove the cron entry. Owner TBD.")
    )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_docx(path, body)


def findings(result_stdout: str) -> list[dict[str, object]]:
    (document,) = json.loads(result_stdout)["documents"]
    return list(document["findings"])


def test_a_rejected_finding_travels_with_the_document_in_the_baseline(tmp_path: Path) -> None:
    doc = plan(tmp_path / "docs" / "plan.docx")
    first = run_prism(
        "review", str(doc), "--offline", "-f", "json", "--fail-on", "medium", cwd=tmp_path
    )
    assert first.code == 1, first.stderr  # placeholders are findings at or above medium
    found = findings(first.stdout)
    placeholders = [f for f in found if f.get("rule") == "placeholder"]
    assert len(placeholders) == 2
    rejected = str(placeholders[0]["id"])
    done = run_prism("feedback", str(doc), "reject", rejected, cwd=tmp_path)
    assert done.code == 0, done.stderr
    wrote = run_prism(
        "baseline", str(doc), "--why", "agreed with finance", "--who", "ana", cwd=tmp_path
    )
    assert wrote.code == 0, wrote.stderr
    held = json.loads((tmp_path / ".prism" / "baseline.json").read_text())
    (entry,) = held["findings"]
    assert entry["status"] == "rejected"
    assert (entry["who"], entry["why"]) == ("ana", "agreed with finance")
    assert entry["document"] == "docs/plan.docx" or entry["document"].endswith("docs/plan.docx")
    assert len(entry["fingerprint"]) == 32

    # CI, another store (the cache is cold), the document moved to another folder: the
    # baseline at the repository's top is read, the rejected finding fails nothing.
    moved = tmp_path / "archive" / "2026" / "plan.docx"
    moved.parent.mkdir(parents=True)
    doc.rename(moved)
    env = {"XDG_DATA_HOME": str(tmp_path / "ci-data")}
    again = run_prism(
        "review",
        str(moved),
        "--offline",
        "-f",
        "json",
        "--fail-on",
        "medium",
        env=env,
        cwd=tmp_path,
    )
    assert sorted(f["status"] for f in findings(again.stdout)) == ["open", "open", "rejected"]
    marked = [f for f in findings(again.stdout) if f.get("baseline")]
    assert [(f["status"], f["baseline"]["why"]) for f in marked] == [
        ("rejected", "agreed with finance")
    ]
    assert "1 known finding (1 rejected), 2 new" in again.stderr
    # Only what the baseline does not know: the other placeholder, still failing.
    new = run_prism(
        "review", str(moved), "--offline", "-f", "json", "--fail-on", "medium", "--new-only",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert new.code == 1
    ids = [f["id"] for f in findings(new.stdout)]
    assert rejected not in ids
    assert len([f for f in findings(new.stdout) if f.get("rule") == "placeholder"]) == 1
    # Rejecting the second too and writing the baseline again: nothing fails any more.
    second = str(placeholders[1]["id"])
    assert run_prism("feedback", str(moved), "reject", second, cwd=tmp_path).code == 0
    assert run_prism("baseline", str(moved), "--who", "ana", cwd=tmp_path).code == 0
    held = json.loads((tmp_path / ".prism" / "baseline.json").read_text())
    assert sorted(e["status"] for e in held["findings"]) == ["rejected", "rejected"]
    clean = run_prism(
        "review", str(moved), "--offline", "-f", "json", "--fail-on", "medium", "--new-only",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    assert all(f.get("rule") != "placeholder" for f in findings(clean.stdout))


def test_new_only_without_a_baseline_says_so(tmp_path: Path) -> None:
    doc = plan(tmp_path / "plan.docx")
    result = run_prism("review", str(doc), "--offline", "--new-only", cwd=tmp_path)
    assert result.code == 2
    assert "--new-only needs a baseline" in result.stderr
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = run_prism("review", str(doc), "--offline", "--baseline", str(bad), cwd=tmp_path)
    assert result.code == 2
    assert f"{bad}: not a prism baseline" in result.stderr
    # `prism baseline --file` at a Word file or a folder: one line, and nothing written over.
    before = doc.read_bytes()
    wrong = run_prism("baseline", str(doc), "--file", str(doc), cwd=tmp_path)
    assert wrong.code == 2
    assert wrong.stderr.strip() == f"error: {doc}: not a prism baseline (not UTF-8 text)"
    assert doc.read_bytes() == before
    folder = run_prism("baseline", str(doc), "--file", ".", cwd=tmp_path)
    assert folder.code == 2
    assert "Traceback" not in folder.stderr

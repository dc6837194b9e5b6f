"""CI outputs a code-scanning or CI owner can rely on: stable fingerprints, bounded rule ids,
repository-relative paths, bad inputs reported everywhere, several formats in one run."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
from sarif_check import github_problems

RULE_IDS = re.compile(
    r"^prism/(rules/[a-z0-9-]+|framework/P\d+|model/(critical|important|suggestion|positive)"
    r"|reviewer)$"
)


def incident(path: Path, summary: str = "Payments were sent twice on Monday.") -> Path:
    body = (
        p("Summary", style="Heading1") + p(summary)
        + p("Root Cause", style="Heading1") + p("The legacy cron entry ran after the failover.")
        + p("Actions", style="Heading1") + p("Remove the cron entry. Owner TBD.")
    )  # fmt: skip
    return make_docx(path, body)


def sarif(*args: str, cwd: Path) -> dict[str, Any]:
    result = run_prism("review", *args, "-f", "sarif", "--region", "us-east-1", cwd=cwd)
    assert result.code in (0, 1), result.stderr
    return dict(json.loads(result.stdout))


def fingerprints(report: dict[str, Any], section: str) -> set[str]:
    return {
        r["partialFingerprints"]["prismFinding/v3"]
        for r in report["runs"][0]["results"]
        if r["locations"][0]["logicalLocations"][0]["name"] == section
    }


def test_fingerprints_survive_an_edit_elsewhere(bedrock: FakeBedrock, tmp_path: Path) -> None:
    before = sarif(str(incident(tmp_path / "a.docx")), cwd=tmp_path)
    edited = incident(tmp_path / "a.docx", "Payments were sent twice on Monday and Tuesday.")
    after = sarif(str(edited), cwd=tmp_path)
    for section in ("Root Cause", "Actions"):
        assert fingerprints(before, section)
        assert fingerprints(before, section) == fingerprints(after, section)
    # The edited section's model finding quotes the new text: a new alert, honestly.
    assert fingerprints(before, "Summary") != fingerprints(after, "Summary")


def test_rule_ids_come_from_a_fixed_set(bedrock: FakeBedrock, tmp_path: Path) -> None:
    def odd(_model: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
        base = {
            "severity": "low", "type": "suggestion", "title": "Clarify", "description": "d",
            "quote": text.split("\n")[0][:30], "confidence": 0.95, "framework_refs": [],
        }  # fmt: skip
        return [
            {**base, "category": "Consider clarifying this point (category 476)."},
            {**base, "category": "", "title": "Empty category"},
            {**base, "category": "x", "title": "Refers to P3", "framework_refs": ["P3"]},
            {**base, "category": "y", "title": "Refers to nothing", "framework_refs": ["Q99"]},
        ]

    bedrock.findings = odd
    run = sarif(str(incident(tmp_path / "a.docx")), cwd=tmp_path)["runs"][0]
    ids = {r["ruleId"] for r in run["results"]}
    assert ids
    assert all(RULE_IDS.match(i) for i in ids), ids
    assert "prism/framework/P3" in ids
    assert "prism/model/suggestion" in ids
    described = {r["id"]: r["shortDescription"]["text"] for r in run["tool"]["driver"]["rules"]}
    assert set(described) == ids
    assert all(text for text in described.values())


def test_paths_are_relative_to_the_repository_and_encoded(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    repo = tmp_path / "repo"
    (repo / "docs" / "Q3 plans").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    doc = incident(repo / "docs" / "Q3 plans" / "incident #1.docx")
    # Run from a subfolder, with a relative path: the URI is still from the repository root.
    run = sarif("Q3 plans/incident #1.docx", cwd=repo / "docs")["runs"][0]
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "docs/Q3%20plans/incident%20%231.docx", "uriBaseId": "%SRCROOT%"}
    assert run["originalUriBaseIds"]["%SRCROOT%"]["uri"].endswith("/repo/")
    github = run_prism(
        "review", str(doc), "-f", "github", "--annotate-level", "low", "--region", "us-east-1",
        cwd=repo,
    )  # fmt: skip
    assert "file=docs/Q3 plans/incident #1.docx," in github.stdout
    # --base-dir wins over git.
    run = sarif(str(doc), "--base-dir", str(repo / "docs"), cwd=repo)["runs"][0]
    uri = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "Q3%20plans/incident%20%231.docx"


def test_bad_inputs_are_in_every_format_and_the_file_is_written(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    (tmp_path / "broken.docx").write_bytes(b"not a zip at all")
    good = incident(tmp_path / "good.docx")
    out = tmp_path / "out"
    result = run_prism(
        "review", str(good), str(tmp_path / "broken.docx"), str(tmp_path / "missing.docx"),
        "-f", "sarif", "-f", "junit", "-f", "json", "-f", "github", "-o", str(out),
        "--annotate-level", "high", "--region", "us-east-1", cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 2, result.stderr  # unreadable input wins over findings
    assert sorted(f.name for f in out.iterdir()) == ["report.json", "report.sarif", "report.xml"]
    report = json.loads((out / "report.json").read_text())
    assert {Path(b["path"]).name for b in report["summary"]["unreadable"]} == {
        "broken.docx",
        "missing.docx",
    }
    run = json.loads((out / "report.sarif").read_text())["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert {n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes} >= {
        "broken.docx",
        "missing.docx",
    }
    assert run["invocations"][0]["executionSuccessful"] is False
    junit = ET.fromstring((out / "report.xml").read_text())
    errors = [e.get("message") for e in junit.iter("error")]
    assert len(errors) == 2
    assert junit.get("errors") == "2"
    annotations = result.stdout.splitlines()
    assert sum(1 for a in annotations if a.startswith("::error ") and "not reviewed" in a) == 2


def test_every_input_bad_still_writes_the_report(tmp_path: Path) -> None:
    (tmp_path / "broken.docx").write_bytes(b"junk")
    target = tmp_path / "report.sarif"
    result = run_prism(
        "review", str(tmp_path / "broken.docx"), "-f", "sarif", "-o", str(target), "--offline",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.code == 2
    run = json.loads(target.read_text())["runs"][0]
    assert run["results"] == []
    assert run["invocations"][0]["toolExecutionNotifications"]


def test_several_formats_need_a_folder(tmp_path: Path) -> None:
    good = incident(tmp_path / "good.docx")
    result = run_prism("review", str(good), "-f", "sarif", "-f", "json", "--offline", cwd=tmp_path)
    assert result.code == 2
    assert "-o DIR" in result.stderr


def test_github_annotations_at_or_above_a_level(bedrock: FakeBedrock, tmp_path: Path) -> None:
    good = incident(tmp_path / "good.docx")

    def annotations(*extra: str) -> list[str]:
        result = run_prism(
            "review", str(good), "-f", "github", "--region", "us-east-1", *extra, cwd=tmp_path
        )
        return result.stdout.splitlines()

    default = annotations()  # --fail-on high
    assert default
    assert all(a.startswith("::error ") for a in default)
    medium = annotations("--fail-on", "medium")
    assert any(a.startswith("::warning ") for a in medium)
    assert len(annotations("--annotate-level", "low")) >= len(medium) > len(default)


def test_dry_run_estimates_before_any_call(bedrock: FakeBedrock, tmp_path: Path) -> None:
    doc = incident(tmp_path / "a.docx")

    def dry(*extra: str) -> dict[str, Any]:
        result = run_prism(
            "review", str(doc), "--dry-run", "-f", "json", "--region", "us-east-1", *extra,
            cwd=tmp_path,
        )  # fmt: skip
        assert result.code == 0, result.stderr
        return dict(json.loads(result.stdout))

    estimate = dry()
    summary = estimate["summary"]
    assert (summary["to_review"], summary["calls"]) == (3, 3)
    # Sonnet 5.5 is offered through cross-region profiles only: CountTokens would not answer,
    # so it is not asked; the input is estimated with the model's tokenizer factor (1.3).
    assert (summary["calls_counted"], summary["calls_estimated"]) == (0, 3)
    assert summary["input_tokens_estimated"] == summary["input_tokens"] > 3
    assert "estimate" in estimate["models"]["us.anthropic.claude-sonnet-5-5"]["input_tokens_from"]
    assert bedrock.requests == []  # no model call, no CountTokens ...
    sessions = run_prism("sessions", "list", "-f", "json", cwd=tmp_path)
    assert json.loads(sessions.stdout)["sessions"] == []  # ... and no session written
    assert summary["cost_usd"] > 0
    assert summary["max_cost_usd"] > summary["cost_usd"]
    assert list(estimate["models"]) == ["us.anthropic.claude-sonnet-5-5"]
    # A model callable on demand by its base id: counted with CountTokens (free).
    counted = dry("-m", "claude-3-haiku")["summary"]
    assert (counted["calls_counted"], counted["calls_estimated"]) == (3, 0)
    assert {op for _m, op, _b in bedrock.requests} == {"count_tokens"}
    bedrock.no_count_tokens.add("anthropic.claude-3-haiku-20240307-v1:0")
    refused = dry("-m", "claude-3-haiku")["summary"]
    assert (refused["calls_counted"], refused["calls_estimated"]) == (0, 3)
    # ... and the refusal is remembered: one CountTokens call, not one per section.
    assert sum(op == "count_tokens" for _m, op, _b in bedrock.requests) == 3 + 1
    # After a review, what the session holds is not counted again.
    assert run_prism("review", str(doc), "--region", "us-east-1", cwd=tmp_path).code == 1
    assert dry()["summary"]["to_review"] == 0


def test_fingerprints_are_unique_in_a_run(bedrock: FakeBedrock, tmp_path: Path) -> None:
    body = (
        p("Notes", style="Heading1") + p("Owner TBD.")
        + p("Notes", style="Heading1") + p("Owner TBD.")
    )  # fmt: skip
    twice = make_docx(tmp_path / "twice.docx", body)
    other = incident(tmp_path / "other.docx", "Owner TBD.")
    run = sarif(str(twice), str(other), cwd=tmp_path)["runs"][0]
    prints = [r["partialFingerprints"]["prismFinding/v3"] for r in run["results"]]
    assert len(prints) > 2
    assert len(set(prints)) == len(prints)


def test_a_moved_document_keeps_every_fingerprint(bedrock: FakeBedrock, tmp_path: Path) -> None:
    # `git mv docs/a.docx archive/2026/incident.docx`: the alerts a team dismissed stay dismissed.
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    before = sarif(str(incident(repo / "docs" / "a.docx")), cwd=repo)
    (repo / "archive" / "2026").mkdir(parents=True)
    moved = repo / "archive" / "2026" / "incident.docx"
    (repo / "docs" / "a.docx").rename(moved)
    after = sarif(str(moved), cwd=repo)

    def prints(report: dict[str, Any]) -> list[str]:
        return sorted(
            r["partialFingerprints"]["prismFinding/v3"] for r in report["runs"][0]["results"]
        )

    assert prints(before)
    assert prints(before) == prints(after)
    uris = {
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in after["runs"][0]["results"]
    }
    assert uris == {"archive/2026/incident.docx"}


def test_sarif_follows_github_code_scanning_rules(bedrock: FakeBedrock, tmp_path: Path) -> None:
    """What Microsoft's validator checks with GitHub's rules (--rule-kind "Sarif;Gh"): rules
    with descriptions and help (GH2012), every result a region with startLine (GH1003), no
    made-up line on a binary file, one analysis id per run."""
    run = sarif(str(incident(tmp_path / "a.docx")), cwd=tmp_path)["runs"][0]
    assert run["results"]
    for rule in run["tool"]["driver"]["rules"]:
        assert rule["shortDescription"]["text"]
        assert rule["fullDescription"]["text"]
        assert rule["help"]["text"]
        assert rule["help"]["markdown"].startswith("**")
        assert rule["name"]
        assert {"prism", "documents"} <= set(rule["properties"]["tags"])
        assert rule["properties"]["precision"] in {"very-high", "high", "medium", "low"}
    for result in run["results"]:
        (location,) = result["locations"]
        assert location["physicalLocation"]["region"] == {"startLine": 1}
        assert location["logicalLocations"][0]["kind"] == "section"
        assert result["properties"]["paragraph"] >= 1
    assert github_problems({"version": "2.1.0", "runs": [run]}) == []
    category, _, run_id = run["automationDetails"]["id"].rpartition("/")
    assert category == "prism/prism-default-investigations-and-risk-assessments"
    assert len(run_id) == 16


def test_the_corpus_sarif_passes_github_s_rules(tmp_path: Path) -> None:
    """Every corpus document reviewed (built-in rules, offline) into one SARIF file: GitHub's
    rules hold with 0 problems, and no two results share a fingerprint."""
    import pytest

    from sections_score import CORPUS

    if not CORPUS.is_dir():
        pytest.skip(f"the corpus is not at {CORPUS} (PRISM_CORPUS)")
    target = tmp_path / "corpus.sarif"
    result = run_prism(
        "review", str(CORPUS), "--offline", "-f", "sarif", "-o", str(target), "--fail-on", "never",
        cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert result.code in (0, 2), result.stderr  # 2: the corpus's broken documents, reported
    sarif = json.loads(target.read_text())
    assert github_problems(sarif) == []
    (run,) = sarif["runs"]
    assert len(run["results"]) > 500
    prints = [r["partialFingerprints"]["prismFinding/v3"] for r in run["results"]]
    assert len(prints) == len(set(prints))

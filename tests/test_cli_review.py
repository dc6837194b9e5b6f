"""``prism review`` end to end in a subprocess against the fake Bedrock: formats and exit codes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import Err, FakeBedrock

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET55 = "us.anthropic.claude-sonnet-5-5"
HAIKU3 = "us.anthropic.claude-3-haiku-20240307-v1:0"
SCHEMA = json.loads(resources.files("prism_cli.schemas").joinpath("report.schema.json").read_text())


def doc(tmp_path: Path, name: str = "incident.docx") -> Path:
    body = (
        p("Summary", style="Heading1") + p("The batch was sent twice & nobody <noticed> 🚀 for hours.")
        + p("Actions", style="Heading1") + p("Remove the legacy cron entry.")
    )  # fmt: skip
    return make_docx(tmp_path / name, body)


def review(*args: str) -> tuple[int, str, str]:
    result = run_prism("review", "--region", "us-east-1", *args)
    return result.code, result.stdout, result.stderr


def test_json_report_validates_and_counts(bedrock: FakeBedrock, tmp_path: Path) -> None:
    code, out, err = review(str(doc(tmp_path)), "-f", "json", "--no-rules")
    assert code == 0, err
    report = json.loads(out)
    jsonschema.validate(report, SCHEMA)
    (document,) = report["documents"]
    assert [(s["status"], s["model"], s["attempts"]) for s in document["sections"]] == [
        ("reviewed", SONNET55, 1)
    ] * 2
    assert len(bedrock.calls()) == 2  # calls == sections
    assert {f["source"] for f in document["findings"]} == {"model"}
    usage = report["summary"]["usage"]
    assert usage["calls"] == 2
    assert usage["input_tokens"] > 0
    assert usage["cost_usd"] > 0


def test_offline_makes_no_call_and_needs_no_credentials(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = run_prism(
        "review", str(doc(tmp_path)), "--offline", "-f", "json",
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_DEFAULT_REGION": ""},
    )  # fmt: skip
    assert result.code == 0  # medium findings only; --fail-on defaults to high
    report = json.loads(result.stdout)
    jsonschema.validate(report, SCHEMA)
    assert bedrock.requests == []
    rules = {f["rule"] for f in report["documents"][0]["findings"]}
    assert "action-owner-date" in rules
    assert all(f["source"] == "rules" for f in report["documents"][0]["findings"])


def test_fail_on_controls_exit_code(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = str(doc(tmp_path))
    assert review(path, "-f", "json", "--no-rules", "--fail-on", "high")[0] == 0
    assert review(path, "-f", "json", "--no-rules", "--fail-on", "medium")[0] == 1
    assert review(path, "-f", "json", "--no-rules", "--fail-on", "never")[0] == 0


def test_incomplete_exit_3_and_no_usable_model_exit_4(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = str(doc(tmp_path))
    bedrock.queue(SONNET45, Err("ValidationException", 400, "malformed request"))
    code, out, _ = review(path, "-f", "json", "--no-rules", "-m", "claude-sonnet-4-5")
    assert code == 3
    statuses = [s["status"] for s in json.loads(out)["documents"][0]["sections"]]
    assert sorted(statuses) == ["failed", "reviewed"]
    bedrock.access_denied.update({SONNET45, HAIKU3})
    code, _, err = review(
        path, "-f", "json", "--no-rules", "-m", "claude-sonnet-4-5", "-m", "claude-3-haiku"
    )
    assert code == 4
    assert "no usable model" in err


def test_no_credentials_is_exit_4(tmp_path: Path) -> None:
    result = run_prism(
        "review",
        str(doc(tmp_path)),
        "--region",
        "us-east-1",
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
    )
    assert result.code == 4
    assert result.stderr.startswith("error: no AWS credentials found")
    assert "--offline" in result.stderr  # review has a way out ...
    assert "Traceback" not in result.stderr
    chat = run_prism(
        "chat",
        str(doc(tmp_path)),
        "--ask",
        "why?",
        "--region",
        "us-east-1",
        env={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""},
    )
    assert chat.code == 4
    assert chat.stderr.startswith("error: no AWS credentials found")
    assert "--offline" not in chat.stderr  # ... chat has none


def test_bad_input_is_exit_2_and_others_still_reviewed(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_text("nope")
    code, out, err = review(
        str(bad), str(doc(tmp_path)), "-f", "json", "--no-rules", "--fail-on", "medium"
    )
    assert code == 2  # 2 beats 1
    assert err.startswith(f"error: {bad}: not a Word document")
    assert len(json.loads(out)["documents"]) == 1


def test_sarif_junit_github_markdown(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = str(doc(tmp_path))
    sarif = json.loads(review(path, "-f", "sarif")[1])
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    assert run["tool"]["driver"]["name"] == "prism"
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert all(r["ruleId"] in rule_ids for r in run["results"])
    assert all(r["level"] in ("error", "warning", "note") for r in run["results"])
    assert all(
        r["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1 for r in run["results"]
    )

    junit = ET.fromstring(review(path, "-f", "junit", "--fail-on", "medium")[1])
    (suite,) = junit.findall("testsuite")
    assert suite.get("tests") == "2"
    assert len(suite.findall("testcase")) == 2
    assert int(suite.get("failures", "0")) >= 1

    github = review(path, "-f", "github", "--annotate-level", "low")[1].splitlines()
    assert github
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in github), github

    md = review(path, "-f", "markdown")[1]
    assert md.startswith("# prism review")
    assert "Say who does what by when" in md


def test_reviewed_docx_has_one_comment_per_finding(bedrock: FakeBedrock, tmp_path: Path) -> None:
    import docx

    source = doc(tmp_path)
    report = json.loads(review(str(source), "-f", "json")[1])
    findings = report["documents"][0]["findings"]
    out = tmp_path / "out" / "reviewed.docx"
    code, _, err = review(str(source), "-f", "docx", "-o", str(out))
    assert code in (0, 1), err
    reopened = docx.Document(str(out))
    comments = list(reopened.comments)
    assert len(comments) == len(findings)
    assert all(c.author == "prism" for c in comments)
    texts = [c.text for c in comments]
    for f in findings:
        assert any(t.startswith(f"[{f['severity'].upper()}] {f['title']}") for t in texts)
    # The model finding quoting the paragraph with "&", "<" and an emoji is anchored there.
    quoted = [f for f in findings if f["quote"].startswith("The batch was sent twice")]
    assert quoted
    body = reopened.element.body
    anchored = [p for p in body.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}p")
                if p.findall(".//{http://schemas.openxmlformats.org/wordprocessingml/2006/main}commentRangeStart")]  # fmt: skip
    assert any("sent twice & nobody <noticed> 🚀" in "".join(p.itertext()) for p in anchored)


def test_output_directory_for_several_documents(bedrock: FakeBedrock, tmp_path: Path) -> None:
    a, b = doc(tmp_path, "a.docx"), doc(tmp_path, "b.docx")
    outdir = tmp_path / "reports"
    outdir.mkdir()
    code, _, _ = review(str(a), str(b), "-f", "json", "-o", str(outdir), "--no-rules")
    assert code == 0
    assert sorted(x.name for x in outdir.iterdir()) == ["a.json", "b.json"]


def test_framework_and_guidelines_reach_the_prompt(bedrock: FakeBedrock, tmp_path: Path) -> None:
    fw = tmp_path / "fw.toml"
    fw.write_text(
        'name = "Acme audit"\n[[checkpoints]]\nid = "A1"\ntitle = "Cite the policy"\ndescription = "Every control cites policy ACME-7."\n'
    )
    guide = make_docx(tmp_path / "guide.docx", p("Use British spelling throughout."))
    code, _, err = review(
        str(doc(tmp_path)), "-f", "json", "--framework", str(fw), "--guidelines", str(guide)
    )
    assert code in (0, 1), err
    system = bedrock.calls()[0][1]["system"][0]["text"]
    assert "Acme audit" in system
    assert "A1. Cite the policy" in system
    assert "Use British spelling throughout." in system


@pytest.mark.parametrize("content", ["not = [toml", 'name = "x"\n'])
def test_bad_framework_is_exit_2(tmp_path: Path, content: str) -> None:
    fw = tmp_path / "fw.toml"
    fw.write_text(content)
    result = run_prism("review", str(doc(tmp_path)), "--offline", "--framework", str(fw))
    assert result.code == 2
    assert result.stderr.startswith(f"error: {fw}: invalid framework")


def test_models_command_resolves_profiles() -> None:
    result = run_prism("models", "--region", "eu-west-1", "-f", "json")
    assert result.code == 0
    data = json.loads(result.stdout)
    ids = [m["model_id"] for m in data["chain"]]
    assert ids[0] == "eu.anthropic.claude-sonnet-5-5"
    assert len(ids) == 7
    assert {m["lifecycle"] for m in data["chain"]} == {"active"}
    eol = run_prism("models", "--region", "eu-west-1", "-f", "json", "-m", "claude-3-5-haiku")
    assert any("claude-3-5-haiku: past end of life" in s for s in json.loads(eol.stdout)["skipped"])


def test_models_check(bedrock: FakeBedrock) -> None:
    bedrock.access_denied.add("us.anthropic.claude-opus-5-5")
    bedrock.unknown.add("us.anthropic.claude-opus-4-8")
    result = run_prism("models", "--region", "us-east-1", "--check", "-f", "json")
    assert result.code == 0
    status = {m["key"]: m["status"] for m in json.loads(result.stdout)["chain"]}
    assert status["claude-sonnet-5-5"] == "ok"
    assert status["claude-opus-5-5"] == "no access"
    assert status["claude-opus-4-8"] == "not offered"


def test_config_file_sets_defaults(bedrock: FakeBedrock, tmp_path: Path) -> None:
    (tmp_path / "prism.toml").write_text('[review]\nmodel = ["claude-3-haiku"]\nno_rules = true\n')
    result = run_prism(
        "review", str(doc(tmp_path)), "--region", "us-east-1", "-f", "json", cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    assert {m for m, _ in bedrock.calls()} == {HAIKU3}


def test_aws_region_is_honoured(
    bedrock: FakeBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    result = run_prism("review", str(doc(tmp_path)), "-f", "json", "--no-rules")
    assert result.code == 0, result.stderr
    assert bedrock.calls()[0][0].startswith("eu.")  # the eu inference profile
    models = run_prism("models", "-f", "json")
    assert "eu-west-1" in models.stdout
    monkeypatch.delenv("AWS_REGION")
    result = run_prism("review", str(doc(tmp_path)), "-f", "json", "--no-rules", "--fresh")
    assert result.code == 4
    assert "no AWS region" in result.stderr


def test_an_unchanged_rerun_needs_no_credentials_region_or_network(
    bedrock: FakeBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = str(doc(tmp_path))
    first = run_prism("review", path, "--region", "us-east-1", "-f", "json", "--fail-on", "never")
    assert first.code == 0, first.stderr
    calls = len(bedrock.calls())
    for name in ("AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    again = run_prism("review", path, "-f", "json", "--fail-on", "never")
    assert again.code == 0, again.stderr
    assert len(bedrock.calls()) == calls
    ids = [f["id"] for d in json.loads(first.stdout)["documents"] for f in d["findings"]]
    assert ids
    assert [f["id"] for d in json.loads(again.stdout)["documents"] for f in d["findings"]] == ids
    # A section left to review still needs them, and says so; the session is not left running.
    (tmp_path / "prism.toml").write_text("")
    fresh = run_prism("review", path, "-f", "json", "--fresh")
    assert fresh.code == 4
    assert "no AWS region" in fresh.stderr
    listed = run_prism("sessions", "list", "-f", "json")
    assert [s["status"] for s in json.loads(listed.stdout)["sessions"]] == ["incomplete"]
    # A document never reviewed: the error, and no session left behind.
    store = str(tmp_path / "other-store")
    other = run_prism("review", str(doc(tmp_path, "other.docx")), "--store", store)
    assert other.code == 4
    assert "no AWS region" in other.stderr
    listed = run_prism("sessions", "list", "-f", "json", "--store", store)
    assert json.loads(listed.stdout)["sessions"] == []
    # A region given is checked even when nothing is asked of Bedrock (as doctor does).
    typo = run_prism("review", path, "--region", "eu-nort-1", "-f", "json")
    assert typo.code == 2
    assert "eu-north-1" in typo.stderr

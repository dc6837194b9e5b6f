"""The CI examples as CI runs them: their review step's command line, in a git repository
where a pull request changed one document and left another alone."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import yaml

from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "ci"


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo, check=True, capture_output=True,
    )  # fmt: skip


def document(path: Path, owner: str) -> None:
    body = (
        p("Summary", style="Heading1") + p("Payments were sent twice on Monday.")
        + p("Actions", style="Heading1") + p(f"Remove the cron entry. Owner {owner}.")
    )  # fmt: skip
    make_docx(path, body)


def pull_request(tmp_path: Path) -> Path:
    """main has two documents; the branch changes one of them."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    document(repo / "docs" / "changed.docx", "Ops")
    document(repo / "docs" / "unchanged.docx", "Finance")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    document(repo / "docs" / "changed.docx", "TBD")
    git(repo, "commit", "-q", "-am", "change one document")
    return repo


def run(command: str, repo: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # The examples call `prism` as installed; here it is this checkout's.
    command = re.sub(r"^prism ", f"{sys.executable} -m prism_cli ", command.strip())
    return subprocess.run(
        ["bash", "-c", command], cwd=repo, env={**os.environ, **env},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def github_step() -> dict[str, Any]:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = workflow["jobs"]["review"]["steps"]
    step = next(s for s in steps if s.get("name") == "prism review")
    assert any("upload-sarif" in str(s.get("uses")) for s in steps)
    return dict(step)


def expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{\{\s*([\w.]+)\s*\}\}", lambda m: values[m.group(1)], text)


def test_the_github_actions_example(bedrock: FakeBedrock, tmp_path: Path) -> None:
    repo = pull_request(tmp_path)
    step = github_step()
    env = {k: expand(str(v), {"github.base_ref": "main"}) for k, v in step["env"].items()}
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    done = run(step["run"], repo, env)
    assert done.returncode == 1, done.stderr  # a high finding: the placeholder "TBD"
    assert "1 document changed since origin/main" in done.stderr
    report = json.loads((repo / "prism-out" / "report.json").read_text())
    assert [Path(d["path"]).name for d in report["documents"]] == ["changed.docx"]
    sarif = json.loads((repo / "prism-out" / "report.sarif").read_text())
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "docs/changed.docx", "uriBaseId": "%SRCROOT%"}
    annotations = done.stdout.splitlines()
    assert annotations
    assert all(a.startswith("::error file=docs/changed.docx,") for a in annotations)
    assert "### prism review" in (tmp_path / "summary.md").read_text()
    calls = len(bedrock.calls())
    assert calls == 2  # the changed document's two sections
    # The next run of the same pull request (the store restored from the cache) pays nothing.
    again = run(step["run"], repo, env)
    assert again.returncode == 1, again.stderr
    assert len(bedrock.calls()) == calls


def test_the_gitlab_example(bedrock: FakeBedrock, tmp_path: Path) -> None:
    repo = pull_request(tmp_path)
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["prism-review"]
    (script,) = job["script"]
    env = {"CI_MERGE_REQUEST_TARGET_BRANCH_NAME": "main", "AWS_DEFAULT_REGION": "us-east-1"}
    done = run(script, repo, env)
    assert done.returncode == 1, done.stderr
    junit = ET.fromstring((repo / "prism-out" / "report.xml").read_text())
    assert [s.get("name") for s in junit.findall("testsuite")] == ["docs/changed.docx"]
    assert job["artifacts"]["reports"]["junit"] == "prism-out/report.xml"


def test_nothing_changed_is_a_pass_with_the_reports_written(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    repo = pull_request(tmp_path)
    git(repo, "checkout", "-q", "main")
    step = github_step()
    env = {"BASE_REF": "origin/main", "AWS_DEFAULT_REGION": "us-east-1"}
    done = run(step["run"], repo, env)
    assert done.returncode == 0, done.stderr
    assert "0 documents changed since origin/main" in done.stderr
    sarif = json.loads((repo / "prism-out" / "report.sarif").read_text())
    assert sarif["runs"][0]["results"] == []
    assert bedrock.calls() == []

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
    """main has three documents; the branch changes one of them and deletes another."""
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    document(repo / "docs" / "changed.docx", "Ops")
    document(repo / "docs" / "unchanged.docx", "Finance")
    document(repo / "docs" / "retired.dotx", "Legal")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "base")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    git(repo, "checkout", "-q", "-b", "feature")
    document(repo / "docs" / "changed.docx", "TBD")
    git(repo, "rm", "-q", "docs/retired.dotx")
    git(repo, "commit", "-q", "-am", "change one document, delete one")
    return repo


def base_sha(repo: Path) -> str:
    return subprocess.run(
        ["git", "rev-parse", "main"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


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
    """``${{ a || b }}`` as GitHub evaluates it: the first of them that is set."""

    def value(match: re.Match[str]) -> str:
        names = [n.strip() for n in match.group(1).split("||")]
        return next((values[n] for n in names if values.get(n)), "")

    return re.sub(r"\$\{\{\s*([\w.| ]+?)\s*\}\}", value, text)


def test_the_github_actions_example(bedrock: FakeBedrock, tmp_path: Path) -> None:
    repo = pull_request(tmp_path)
    step = github_step()
    sha = base_sha(repo)
    event = {"github.event.pull_request.base.sha": sha, "github.base_ref": "main"}
    env = {k: expand(str(v), event) for k, v in step["env"].items()}
    assert env["BASE_REF"] == sha
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    env["AWS_DEFAULT_REGION"] = "us-east-1"
    done = run(step["run"], repo, env)
    assert done.returncode == 1, done.stderr  # a high finding: the placeholder "TBD"
    assert f"1 document changed since {sha}, 1 deleted" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("exit 1: 1 finding at or above high")
    report = json.loads((repo / "prism-out" / "report.json").read_text())
    assert [Path(d["path"]).name for d in report["documents"]] == ["changed.docx"]
    sarif = json.loads((repo / "prism-out" / "report.sarif").read_text())
    location = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "docs/changed.docx", "uriBaseId": "%SRCROOT%"}
    annotations = done.stdout.splitlines()
    assert annotations
    assert all(a.startswith("::error file=docs/changed.docx,") for a in annotations)
    summary = (tmp_path / "summary.md").read_text()
    assert "### prism review\n\n**exit 1: 1 finding at or above high" in summary
    assert "**Deleted** (not reviewed)\n\n- `docs/retired.dotx`" in summary
    calls = len(bedrock.calls())
    assert calls == 2  # the changed document's two sections
    # The next run of the same pull request (the store restored from the cache) pays nothing.
    again = run(step["run"], repo, env)
    assert again.returncode == 1, again.stderr
    assert len(bedrock.calls()) == calls


def test_the_gitlab_example(bedrock: FakeBedrock, tmp_path: Path) -> None:
    repo = pull_request(tmp_path)
    job = yaml.safe_load((EXAMPLES / "gitlab-ci.yml").read_text())["prism-review"]
    script = "\n".join(job["script"])
    env = {"CI_MERGE_REQUEST_DIFF_BASE_SHA": base_sha(repo), "AWS_DEFAULT_REGION": "us-east-1"}
    done = run(script, repo, env)
    assert done.returncode == 1, done.stderr
    junit = ET.fromstring((repo / "prism-out" / "report.xml").read_text())
    (suite,) = junit.findall("testsuite")
    assert suite.get("name") == "docs/changed.docx"
    # What GitLab and the strict JUnit schema want: time, timestamp, hostname.
    assert float(junit.get("time") or "x") >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp") or "")
    assert suite.get("hostname")
    assert all(case.get("time") for case in suite.findall("testcase"))
    assert job["cache"]["key"] == "prism-$CI_MERGE_REQUEST_IID$CI_COMMIT_BRANCH"
    assert job["cache"]["fallback_keys"] == ["prism-$CI_DEFAULT_BRANCH"]
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


def test_a_shallow_checkout_gets_a_hint_not_git_failed(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    # actions/checkout fetches one commit unless told fetch-depth: 0.
    repo = pull_request(tmp_path)
    shallow = tmp_path / "shallow"
    git(
        tmp_path,
        "clone",
        "-q",
        "--depth",
        "1",
        "--branch",
        "feature",
        f"file://{repo}",
        str(shallow),
    )
    step = github_step()
    done = run(step["run"], shallow, {"BASE_REF": "origin/main", "AWS_DEFAULT_REGION": "us-east-1"})
    assert done.returncode == 2
    assert "not in this shallow clone" in done.stderr
    assert "fetch-depth: 0" in done.stderr
    assert bedrock.calls() == []


def test_the_examples_install_what_exists_and_watch_every_document_type() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    installs = [
        s["run"] for s in workflow["jobs"]["review"]["steps"] if "pip install" in str(s.get("run"))
    ]
    assert installs == ['pip install "prism-cli @ git+https://github.com/prism-cli/prism@main"']
    on = workflow[True]  # YAML reads the key `on` as true
    for event in ("pull_request", "push"):
        assert set(on[event]["paths"]) == {"**/*.docx", "**/*.docm", "**/*.dotx", "**/*.dotm"}
    (cache,) = [
        s for s in workflow["jobs"]["review"]["steps"] if "actions/cache" in str(s.get("uses"))
    ]
    key = cache["with"]["key"]
    assert "github.event.pull_request.number" in key
    assert "github.base_ref" in cache["with"]["restore-keys"]

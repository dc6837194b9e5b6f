"""What a session promises a reviewer (issue #9): ids that do not change, decisions that
survive ``--fresh``, a cache that answers only for the same settings, a lease that dies with
its holder, offline sessions, findings listed by ``sessions show``, a session's usage in its
exports, identical sections paid once."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
from test_sessions import SECTIONS, big_doc, review, session_id, start, stored, wait_for_results


def two_findings(_model_id: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """A low-confidence finding first (filtered out), then one that is kept."""
    first = text.split("\n")[0].strip()
    base = {
        "severity": "medium",
        "type": "important",
        "category": "clarity",
        "description": "The section states facts but not the owner of the follow-up.",
        "quote": first[:40],
    }
    return [
        {**base, "title": "Maybe unclear", "confidence": 0.3},
        {**base, "title": "Say who does what by when", "confidence": 0.9},
    ]


def model_ids(out: str) -> list[str]:
    return [f["id"] for f in json.loads(out)["documents"][0]["findings"] if f["source"] == "model"]


def statuses(out: str) -> dict[str, str]:
    return {f["id"]: f["status"] for f in json.loads(out)["documents"][0]["findings"]}


def test_ids_are_stable_accepted_by_feedback_and_decisions_survive_fresh(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.findings = two_findings
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    doc = big_doc(tmp_path / "incident.docx")
    code, out, err = review(str(doc), "-f", "json", "--no-rules", env=env)
    assert code == 0, err
    first = model_ids(out)
    assert len(first) == SECTIONS
    assert all(i.startswith(f"s{n}-m") for n, i in zip(range(1, SECTIONS + 1), first, strict=True))

    accepted = run_prism("feedback", str(doc), "accept", first[0], env=env)
    assert accepted.code == 0, accepted.stderr
    assert run_prism("feedback", str(doc), "reject", first[1], env=env).code == 0

    code, out, err = review(str(doc), "-f", "json", "--no-rules", env=env)  # cached rerun
    assert code == 0, err
    assert model_ids(out) == first
    assert statuses(out)[first[0]] == "accepted"

    calls = len(bedrock.requests)
    code, out, err = review(str(doc), "-f", "json", "--no-rules", "--fresh", env=env)
    assert code == 0, err
    assert len(bedrock.requests) - calls == SECTIONS  # re-reviewed ...
    assert model_ids(out) == first  # ... same findings, same ids ...
    assert statuses(out)[first[0]] == "accepted"  # ... decisions carried over
    assert statuses(out)[first[1]] == "rejected"

    shown = run_prism("sessions", "show", str(doc), "-f", "json", env=env)
    listed = {f["id"]: f for f in json.loads(shown.stdout)["findings"]}
    assert listed[first[0]]["status"] == "accepted"
    assert listed[first[0]]["severity"] == "medium"
    text = run_prism("sessions", "show", str(doc), "-f", "table", env=env)
    assert first[2] in text.stdout


def test_another_model_or_thinking_pays_its_calls_then_caches(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    doc = big_doc(tmp_path / "a.docx")
    args = (str(doc), "-f", "json", "--no-rules")
    for extra in ((), ("-m", "claude-opus-5-5"), ("--thinking",)):
        before = len(bedrock.requests)
        code, out, err = review(*args, *extra, env=env)
        assert code == 0, err
        assert len(bedrock.requests) - before == SECTIONS, extra
        summary = json.loads(out)["summary"]
        assert summary["usage"]["calls"] == SECTIONS
        before = len(bedrock.requests)
        code, out, err = review(*args, *extra, env=env)
        assert code == 0, err
        assert len(bedrock.requests) == before, extra  # now cached


def test_kill_9_then_an_immediate_rerun_resumes_on_the_same_machine(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.latency = 0.4
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "long.docx")
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "--no-rules", "-f", "json", "--concurrency", "2")
    proc = start(*args)  # the default 30 s lease
    wait_for_results(store_url, sid, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    started = time.monotonic()
    code, out, err = review(*args)  # no --wait: the dead holder's lease is taken over
    assert code == 0, err
    assert time.monotonic() - started < 20
    statuses = [s["status"] for s in json.loads(out)["documents"][0]["sections"]]
    assert statuses.count("cached") >= 2


def test_a_resumed_fresh_run_resumes(bedrock: FakeBedrock, tmp_path: Path) -> None:
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "long.docx")
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "--no-rules", "-f", "json", "--concurrency", "2")
    code, _, err = review(*args)
    assert code == 0, err
    bedrock.latency = 0.4
    calls = len(bedrock.requests)
    proc = start(*args, "--fresh")
    deadline = time.monotonic() + 30
    while len(bedrock.requests) - calls < 3:  # the fresh run has paid for some sections
        assert time.monotonic() < deadline
        time.sleep(0.05)
    wait_for_results(store_url, sid, 2, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    done = len(stored(store_url, sid))
    paid = len(bedrock.requests) - calls
    code, _, err = review(*args, "--fresh")  # the same command again
    assert code == 0, err
    assert len(bedrock.requests) - calls - paid == SECTIONS - done
    code, _, err = review(*args, "--fresh")  # that fresh run finished: this one starts over
    assert code == 0, err
    assert len(bedrock.requests) - calls - paid - (SECTIONS - done) == SECTIONS


def test_offline_reviews_are_sessions(tmp_path: Path, s3_bucket: str) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    doc = make_docx(
        tmp_path / "plan.docx",
        p("Plan", style="Heading1") + p("The owner is TBD and the date is TBD."),
    )
    code, out, err = review(str(doc), "--offline", "-f", "json", env=env)
    assert code in (0, 1), err
    report = json.loads(out)
    ids = [f["id"] for f in report["documents"][0]["findings"]]
    assert ids, "the rules find the TBDs"
    fed = run_prism("feedback", str(doc), "reject", ids[0], env=env)
    assert fed.code == 0, fed.stderr
    exported = run_prism("export", str(doc), "--to", str(tmp_path / "out"), env=env)
    assert exported.code == 0, exported.stderr
    shown = run_prism("sessions", "show", str(doc), "-f", "json", env=env)
    assert json.loads(shown.stdout)["status"] == "offline"

    s3 = run_prism("review", str(doc), "--offline", "--store", f"s3://{s3_bucket}/x")
    assert s3.code == 2
    assert "--offline" in s3.stderr
    assert "Traceback" not in s3.stderr


def test_identical_sections_in_one_batch_are_paid_once(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    docs = []
    for name in ("a", "b", "c"):
        (tmp_path / name).mkdir()
        docs.append(str(big_doc(tmp_path / name / "copy.docx")))
    # b and c are byte-identical copies of a: one review, three sessions.
    code, out, err = review(*docs, "-f", "json", "--no-rules", env=env)
    assert code == 0, err
    assert len(bedrock.requests) == SECTIONS
    report = json.loads(out)
    assert len({d["session_id"] for d in report["documents"]}) == 3
    for document in report["documents"]:
        assert len(document["findings"]) == SECTIONS
        assert all(s["status"] in ("reviewed", "cached") for s in document["sections"])


def test_exports_report_the_sessions_usage_and_never_collide(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    doc = big_doc(tmp_path / "a.docx")
    assert review(str(doc), "-f", "json", env=env)[0] == 0
    assert review(str(doc), "-f", "json", env=env)[0] == 0  # cached: 0 calls this run
    target = tmp_path / "out"
    first = run_prism("export", str(doc), "--to", str(target), env=env)
    second = run_prism("export", str(doc), "--to", str(target), env=env)
    assert first.code == 0, first.stderr
    assert second.code == 0, second.stderr
    folders = sorted(target.iterdir())
    assert len(folders) == 2
    report = json.loads((folders[0] / "report.json").read_text())
    assert report["summary"]["usage"]["calls"] == SECTIONS
    assert f"Model calls: {SECTIONS}" in (folders[0] / "report.md").read_text()

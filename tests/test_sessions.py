"""Sessions end to end: resume after SIGKILL/SIGINT/SIGTERM on every store, cross-machine
resume, the results cache, leases, decisions, export and push, and bad store states."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
from prism_cli.core.session import Sessions
from prism_cli.stores.url import open_store

SECTIONS = 10


def big_doc(path: Path, edited: int | None = None) -> Path:
    body = ""
    for i in range(1, SECTIONS + 1):
        text = f"Paragraph {i}: the batch for region {i} was sent twice and recovered."
        if i == edited:
            text += " (Edited: the recovery took two days.)"
        body += p(f"Part {i}", style="Heading1") + p(text)
    return make_docx(path, body)


def session_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def stored(store_url: str, sid: str) -> list[str]:
    return open_store(store_url).list(f"sessions/{sid}/results/")


def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "review", "--region", "us-east-1", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_results(store_url: str, sid: str, at_least: int, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while len(stored(store_url, sid)) < at_least:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the review made no progress"
        time.sleep(0.05)


def review(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = run_prism("review", "--region", "us-east-1", *args, env=env)
    return result.code, result.stdout, result.stderr


LEASE = {"PRISM_LEASE_TTL": "1.5"}


def test_sigkill_then_resume_calls_only_the_unfinished_sections(
    bedrock: FakeBedrock, store_url: str, tmp_path: Path
) -> None:
    bedrock.latency = 0.4
    doc = big_doc(tmp_path / "long.docx")
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "--no-rules", "-f", "json", "--concurrency", "2")
    proc = start(*args, env=LEASE)
    wait_for_results(store_url, sid, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(0.5)  # the killed process's calls in flight reach the server
    done = len(stored(store_url, sid))
    assert 3 <= done < SECTIONS
    calls_before = len(bedrock.requests)

    code, out, err = review(*args, "--wait", env=LEASE)  # its lease expires, then we go on
    assert code == 0, err
    assert len(bedrock.requests) - calls_before == SECTIONS - done
    report = json.loads(out)
    statuses = [s["status"] for s in report["documents"][0]["sections"]]
    assert statuses.count("cached") == done
    assert statuses.count("reviewed") == SECTIONS - done
    assert report["documents"][0]["session_id"] == sid
    events = [a["event"] for a in Sessions(open_store(store_url)).activity(sid)]
    assert events[0] == "started"
    assert "resumed" in events
    assert events[-1] == "finished"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_save_and_exit_130(
    bedrock: FakeBedrock, tmp_path: Path, sig: signal.Signals
) -> None:
    bedrock.latency = 0.4
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "long.docx")
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "--no-rules", "-f", "json", "--concurrency", "2")
    proc = start(*args)
    wait_for_results(store_url, sid, 2, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert "Traceback" not in err
    assert out == ""
    done = len(stored(store_url, sid))
    calls_before = len(bedrock.requests)
    # Everything sent was recorded: no call was paid for and then lost.
    assert calls_before == done
    code, _, err = review(*args)  # the lease was released: no wait needed
    assert code == 0, err
    assert len(bedrock.requests) - calls_before == SECTIONS - done
    events = [a["event"] for a in Sessions(open_store(store_url)).activity(sid)]
    assert "interrupted" in events


@pytest.mark.parametrize("kind", ["redis", "s3"])
def test_a_session_started_on_one_machine_finishes_on_another(
    bedrock: FakeBedrock, tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    if kind == "redis":
        store_url = str(request.getfixturevalue("redis_url"))
    else:
        store_url = f"s3://{request.getfixturevalue('s3_bucket')}/team"
    bedrock.latency = 0.3
    doc = big_doc(tmp_path / "shared.docx")
    sid = session_id(doc)
    machine_a = {"XDG_DATA_HOME": str(tmp_path / "a"), **LEASE}
    machine_b = {"XDG_DATA_HOME": str(tmp_path / "b"), **LEASE}
    args = ("--store", store_url, "--no-rules", "-f", "json", "--concurrency", "2")
    proc = start(str(doc), *args, env=machine_a)
    wait_for_results(store_url, sid, 3, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(0.5)
    done = len(stored(store_url, sid))
    calls_before = len(bedrock.requests)
    # Machine B has its own copy of the document (same bytes) and its own data dir.
    copy = tmp_path / "b-copy" / "shared.docx"
    copy.parent.mkdir()
    copy.write_bytes(doc.read_bytes())
    code, out, err = review(str(copy), *args, "--wait", env=machine_b)
    assert code == 0, err
    assert len(bedrock.requests) - calls_before == SECTIONS - done
    assert json.loads(out)["documents"][0]["session_id"] == sid
    assert not (tmp_path / "b" / "prism").exists()  # nothing went to B's local store


def test_results_cache_unchanged_document_and_one_edited_section(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    store = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "v1.docx")
    code, _, err = review(str(doc), "--store", store, "--no-rules", "-f", "json")
    assert code == 0, err
    assert len(bedrock.requests) == SECTIONS
    code, out, _ = review(str(doc), "--store", store, "--no-rules", "-f", "json")
    assert code == 0
    assert len(bedrock.requests) == SECTIONS  # zero model calls
    report = json.loads(out)
    assert report["summary"]["usage"]["calls"] == 0
    assert report["summary"]["reviewed"] == SECTIONS
    # A new version with one section edited: a new session, one call.
    v2 = big_doc(tmp_path / "v2.docx", edited=4)
    code, out, _ = review(str(v2), "--store", store, "--no-rules", "-f", "json")
    assert code == 0
    assert len(bedrock.requests) == SECTIONS + 1
    assert "Edited" in json.dumps(bedrock.requests[-1][2])
    sections = json.loads(out)["documents"][0]["sections"]
    assert [s["status"] for s in sections].count("reviewed") == 1
    # --fresh starts over and calls every section again.
    code, _, _ = review(str(v2), "--store", store, "--no-rules", "-f", "json", "--fresh")
    assert code == 0
    assert len(bedrock.requests) == 2 * SECTIONS + 1


def test_a_held_lease_refuses_or_waits(bedrock: FakeBedrock, tmp_path: Path) -> None:
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "d.docx")
    sid = session_id(doc)
    store = open_store(store_url)
    assert store.acquire(f"leases/{sid}", "otherhost:4242 abcd", 60.0) is None
    code, out, err = review(str(doc), "--store", store_url, "--no-rules", "-f", "json")
    assert code == 4
    assert out == ""
    assert f"session {sid} is being reviewed by otherhost:4242" in err
    assert "--wait" in err
    assert bedrock.requests == []
    # Taken again, for long: --wait waits until the other run lets it go (its expiry is
    # stepped on an injected clock in test_stores), then reviews.
    store.acquire(f"leases/{sid}", "otherhost:4242 abcd", 60.0)
    import threading

    released = threading.Timer(0.5, store.release, (f"leases/{sid}", "otherhost:4242 abcd"))
    released.start()
    started = time.monotonic()
    code, _, err = review(str(doc), "--store", store_url, "--no-rules", "-f", "json", "--wait")
    released.join()
    assert code == 0, err
    assert "waiting for session" in err
    assert time.monotonic() - started > 0.4  # it waited for the other run


def test_unreachable_store_exits_4_masks_the_password_and_writes_nothing(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    out_file = tmp_path / "report.json"
    code, out, err = review(
        str(big_doc(tmp_path / "d.docx")),
        "--store", "redis://:s3cret-pw@127.0.0.1:1/0", "-o", str(out_file), "-f", "json",
    )  # fmt: skip
    assert code == 4
    assert "s3cret-pw" not in err + out
    assert "redis://:***@127.0.0.1:1/0" in err
    assert len(err.strip().splitlines()) == 1
    assert not out_file.exists()
    assert bedrock.requests == []


def test_bad_store_url_and_session_id_are_usage_errors(tmp_path: Path) -> None:
    doc = str(big_doc(tmp_path / "d.docx"))
    code, _, err = review(doc, "--store", "ftp://x/y")
    assert code == 2
    assert "unknown store URL" in err
    code, _, err = review(doc, "--session", "../../etc/passwd")
    assert code == 2
    assert "invalid session id" in err


def test_corrupted_result_is_reported_and_reviewed_again(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "d.docx")
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "--no-rules", "-f", "json")
    assert review(*args)[0] == 0
    store = open_store(store_url)
    key = f"sessions/{sid}/results/s3"
    raw = store.get(key)
    assert raw is not None
    assert b"Paragraph" in raw
    store.put(key, raw.replace(b"Paragraph", b"Pxragraph"))
    store.delete(store.list("cache/"))  # so the cache cannot hide it
    # An unchanged rerun of a complete session reads its report, not its results: the
    # report is corrupted too, so the results are read.
    report = store.get(f"sessions/{sid}/report")
    assert report is not None
    store.put(f"sessions/{sid}/report", report.replace(b"Paragraph", b"Pxragraph"))
    calls = len(bedrock.requests)
    code, _, err = review(*args)
    assert code == 0
    assert "corrupted (checksum mismatch)" in err
    assert len(bedrock.requests) == calls + 1


def test_an_unchanged_rerun_takes_the_stored_report_only_when_nothing_changed(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    store_url = (tmp_path / "store").as_uri()
    body = "".join(
        p(f"Part {i}", style="Heading1") + p(f"Paragraph {i}: the owner is TBD for region {i}.")
        for i in range(1, 5)
    )
    doc = make_docx(tmp_path / "d.docx", body)
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "-f", "json", "--fail-on", "never")
    code, first, err = review(*args)
    assert code == 0, err
    calls = len(bedrock.requests)
    store = open_store(store_url)
    assert store.get(f"sessions/{sid}/report_inputs") is not None
    assert any(f["source"] == "rules" for f in json.loads(first)["documents"][0]["findings"])

    def findings(out: str) -> list[tuple[str, str]]:
        return [(f["id"], f["status"]) for f in json.loads(out)["documents"][0]["findings"]]

    # Unchanged: the same report, no call; a stored result no longer matters to it.
    store.delete([f"sessions/{sid}/results/s3", *store.list("cache/")])
    code, again, err = review(*args)
    assert code == 0, err
    assert findings(again) == findings(first)
    assert (
        json.loads(again)["documents"][0]["findings"]
        == json.loads(first)["documents"][0]["findings"]
    )
    assert {s["status"] for s in json.loads(again)["documents"][0]["sections"]} == {"cached"}
    assert len(bedrock.requests) == calls
    # A decision is applied to what the stored report holds.
    fid = findings(first)[0][0]
    assert run_prism("feedback", sid, "accept", fid, "--store", store_url).code == 0
    assert findings(review(*args)[1])[0] == (fid, "accepted")
    # Other inputs (no rule findings): the results are read, and the missing one reviewed.
    code, no_rules, err = review(*args, "--no-rules")
    assert code == 0, err
    assert len(bedrock.requests) == calls + 1
    assert not any(f["source"] == "rules" for f in json.loads(no_rules)["documents"][0]["findings"])
    # And back: rules again, from the report the last run stored.
    code, back, err = review(*args)
    assert code == 0, err
    assert [f for f in findings(back) if f[0] != fid] == [f for f in findings(first) if f[0] != fid]
    assert len(bedrock.requests) == calls + 1


def test_an_unchanged_document_costs_reads_and_one_write(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """No lease, no session update, no report rewritten: one line of activity. A session
    whose report is stale (another run's inputs) is worked as before."""
    store_url = (tmp_path / "store").as_uri()
    body = "".join(p(f"Part {i}", style="Heading1") + p(f"Owner {i} is TBD.") for i in (1, 2))
    doc = make_docx(tmp_path / "d.docx", body)
    sid = session_id(doc)
    args = (str(doc), "--store", store_url, "-f", "json", "--fail-on", "never")
    assert review(*args)[0] == 0
    store = open_store(store_url)

    def snapshot() -> dict[str, bytes | None]:
        return {key: store.get(key) for key in store.list("")}

    before = snapshot()
    code, _out, err = review(*args)
    assert code == 0, err
    after = snapshot()
    changed = {k for k in after if after[k] != before.get(k)}
    assert len(changed) == 1, changed
    (written,) = changed
    assert written.startswith(f"sessions/{sid}/log/")
    from prism_cli.core.session import Sessions

    assert Sessions(store).activity(sid)[-1]["event"] == "unchanged"
    assert not [k for k in after if k.startswith("leases/")]
    # Other inputs: the session is worked again, its report rebuilt.
    assert review(*args, "--no-rules")[0] == 0
    assert Sessions(store).activity(sid)[-1]["event"] == "finished"
    assert store.get(f"sessions/{sid}/report_inputs") != after[f"sessions/{sid}/report_inputs"]


def test_sessions_feedback_export_and_only_accepted(bedrock: FakeBedrock, tmp_path: Path) -> None:
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "incident.docx")
    sid = session_id(doc)
    env = {"PRISM_STORE": store_url}
    code, out, err = review(str(doc), "-f", "json", env=env)
    assert code == 0, err
    findings = json.loads(out)["documents"][0]["findings"]
    model_ids = [f["id"] for f in findings if f["source"] == "model"]
    assert len(model_ids) == SECTIONS

    listed = run_prism("sessions", "list", "-f", "json", env=env)
    assert listed.code == 0
    (row,) = json.loads(listed.stdout)["sessions"]
    assert row["id"] == sid
    assert row["document"] == "incident.docx"
    assert row["status"] == "complete"

    assert run_prism("feedback", sid, "accept", model_ids[0], model_ids[1], env=env).code == 0
    assert run_prism("feedback", str(doc), "reject", model_ids[2], env=env).code == 0
    added = run_prism(
        "feedback", sid, "add", "--section", "s5", "--severity", "high",
        "No owner & no date for the fix <yet> 🙂", env=env,
    )  # fmt: skip
    assert added.code == 0, added.stderr
    assert added.stdout.strip() == "s5-c1"
    bad = run_prism("feedback", sid, "accept", "s99-m9", env=env)
    assert bad.code == 2
    assert "no finding s99-m9" in bad.stderr
    assert run_prism("feedback", sid, "add", "--section", "nope", "x", env=env).code == 2

    shown = run_prism("sessions", "show", sid, "-f", "json", env=env)
    stats = json.loads(shown.stdout)["statistics"]
    assert stats["accepted"] == 2
    assert stats["rejected"] == 1
    assert stats["added"] == 1
    assert stats["completion_rate"] == 1.0
    assert stats["findings_by_severity"]["high"] == 1
    events = [a["event"] for a in json.loads(shown.stdout)["activity"]]
    assert {"decision_accepted", "decision_rejected", "decision_added"} <= set(events)
    text = run_prism("sessions", "show", sid, "-f", "table", env=env)
    assert "2 accepted, 1 rejected, 1 added" in text.stdout

    # Decisions show in reports, and --fail-on counts the reviewer's high finding.
    code, out, _ = review(str(doc), "-f", "json", env=env)
    assert code == 1
    status = {f["id"]: f["status"] for f in json.loads(out)["documents"][0]["findings"]}
    assert status[model_ids[0]] == "accepted"
    assert status[model_ids[2]] == "rejected"
    assert status["s5-c1"] == "accepted"
    assert len(bedrock.requests) == SECTIONS  # still no new call

    # --only-accepted: the reviewed copy carries the accepted findings only.
    target = tmp_path / "accepted.docx"
    code, _, err = review(str(doc), "-f", "docx", "-o", str(target), "--only-accepted", env=env)
    assert code == 1, err
    with zipfile.ZipFile(target) as z:
        comments = z.read("word/comments.xml").decode()
    replies = comments.count("Accepted by the reviewer.")
    assert comments.count("<w:comment ") - replies == 3  # one per accepted finding
    assert replies == 2  # the reviewer's reply on each accepted model finding
    assert "No owner &amp; no date for the fix &lt;yet&gt; 🙂" in comments

    exported = run_prism("export", sid, "--to", str(tmp_path / "out"), env=env)
    assert exported.code == 0, exported.stderr
    folder = Path(exported.stdout.strip())
    assert folder.parent == tmp_path / "out"
    assert re.fullmatch(r"\d{8}T\d{6}Z_incident_[0-9a-f]{4}", folder.name)
    names = sorted(str(f.relative_to(folder)) for f in folder.rglob("*") if f.is_file())
    assert names == [
        "chat.json", "feedback/accepted.json", "feedback/custom.json", "feedback/rejected.json",
        "logs/activity.json", "report.json", "report.md", "reviewed.docx",
    ]  # fmt: skip
    assert len(json.loads((folder / "feedback/accepted.json").read_text())) == 3
    assert [f["id"] for f in json.loads((folder / "feedback/custom.json").read_text())] == ["s5-c1"]
    assert json.loads((folder / "report.json").read_text())["documents"][0]["session_id"] == sid
    exported_findings = json.loads((folder / "report.json").read_text())["documents"][0]["findings"]
    kept = [f for f in exported_findings if f["status"] != "rejected"]
    assert len(kept) == len(exported_findings) - 1
    with zipfile.ZipFile(folder / "reviewed.docx") as z:
        comments = z.read("word/comments.xml").decode()
        replies = comments.count("Accepted by the reviewer.")
        assert comments.count("<w:comment ") - replies == len(kept)

    assert run_prism("sessions", "delete", sid, env=env).code == 0
    assert json.loads(run_prism("sessions", "list", "-f", "json", env=env).stdout)["sessions"] == []
    assert run_prism("sessions", "show", sid, env=env).code == 2


def test_prune_older_than(bedrock: FakeBedrock, tmp_path: Path) -> None:
    store_url = (tmp_path / "store").as_uri()
    env = {"PRISM_STORE": store_url}
    old, new = big_doc(tmp_path / "old.docx"), big_doc(tmp_path / "new.docx", edited=1)
    assert review(str(old), "-f", "json", "--no-rules", env=env)[0] == 0
    assert review(str(new), "-f", "json", "--no-rules", env=env)[0] == 0
    sessions = Sessions(open_store(store_url))
    meta = sessions.require(session_id(old))
    meta_old = meta.as_dict()
    # Age the first session by 40 days, as if it had been written then.
    from prism_cli.core.session import encode

    meta_old["updated"] = "2026-10-01T00:00:00Z"
    sessions.store.put(f"sessions/{session_id(old)}/meta", encode(meta_old))
    # An unchanged rerun since then counts as use: it is kept.
    assert review(str(old), "-f", "json", "--no-rules", env=env)[0] == 0
    kept = run_prism("sessions", "prune", "--older-than", "30d", "--dry-run", env=env)
    assert kept.code == 0
    assert session_id(old) not in kept.stdout
    # Its activity aged too (each line's key holds its time): now it goes.
    october = 1_759_276_800_000_000  # 2025-10-01, in microseconds
    for n, key in enumerate(sessions.store.list(f"sessions/{session_id(old)}/log/")):
        value = sessions.store.get(key)
        assert value is not None
        folder, stamp = key.rsplit("/", 1)
        sessions.store.put(f"{folder}/{october + n:017d}-{stamp.split('-', 1)[1]}", value)
        sessions.store.delete([key])
    assert sessions.last_active(session_id(old)) is not None
    dry = run_prism("sessions", "prune", "--older-than", "30d", "--dry-run", env=env)
    assert dry.code == 0
    assert session_id(old) in dry.stdout
    assert len(sessions.ids()) == 2
    pruned = run_prism("sessions", "prune", "--older-than", "30d", env=env)
    assert pruned.code == 0
    assert sessions.ids() == [session_id(new)]
    assert run_prism("sessions", "prune", "--older-than", "soon", env=env).code == 2


def test_push_and_export_to_s3_with_encryption(
    bedrock: FakeBedrock, s3_bucket: str, tmp_path: Path
) -> None:
    store_url = (tmp_path / "store").as_uri()
    doc = big_doc(tmp_path / "incident.docx")
    env = {"PRISM_STORE": store_url}
    code, _, err = review(
        str(doc), "-f", "json", "--no-rules", "--push", f"s3://{s3_bucket}/reviews", env=env
    )
    assert code == 0, err
    s3 = boto3.client("s3", region_name="us-east-1")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket)["Contents"]]
    assert len(keys) == 8
    folder = keys[0].split("/")[1]
    assert keys[0].startswith("reviews/")
    assert re.fullmatch(r"\d{8}T\d{6}Z_incident_[0-9a-f]{4}", folder)
    head = s3.head_object(Bucket=s3_bucket, Key=f"reviews/{folder}/report.json")
    assert head["ServerSideEncryption"] == "AES256"
    acl = s3.get_object_acl(Bucket=s3_bucket, Key=f"reviews/{folder}/report.json")
    assert len(acl["Grants"]) == 1  # the owner only: no ACL was set

    exported = run_prism(
        "export", str(doc), "--to", f"s3://{s3_bucket}/kms", "--sse-kms-key", "alias/prism",
        env=env,
    )  # fmt: skip
    assert exported.code == 0, exported.stderr
    kms_keys = [o["Key"] for o in s3.list_objects_v2(Bucket=s3_bucket, Prefix="kms/")["Contents"]]
    head = s3.head_object(Bucket=s3_bucket, Key=next(k for k in kms_keys if k.endswith(".docx")))
    assert head["ServerSideEncryption"] == "aws:kms"

    # --offline keeps no session but can still push what it found.
    code, _, err = review(str(doc), "--offline", "--push", f"s3://{s3_bucket}/offline", env=env)
    assert code == 0, err
    offline = s3.list_objects_v2(Bucket=s3_bucket, Prefix="offline/")["Contents"]
    assert len(offline) == 8

    missing = run_prism("export", str(doc), "--to", f"s3://{s3_bucket}-nope/x", env=env)
    assert missing.code == 4
    assert f"bucket {s3_bucket}-nope does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_store_from_the_config_file(bedrock: FakeBedrock, tmp_path: Path) -> None:
    store_dir = tmp_path / "team-store"
    (tmp_path / "prism.toml").write_text(f'store = "{store_dir.as_uri()}"\n')
    doc = big_doc(tmp_path / "d.docx")
    result = run_prism(
        "review", str(doc), "--region", "us-east-1", "--no-rules", "-f", "json", cwd=tmp_path
    )
    assert result.code == 0, result.stderr
    listed = run_prism("sessions", "list", "-f", "json", cwd=tmp_path)
    assert json.loads(listed.stdout)["store"] == store_dir.as_uri()
    assert [s["id"] for s in json.loads(listed.stdout)["sessions"]] == [session_id(doc)]
    assert not (tmp_path / "xdg-data").exists()  # the default store was not used


def test_a_pinned_session_of_another_document_is_refused(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    a, b = big_doc(tmp_path / "a.docx"), big_doc(tmp_path / "b.docx", edited=2)
    assert review(str(a), "--session", "team-1", "--no-rules", "-f", "json", env=env)[0] == 0
    code, out, err = review(str(b), "--session", "team-1", "--no-rules", "-f", "json", env=env)
    assert code == 2
    assert "session team-1 holds another document (a.docx)" in err
    assert out == ""
    code, out, _ = review(
        str(b), "--session", "team-1", "--fresh", "--no-rules", "-f", "json", env=env
    )
    assert code == 0
    assert json.loads(out)["documents"][0]["session_id"] == "team-1"
    code, _, err = review(str(a), str(b), "--session", "x", env=env)
    assert code == 2
    assert "--session names one session" in err


def test_cached_findings_are_anchored_in_the_new_document(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    v1 = big_doc(tmp_path / "v1.docx")
    assert review(str(v1), "--no-rules", "-f", "json", env=env)[0] == 0
    # v2: the same sections after a new opening paragraph, so every paragraph moved by one.
    body = p("Draft for the board, do not circulate.")
    for i in range(1, SECTIONS + 1):
        text = f"Paragraph {i}: the batch for region {i} was sent twice and recovered."
        body += p(f"Part {i}", style="Heading1") + p(text)
    v2 = make_docx(tmp_path / "v2.docx", body)
    target = tmp_path / "v2.reviewed.docx"
    code, _, err = review(str(v2), "--no-rules", "-f", "docx", "-o", str(target), env=env)
    assert code == 0, err
    assert len(bedrock.requests) == SECTIONS + 1  # only the new preamble was reviewed
    import xml.etree.ElementTree as ET

    w = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
    with zipfile.ZipFile(target) as z:
        root = ET.fromstring(z.read("word/document.xml"))
    anchored = [
        "".join(t.text or "" for t in para.iter(f"{w}t"))
        for para in root.iter(f"{w}p")
        if para.find(f"{w}commentRangeStart") is not None
    ]
    assert len(anchored) == SECTIONS + 1
    assert all(text.startswith(("Paragraph", "Draft")) for text in anchored), anchored


def test_delete_refuses_a_session_being_reviewed_and_reopen_clears_a_decision(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    store_url = (tmp_path / "store").as_uri()
    env = {"PRISM_STORE": store_url}
    doc = big_doc(tmp_path / "d.docx")
    sid = session_id(doc)
    code, out, _ = review(str(doc), "--no-rules", "-f", "json", env=env)
    assert code == 0
    first = json.loads(out)["documents"][0]["findings"][0]["id"]
    assert run_prism("feedback", sid, "reject", first, env=env).code == 0
    assert run_prism("feedback", sid, "reopen", first, env=env).code == 0
    shown = json.loads(run_prism("sessions", "show", sid, "-f", "json", env=env).stdout)
    assert shown["statistics"]["rejected"] == 0
    store = open_store(store_url)
    assert store.acquire(f"leases/{sid}", "busyhost:7 x", 30.0) is None
    busy = run_prism("sessions", "delete", sid, env=env)
    assert busy.code == 4
    assert "being reviewed by busyhost:7" in busy.stderr
    assert Sessions(store).load(sid) is not None  # nothing was deleted


def test_an_empty_section_stays_skipped_on_a_rerun(bedrock: FakeBedrock, tmp_path: Path) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    body = (
        p("Summary", style="Heading1") + p("The batch was sent twice.")
        + p("Timeline", style="Heading1")
        + p("Actions", style="Heading1") + p("Remove the cron entry.")
    )  # fmt: skip
    doc = make_docx(tmp_path / "gap.docx", body)
    runs = [review(str(doc), "--no-rules", "-f", "json", env=env) for _ in range(2)]
    first, second = (
        [s["status"] for s in json.loads(out)["documents"][0]["sections"]] for _, out, _ in runs
    )
    assert first == ["reviewed", "skipped", "reviewed"]
    assert second == ["cached", "skipped", "cached"]
    assert json.loads(runs[1][1])["summary"]["reviewed"] == 2


def test_export_with_extra_report_formats(bedrock: FakeBedrock, tmp_path: Path) -> None:
    env = {"PRISM_STORE": (tmp_path / "store").as_uri()}
    doc = big_doc(tmp_path / "d.docx")
    assert review(str(doc), "--no-rules", "-f", "json", env=env)[0] == 0
    out = run_prism(
        "export", str(doc), "--to", str(tmp_path / "x"), "-f", "sarif", "-f", "junit", env=env
    )
    assert out.code == 0, out.stderr
    folder = Path(out.stdout.strip())
    sarif = json.loads((folder / "report.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert (folder / "report.xml").read_text().startswith("<?xml")
    assert not (folder / "report.github.txt").exists()
    bad = run_prism("export", str(doc), "--to", str(tmp_path / "y"), "-f", "pdf", env=env)
    assert bad.code == 2
    assert "--format must be among" in bad.stderr
    assert not (tmp_path / "y").exists()

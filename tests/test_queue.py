"""Queued reviews as a team runs them: a real redis-server, ``prism worker`` processes, a
``prism review --queue`` over several documents, the fake Bedrock; a worker killed mid-run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock


def documents(folder: Path, count: int = 3, sections: int = 4) -> Path:
    folder.mkdir()
    for d in range(count):
        body = "".join(
            p(f"Part {d}.{i}", style="Heading1") + p(f"Text of part {d}.{i}: the batch ran.")
            for i in range(sections)
        )
        make_docx(folder / f"doc{d}.docx", body)
    return folder


def queue_url(redis_url: str) -> str:
    import redis

    url = redis_url.rsplit("/", 1)[0] + "/1"
    redis.Redis.from_url(url).flushdb()
    return url


def worker(queue: str, *extra: str) -> subprocess.Popen[str]:
    """A worker process; a job it dies with goes to another worker after 3 s (12 by default)."""
    return subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "worker", "--queue", queue, "--region", "us-east-1",
         "--abandon-after", "3", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
    )  # fmt: skip


def durable_redis(tmp_path: Path) -> tuple[int, Callable[[], subprocess.Popen[bytes]]]:
    """A port and how to start (and start again) a redis-server that keeps every write."""
    from conftest import _free_port, start_redis

    port, data = _free_port(), tmp_path / "redis"
    data.mkdir()
    return port, lambda: start_redis(port, data, "--appendonly", "yes", "--appendfsync", "always")


def calls(bedrock: FakeBedrock) -> int:
    return len(bedrock.calls("converse"))


def test_two_workers_one_killed_mid_run_and_the_batch_completes(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs")
    bedrock.latency = 0.6
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    batch = submitted.stdout.strip()
    assert batch.startswith("b")
    status = run_prism("batch", "status", batch, "--queue", queue)
    assert "0 of 12 sections done" in status.stdout, status.stderr
    first, second = worker(queue), worker(queue)
    try:
        deadline = time.monotonic() + 60
        while calls(bedrock) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        in_flight_before = calls(bedrock)
        first.send_signal(signal.SIGKILL)  # mid-job: the fake answers after 0.6 s
        first.wait(10)
        waited = run_prism(
            "batch", "wait", batch, "--queue", queue, "-f", "json", "--fail-on", "never",
            timeout=180,
        )  # fmt: skip
        assert waited.code == 0, waited.stderr
        report = json.loads(waited.stdout)
        statuses = [s["status"] for d in report["documents"] for s in d["sections"]]
        assert statuses == ["reviewed"] * 12
        assert report["framework"]["checkpoints"]  # SARIF rule ids come from them
        assert report["summary"]["findings"] > 0
        # Every section once, plus at most the call in flight when the worker was killed.
        assert 12 <= calls(bedrock) <= 13, in_flight_before
        second.send_signal(signal.SIGTERM)  # graceful: idle, so it stops at once
        try:
            assert second.wait(30) == 0
        except subprocess.TimeoutExpired:
            import faulthandler  # noqa: F401

            os.kill(second.pid, signal.SIGABRT)
            time.sleep(1)
            print("STDERR", second.stderr.read()[-8000:] if second.stderr else "")
            raise
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.kill()
    # The sessions are complete in the shared store: a plain review pays nothing more.
    again = run_prism(
        "review", str(docs), "--store", redis_url, "--region", "us-east-1", "-f", "json",
        "--fail-on", "never",
    )  # fmt: skip
    assert again.code == 0, again.stderr
    assert 12 <= calls(bedrock) <= 13
    assert {s["status"] for d in json.loads(again.stdout)["documents"] for s in d["sections"]} == {
        "cached"
    }


def test_a_job_taken_by_a_worker_killed_before_it_started_is_retried(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    """A worker killed between taking a job and starting it leaves the job in RQ's
    intermediate queue, which only RQ's 10-minute maintenance looked at: a batch waited for
    it for minutes (seen once in CI). A live worker's sweep fails it after a minute there, so
    it is retried."""
    import redis

    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=2)
    bedrock.latency = 3.0
    from rq import Worker

    connection = redis.Redis.from_url(queue)
    proc = worker(queue)  # started (and its start-up maintenance done) before the batch
    try:
        deadline = time.monotonic() + 30
        while Worker.count(connection=connection) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)  # registered: its start-up maintenance is behind it
        submitted = run_prism(
            "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
            "--region", "us-east-1",
        )  # fmt: skip
        assert submitted.code == 0, submitted.stderr
        deadline = time.monotonic() + 30
        while calls(bedrock) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)  # the live worker is on the first job (3 s)
        # What a second worker did before it was killed: took the other job (BLMOVE into
        # the intermediate queue), and died. It has been there for two minutes.
        taken = connection.lmove("rq:queue:prism", "rq:queue:prism:intermediate", "LEFT", "RIGHT")
        assert taken is not None
        key = f"rq:queue:prism:intermediate:first_seen:{taken.decode()}"
        connection.set(key, time.time() - 120)
        bedrock.latency = 0.0
        waited = run_prism(
            "batch", "wait", submitted.stdout.strip(), "--queue", queue, "-f", "json",
            "--fail-on", "never", timeout=60,
        )  # fmt: skip
        assert waited.code == 0, waited.stderr
        report = json.loads(waited.stdout)
        assert [s["status"] for s in report["documents"][0]["sections"]] == ["reviewed"] * 2
    finally:
        proc.kill()


def test_review_follows_the_batch_and_sigterm_finishes_the_job_in_flight(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=6)
    bedrock.latency = 0.8
    proc = worker(queue)
    try:
        deadline = time.monotonic() + 60
        review = subprocess.Popen(
            [sys.executable, "-m", "prism_cli", "review", str(docs), "--store", redis_url,
             "--queue", queue, "--region", "us-east-1", "-f", "json", "--fail-on", "never"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        while calls(bedrock) < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)  # warm shutdown: the section in flight is stored
        assert proc.wait(30) == 0
        stored_after_stop = calls(bedrock)
        assert stored_after_stop < 6
        # The rest stayed queued: another worker (burst) takes it and the review completes.
        rest = worker(queue, "--burst")
        assert rest.wait(90) == 0, rest.stderr.read() if rest.stderr else ""
        out, err = review.communicate(timeout=60)
        assert review.returncode == 0, err
        report = json.loads(out)
        assert [s["status"] for s in report["documents"][0]["sections"]] == ["reviewed"] * 6
        assert calls(bedrock) == 6
    finally:
        if proc.poll() is None:
            proc.kill()


def test_queue_needs_a_shared_store(tmp_path: Path, redis_url: str) -> None:
    docs = documents(tmp_path / "docs", count=1, sections=1)
    result = run_prism(
        "review", str(docs), "--queue", queue_url(redis_url), "--region", "us-east-1",
        env={"PRISM_STORE": ""},
    )  # fmt: skip
    assert result.code == 2
    assert "shared store" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_worker_without_its_queue_says_so(tmp_path: Path) -> None:
    result = run_prism("worker", "--queue", "redis://127.0.0.1:1/0", "--region", "us-east-1")
    assert result.code == 4
    assert "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(os.name != "posix", reason="signals")
def test_cancel_leaves_started_sections_and_drops_the_rest(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=5)
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    batch = submitted.stdout.strip()
    cancelled = run_prism("batch", "cancel", batch, "--queue", queue)
    assert cancelled.code == 0, cancelled.stderr
    assert "5 queued sections cancelled" in cancelled.stderr
    # cancel, status and wait say the same: cancelled is a state of its own, not "failed".
    assert "0 of 5 sections done, 0 failed, 5 cancelled, 0 left" in cancelled.stderr
    status = run_prism("batch", "status", batch, "--queue", queue)
    assert "0 of 5 sections done, 0 failed, 5 cancelled, 0 left" in status.stdout
    waited = run_prism("batch", "wait", batch, "--queue", queue, "-f", "json")
    assert waited.code == 3, waited.stderr  # incomplete: nothing was reviewed
    statuses = {s["status"] for s in json.loads(waited.stdout)["documents"][0]["sections"]}
    assert statuses == {"failed"}
    assert calls(bedrock) == 0
    # One line for the five, not a line each.
    warned = [line for line in waited.stderr.splitlines() if "not reviewed" in line]
    assert len(warned) == 1
    assert warned[0].startswith("warning: 5 sections not reviewed: cancelled before it started")


def test_redis_restarting_mid_batch_loses_nothing_stored(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    port, start = durable_redis(tmp_path)
    server = start()
    store, queue = f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/1"
    docs = documents(tmp_path / "docs", count=1, sections=6)
    bedrock.latency = 0.5
    submitted = run_prism(
        "review", str(docs), "--store", store, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    proc = worker(queue)
    try:
        deadline = time.monotonic() + 60
        while calls(bedrock) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # mid-batch, mid-call
        server.wait(10)
        time.sleep(1.0)
        server = start()
        waited = run_prism(
            "batch", "wait", submitted.stdout.strip(), "--queue", queue, "-f", "json",
            "--fail-on", "never", timeout=180,
        )  # fmt: skip
        assert waited.code == 0, waited.stderr
        sections = json.loads(waited.stdout)["documents"][0]["sections"]
        assert [s["status"] for s in sections] == ["reviewed"] * 6
        assert 6 <= calls(bedrock) <= 7  # at most the call in flight at the restart again
        assert proc.poll() is None  # the worker outlived the restart
    finally:
        proc.kill()
        server.kill()


def test_worker_concurrency_runs_several_processes(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=4)
    bedrock.latency = 3.0
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    # A starting rate for the model: no ramp-up from two calls in flight.
    (tmp_path / "prism.toml").write_text("[models.claude-sonnet-5-5]\ntpm = 10000000\n")
    done = run_prism(
        "worker", "--queue", queue, "--burst", "--concurrency", "4", "--region", "us-east-1",
        "--log-json", "worker-events.jsonl", cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    assert "4 processes" in done.stderr
    assert calls(bedrock) == 4
    # Four 3-second calls side by side, not one after another (that would spread them 9 s).
    timed = zip(bedrock.requests, bedrock.request_times, strict=True)
    starts = [t for (_m, op, _b), t in timed if op == "converse"]
    assert max(starts) - min(starts) < 3.0
    # Every process logged its calls and sections to the one file.
    events = [json.loads(x) for x in (tmp_path / "worker-events.jsonl").read_text().splitlines()]
    assert sum(1 for e in events if e["event"] == "section_end") == 4
    assert sum(1 for e in events if e["event"] == "call" and e["ok"]) == 4
    # Correlated as a local run's: the batch's id, the document's path (not its session id),
    # the section, on every call and section end.
    batch_id = submitted.stdout.strip()
    worked = [e for e in events if e["event"] in {"call", "section_end"}]
    assert {e["run_id"] for e in worked} == {batch_id}
    assert {e["batch_id"] for e in worked} == {batch_id}
    assert {Path(e["document"]).name for e in worked} == {"doc0.docx"}
    assert {e["section"] for e in worked} == {"s1", "s2", "s3", "s4"}
    assert "0 left" in run_prism("batch", "status", batch_id, "--queue", queue).stdout


def test_jobs_are_retried_with_backoff(redis_url: str, tmp_path: Path) -> None:
    import redis
    from rq.job import Job

    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=2)
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    connection = redis.Redis.from_url(queue)
    ids = [k.decode().removeprefix("rq:job:") for k in connection.keys("rq:job:prism-*")]
    assert len(ids) == 2
    for job in (Job.fetch(i, connection=connection) for i in ids):
        assert job.retries_left == 3
        assert job.retry_intervals == [2, 10, 30]
        assert job.func_name == "prism_cli.batch.worker.section_job"
        assert redis_url not in str(job.description)


def test_a_waiter_does_not_read_a_report_a_worker_is_still_writing(redis_url: str) -> None:
    import threading

    import redis

    from prism_cli.batch import model as jobs

    connection = redis.Redis.from_url(queue_url(redis_url))
    batch = jobs.Batch("bwait", redis_url, True, [{"session": "s", "sections": []}])
    flag = "prism:batch:bwait:finished:s"
    connection.set(flag, "finishing 1234")  # a worker is finishing the session
    done = threading.Event()

    def waiter() -> None:
        assert jobs.finish_once(connection, None, batch, "s", wait=True) is False  # type: ignore[arg-type]
        done.set()

    thread = threading.Thread(target=waiter)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()  # still waiting for the worker
    connection.set(flag, "done")
    thread.join(5)
    assert done.is_set()


def test_a_section_that_fails_for_good_still_ends_its_session(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    """No one waits for this batch: the worker finishes the session itself, the section that
    could not be reviewed reported failed."""
    import redis
    from rq import Queue
    from rq.job import Job

    from prism_cli.stores.service import open_sessions

    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=3)
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    connection = redis.Redis.from_url(queue)
    (job_id,) = [k.decode()[len("rq:job:") :] for k in connection.keys("rq:job:prism-*-s2")]
    job = Job.fetch(job_id, connection=connection)
    store_url, batch_id, sid, _ = job.args
    job.delete()
    # The same job, for a section the document does not have, with no retry left.
    Queue("prism", connection=connection).enqueue(
        "prism_cli.batch.worker.section_job", args=(store_url, batch_id, sid, "s99"), job_id=job_id
    )
    done = run_prism("worker", "--queue", queue, "--burst", "--region", "us-east-1")
    assert done.code == 0, done.stderr
    sessions = open_sessions(redis_url)
    assert sessions.require(sid).status.value == "incomplete"
    report = sessions.report(sid)
    assert report is not None
    statuses = {s["id"]: s["status"] for s in report["documents"][0]["sections"]}
    assert statuses == {"s1": "reviewed", "s2": "failed", "s3": "reviewed"}
    status = run_prism("batch", "status", submitted.stdout.strip(), "--queue", queue)
    assert "2 of 3 sections done, 1 failed, 0 cancelled, 0 left" in status.stdout


def test_a_section_no_model_could_review_is_retried_with_backoff(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    from fake_bedrock import Err

    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=1)
    # Bedrock unavailable for longer than the engine's own retries: the job fails this time,
    # and its retry (after the backoff) is answered.
    down = Err("ServiceUnavailableException", 503, "Bedrock is unavailable")
    bedrock.queue("us.anthropic.claude-sonnet-5-5", down, down, down)
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1", "-m", "claude-sonnet-5-5",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    proc = worker(queue)
    try:
        waited = run_prism(
            "batch", "wait", submitted.stdout.strip(), "--queue", queue, "-f", "json",
            "--fail-on", "never", timeout=120,
        )  # fmt: skip
        assert waited.code == 0, waited.stderr
        sections = json.loads(waited.stdout)["documents"][0]["sections"]
        assert [s["status"] for s in sections] == ["reviewed"]
        assert len(bedrock.calls()) == 4  # three refused, then the retry's answer
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "(retried, " in err
    assert "Traceback" not in err


def test_sigterm_ends_a_worker_s_quota_wait_at_once(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    """The report of December 2026: a worker waiting for its quota ignored SIGTERM for
    minutes. With 2 requests a minute the second job waits ~30 s; SIGTERM ends the wait."""
    queue = queue_url(redis_url)
    docs = documents(tmp_path / "docs", count=1, sections=3)
    (tmp_path / "prism.toml").write_text("[models.claude-sonnet-5-5]\nrpm = 2\n", "utf-8")
    submitted = run_prism(
        "review", str(docs), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1", "-m", "claude-sonnet-5-5", cwd=tmp_path,
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "worker", "--queue", queue, "--region", "us-east-1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while calls(bedrock) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # the next job waits for the quota now
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert proc.wait(15) == 0
        assert time.monotonic() - stopped < 8
        assert calls(bedrock) == 1
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def secret_store(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A session store on a redis-server that wants a password."""
    from conftest import _free_port, start_redis

    port = _free_port()
    proc = start_redis(port, tmp_path, password="Tr0ub4dor-s3cret")
    yield f"redis://:Tr0ub4dor-s3cret@127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def _every_value(url: str) -> list[bytes]:
    """Every key and value of a Redis database, RQ's compressed job data opened."""
    import contextlib
    import zlib

    import redis

    client = redis.Redis.from_url(url)
    out: list[bytes] = []
    for key in client.scan_iter():
        out.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = [v for pair in client.hgetall(key).items() for v in pair]
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        for value in values:
            if value is None:
                continue
            out.append(value)
            with contextlib.suppress(zlib.error):
                out.append(zlib.decompress(value))
    return out


def test_no_secret_of_the_store_is_kept_in_the_queue(
    bedrock: FakeBedrock, tmp_path: Path, redis_url: str, secret_store: str
) -> None:
    queue = queue_url(redis_url)
    folder = documents(tmp_path / "docs", count=2, sections=2)
    review = run_prism(
        "review", str(folder), "--queue", queue, "--store", secret_store, "--no-wait",
        "--region", "us-east-1", "--no-rules",
    )  # fmt: skip
    assert review.code == 0, review.stderr
    batch_id = review.stdout.strip()
    assert "Tr0ub4dor" not in review.stdout + review.stderr
    # The hint can be pasted: the store is named by the variable that holds it.
    assert '--store "$PRISM_STORE"' in review.stderr
    # A worker without the store's credentials cannot open it; with them (its own --store)
    # it reviews every section.
    done = subprocess.run(
        [sys.executable, "-m", "prism_cli", "worker", "--queue", queue, "--burst",
         "--region", "us-east-1", "--store", secret_store],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Tr0ub4dor" not in done.stdout + done.stderr
    assert calls(bedrock) == 4
    held = b"\n".join(_every_value(queue))
    assert b"Tr0ub4dor" not in held
    assert b"127.0.0.1" in held  # the store is named, only without its password
    waited = run_prism(
        "batch", "wait", batch_id, "--queue", queue, "--store", secret_store, "-f", "json"
    )
    assert waited.code == 0, waited.stderr
    assert len(json.loads(waited.stdout)["documents"]) == 2


def test_the_follower_waits_out_a_redis_restart_as_the_workers_do(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    port, start = durable_redis(tmp_path)
    server = start()
    store, queue = f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/1"
    docs = documents(tmp_path / "docs", count=1, sections=4)
    bedrock.latency = 0.4
    follower = subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "review", str(docs), "--store", store, "--queue", queue,
         "--region", "us-east-1", "-f", "json", "--fail-on", "never"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    proc = worker(queue)
    try:
        deadline = time.monotonic() + 60
        while calls(bedrock) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()  # the follower is polling the queue
        server.wait(10)
        time.sleep(2.0)
        server = start()
        out, err = follower.communicate(timeout=120)
        assert follower.returncode == 0, err
        assert "Traceback" not in err
        assert "cannot be reached" in err  # it said it was waiting
        assert "the queue is back" in err
        assert [s["status"] for s in json.loads(out)["documents"][0]["sections"]] == [
            "reviewed"
        ] * 4
    finally:
        follower.kill()
        proc.kill()
        server.kill()


def test_identical_sections_are_paid_once_in_a_batch(
    bedrock: FakeBedrock, redis_url: str, tmp_path: Path
) -> None:
    # Two copies of one document and a third with one section in common: as a local run,
    # each distinct section is sent once; the copies take the first's result.
    queue = queue_url(redis_url)
    folder = tmp_path / "docs"
    folder.mkdir()
    same = "".join(
        p(f"Part {i}", style="Heading1") + p(f"Text of part {i}: the batch ran twice.")
        for i in range(3)
    )
    make_docx(folder / "a.docx", same)
    make_docx(folder / "b.docx", same + p("Signed", style="Heading1") + p("By the owner, today."))
    make_docx(
        folder / "c.docx", p("Part 0", style="Heading1") + p("Text of part 0: the batch ran twice.")
    )
    submitted = run_prism(
        "review", str(folder), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1", "--no-rules",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    done = run_prism("worker", "--queue", queue, "--burst", "--region", "us-east-1")
    assert done.code == 0, done.stderr
    assert calls(bedrock) == 4  # parts 0-2 and "Signed": 4 distinct sections of 8
    waited = run_prism("batch", "wait", submitted.stdout.strip(), "--queue", queue, "-f", "json")
    assert waited.code in (0, 1), waited.stderr
    report = json.loads(waited.stdout)
    statuses = [s["status"] for d in report["documents"] for s in d["sections"]]
    assert len(statuses) == 8
    assert set(statuses) <= {"reviewed", "cached"}
    assert statuses.count("reviewed") == 4
    assert report["summary"]["usage"]["calls"] == 4


def test_a_batch_through_a_redis_restart_reports_exactly_the_calls_served(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    # 40 documents, two workers, the store's and the queue's Redis killed mid-batch: a call in
    # flight keeps its answer (its shared quota and its store wait for Redis), nothing is
    # paid twice, and the report's usage is what Bedrock served.
    port, start = durable_redis(tmp_path)
    server = start()
    store, queue = f"redis://127.0.0.1:{port}/0", f"redis://127.0.0.1:{port}/1"
    docs = documents(tmp_path / "docs", count=40, sections=2)
    bedrock.latency = 0.2
    submitted = run_prism(
        "review", str(docs), "--store", store, "--queue", queue, "--no-wait",
        "--region", "us-east-1",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    procs = [worker(queue), worker(queue)]
    try:
        deadline = time.monotonic() + 60
        while calls(bedrock) < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        server.wait(10)
        time.sleep(2.0)
        server = start()
        waited = run_prism(
            "batch", "wait", submitted.stdout.strip(), "--queue", queue, "-f", "json",
            "--fail-on", "never", timeout=240,
        )  # fmt: skip
        assert waited.code == 0, waited.stderr
        report = json.loads(waited.stdout)
        assert calls(bedrock) == 80  # each section once
        assert report["summary"]["usage"]["calls"] == calls(bedrock)
        assert {s["status"] for d in report["documents"] for s in d["sections"]} == {"reviewed"}
    finally:
        for proc in procs:
            proc.kill()
        server.kill()

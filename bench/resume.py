"""What an interrupted review costs, and what each session store adds per section.

    python bench/resume.py [--sections 40] [--latency 0.2] [--concurrency 4] [--kill-after 15]
                           [--writes 200]

1. Resume cost. ``prism review`` (a real subprocess, real boto3) against the fake Bedrock of
   tests/ with a per-call latency: once uninterrupted, then once killed with SIGKILL after
   ``--kill-after`` sections were stored and run again to the end. Prints the calls and tokens
   of the interrupted-then-resumed run relative to the uninterrupted one, against the target
   ``1 + in-flight/sections`` (in-flight = calls the killed process had sent but not stored).
2. Store overhead. For each backend (disk, a real redis-server if installed, moto's S3 server)
   the time ``prism review`` spends per finished section: the atomic result write (session +
   cache) and its activity-log entry, plus the per-section lookup a resume does; ms per section,
   median of ``--writes`` sections.
3. Rerun scaling (``--scaling``, or ``--only scaling``). A disk store that already holds
   ``--others`` sessions of other documents; ``prism review`` of 50 and of 500 small documents,
   then the same command again, unchanged (0 calls). Prints seconds per document of each
   unchanged rerun; target: 500 documents cost about what 50 do per document.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def build(path: Path, sections: int) -> Path:
    from docbuilder import make_docx, p

    body = "".join(
        p(f"Part {i}", style="Heading1")
        + p(f"Paragraph {i}: the batch for region {i} was sent twice and recovered later.")
        for i in range(1, sections + 1)
    )
    return make_docx(path, body)


def review(doc: Path, store: str, concurrency: int, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "review", str(doc), "--store", store, "--no-rules",
         "-f", "json", "--concurrency", str(concurrency), "--region", "us-east-1", "--wait"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def resume_cost(args: argparse.Namespace, work: Path) -> None:
    from fake_bedrock import FakeBedrock
    from prism_cli.stores.url import open_store

    fake = FakeBedrock().start()
    fake.latency = args.latency
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "PRISM_LEASE_TTL": "1",
        "XDG_DATA_HOME": str(work / "data"),
    }

    doc_a = build(work / "a.docx", args.sections)
    proc = review(doc_a, (work / "store-a").as_uri(), args.concurrency, env)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    base_calls, base_tokens = len(fake.requests), fake.tokens_served

    doc_b = build(work / "b.docx", args.sections)  # same content, its own store
    store_b = (work / "store-b").as_uri()
    sid = hashlib.sha256(doc_b.read_bytes()).hexdigest()[:12]
    store = open_store(store_b)
    start_calls, start_tokens = len(fake.requests), fake.tokens_served
    proc = review(doc_b, store_b, args.concurrency, env)
    while len(store.list(f"sessions/{sid}/results/")) < args.kill_after:
        if proc.poll() is not None:
            raise SystemExit("the run finished before it could be killed: raise --sections")
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    time.sleep(args.latency + 0.3)  # calls in flight reach the server
    stored = len(store.list(f"sessions/{sid}/results/"))
    killed_calls = len(fake.requests) - start_calls
    in_flight = killed_calls - stored
    proc = review(doc_b, store_b, args.concurrency, env)
    out, err = proc.communicate()
    assert proc.returncode == 0, err
    report = json.loads(out)
    assert report["summary"]["reviewed"] == args.sections
    calls = len(fake.requests) - start_calls
    tokens = fake.tokens_served - start_tokens
    fake.stop()
    target = 1 + in_flight / args.sections
    print(f"resume cost: {args.sections} sections, latency {args.latency}s, concurrency "
          f"{args.concurrency}; SIGKILL after {stored} sections stored, {in_flight} in flight")  # fmt: skip
    print(f"  uninterrupted:          {base_calls} calls, {base_tokens} tokens")
    print(f"  interrupted + resumed:  {calls} calls, {tokens} tokens")
    print(f"  ratio calls {calls / base_calls:.3f}, tokens {tokens / base_tokens:.3f}  "
          f"(target <= {target:.3f} = 1 + {in_flight}/{args.sections})")  # fmt: skip


def store_overhead(args: argparse.Namespace, work: Path) -> None:
    from prism_cli.core.findings import Finding
    from prism_cli.core.pipeline import SectionResult
    from prism_cli.core.ports import Usage
    from prism_cli.core.session import DocumentInfo, Sessions, cache_key
    from prism_cli.stores.url import open_store

    backends: list[tuple[str, str]] = [("disk (diskcache)", (work / "store-o").as_uri())]
    cleanups = []
    redis_bin = shutil.which("redis-server")
    if redis_bin:
        port = free_port()
        redis_proc = subprocess.Popen(
            [redis_bin, "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )
        cleanups.append(redis_proc.terminate)
        time.sleep(0.5)
        backends.append(("redis", f"redis://127.0.0.1:{port}/0"))
    else:
        print("  (redis-server not installed: redis skipped)")
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    cleanups.append(moto.stop)
    os.environ.update(
        AWS_ENDPOINT_URL_S3=f"http://127.0.0.1:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    import boto3

    boto3.client("s3").create_bucket(Bucket="bench")
    backends.append(("s3 (moto server)", "s3://bench/prism"))

    finding = Finding(
        id="s1-m1", section_id="s1", severity="medium", type="important", category="clarity",
        title="Say who does what by when", description="No owner for the follow-up." * 5,
        suggestion="Name an owner.", quote="the batch was sent twice", confidence=0.9,
    )  # fmt: skip
    print(f"store overhead per section (median of {args.writes}):")
    for name, url in backends:
        sessions = Sessions(open_store(url), who="bench", unique=lambda: os.urandom(4).hex())
        sessions.store.check()
        sessions.new("bench", DocumentInfo("/b.docx", "b.docx", "x"), {})
        writes, reads = [], []
        for i in range(args.writes):
            result = SectionResult(
                f"s{i}", "reviewed", model="m", attempts=1,
                findings=[finding.model_copy(update={"section_id": f"s{i}"})] * 3,
                usage={"m": Usage(1, 900, 120)},
            )  # fmt: skip
            key = cache_key(f"text {i}", "fw", "", "v")
            t0 = time.perf_counter()
            sessions.put_result("bench", result, key)
            sessions.log("bench", "section_done", "3 findings", section=f"s{i}", model="m")
            t1 = time.perf_counter()
            sessions.result("bench", f"s{i}")
            sessions.cached(key)
            t2 = time.perf_counter()
            writes.append((t1 - t0) * 1000)
            reads.append((t2 - t1) * 1000)
        print(f"  {name:<18} write {statistics.median(writes):6.2f} ms   "
              f"resume lookup {statistics.median(reads):6.2f} ms")  # fmt: skip
    for cleanup in cleanups:
        cleanup()


def fill_others(store_url: str, count: int) -> None:
    """``count`` finished sessions of other documents, as a store kept in a CI cache holds."""
    from prism_cli.core.pipeline import SectionResult
    from prism_cli.core.ports import Usage
    from prism_cli.core.session import DocumentInfo, Sessions, cache_key
    from prism_cli.stores.url import open_store

    sessions = Sessions(open_store(store_url), who="bench", unique=lambda: os.urandom(4).hex())
    for n in range(count):
        sid = f"other{n:06d}"
        sessions.new(sid, DocumentInfo(f"/o{n}.docx", f"o{n}.docx", f"{n:064x}"), {})
        for i in range(4):
            key = cache_key(f"other {n} {i}", "fw", "", "v")
            result = SectionResult(f"s{i}", "reviewed", model="m", usage={"m": Usage(1, 900, 120)})
            sessions.put_result(sid, result, key)
        sessions.log(sid, "finished", "4 of 4 sections reviewed")


def scaling(args: argparse.Namespace, work: Path) -> None:
    from docbuilder import make_docx, p
    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "XDG_DATA_HOME": str(work / "data"),
        "PRISM_NO_DISCOVERY": "1",
    }
    store = (work / "store-scale").as_uri()
    t0 = time.perf_counter()
    fill_others(store, args.others)
    print(f"rerun scaling: a disk store with {args.others} other sessions "
          f"(filled in {time.perf_counter() - t0:.0f}s)")  # fmt: skip
    for count in (50, 500):
        folder = work / f"docs{count}"
        folder.mkdir()
        for n in range(count):
            make_docx(
                folder / f"d{n:04d}.docx",
                p("Scope", style="Heading1") + p(f"Document {count}/{n}: the batch was sent twice.")
                + p("Actions", style="Heading1") + p(f"Document {count}/{n}: the owner is J. Doe."),
            )  # fmt: skip
        cmd = [sys.executable, "-m", "prism_cli", "review", str(folder), "--store", store,
               "--no-rules", "-f", "json", "--region", "us-east-1", "--concurrency", "8"]  # fmt: skip
        first = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert first.returncode == 0, first.stderr[-2000:]
        calls = len(fake.requests)
        t0 = time.perf_counter()
        again = subprocess.run(cmd, capture_output=True, text=True, env=env)
        elapsed = time.perf_counter() - t0
        assert again.returncode == 0, again.stderr[-2000:]
        assert len(fake.requests) == calls, "an unchanged rerun made calls"
        print(f"  {count:4d} documents: unchanged rerun {elapsed:6.2f}s = "
              f"{elapsed / count * 1000:6.1f} ms per document (0 calls)")  # fmt: skip
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sections", type=int, default=40)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--kill-after", type=int, default=15)
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--others", type=int, default=5000, help="other sessions (scaling)")
    parser.add_argument("--only", choices=["resume", "overhead", "scaling"], default=None)
    parser.add_argument("--scaling", action="store_true", help="also run the rerun scaling")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prism-bench-") as tmp:
        if args.only in (None, "resume"):
            resume_cost(args, Path(tmp))
        if args.only in (None, "overhead"):
            store_overhead(args, Path(tmp))
        if args.only == "scaling" or args.scaling:
            scaling(args, Path(tmp))


if __name__ == "__main__":
    main()

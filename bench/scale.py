"""Scale-out of queued reviews: sections per second for 1, 2 and 4 ``prism worker`` processes.

    python bench/scale.py [--scenario latency|quota|all] [--docs 8] [--sections 12]
                          [--latency 0.5] [--workers 1,2,4]

A real redis-server (queue at db 1, sessions at db 0) and the fake Bedrock of tests/ run
locally. Workers are started first and registered before the clock starts; each run submits
``prism review --queue --no-wait`` and times until every section is stored.

* ``latency`` (default): a fixed per-call latency, no quota. Prints sections/s per worker
  count and the speed-up against 1 worker (targets: >= 1.8x at 2, >= 3.4x at 4).
* ``quota``: 4 workers against a token quota (``--tpm`` quota tokens per ``--window`` seconds,
  refilled continuously, or reset on the clock with ``--quota window``) that all of them share
  through Redis. Prints the achieved quota-token
  rate against the quota's rate (target >= 0.90) and the share of calls answered 429 across
  all workers (target <= 10%). The workers are told the quota's period (``PRISM_QUOTA_PERIOD``,
  Bedrock's is a minute), not its size.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_redis(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)
    for _ in range(200):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}"


def make_documents(folder: Path, docs: int, sections: int) -> None:
    from docbuilder import make_docx, p

    folder.mkdir(parents=True, exist_ok=True)
    for d in range(docs):
        body = "".join(
            p(f"Part {d}.{i}", style="Heading1")
            + p(f"Document {d} part {i}: the settlement batch was sent twice on Monday.")
            for i in range(sections)
        )
        make_docx(folder / f"doc{d}.docx", body)


def run_batch(
    redis_url: str, folder: Path, workers: int, env: dict[str, str], *extra: str
) -> float:
    """Seconds from submitting the batch to every section stored, with ``workers`` warm."""
    import redis
    from rq import Worker

    store, queue = redis_url + "/0", redis_url + "/1"
    for db in (0, 1):
        redis.Redis.from_url(f"{redis_url}/{db}").flushdb()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "prism_cli",
                "worker",
                "--queue",
                queue,
                "--region",
                "us-east-1",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    connection = redis.Redis.from_url(queue)
    try:
        while len(Worker.all(connection=connection)) < workers:
            time.sleep(0.1)
        time.sleep(0.5)
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "prism_cli", "review", str(folder), "--store", store,
             "--queue", queue, "--region", "us-east-1", "-f", "json", "--fail-on", "never",
             *extra],
            env={**env, "PRISM_PROGRESS_INTERVAL": "3600"}, capture_output=True, text=True,
        )  # fmt: skip
        elapsed = time.monotonic() - start
        if done.returncode != 0:
            sys.exit(f"review --queue failed ({done.returncode}): {done.stderr[-2000:]}")
        return elapsed
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def environment(fake: Any, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": fake.url,
        "AWS_ENDPOINT_URL_BEDROCK": fake.url,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "XDG_DATA_HOME": str(tmp / "data"),
        "XDG_CACHE_HOME": str(tmp / "cache"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
    }


def latency(args: argparse.Namespace, redis_url: str, tmp: Path) -> None:
    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    fake.latency = args.latency
    env = environment(fake, tmp)
    folder = tmp / "docs"
    make_documents(folder, args.docs, args.sections)
    total = args.docs * args.sections
    counts = [int(n) for n in args.workers.split(",")]
    rates: dict[int, float] = {}
    print(f"[latency] {total} sections ({args.docs} docs x {args.sections}), "
          f"{args.latency}s per call, no quota")  # fmt: skip
    for n in counts:
        before = len(fake.calls())
        seconds = run_batch(redis_url, folder, n, env)
        calls = len(fake.calls()) - before
        rates[n] = total / seconds
        ideal = total / (-(-total // n) * args.latency)
        print(f"  {n} worker{'s' if n > 1 else ' '}: {seconds:5.1f}s  {rates[n]:5.2f} sections/s "
              f"(ideal {ideal:.2f})  calls {calls}")  # fmt: skip
    base = rates[counts[0]]
    targets = {2: 1.8, 4: 3.4}
    for n in counts[1:]:
        target = f"  (target >= {targets[n]}x)" if n in targets else ""
        print(f"  speed-up at {n}: {rates[n] / base:.2f}x{target}")
    fake.stop()


def quota(args: argparse.Namespace, redis_url: str, tmp: Path) -> None:
    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    fake.latency = args.quota_latency
    fake.window = args.window
    fake.tpm, fake.tpm_mode = args.tpm, args.quota
    fake.output_tokens = 300
    env = {**environment(fake, tmp), "PRISM_QUOTA_PERIOD": str(args.window)}
    folder = tmp / "docs-quota"
    make_documents(folder, args.docs, args.quota_sections)
    total = args.docs * args.quota_sections
    # One model: a fallback to the next model of the chain would use another quota.
    seconds = run_batch(redis_url, folder, 4, env, "--model", "claude-sonnet-5-5")
    answered = [b for _m, b in fake.calls()]
    accepted = len(answered) - fake.throttled
    settled = sum(fake.quota_tokens(b) for b in answered) / max(len(answered), 1) * accepted
    rate = args.tpm / args.window
    # The best any set of clients can do: the bucket's tokens at once, then the quota's rate.
    ideal = max(0.0, settled - args.tpm) / rate + args.quota_latency
    if args.quota == "window":
        # A clock window gives its tokens from its start, in whole calls (as bench/review.py
        # counts them): what is left of the first window, then m calls per window, each taken
        # while the window still has room for one more hold (input + maxTokens).
        body = answered[0]
        hold = fake.input_tokens(body) + body["inferenceConfig"]["maxTokens"]
        per_call = settled / max(accepted, 1)
        m = int((args.tpm - hold) // per_call) + 1
        phase = fake.request_times[0] % args.window
        windows = -(-max(0, accepted - m) // m)
        ideal = (args.window - phase) + max(0, windows - 1) * args.window + args.quota_latency
    share = fake.throttled / max(len(answered), 1)
    print(f"[quota] {total} sections, 4 workers, quota {args.tpm} tokens / {args.window:g}s "
          f"({args.quota}), {args.quota_latency}s per call")  # fmt: skip
    print(f"  {settled / max(accepted, 1):.0f} quota tokens per call; elapsed {seconds:.1f}s; "
          f"quota-limited time {ideal:.1f}s")  # fmt: skip
    print(f"  ratio achieved/limit: {ideal / seconds:.2f}  (target >= 0.90)")
    print(f"  429s: {fake.throttled} of {len(answered)} calls = {share:.1%}  (target <= 10%)")
    print(f"  lost sections: {total - accepted}  (target 0)")
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", choices=["latency", "quota", "all"], default="latency")
    parser.add_argument("--docs", type=int, default=8)
    parser.add_argument("--sections", type=int, default=12)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--tpm", type=int, default=60_000)
    parser.add_argument("--window", type=float, default=5.0)
    parser.add_argument("--quota-sections", type=int, default=30)
    parser.add_argument("--quota", choices=["bucket", "window"], default="bucket")
    parser.add_argument("--quota-latency", type=float, default=0.2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="prism-scale-") as tmp:
        server, url = start_redis(Path(tmp))
        try:
            if args.scenario in ("latency", "all"):
                latency(args, url, Path(tmp))
            if args.scenario in ("quota", "all"):
                quota(args, url, Path(tmp))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    main()

"""A many-document run against slow calls: how close ``prism review --concurrency N`` comes to
the ideal of N calls always in flight.

    python bench/concurrency.py [--docs 200] [--sections 2] [--latency 0.3] [--concurrency 16]
                                [--quotas read|none]

``--docs`` small documents of ``--sections`` sections each are reviewed in one ``prism review
DIR -f json`` process (a real subprocess, store on local disk) against the fake Bedrock of
tests/, each call taking ``--latency`` seconds. The ideal is ceil(calls / concurrency) x latency;
prints the run's wall time, the ideal, and ideal / wall (target >= 0.8), then times an unchanged
rerun of the same folder (0 calls). ``--quotas read`` (the default) has the fake answer as an
account does (its models, and quotas from Service Quotas that do not bind here); ``none`` refuses
both, and the engine learns the quotas, ramping up from 2 calls in flight. Either way the first
call to a model goes alone (it proves the model and writes the prompt cache the others read).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--sections", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "--quotas",
        choices=("read", "none"),
        default="read",
        help="read: the account answers, its quotas readable from Service Quotas (10,000 "
        "requests and 10M tokens a minute: not binding here), as doctor reads them; none: "
        "both refused, the engine learns the quotas, ramping up from 2 calls in flight",
    )
    args = parser.parse_args()

    from docbuilder import make_docx, p
    from fake_bedrock import FakeBedrock

    work = Path(tempfile.mkdtemp(prefix="prism-concurrency-"))
    folder = work / "docs"
    folder.mkdir()
    for d in range(args.docs):
        body = "".join(
            p(f"Part {s} of document {d}", style="Heading1")
            + p(f"Document {d}, part {s}: the batch was sent twice and recovered on day {s}.")
            for s in range(1, args.sections + 1)
        )
        make_docx(folder / f"doc{d:04}.docx", body)
    fake = FakeBedrock().start()
    fake.latency = args.latency
    if args.quotas == "read":
        name = "Cross-region model inference {} per minute for Anthropic Claude Sonnet 5.5"
        fake.service_quotas = [
            {"QuotaName": name.format("requests"), "QuotaCode": "L-R", "Value": 10_000},
            {"QuotaName": name.format("tokens"), "QuotaCode": "L-T", "Value": 10_000_000},
        ]
    env = {**fake.prism_env(work), "NO_COLOR": "1"}
    if args.quotas == "read":  # the account answers: its models and its quotas
        env["AWS_ENDPOINT_URL_BEDROCK"] = env["AWS_ENDPOINT_URL_SERVICE_QUOTAS"] = fake.url
    cmd = [
        sys.executable, "-m", "prism_cli", "review", str(folder), "-f", "json",
        "--region", "us-east-1", "--fail-on", "never", "--no-rules",
        "--concurrency", str(args.concurrency),
    ]  # fmt: skip
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"prism review failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    calls = len(fake.requests)
    ideal = math.ceil(calls / args.concurrency) * args.latency
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    rerun = time.perf_counter() - start
    fake.stop()
    print(f"{args.docs} documents x {args.sections} sections: {calls} calls of "
          f"{args.latency * 1000:.0f} ms at --concurrency {args.concurrency}, "
          f"quotas {args.quotas}")  # fmt: skip
    print(f"  run:   {wall:6.2f} s   ideal {ideal:.2f} s   ideal / run = {ideal / wall:.2f}"
          "  (target >= 0.8)")  # fmt: skip
    print(f"  unchanged rerun: {rerun:.2f} s ({len(fake.requests) - calls} calls)")


if __name__ == "__main__":
    main()

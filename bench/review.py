"""Throughput of ``prism review`` against a rate-limited fake Bedrock.

    python bench/review.py [--docs 4] [--sections 30] [--latency 0.2] [--rpm 30] [--window 5]
                           [--quota bucket|window] [--concurrency 16]

N documents x M sections are reviewed in-process through the real pipeline and real boto3,
against the fake server of tests/ with a per-call latency and a request quota of ``rpm`` calls
per ``window`` seconds (a short window keeps the run short), enforced as a refilling token
bucket like AWS rate limits (``--quota bucket``, the default) or as a sliding window of calls
(``--quota window``: a client that spaces its calls evenly cannot reach the limit there, which
needs bursts in step with the window; the ratio shows how far off it is). Prints the achieved
sections per second against the quota's limit (ratio; target >= 0.90), the number of 429s,
lost sections (target 0) and calls vs sections (target equal when no error is injected).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--sections", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--rpm", type=int, default=30, help="calls allowed per window")
    parser.add_argument("--window", type=float, default=5.0, help="quota window in seconds")
    parser.add_argument(
        "--quota",
        choices=["bucket", "window"],
        default="bucket",
        help="how the fake enforces the quota: a refilling token bucket or a sliding window",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    fake.latency = args.latency
    fake.rpm = args.rpm
    fake.window = args.window
    fake.quota = args.quota
    os.environ.update(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )

    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_boto_client
    from prism_cli.cli.review import load_framework
    from prism_cli.core.document import Block, BlockKind, Section
    from prism_cli.core.fallback import RetryPolicy
    from prism_cli.core.pipeline import DocumentContext, Reviewer, ReviewSettings, SectionResult

    catalog = load_catalog()
    client, region = make_boto_client("us-east-1", None)
    chain, _ = catalog.chain(region, ["claude-sonnet-4-5"])
    # A rate-limited batch should wait for its quota rather than give up on a section.
    policy = RetryPolicy(attempts_per_model=50, base_delay=0.25, max_delay=args.window)
    reviewer = Reviewer(
        BedrockClient(client), chain, ReviewSettings(concurrency=args.concurrency), policy=policy
    )
    framework = load_framework(None)
    jobs = []
    for d in range(args.docs):
        sections = [
            Section(
                f"s{i + 1}", i, f"Section {i + 1}", 1, i * 2,
                (Block(BlockKind.PARAGRAPH, f"Document {d} section {i}: the batch was sent twice.", i * 2 + 1),),
            )
            for i in range(args.sections)
        ]  # fmt: skip
        ctx = DocumentContext(f"doc{d}", sections, framework)
        jobs += [(ctx, s) for s in sections]
    results: list[SectionResult] = []
    start = time.monotonic()
    reviewer.review_all(jobs, lambda _ctx, r: results.append(r), workers=args.concurrency)
    elapsed = time.monotonic() - start
    fake.stop()

    total = len(jobs)
    reviewed = sum(1 for r in results if r.status == "reviewed")
    calls = len(fake.requests)
    successful_calls = calls - fake.throttled
    # The best any client can do: the first `rpm` calls at once, then `rpm` per window; or, when
    # the quota does not bind, `concurrency` calls per latency.
    quota_time = max(0.0, total - args.rpm) * args.window / args.rpm + args.latency
    concurrency_time = -(-total // args.concurrency) * args.latency
    ideal_rate = total / max(quota_time, concurrency_time)
    rate = reviewed / elapsed
    print(f"sections: {total} ({args.docs} docs x {args.sections}), latency {args.latency}s, "
          f"quota {args.rpm} calls / {args.window:g}s ({args.quota}), concurrency {args.concurrency}")  # fmt: skip
    print(
        f"elapsed {elapsed:.1f}s; achieved {rate:.2f} sections/s; quota-limited rate {ideal_rate:.2f}/s"
    )
    print(f"ratio achieved/limit: {rate / ideal_rate:.2f}  (target >= 0.90)")
    print(
        f"429s: {fake.throttled}; calls {calls} ({successful_calls} accepted) vs sections {total}"
    )
    print(f"lost sections: {total - reviewed}  (target 0)")
    learned = f"{reviewer.rate.rate:.2f}/s" if reviewer.rate.rate else "unlimited"
    print(f"final concurrency limit: {reviewer.limiter.limit}; learned call rate: {learned}")


if __name__ == "__main__":
    main()

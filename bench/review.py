"""Throughput of ``prism review`` against a rate-limited fake Bedrock, in three scenarios.

    python bench/review.py [--scenario tokens|requests|storm|all] [--quota bucket|window]
                           [--docs 4] [--sections 30] [--latency 0.2] [--concurrency 16]

N documents x M sections are reviewed in-process through the real pipeline, model engine and
boto3, against the fake server of tests/ with a per-call latency:

* ``tokens`` (the default): a token quota per model as Bedrock accounts for it: input +
  maxTokens reserved when a call starts, settled to input + output x 5 (burndown) when it ends;
  ``--tpm`` quota tokens per ``--window`` seconds, refilled continuously (``--quota bucket``)
  or reset every window (``--quota window``, clock aligned, like a per-minute quota). Prints
  the achieved quota-token rate against the quota's rate (ratio; target >= 0.90) and the share
  of calls answered 429 (target <= 5%). The limit a clock window sets is counted in whole
  calls, from the moment the first call reaches the server: what is left of the first window,
  then as many calls per window as leave room for one more hold. ``-v`` prints when each 429
  came and how many calls each window accepted.
* ``requests``: a request quota (``--rpm`` calls per ``--window`` seconds), as before.
* ``storm``: a two-model chain whose first model answers every call with a 429, timed against
  the same run without that model (target: the storm costs <= 10% more time).

Every scenario also prints lost sections (target 0). A short window keeps runs short; the
limiter does not know the window.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SONNET = "claude-sonnet-5-5"
OPUS = "claude-opus-5-5"


def run(fake: Any, models: list[str], args: argparse.Namespace) -> tuple[float, list[Any], Any]:
    """Review every section once; returns (seconds, results, engine)."""
    from prism_cli.app.inputs import load_framework
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_boto_client
    from prism_cli.core.document import Block, BlockKind, Section
    from prism_cli.core.pipeline import DocumentContext, Reviewer, ReviewSettings
    from prism_cli.engine.engine import ModelEngine
    from prism_cli.engine.fallback import RetryPolicy
    from prism_cli.engine.quota import QuotaBook, QuotaRules

    catalog = load_catalog()
    client, region = make_boto_client("us-east-1", None)
    chain, _ = catalog.chain(region, models)
    # A rate-limited batch should wait for its quota rather than give up on a section.
    policy = RetryPolicy(attempts_per_model=50, base_delay=0.25, max_delay=args.window)
    # The fake's quotas are per --window seconds rather than per minute, so tell the limiter
    # (on Bedrock the period is a known fact: a minute).
    quotas = QuotaBook(rules=QuotaRules.scaled(args.window))
    engine = ModelEngine(BedrockClient(client), chain, policy=policy, quotas=quotas)
    reviewer = Reviewer(engine, ReviewSettings(concurrency=args.concurrency))
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
    results: list[Any] = []
    start = time.monotonic()
    if args.verbose:
        import threading

        def sample() -> None:
            while len(results) < len(jobs):
                time.sleep(1.0)
                shown = [f"{m}: {q.describe()}" for m, q in engine.quotas.items()]
                print(f"  t={time.monotonic() - start:5.1f} per window: {shown}")

        threading.Thread(target=sample, daemon=True).start()
    reviewer.review_all(jobs, lambda _ctx, r: results.append(r), workers=args.concurrency)
    return time.monotonic() - start, results, engine


def new_fake(args: argparse.Namespace) -> Any:
    from fake_bedrock import FakeBedrock

    fake = FakeBedrock().start()
    fake.latency = args.latency
    fake.window = args.window
    fake.output_tokens = args.output_tokens
    os.environ.update(
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME=fake.url,
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
    )
    return fake


def lost(results: list[Any], total: int) -> int:
    return total - sum(1 for r in results if r.status == "reviewed")


def tokens(args: argparse.Namespace) -> None:
    fake = new_fake(args)
    fake.tpm, fake.tpm_mode = args.tpm, args.quota
    time.monotonic()
    elapsed, results, engine = run(fake, [SONNET], args)
    fake.stop()
    phase = fake.request_times[0] % args.window  # where in its clock window the run starts
    total = args.docs * args.sections
    answered = [b for m, b in fake.calls()]
    accepted = len(answered) - fake.throttled
    settled = sum(fake.quota_tokens(b) for b in answered) / max(len(answered), 1) * accepted
    per_call = settled / max(accepted, 1)
    rate = args.tpm / args.window
    # The best any client can do: the first window's tokens at once, then the quota's rate
    # (and never faster than `concurrency` calls per latency).
    quota_time = max(0.0, settled - args.tpm) / rate + args.latency
    if args.quota == "window":
        # A clock window gives its tokens once, from its start: the first one (whatever is
        # left of it when the run starts), then one window's worth per window. In whole
        # calls: a window takes another call while what it holds leaves room for a hold
        # (input + maxTokens), so it takes at most m calls; the last window's calls run at
        # once, as many at a time as its holds allow.
        body = answered[0]
        hold = fake.input_tokens(body) + body["inferenceConfig"]["maxTokens"]
        m = int((args.tpm - hold) // per_call) + 1
        rest = max(0, accepted - m)
        windows = -(-rest // m)
        last = rest - (windows - 1) * m if windows else 0
        at_once = max(1, min(args.concurrency, args.tpm // hold))
        quota_time = (args.window - phase) + max(0, windows - 1) * args.window
        quota_time += -(-last // at_once) * args.latency if windows else args.latency
    concurrency_time = -(-total // args.concurrency) * args.latency
    ideal = max(quota_time, concurrency_time)
    share = fake.throttled / max(len(answered), 1)
    print(f"[tokens] {total} sections ({args.docs} docs x {args.sections}), latency {args.latency}s, "
          f"quota {args.tpm} tokens / {args.window:g}s ({args.quota}), output {args.output_tokens} "
          f"tokens x 5 burndown, concurrency {args.concurrency}")  # fmt: skip
    print(f"  {per_call:.0f} quota tokens per call settled; elapsed {elapsed:.1f}s; "
          f"quota-limited time {ideal:.1f}s")  # fmt: skip
    print(f"  ratio achieved/limit: {ideal / elapsed:.2f}  (target >= 0.90)")
    print(f"  429s: {fake.throttled} of {len(answered)} calls = {share:.1%}  (target <= 5%)")
    print(f"  lost sections: {lost(results, total)}  (target 0)")
    if args.verbose:
        start_wall = time.time() - elapsed
        print(
            "  429s at (s from start / window phase): "
            + ", ".join(f"{t - start_wall:.1f}/{t % args.window:.2f}" for t in fake.throttle_times)
        )
        # Calls Bedrock accepted, per clock window of the run.
        throttled = sorted(fake.throttle_times)
        per_window: dict[int, int] = {}
        for t in fake.request_times:
            if throttled and abs(throttled[0] - t) < 0.05:
                throttled.pop(0)
                continue
            k = int(t // args.window)
            per_window[k] = per_window.get(k, 0) + 1
        first = min(per_window, default=0)
        print("  calls accepted per window: " + " ".join(
            str(per_window.get(k, 0)) for k in range(first, max(per_window, default=0) + 1)))  # fmt: skip
    print("  learned (per minute of the fake's window): " + ", ".join(
        f"{m} {q.describe()}" for m, q in engine.quotas.items()))  # fmt: skip


def requests(args: argparse.Namespace, both: bool = False) -> None:
    fake = new_fake(args)
    fake.rpm, fake.quota = args.rpm, args.quota
    if both:
        fake.tpm, fake.tpm_mode = args.tpm, args.quota
    elapsed, results, engine = run(fake, [SONNET], args)
    fake.stop()
    total = args.docs * args.sections
    reviewed = total - lost(results, total)
    quota_time = max(0.0, total - args.rpm) * args.window / args.rpm + args.latency
    concurrency_time = -(-total // args.concurrency) * args.latency
    ideal_rate = total / max(quota_time, concurrency_time)
    rate = reviewed / elapsed
    if both:
        answered = [b for _m, b in fake.calls()]
        per_call = sum(fake.quota_tokens(b) for b in answered) / max(len(answered), 1)
        token_time = max(0.0, total * per_call - args.tpm) * args.window / args.tpm
        quota_time = max(quota_time, token_time + args.latency)
        ideal_rate = total / max(quota_time, concurrency_time)
    name = "both" if both else "requests"
    extra = f" and {args.tpm} tokens" if both else ""
    share = fake.throttled / max(len(fake.requests), 1)
    print(f"[{name}] {total} sections, quota {args.rpm} calls{extra} / {args.window:g}s "
          f"({args.quota})")  # fmt: skip
    print(f"  ratio achieved/limit: {rate / ideal_rate:.2f}  (target >= 0.90); "
          f"429s: {fake.throttled} of {len(fake.requests)} calls = {share:.1%} (target <= 5%); "
          f"lost {total - reviewed}")  # fmt: skip
    print("  learned (per minute of the fake's window): " + ", ".join(
        f"{m} {q.describe()}" for m, q in engine.quotas.items()))  # fmt: skip


def storm(args: argparse.Namespace) -> None:
    times = {}
    for name, models in (("absent", [OPUS]), ("storm", [SONNET, OPUS])):
        fake = new_fake(args)
        fake.always_throttle.add(f"us.anthropic.{SONNET}")
        elapsed, results, engine = run(fake, models, args)
        fake.stop()
        total = args.docs * args.sections
        calls = [m for m, _ in fake.calls()]
        times[name] = elapsed
        print(f"[storm] {name:6} {elapsed:.2f}s; calls to the storming model: "
              f"{calls.count(f'us.anthropic.{SONNET}')}; lost {lost(results, total)}")  # fmt: skip
        for note in engine.notes():
            print(f"  note: {note}")
    print(f"  storm / absent: {times['storm'] / times['absent']:.3f}  (target <= 1.10)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--scenario", choices=["tokens", "requests", "both", "storm", "all"], default="all"
    )
    parser.add_argument("--docs", type=int, default=4)
    parser.add_argument("--sections", type=int, default=30)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("-v", "--verbose", action="store_true", help="when each 429 came")
    parser.add_argument("--tpm", type=int, default=60_000, help="quota tokens per window")
    parser.add_argument("--rpm", type=int, default=30, help="calls allowed per window")
    parser.add_argument("--window", type=float, default=5.0, help="quota window in seconds")
    parser.add_argument("--output-tokens", type=int, default=300)
    parser.add_argument(
        "--quota",
        choices=["bucket", "window"],
        default="bucket",
        help="refilled continuously, or reset every window",
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.scenario in ("tokens", "all"):
        tokens(args)
    if args.scenario == "all":
        args.quota = "window"
        tokens(args)
        args.quota = "bucket"
    if args.scenario in ("requests", "all"):
        requests(args)
    if args.scenario in ("both", "all"):
        requests(args, both=True)
    if args.scenario in ("storm", "all"):
        storm(args)


if __name__ == "__main__":
    main()

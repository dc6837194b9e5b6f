"""A spending cap (--max-cost): no section starts once what is spent, in flight and its own
expected cost would pass it; what is done is kept, the run exits 3 and says how to go on."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock


def document(path: Path, sections: int = 6, word: str = "Part") -> Path:
    body = "".join(
        p(f"{word} {n}", style="Heading1")
        + p(f"{word} {n}: the batch was sent twice and recovered on day {n}; owners confirm dates.")
        for n in range(1, sections + 1)
    )
    return make_docx(path, body)


def review(doc: Path, *extra: str) -> tuple[int, dict[str, object], str]:
    result = run_prism(
        "review", str(doc), "-f", "json", "--region", "us-east-1", "--no-rules",
        "--concurrency", "1", "--fail-on", "never", *extra,
    )  # fmt: skip
    return result.code, json.loads(result.stdout), result.stderr


def test_the_cap_stops_new_calls_keeps_what_is_done_and_the_next_run_goes_on(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    doc = document(tmp_path / "plan.docx")
    # What one section costs here, from a run with no cap.
    probe = document(tmp_path / "probe.docx", sections=1, word="Probe")
    _code, report, _err = review(probe)
    one = float(report["summary"]["usage"]["cost_usd"])  # type: ignore[index]
    assert one > 0
    calls = len(bedrock.calls())
    cap = 2.5 * one
    code, report, err = review(doc, "--max-cost", f"{cap:.6f}")
    assert code == 3, err
    done = len(bedrock.calls()) - calls
    spent = float(report["summary"]["usage"]["cost_usd"])  # type: ignore[index]
    assert 1 <= done < 6
    assert spent <= cap  # never past the cap
    statuses = [s["status"] for s in report["documents"][0]["sections"]]  # type: ignore[index]
    assert statuses.count("reviewed") == done
    assert statuses.count("failed") == 6 - done
    last = err.strip().splitlines()[-1]
    assert last.startswith("exit 3: the spending cap was reached (--max-cost")
    assert "run the same command again to go on" in last
    # The next run (a higher cap) reviews only what was not started.
    before = len(bedrock.calls())
    code, report, err = review(doc, "--max-cost", "100")
    assert code == 0, err
    assert len(bedrock.calls()) - before == 6 - done
    assert {s["status"] for s in report["documents"][0]["sections"]} <= {"reviewed", "cached"}  # type: ignore[index]


def test_the_dry_run_and_the_cap_expect_what_the_store_has_seen_calls_write(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    first = document(tmp_path / "first.docx", sections=4, word="First")
    dry = run_prism("review", str(first), "--dry-run", "-f", "json", "--region", "us-east-1")
    assert dry.code == 0, dry.stderr
    guess = json.loads(dry.stdout)
    (row,) = guess["models"].values()
    assert row["output_tokens_per_call"] == 4096 // 4
    assert row["output_tokens_from"] == "a quarter of max_tokens (no history yet)"
    code, report, err = review(first)
    assert code == 0, err
    usage = report["summary"]["usage"]  # type: ignore[index]
    served = usage["output_tokens"] // usage["calls"]  # type: ignore[index, operator]
    second = document(tmp_path / "second.docx", sections=4, word="Second")
    dry = run_prism("review", str(second), "--dry-run", "-f", "json", "--region", "us-east-1")
    learned = json.loads(dry.stdout)
    (row,) = learned["models"].values()
    assert row["output_tokens_per_call"] == served
    assert row["output_tokens_from"] == "the store's history (4 calls)"
    assert learned["summary"]["cost_usd"] < guess["summary"]["cost_usd"] or served >= 1024

"""Run telemetry as operators read it: the --log-json file of a run with injected faults, and
the metrics read back from moto's CloudWatch."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import Err, FakeBedrock

SONNET = "us.anthropic.claude-sonnet-5-5"
OPUS = "us.anthropic.claude-opus-5-5"


def doc(tmp_path: Path) -> Path:
    body = (
        p("Summary", style="Heading1") + p("Payments were sent twice on Monday.")
        + p("Actions", style="Heading1") + p("Remove the cron entry. Owner TBD.")
    )  # fmt: skip
    return make_docx(tmp_path / "incident.docx", body)


def faulty(bedrock: FakeBedrock) -> None:
    """The first model refuses access (a fallback per section); the second throttles once."""
    bedrock.access_denied.add(SONNET)
    bedrock.queue(OPUS, Err("ThrottlingException", 429, "Too many tokens"))


def test_the_event_log_has_every_fallback_and_retry(bedrock: FakeBedrock, tmp_path: Path) -> None:
    faulty(bedrock)
    log = tmp_path / "events.jsonl"
    result = run_prism(
        "review", str(doc(tmp_path)), "--region", "us-east-1", "--log-json", str(log),
        "--fail-on", "never", "-f", "json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    events = [json.loads(line) for line in log.read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "run_start"
    assert kinds[-1] == "run_end"
    assert kinds.count("section_start") == 2
    ends = [e for e in events if e["event"] == "section_end"]
    assert {e["status"] for e in ends} == {"reviewed"}
    assert all(e["model"] == OPUS and e["cost_usd"] > 0 for e in ends)
    fallbacks = [e for e in events if e["event"] == "fallback"]
    assert fallbacks
    assert all(e["model"] == SONNET for e in fallbacks)
    retries = [e for e in events if e["event"] == "error" and e.get("action") == "retry"]
    assert [(e["model"], e["error"]) for e in retries] == [(OPUS, "throttled")]
    calls = [e for e in events if e["event"] == "call"]
    assert all("latency" in e for e in calls)
    assert any(e["ok"] and e["input_tokens"] > 0 for e in calls)
    assert {e.get("error") for e in calls if not e["ok"]} >= {"access_denied", "throttled"}
    report = json.loads(result.stdout)
    assert events[-1]["calls"] == report["summary"]["usage"]["calls"]
    # Correlated: one run id on every event, each call with its document and section.
    assert len({e["run_id"] for e in events}) == 1
    path = report["documents"][0]["path"]
    assert all(e.get("document") == path and e.get("section") in {"s1", "s2"} for e in calls)


def test_metrics_are_published_to_cloudwatch(
    bedrock: FakeBedrock, s3_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", s3_server)
    namespace = f"PrismTest{tmp_path.name[-6:]}"
    faulty(bedrock)
    result = run_prism(
        "review", str(doc(tmp_path)), "--region", "us-east-1", "--fail-on", "never",
        "--metrics", f"cloudwatch:{namespace}", "-f", "json",
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert "published" in result.stderr
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    listed = cloudwatch.list_metrics(Namespace=namespace)["Metrics"]
    names = {m["MetricName"] for m in listed}
    assert names >= {
        "Calls", "Errors", "Throttles", "Fallbacks", "LatencyP50", "LatencyP95",
        "InputTokens", "OutputTokens", "CostUSD", "SectionsReviewed", "SectionsFailed",
    }  # fmt: skip
    by_model = {d["Value"] for m in listed if m["MetricName"] == "Calls" for d in m["Dimensions"]}
    assert by_model == {SONNET, OPUS}
    classes = {
        d["Value"]
        for m in listed if m["MetricName"] == "Errors"
        for d in m["Dimensions"] if d["Name"] == "ErrorClass"
    }  # fmt: skip
    assert classes >= {"access_denied", "throttled"}
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    stats = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName="SectionsReviewed", Dimensions=[],
        StartTime=now - timedelta(hours=1), EndTime=now + timedelta(hours=1),
        Period=3600, Statistics=["Sum"],
    )  # fmt: skip
    assert sum(point["Sum"] for point in stats["Datapoints"]) == 2


def test_a_metrics_failure_is_a_warning(bedrock: FakeBedrock, tmp_path: Path) -> None:
    args = ("review", str(doc(tmp_path)), "--region", "us-east-1", "-f", "json")
    plain = run_prism(*args)
    failing = run_prism(
        *args, "--metrics", "cloudwatch", env={"AWS_ENDPOINT_URL_CLOUDWATCH": "http://127.0.0.1:1"}
    )
    assert failing.code == plain.code
    assert "metrics not published" in failing.stderr
    assert "Traceback" not in failing.stderr

"""Claude as Bedrock serves it today: the catalog, each model's request rules, adapting to a
refused field, thinking and effort, discovery, fallback notes, and stopping at once.

The fake Bedrock enforces today's rules (end-of-life models, adaptive-only thinking, refused
sampling and forced tool use, token quotas); ``bedrock.refused`` records every refusal, so
"zero refused calls" is checked exactly.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import Err, FakeBedrock, FakeModel, rule_violation
from prism_cli.app.inputs import load_framework
from prism_cli.bedrock.catalog import load_catalog
from prism_cli.bedrock.client import BedrockClient, make_boto_client
from prism_cli.core.document import Block, BlockKind, Section
from prism_cli.core.pipeline import DocumentContext, Reviewer, ReviewSettings
from prism_cli.engine.catalog import strip_geography
from prism_cli.engine.engine import ModelEngine
from prism_cli.engine.fallback import RetryPolicy
from prism_cli.engine.requests import Adaptation, Ask, Thinking, adaptation_for, build_request

CATALOG = load_catalog()
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
NEWER = "anthropic.claude-sonnet-6"
"""A model Bedrock serves that prism's catalog has never heard of."""


def sections(n: int) -> list[Section]:
    return [
        Section(
            f"s{i + 1}", i, f"Part {i + 1}", 1, i * 2,
            (Block(BlockKind.PARAGRAPH, f"Step {i}: the batch was sent twice.", i * 2 + 1),),
        )
        for i in range(n)
    ]  # fmt: skip


def reviewer(models: list[str], region: str, thinking: Thinking = Thinking()) -> Reviewer:
    client, region = make_boto_client(region, None)
    chain, _ = CATALOG.chain(region, models)
    engine = ModelEngine(
        BedrockClient(client),
        chain,
        thinking=thinking,
        policy=FAST,
        remap=lambda m: CATALOG.profile_for(strip_geography(m), region),
        suggest=CATALOG.suggest,
    )
    return Reviewer(engine, ReviewSettings())


def review_in_process(rv: Reviewer, count: int = 2) -> list[Any]:
    parts = sections(count)
    ctx = DocumentContext("doc", parts, load_framework(None))
    results: list[Any] = []
    rv.review_all([(ctx, s) for s in parts], lambda _c, r: results.append(r), workers=4)
    return results


def document(tmp_path: Path, count: int = 2, name: str = "incident.docx") -> Path:
    body = "".join(
        p(f"Part {i + 1}", style="Heading1") + p(f"Step {i}: the batch was sent twice.")
        for i in range(count)
    )
    return make_docx(tmp_path / name, body)


def review(tmp_path: Path, *args: str, region: str = "us-east-1", count: int = 2) -> Any:
    return run_prism(
        "review", str(document(tmp_path, count)), "--region", region, "-f", "json", "--no-rules",
        *args,
    )  # fmt: skip


# -- the catalog ------------------------------------------------------------------------------
def test_default_chain_is_seven_current_models() -> None:
    chain = [CATALOG.models[key] for key in CATALOG.default_chain]
    assert len(chain) == 7
    assert chain[0].key == "claude-sonnet-5-5"
    assert all(m.lifecycle == "active" for m in chain)
    for info in CATALOG.models.values():
        assert info.input_price > 0, info.key
        assert info.output_price > 0, info.key
        assert info.thinking in ("none", "budget", "adaptive", "adaptive_only")
        if info.lifecycle != "eol":
            assert info.context_window >= 200_000, info.key
            assert info.max_output >= 4096, info.key


@pytest.mark.parametrize("region", ["eu-north-1", "us-east-1"])
@pytest.mark.parametrize("thinking", [False, True], ids=["plain", "thinking"])
def test_every_default_model_reviews_with_zero_refused_calls(
    bedrock: FakeBedrock, region: str, thinking: bool
) -> None:
    for key in (*CATALOG.default_chain, "claude-haiku-5-5"):
        results = review_in_process(reviewer([key], region, Thinking(thinking)))
        assert [r.status for r in results] == ["reviewed", "reviewed"], key
        info = CATALOG.models[key]
        expected = "adaptive" if thinking or info.thinking == "adaptive_only" else None
        if thinking and info.thinking == "budget":
            expected = "budget"
        assert {r.thinking for r in results} == {expected}, key
    assert bedrock.refused == []
    geo = "eu" if region.startswith("eu-") else "us"
    assert {m.split(".", 1)[0] for m, _ in bedrock.calls()} == {geo}


@pytest.mark.parametrize("thinking", [[], ["--thinking"]], ids=["plain", "thinking"])
def test_a_model_newer_than_the_catalog_gets_a_safe_request(
    bedrock: FakeBedrock, tmp_path: Path, thinking: list[str]
) -> None:
    bedrock.models[NEWER] = FakeModel(
        thinking="adaptive_only", sampling=False, forced_tool=False, effort=True
    )
    result = review(tmp_path, "-m", f"eu.{NEWER}", *thinking, region="eu-north-1")
    assert result.code == 0, result.stderr
    assert bedrock.refused == []
    body = bedrock.calls()[0][1]
    assert "temperature" not in body["inferenceConfig"]
    assert body["toolConfig"]["toolChoice"] == {"auto": {}}
    assert "not in the catalog" in result.stderr


def test_the_default_chain_through_the_cli_in_eu_north_1(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = review(tmp_path, "--thinking", region="eu-north-1")
    assert result.code == 0, result.stderr
    assert bedrock.refused == []
    report = json.loads(result.stdout)
    assert {s["model"] for s in report["documents"][0]["sections"]} == {
        "eu.anthropic.claude-sonnet-5-5"
    }
    assert {s["thinking"] for s in report["documents"][0]["sections"]} == {"adaptive"}
    assert "note:" not in result.stderr  # nothing to say on a clean run


# -- request rules as data --------------------------------------------------------------------
def ask() -> Ask:
    return Ask(
        system=lambda structured: f"structured={structured}",
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        max_tokens=4096,
        schema={"type": "object"},
        temperature=0.7,
    )


def test_request_builder_follows_each_models_rules() -> None:
    sonnet55, sonnet46, haiku45, haiku3 = (
        CATALOG.models[k]
        for k in ("claude-sonnet-5-5", "claude-sonnet-4-6", "claude-haiku-4-5", "claude-3-haiku")
    )
    plain = build_request(ask(), sonnet55, Thinking()).body
    assert plain["inferenceConfig"] == {"maxTokens": 4096}  # no sampling, thinking by default
    assert "additionalModelRequestFields" not in plain
    assert "outputConfig" in plain
    effort = build_request(ask(), sonnet55, Thinking(effort="max")).body
    assert effort["additionalModelRequestFields"] == {
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "max"},
    }
    adaptive = build_request(ask(), sonnet46, Thinking(True, "medium")).body
    assert adaptive["additionalModelRequestFields"] == {
        "thinking": {"type": "adaptive"},
        "output_config": {"effort": "medium"},
    }
    assert "temperature" not in adaptive["inferenceConfig"]
    assert build_request(ask(), sonnet46, Thinking()).body["inferenceConfig"]["temperature"] == 0.7
    budget = build_request(ask(), haiku45, Thinking(True, budget=3000)).body
    assert budget["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 3000}
    }
    forced = build_request(ask(), haiku3, Thinking()).body
    assert forced["toolConfig"]["toolChoice"] == {"tool": {"name": "record_findings"}}
    unknown = build_request(ask(), CATALOG.unknown("eu.anthropic.claude-x"), Thinking()).body
    assert unknown["inferenceConfig"] == {"maxTokens": 4096}
    assert unknown["toolConfig"]["toolChoice"] == {"auto": {}}
    assert "additionalModelRequestFields" not in unknown
    assert "outputConfig" not in unknown


def test_each_refusal_names_the_adaptation_and_the_adapted_request_passes() -> None:
    cases = [
        (FakeModel(thinking="adaptive_only", sampling=False, effort=True), "claude-sonnet-4-5",
         Thinking(True), Adaptation.ADAPTIVE_THINKING),
        (FakeModel(thinking="budget"), "claude-sonnet-4-6", Thinking(True),
         Adaptation.BUDGET_THINKING),
        (FakeModel(thinking="none"), "claude-haiku-4-5", Thinking(True),
         Adaptation.NO_THINKING_FIELD),
        (FakeModel(thinking="adaptive", effort=False), "claude-sonnet-4-6", Thinking(True, "high"),
         Adaptation.NO_EFFORT),
        (FakeModel(thinking="adaptive_only", sampling=False, effort=True), "claude-sonnet-4-6",
         Thinking(), Adaptation.NO_SAMPLING),
        (FakeModel(thinking="budget", structured=False, forced_tool=False), "claude-3-haiku",
         Thinking(), Adaptation.TOOL_AUTO),
        (FakeModel(thinking="budget", structured=False), "claude-sonnet-4-5", Thinking(),
         Adaptation.NO_OUTPUT_CONFIG),
    ]  # fmt: skip
    for rules, key, thinking, expected in cases:
        info = CATALOG.models[key]
        adapted: frozenset[Adaptation] = frozenset()
        body = build_request(ask(), info, thinking, adapted).body
        message = rule_violation(rules, body)
        assert message is not None, key
        assert adaptation_for(message) is expected, message
        # At most a few adaptations until the model takes the request.
        for _ in range(3):
            adapted |= {adaptation_for(message)}  # type: ignore[arg-type]
            body = build_request(ask(), info, thinking, adapted).body
            message = rule_violation(rules, body)
            if message is None:
                break
        assert message is None, (key, message)


# -- self-correcting requests -----------------------------------------------------------------
def test_a_refused_field_is_adapted_once_for_the_run(bedrock: FakeBedrock, tmp_path: Path) -> None:
    # Bedrock changed its mind about Sonnet 4.6: it now refuses sampling parameters.
    bedrock.models["anthropic.claude-sonnet-4-6"].sampling = False
    result = review(tmp_path, "-m", "claude-sonnet-4-6", "-v", "--concurrency", "4", count=6)
    assert result.code == 0, result.stderr
    assert [c for _, c, _ in bedrock.refused] == ["ValidationException"]  # one, not one per section
    assert "refuses sampling parameters; sending none" in result.stderr
    report = json.loads(result.stdout)
    assert {s["status"] for s in report["documents"][0]["sections"]} == {"reviewed"}


def test_thinking_form_is_converted_when_refused(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.models["anthropic.claude-opus-4-6-v1"] = FakeModel(thinking="budget")
    result = review(tmp_path, "-m", "claude-opus-4-6", "--thinking", "-v")
    assert result.code == 0, result.stderr
    assert len(bedrock.refused) == 1
    assert "using a thinking budget" in result.stderr
    last = bedrock.calls()[-1][1]["additionalModelRequestFields"]
    assert last["thinking"]["type"] == "enabled"
    report = json.loads(result.stdout)
    assert {s["thinking"] for s in report["documents"][0]["sections"]} == {"budget"}


def test_an_invalid_model_identifier_is_skipped_with_a_suggestion(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.control_plane = "denied"  # no listings: the id is tried as given
    result = review(tmp_path, "-m", "claude-sonet-5-5", "-m", "claude-opus-5-5", count=4)
    assert result.code == 0, result.stderr
    assert [m for m, _, _ in bedrock.refused] == ["claude-sonet-5-5"]
    assert "did you mean claude-sonnet-5-5?" in result.stderr


def test_with_listings_a_mistyped_model_is_skipped_before_any_call(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = review(tmp_path, "-m", "claude-sonet-5-5", "-m", "claude-opus-5-5")
    assert result.code == 0, result.stderr
    assert bedrock.refused == []
    assert "did you mean claude-sonnet-5-5?" in result.stderr


def test_end_of_life_models_are_skipped_before_any_call(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = review(tmp_path, "-m", "claude-3-7-sonnet", "-m", "claude-sonnet-5-5")
    assert result.code == 0, result.stderr
    assert "claude-3-7-sonnet: past end of life on Bedrock" in result.stderr
    assert {m for m, _ in bedrock.calls()} == {"us.anthropic.claude-sonnet-5-5"}
    # An end-of-life model called by a raw id the catalog does not list is learned once.
    bedrock.control_plane = "denied"
    result = review(
        tmp_path, "-m", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "-m", "claude-opus-5-5",
        "--fresh", count=4,
    )  # fmt: skip
    assert result.code == 0, result.stderr


# -- fallback is visible, learned once ---------------------------------------------------------
def test_fallback_is_visible_in_notes_and_json(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.access_denied.add("us.anthropic.claude-sonnet-5-5")
    result = review(tmp_path, count=4)
    assert result.code == 0, result.stderr
    line = (
        "note: us.anthropic.claude-sonnet-5-5: access denied (enable it in the Bedrock console); "
        "set aside for this run; us.anthropic.claude-opus-5-5 took over"
    )
    assert line in result.stderr.splitlines()
    summary = json.loads(result.stdout)["summary"]
    assert summary["fallbacks"] == [
        {
            "model": "us.anthropic.claude-sonnet-5-5",
            "reason": "access denied (enable it in the Bedrock console)",
            "for_run": True,
            "replaced_by": "us.anthropic.claude-opus-5-5",
        }
    ]
    assert [m for m, _ in bedrock.calls()].count("us.anthropic.claude-sonnet-5-5") == 1


def test_every_model_denied_costs_one_call_per_model(bedrock: FakeBedrock, tmp_path: Path) -> None:
    chain, _ = CATALOG.chain("us-east-1")
    bedrock.access_denied.update(m.model_id for m in chain)
    result = review(tmp_path, "--concurrency", "8", count=8)
    assert result.code == 4
    assert len(bedrock.calls()) == 7
    assert "no usable model in the chain" in result.stderr


def test_a_first_throttle_before_any_success_does_not_crawl(bedrock: FakeBedrock) -> None:
    sonnet = "us.anthropic.claude-sonnet-5-5"
    bedrock.latency = 0.1
    bedrock.queue(sonnet, Err("ThrottlingException", 429, "Too many tokens"))
    rv = reviewer(["claude-sonnet-5-5"], "us-east-1")
    started = time.monotonic()
    results = review_in_process(rv, 12)
    elapsed = time.monotonic() - started
    assert [r.status for r in results] == ["reviewed"] * 12
    assert elapsed < 6, elapsed  # the 2025 limiter collapsed to 0.05 calls/s here: minutes
    assert {m for m, _ in bedrock.calls()} == {sonnet}


def test_a_model_that_throttles_every_call_is_set_aside(bedrock: FakeBedrock) -> None:
    storm = "us.anthropic.claude-sonnet-5-5"
    bedrock.always_throttle.add(storm)
    bedrock.latency = 0.05
    rv = reviewer(["claude-sonnet-5-5", "claude-opus-5-5"], "us-east-1")
    started = time.monotonic()
    results = review_in_process(rv, 16)
    assert time.monotonic() - started < 5
    assert {r.model for r in results} == {"us.anthropic.claude-opus-5-5"}
    calls = [m for m, _ in bedrock.calls()]
    # Set aside after a few throttles: at most about one call per worker (16) reaches it, not
    # 3 per section (48). (12-13 seen; the count depends on how fast the 429s come back.)
    assert calls.count(storm) <= 16
    assert any("throttled on every call" in n and "set aside for a cooldown" in n for n in rv.notes)


# -- thinking and effort from the command line ---------------------------------------------------
def test_effort_and_thinking_budget_options(bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = review(tmp_path, "-m", "claude-sonnet-5-5", "--effort", "max")
    assert result.code == 0, result.stderr
    fields = bedrock.calls()[0][1]["additionalModelRequestFields"]
    assert fields == {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}
    result = review(
        tmp_path, "-m", "claude-sonnet-5-5", "-m", "claude-haiku-4-5", "--thinking-budget", "3000",
        "--fresh",
    )  # fmt: skip
    assert "--thinking-budget applies to claude-haiku-4-5 only" in result.stderr
    result = review(tmp_path, "-m", "claude-sonnet-5-5", "--thinking-budget", "3000", "--fresh")
    assert "--thinking-budget has no effect on this chain" in result.stderr
    result = review(
        tmp_path, "-m", "claude-haiku-4-5", "--thinking", "--thinking-budget", "3000", "--fresh"
    )
    assert result.code == 0, result.stderr
    assert bedrock.calls()[-1][1]["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 3000}
    }
    bad = review(tmp_path, "--effort", "extreme")
    assert bad.code == 2
    assert "--effort must be one of low, medium, high, xhigh, max" in bad.stderr


def test_an_unknown_region_is_a_usage_error(bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = review(tmp_path, region="eu-nowhere-1")
    assert result.code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: unknown AWS region 'eu-nowhere-1' (did you mean eu-north-1")
    models = run_prism("models", "--region", "us-east1")
    assert models.code == 2
    assert "did you mean us-east-1" in models.stderr
    assert bedrock.calls() == []


# -- discovery --------------------------------------------------------------------------------
def test_discovery_resolves_the_chain_to_what_the_account_has(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.hidden_profiles.add("us.anthropic.claude-sonnet-5-5")  # only the global one here
    bedrock.hidden_profiles.update(
        {"us.anthropic.claude-opus-5-5", "global.anthropic.claude-opus-5-5"}
    )
    bedrock.models["anthropic.claude-opus-5"].lifecycle = "LEGACY"
    result = review(tmp_path, "-v")
    assert result.code == 0, result.stderr
    assert bedrock.refused == []
    assert {m for m, _ in bedrock.calls()} == {"global.anthropic.claude-sonnet-5-5"}
    assert "claude-opus-5-5: not available to this account in us-east-1; skipped" in result.stderr
    assert "claude-opus-5: legacy on Bedrock" in result.stderr
    assert "account listings for us-east-1" in result.stderr
    listings = list(bedrock.control_requests)
    assert {path for path, _ in listings} == {"/inference-profiles", "/foundation-models"}
    # Cached for a day: the next run asks nothing.
    review(tmp_path, "--fresh")
    assert bedrock.control_requests == listings


def test_discovery_denied_falls_back_to_the_catalog_silently(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.control_plane = "denied"
    quiet = review(tmp_path)
    assert quiet.code == 0, quiet.stderr
    assert "AccessDenied" not in quiet.stderr
    loud = review(tmp_path, "-v", "--fresh")
    assert "account listings unavailable (AccessDeniedException); using the catalog" in loud.stderr


def test_models_shows_where_each_fact_came_from(bedrock: FakeBedrock) -> None:
    bedrock.models["anthropic.claude-opus-4-8"].lifecycle = "LEGACY"
    result = run_prism("models", "--region", "eu-north-1", "-f", "json")
    assert result.code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["source"] == "account listings"
    rows = {r["key"]: r for r in data["chain"]}
    assert rows["claude-sonnet-5-5"]["model_id"] == "eu.anthropic.claude-sonnet-5-5"
    assert rows["claude-sonnet-5-5"]["id_source"] == "account"
    assert rows["claude-opus-4-8"]["lifecycle"] == "legacy"
    assert rows["claude-opus-4-8"]["lifecycle_source"] == "account"
    assert rows["claude-sonnet-5-5"]["price_per_mtok"] == [2.2, 11.0]
    assert rows["claude-sonnet-5-5"]["thinking"] == "adaptive_only"


# -- stop means stop --------------------------------------------------------------------------
def test_sigterm_during_a_throttled_run_exits_within_one_call(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.latency = 1.5
    bedrock.tpm = 12_000  # about two calls' reservations per minute: most calls wait or 429
    bedrock.window = 60.0
    path = document(tmp_path, 16)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "review", str(path), "--region", "us-east-1",
         "-f", "json", "--no-rules", "--concurrency", "16", "-m", "claude-sonnet-5-5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while bedrock.throttled < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert bedrock.throttled >= 3  # the run is throttled: workers wait for slots and backoff
    time.sleep(0.5)
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert took < bedrock.latency + 1.5, took  # within the slowest call in flight
    assert "interrupted" in err


def test_a_raw_profile_id_of_a_known_model_follows_its_rules(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = review(tmp_path, "-m", "eu.anthropic.claude-sonnet-5-5", region="eu-north-1")
    assert result.code == 0, result.stderr
    assert bedrock.refused == []
    assert {m for m, _ in bedrock.calls()} == {"eu.anthropic.claude-sonnet-5-5"}
    assert "temperature" not in bedrock.calls()[0][1]["inferenceConfig"]
    assert "note:" not in result.stderr


@pytest.mark.parametrize("thinking", [False, True], ids=["plain", "thinking"])
def test_every_active_model_of_the_catalog_reviews_with_zero_refused_calls(
    bedrock: FakeBedrock, thinking: bool
) -> None:
    """The corrected rules (December 2026): outputConfig refused by Opus 4.7/4.8/5, Sonnet 5
    and Fable 5; temperature refused by Opus 5; the Fables once the account opted in."""
    bedrock.retention_mode = "provider_data_share"
    active = [k for k, m in CATALOG.models.items() if m.lifecycle == "active"]
    assert {"claude-haiku-5-5", "claude-fable-5-2"} <= set(active)
    for key in active:
        results = review_in_process(reviewer([key], "us-east-1", Thinking(thinking)))
        assert [r.status for r in results] == ["reviewed", "reviewed"], key
    assert bedrock.refused == []


def test_the_catalog_holds_what_requests_and_prices_need() -> None:
    import tomllib

    from prism_cli.engine.catalog import REQUIRED, incomplete

    shipped = Path(__file__).parents[1] / "src/prism_cli/bedrock/models.toml"
    data = tomllib.loads(shipped.read_text(encoding="utf-8"))
    assert incomplete(data) == {}
    broken = {"models": {"x": {k: v for k, v in data["models"]["claude-haiku-5-5"].items()
                                if k != "output_price"}}}  # fmt: skip
    assert incomplete(broken) == {"x": ["output_price"]}
    assert "tokenizer_factor" in REQUIRED
    newer = {k: m for k, m in CATALOG.models.items() if k.startswith(
        ("claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5",
         "claude-fable", "claude-haiku-5"))}  # fmt: skip
    assert newer
    assert all(m.tokenizer_factor == 1.3 for m in newer.values())
    assert CATALOG.models["claude-opus-5-5"].default_effort == "medium"
    assert CATALOG.models["claude-haiku-5-5"].default_effort == "medium"
    assert CATALOG.prices("global.anthropic.claude-opus-5-5") == (4.0, 20.0, 0.05)
    assert CATALOG.prices("global.anthropic.claude-fable-5-1") == (10.0, 50.0, 0.025)


def test_temperature_is_not_sent_with_top_p_where_refused() -> None:
    ask = Ask(system=lambda _s: "x", messages=[], max_tokens=100, temperature=0.2, top_p=0.9)
    sonnet46 = build_request(ask, CATALOG.models["claude-sonnet-4-6"], Thinking())
    assert sonnet46.body["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2}
    assert any("top_p" in n for n in sonnet46.notes)
    opus5 = build_request(ask, CATALOG.models["claude-opus-5"], Thinking())
    assert opus5.body["inferenceConfig"] == {"maxTokens": 100}


def test_a_model_needing_an_account_setting_is_set_aside_with_what_to_change(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    result = review(tmp_path, "-m", "claude-fable-5-2", "-m", "claude-sonnet-5-5", count=4)
    assert result.code == 0, result.stderr
    fable = "us.anthropic.claude-fable-5-2"
    assert [m for m, _ in bedrock.calls()].count(fable) == 1  # one call, not one per section
    report = json.loads(result.stdout)
    assert {s["status"] for s in report["documents"][0]["sections"]} == {"reviewed"}
    assert {s["model"] for s in report["documents"][0]["sections"]} == {
        "us.anthropic.claude-sonnet-5-5"
    }
    assert "put-account-data-retention --mode provider_data_share" in result.stderr
    assert result.stderr.count("data retention") == 1  # one line, not one per section


def test_a_safety_refusal_is_not_no_findings(bedrock: FakeBedrock, tmp_path: Path) -> None:
    sonnet = "us.anthropic.claude-sonnet-5-5"
    bedrock.safety_refusals.add(sonnet)
    result = review(tmp_path, "-m", "claude-sonnet-5-5", "-m", "claude-opus-5-5")
    assert result.code == 0, result.stderr
    sections = json.loads(result.stdout)["documents"][0]["sections"]
    assert {s["model"] for s in sections} == {"us.anthropic.claude-opus-5-5"}
    result = review(tmp_path, "-m", "claude-sonnet-5-5", "--fresh")
    assert result.code == 3, result.stderr
    sections = json.loads(result.stdout)["documents"][0]["sections"]
    assert {s["status"] for s in sections} == {"failed"}
    assert all("refused by the model" in s["error"] for s in sections)


def test_a_run_paces_to_the_quotas_read_from_service_quotas(bedrock: FakeBedrock) -> None:
    from prism_cli.bedrock.setup import open_engine

    bedrock.service_quotas = [
        {"QuotaName": "Cross-region model inference requests per minute for Anthropic Claude "
         "Sonnet 5.5", "QuotaCode": "L-1", "Value": 120},
        {"QuotaName": "Cross-region model inference tokens per minute for Anthropic Claude "
         "Sonnet 5.5", "QuotaCode": "L-2", "Value": 6_000_000},
        {"QuotaName": "Global cross-region model inference requests per minute for Anthropic "
         "Claude Sonnet 5.5", "QuotaCode": "L-3", "Value": 999},
    ]  # fmt: skip
    setup = open_engine(
        region="us-east-1", profile=None, models=["claude-sonnet-5-5", "claude-opus-5-5"],
        overrides={"models": {"claude-opus-5-5": {"rpm": 30}}}, thinking=Thinking(),
    )  # fmt: skip
    sonnet = setup.engine.quotas["us.anthropic.claude-sonnet-5-5"].snapshot()
    assert sonnet.requests.ceiling == 120
    assert sonnet.tokens.ceiling == 6_000_000
    opus = setup.engine.quotas["us.anthropic.claude-opus-5-5"].snapshot()
    assert opus.requests.ceiling == 30  # the config first
    assert any("from Service Quotas" in d for d in setup.details)
    # Known from the first call: 5 calls at once (a fifth of 0.97 x 30), then paced.
    quota = setup.engine.quotas["us.anthropic.claude-opus-5-5"]
    started = [quota.admit(quota.reserve(100, 100)) == 0.0 for _ in range(8)]
    assert started.count(True) == 5


def test_a_quota_wait_shows_on_the_progress_line_and_sigterm_ends_it(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    (tmp_path / "prism.toml").write_text("[models.claude-sonnet-5-5]\nrpm = 2\n", "utf-8")
    path = document(tmp_path, count=3)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prism_cli", "review", str(path), "--region", "us-east-1",
         "-m", "claude-sonnet-5-5", "-f", "json", "--no-rules", "--concurrency", "1"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**__import__("os").environ, "PRISM_PROGRESS_INTERVAL": "0.5"},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while len(bedrock.calls()) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.5)  # the second call waits ~30 s for the 2-a-minute quota
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - stopped < 5  # at once, not when the quota refills
    assert proc.returncode == 130, err
    assert re.search(r"wait \d+ s: Bedrock quota on us.anthropic.claude-sonnet-5-5", err)
    assert len(bedrock.calls()) == 1
    assert bedrock.refused == []


@pytest.mark.parametrize("value", ['"lots"', "-5", "0", "true"])
def test_a_bad_quota_in_the_config_is_one_line_not_a_hang(tmp_path: Path, value: str) -> None:
    (tmp_path / "prism.toml").write_text(f"[models.claude-sonnet-5-5]\nrpm = {value}\n", "utf-8")
    path = document(tmp_path)
    result = run_prism("review", str(path), "--region", "us-east-1", cwd=tmp_path, timeout=60)
    assert result.code == 4, result.stderr
    assert "Traceback" not in result.stderr
    assert "models.claude-sonnet-5-5: rpm must be" in result.stderr

"""Per-model token quotas (pure, with a fake clock), ConverseStream as typed events through the
fake server, and the engine's stream choosing its model before the first token."""

from __future__ import annotations

import pytest

from fake_bedrock import Err, FakeBedrock
from prism_cli.bedrock.catalog import load_catalog
from prism_cli.bedrock.client import BedrockClient, make_boto_client
from prism_cli.core.engine import ModelEngine
from prism_cli.core.fallback import RetryPolicy
from prism_cli.core.ports import (
    ErrorKind,
    ModelCallError,
    ModelChosen,
    StreamStop,
    StreamUsage,
    TextDelta,
    ToolInputDelta,
)
from prism_cli.core.quota import ModelQuota, QuotaBook
from prism_cli.core.requests import Ask

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET55 = "us.anthropic.claude-sonnet-5-5"
OPUS55 = "us.anthropic.claude-opus-5-5"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def quota(clock: Clock, **kwargs: float) -> ModelQuota:
    return ModelQuota("m", clock=clock, **kwargs)  # type: ignore[arg-type]


def test_unlimited_until_the_first_throttle() -> None:
    q = quota(Clock())
    assert all(q.reserve(5000)[1] == 0 for _ in range(50))
    assert q.rate is None


def test_a_throttle_before_any_success_does_not_collapse_the_rate() -> None:
    clock = Clock()
    q = quota(clock)
    tickets = [q.reserve(5000)[0] for _ in range(8)]  # 8 calls start at once
    clock.now = 0.05
    q.on_throttle(tickets[0])  # ... and the first answer is a 429
    assert q.rate is None  # nothing measured: no rate, no crumbs
    assert q.reserve(5000)[1] == 0
    # Once calls have succeeded, the first throttle sets half of what was being sent.
    clock.now = 0.5
    for ticket in tickets[1:4]:
        q.on_success(ticket, 5000, 1000, 800)
    clock.now = 0.6
    q.on_throttle(tickets[4])
    assert q.rate is not None
    assert q.rate == pytest.approx(0.5 * 9 * 5000 / 1.0, rel=0.2)
    assert q.reserve(5000)[1] < 0.5


def test_learns_the_token_rate_and_spaces_calls_by_settled_cost() -> None:
    clock = Clock()
    q = quota(clock, burndown=5.0)
    # The service accepts 10 calls/s of 1,000 input + 200 output (2,000 quota tokens settled).
    for step in range(40):
        clock.now = step * 0.1
        ticket, _ = q.reserve(q.cost(1000, 4096))
        q.on_success(ticket, q.cost(1000, 4096), 1000, 200)
    clock.now = 4.0
    q.on_throttle(q.reserve(2000)[0])  # binds: first estimate is half the long-run rate
    for step in range(1, 31):
        clock.now = 4.0 + step * 0.1
        ticket, _ = q.reserve(2000)
        q.on_success(ticket, 2000, 1000, 200)
    clock.now = 7.1
    q.on_throttle(q.reserve(2000)[0])
    assert q.rate is not None
    assert q.rate == pytest.approx(0.95 * 20_000, rel=0.1)  # 20k quota tokens/s accepted
    # Calls are spaced by their expected settled cost, not by maxTokens.
    assert q.cost(1000, 4096) == pytest.approx(1000 + 200 * 5, rel=0.05)


def test_a_throttle_on_one_model_never_slows_another() -> None:
    clock = Clock()
    book = QuotaBook(clock=clock)
    a, b = book["model-a"], book["model-b"]
    tickets = [a.reserve(1000)[0] for _ in range(4)]
    clock.now = 0.1
    a.on_success(tickets[0], 1000, 500, 100)
    a.on_throttle(tickets[1])
    assert a.rate is not None
    assert b.rate is None
    assert all(b.reserve(1000)[1] == 0 for _ in range(20))


def test_a_storm_sets_the_model_aside_then_one_probe_decides() -> None:
    clock = Clock()
    q = quota(clock, aside_for=30.0)
    for _ in range(3):
        q.on_throttle(q.reserve(1000)[0])
    assert q.is_aside()
    assert not q.usable()
    clock.now = 31.0
    assert q.usable()  # one probe ...
    assert not q.usable()  # ... at a time
    assert q.on_throttle(q.reserve(1000)[0])  # the probe throttled: a longer cooldown
    clock.now = 62.0
    assert not q.usable()
    clock.now = 92.0
    assert q.usable()
    ticket, _ = q.reserve(1000)
    q.on_success(ticket, 1000, 100, 10)
    assert q.usable()
    assert not q.is_aside()


def test_throttles_while_accepted_calls_are_in_flight_are_not_a_storm() -> None:
    clock = Clock()
    q = quota(clock)
    q.reserve(1000)  # accepted: still running a second later
    clock.now = 1.0
    for _ in range(5):
        assert not q.on_throttle(q.reserve(1000)[0])
    assert q.usable()


def stream_client() -> BedrockClient:
    client, _region = make_boto_client("us-east-1", None)
    return BedrockClient(client)


def test_stream_yields_text_then_stop_and_usage(bedrock: FakeBedrock) -> None:
    text = "The timeline has a gap between 10:02 and 11:40 & <nothing> explains it. 🙂"
    bedrock.queue(
        SONNET45,
        {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 120, "outputTokens": 30, "totalTokens": 150},
        },
    )
    request = {"messages": [{"role": "user", "content": [{"text": "What is missing?"}]}]}
    events = list(stream_client().stream(SONNET45, request))
    deltas = [e.text for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 1  # really streamed, in several frames
    assert "".join(deltas) == text
    assert StreamStop("end_turn") in events
    (usage,) = [e.usage for e in events if isinstance(e, StreamUsage)]
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (1, 120, 30)
    assert bedrock.requests[-1][1] == "converse_stream"


def test_stream_error_frame_mid_stream(bedrock: FakeBedrock) -> None:
    bedrock.queue(
        SONNET45,
        {"stream_error": ["throttlingException", "Too many tokens"], "text": "Partial ans"},
    )
    request = {"messages": [{"role": "user", "content": [{"text": "Summarise"}]}]}
    received: list[str] = []

    def consume() -> None:
        for item in stream_client().stream(SONNET45, request):
            if isinstance(item, TextDelta):
                received.append(item.text)

    with pytest.raises(ModelCallError) as info:
        consume()
    assert "".join(received) == "Partial ans"  # what came before the error frame
    assert info.value.kind is ErrorKind.THROTTLED
    assert "Too many tokens" in info.value.message


def test_stream_error_before_the_stream(bedrock: FakeBedrock) -> None:
    bedrock.queue(SONNET45, Err("AccessDeniedException", 403, "no access"))
    request = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    with pytest.raises(ModelCallError) as info:
        list(stream_client().stream(SONNET45, request))
    assert info.value.kind is ErrorKind.ACCESS_DENIED


def test_stream_tool_input_arrives_as_fragments(bedrock: FakeBedrock) -> None:
    request = {
        "messages": [{"role": "user", "content": [{"text": "Review"}]}],
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "record_findings", "inputSchema": {"json": {}}}}],
            "toolChoice": {"auto": {}},
        },
    }
    events = list(stream_client().stream(SONNET45, request))
    fragments = [e for e in events if isinstance(e, ToolInputDelta)]
    assert len(fragments) > 1
    assert {e.name for e in fragments} == {"record_findings"}
    assert '"findings"' in "".join(e.text for e in fragments)


def engine(models: list[str]) -> ModelEngine:
    catalog = load_catalog()
    client, region = make_boto_client("us-east-1", None)
    chain, _ = catalog.chain(region, models)
    return ModelEngine(BedrockClient(client), chain, policy=RetryPolicy(base_delay=0.01))


def ask(text: str) -> Ask:
    return Ask(
        system=lambda _structured: "You answer questions about a document.",
        messages=[{"role": "user", "content": [{"text": text}]}],
        max_tokens=512,
    )


def test_engine_stream_falls_back_before_the_first_token(bedrock: FakeBedrock) -> None:
    bedrock.access_denied.add(SONNET55)
    eng = engine(["claude-sonnet-5-5", "claude-opus-5-5"])
    events = list(eng.stream(ask("What is missing?")))
    assert events[0] == ModelChosen(OPUS55, (SONNET55,), "adaptive")  # always thinks
    assert "".join(e.text for e in events if isinstance(e, TextDelta))
    assert any(isinstance(e, StreamUsage) for e in events)
    assert bedrock.refused == [
        (SONNET55, "AccessDeniedException", "You don't have access to the model with the "
         "specified model ID.")
    ]  # fmt: skip
    assert "took over" in eng.notes()[0]
    # Learned once: the next stream goes straight to the model that works.
    list(eng.stream(ask("And then?")))
    assert [m for m, _ in bedrock.calls("converse_stream")] == [SONNET55, OPUS55, OPUS55]


def test_engine_stream_error_after_the_first_token_reaches_the_caller(
    bedrock: FakeBedrock,
) -> None:
    bedrock.queue(
        SONNET55, {"stream_error": ["modelStreamErrorException", "boom"], "text": "Half an"}
    )
    eng = engine(["claude-sonnet-5-5", "claude-opus-5-5"])
    received: list[str] = []

    def consume() -> None:
        for event in eng.stream(ask("Summarise")):
            if isinstance(event, TextDelta):
                received.append(event.text)

    with pytest.raises(ModelCallError):
        consume()
    assert "".join(received) == "Half an"
    assert [m for m, _ in bedrock.calls("converse_stream")] == [SONNET55]

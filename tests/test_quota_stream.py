"""Per-model token quotas (pure, with a fake clock), ConverseStream as typed events through the
fake server, and the engine's stream choosing its model before the first token."""

from __future__ import annotations

import pytest

from fake_bedrock import Err, FakeBedrock
from prism_cli.bedrock.catalog import load_catalog
from prism_cli.bedrock.client import BedrockClient, make_boto_client
from prism_cli.core.ports import (
    ErrorKind,
    ModelCallError,
    ModelChosen,
    StreamStop,
    StreamUsage,
    TextDelta,
    ToolInputDelta,
)
from prism_cli.engine.engine import ModelEngine
from prism_cli.engine.fallback import RetryPolicy
from prism_cli.engine.quota import ModelQuota, QuotaBook, QuotaLimits
from prism_cli.engine.requests import Ask

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
SONNET55 = "us.anthropic.claude-sonnet-5-5"
OPUS55 = "us.anthropic.claude-opus-5-5"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def quota(clock: Clock, limits: QuotaLimits | None = None) -> ModelQuota:
    return ModelQuota("m", clock=clock, limits=limits)


TOKENS = "Too many tokens, please wait before trying again."
REQUESTS = "Too many requests, please wait before trying again."


def test_before_any_limit_is_known_calls_ramp_up_without_waiting_for_a_rate() -> None:
    q = quota(Clock())
    tickets = [q.reserve(1000, 4000) for _ in range(4)]
    assert [q.admit(t) == 0.0 for t in tickets] == [True, True, False, False]
    q.on_success(tickets[0], 1000, 200)
    assert q.admit(tickets[2]) == 0.0  # one answered: more may be in flight


def test_a_known_limit_paces_from_the_first_call_in_both_dimensions() -> None:
    clock = Clock()
    q = quota(clock, QuotaLimits(rpm=60, tpm=10_000_000))
    started = [q.admit(q.reserve(10, 10)) == 0.0 for _ in range(20)]
    # 60 requests a minute at the 0.97 margin, the mirror holding a fifth of it: 11 at once.
    assert started.count(True) == 11
    waiting = q.reserve(10, 10)
    assert 0.0 < q.admit(waiting) < 12  # a request refills every ~1 s (behind 9 queued)


def test_a_refusal_names_its_dimension_and_only_that_limit_is_learned() -> None:
    clock = Clock()
    q = quota(clock)
    for _ in range(30):
        t = q.reserve(1000, 1000)
        assert q.admit(t) == 0.0
        clock.now += 0.5
        q.on_success(t, 1000, 100)
    refused = q.reserve(1000, 1000)
    assert q.admit(refused) == 0.0
    q.on_throttle(refused, REQUESTS)
    state = q.snapshot()
    assert state.requests.limit is not None
    assert state.tokens.limit is None
    # 30 accepted in 15 s, from a bucket that started full: 0.97 x 30 x 60 / 75.
    assert state.requests.limit == pytest.approx(23.28)


def test_a_refusal_before_anything_was_accepted_sets_no_limit() -> None:
    q = quota(Clock())
    t = q.reserve(1000, 4000)
    assert q.admit(t) == 0.0
    q.on_throttle(t, TOKENS)
    assert not q.paced()  # the call backs off; nothing would pace the run at a crawl
    assert q.admit(q.reserve(1000, 4000)) == 0.0


def test_a_learned_limit_never_falls_below_one_call() -> None:
    """The stall of December 2026: a learned rate whose whole minute was smaller than one
    call's hold admitted nothing, for ever. Every wait is now a finite refill."""
    clock = Clock()
    q = quota(clock)
    for _ in range(8):
        clock.now += 2.0
        t = q.reserve(2000, 4000)
        assert q.admit(t) == 0.0
        q.on_success(t, 2000, 300)
    for _ in range(20):  # refusal after refusal, well spaced: each one an episode
        clock.now += 5.0
        t = q.reserve(2000, 4000)
        while (wait := q.admit(t)) > 0:
            assert wait <= 60.0
            clock.now += wait
        q.on_throttle(t, TOKENS)
        if q.snapshot().episode:
            ok = q.reserve(2000, 4000)
            while (wait := q.admit(ok)) > 0:
                clock.now += wait
            q.on_success(ok, 2000, 300)
    state = q.snapshot()
    assert state.tokens.limit is not None
    assert state.tokens.limit >= 6000
    t = q.reserve(2000, 4000)
    wait = q.admit(t)
    assert wait <= 60.0  # never a wait on something nothing will change


def test_a_refused_window_spaces_its_tries_out_without_lowering_the_limit_again() -> None:
    clock = Clock()
    q = quota(clock, QuotaLimits(tpm=60_000))
    limit = q.snapshot().tokens.limit
    t = q.reserve(1000, 1000)
    assert q.admit(t) == 0.0
    q.on_throttle(t, TOKENS)  # a window spent by someone else
    waits = []
    for _ in range(3):
        t = q.reserve(1000, 1000)
        while (wait := q.admit(t)) > 0:
            waits.append(wait)
            clock.now += wait
        q.on_throttle(t, TOKENS)
    assert q.snapshot().tokens.limit == pytest.approx(limit * 0.95)  # lowered once
    assert waits == sorted(waits)
    assert waits[-1] > 4 * waits[0]


def test_a_throttle_on_one_scope_never_slows_another() -> None:
    clock = Clock()
    book = QuotaBook(clock=clock)
    assert book["us.anthropic.m"] is book["eu.anthropic.m"]  # one cross-region quota
    assert book["global.anthropic.m"] is not book["us.anthropic.m"]
    t = book["us.anthropic.m"].reserve(1, 1)
    book["us.anthropic.m"].on_throttle(t, TOKENS)
    assert book["us.anthropic.other"].admit(book["us.anthropic.other"].reserve(1, 1)) == 0.0


def test_a_storm_sets_the_model_aside_then_one_probe_decides() -> None:
    clock = Clock()
    q = quota(clock)
    aside = False
    for _ in range(6):
        t = q.reserve(10, 10)
        q.admit(t)
        clock.now += 0.1
        aside = q.on_throttle(t, TOKENS) or aside
    assert aside
    assert q.is_aside()
    assert not q.usable()
    clock.now += 31
    assert q.usable()
    assert not q.usable()


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


def test_an_answer_cancelled_before_its_first_token_gives_back_its_quota() -> None:
    """Ctrl-C in chat while the answer had not started: the call's hold and its place in
    flight go back at once (it used to keep them, and a later wait drifted for minutes)."""
    from prism_cli.engine.catalog import ModelInfo, ResolvedModel

    class Port:
        def stream(self, model_id: str, request: dict[str, object]) -> object:
            raise KeyboardInterrupt  # what the signal handler raises while we wait

        def converse(self, model_id: str, request: dict[str, object]) -> object:
            raise NotImplementedError

        def count_tokens(self, model_id: str, request: dict[str, object]) -> None:
            return None

    info = ModelInfo(key="m", name="M", base_id="anthropic.m", profiles=("us",))
    engine = ModelEngine(Port(), [ResolvedModel(info, "us.anthropic.m", "us")])  # type: ignore[arg-type]
    ask = Ask(system=lambda _s: "x", messages=[{"role": "user", "content": [{"text": "q"}]}],
              max_tokens=100)  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        list(engine.stream(ask))
    quota = engine.quotas["us.anthropic.m"]
    assert quota.in_flight() == 0
    assert quota.snapshot().inflight == {}
    assert engine._proof.get("us.anthropic.m", "open") == "open"  # the gate is open again

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


def test_before_the_quota_is_known_calls_ramp_up_without_waiting_for_a_rate() -> None:
    clock = Clock()
    q = quota(clock)
    tickets = [q.reserve(1000, 4000) for _ in range(8)]
    assert [q.admit(t) for t in tickets[:2]] == [0.0, 0.0]
    assert q.admit(tickets[2]) > 0  # two in flight, none answered yet
    q.on_success(tickets[0], 1000, 200)
    assert [q.admit(t) for t in tickets[2:4]] == [0.0, 0.0]  # one answered: two more
    assert q.rate is None


def test_a_configured_quota_starts_full_and_paces_from_there() -> None:
    clock = Clock()
    q = quota(clock, tpm=60_000.0)  # 1,000 tokens/s, a minute's worth to start with
    tickets = [q.reserve(1000, 4000) for _ in range(12)]
    assert [q.admit(t) for t in tickets[:12]] == [0.0] * 12  # 60k holds 12 x 5k at once
    late = q.reserve(1000, 4000)
    assert q.admit(late) == pytest.approx(5.0, rel=0.01)  # then one hold's worth of refill


def test_a_throttle_before_any_success_does_not_collapse_the_rate() -> None:
    clock = Clock()
    q = quota(clock)
    first = q.reserve(1000, 4000)
    assert q.admit(first) == 0.0
    clock.now = 0.05
    q.on_throttle(first)  # the very first answer is a 429
    assert q.rate is None  # nothing measured: no rate, no crumbs
    second = q.reserve(1000, 4000)
    assert q.admit(second) == 0.0


def test_a_lone_caller_throttled_after_a_few_calls_waits_seconds_not_minutes() -> None:
    # A chat: three questions a few seconds apart, then a 429. What was accepted (3 x 5k
    # over ~a minute) says the rate is at least ~230 tokens/s: a 5k hold would wait ~20 s,
    # and more with the episode open. One caller waiting searches upwards meanwhile.
    clock = Clock()
    q = quota(clock)
    for _ in range(3):
        t = q.reserve(1000, 4000)
        assert q.admit(t) == 0.0
        clock.now += 2.0
        q.on_success(t, 1000, 200)
        clock.now += 3.0
    t = q.reserve(1000, 4000)
    assert q.admit(t) == 0.0
    clock.now += 0.1
    q.on_throttle(t)
    assert q.rate is not None
    t = q.reserve(1000, 4000)
    first = q.admit(t)
    assert first > 5.0  # the first estimate is low ...
    waited = 0.0
    while (wait := q.admit(t)) > 0 and waited < 600:
        step = min(wait, 0.5)  # as the engine polls
        clock.now += step
        waited += step
    assert waited < 8.0  # ... and the wait is seconds
    # Two callers waiting (a batch) still wait for the bucket, as before.
    q2 = quota(clock)
    q2.rate, q2.level = 100.0, 0.0
    q2._episode_open = True
    a, b = q2.reserve(1000, 4000), q2.reserve(1000, 4000)
    assert q2.admit(a) == pytest.approx(q2.admit(a), rel=0.01)
    clock.now += 5.0
    q2.admit(a)
    assert q2.rate == 100.0
    del b


def simulate(mode: str, seconds: float = 60.0) -> tuple[ModelQuota, int, int, float]:
    """A batch against a simulated Bedrock token quota of 10k tokens/s (holds input +
    maxTokens, settles to input + output x 5), in fake time. Returns the quota, calls,
    throttles, and the quota tokens accepted per second after the first 10 s."""
    clock = Clock()
    rate, capacity, window = 10_000.0, 50_000.0, 5.0
    # The quota's period (a minute on Bedrock) and a wall clock its windows are aligned on.
    q = quota(clock, capacity=window, wall=clock)
    level, reset = capacity, 0.0
    waiting: list[int] = []
    running: list[tuple[float, int, float]] = []  # (ends at, ticket, hold)
    calls = throttles = 0
    accepted_late = 0.0
    step = 0.01
    while clock.now < seconds:
        clock.now += step
        if mode == "bucket":
            level = min(capacity, level + rate * step)
        elif clock.now - reset >= window:
            level, reset = capacity, reset + window
        for end, ticket, hold in [r for r in running if r[0] <= clock.now]:
            running.remove((end, ticket, hold))
            level += hold - (1000 + 300 * 5)
            q.on_success(ticket, 1000, 300)
            if clock.now > 10:
                accepted_late += 1000 + 300 * 5
        while len(waiting) + len(running) < 16:
            waiting.append(q.reserve(1000, 4000))
        for ticket in list(waiting):
            if q.admit(ticket) > 0:
                continue
            waiting.remove(ticket)
            calls += 1
            if level >= 5000:
                level -= 5000
                running.append((clock.now + 0.5, ticket, 5000))
            else:
                throttles += 1
                q.on_throttle(ticket)
    return q, calls, throttles, accepted_late / (seconds - 10)


def test_learns_the_token_rate_of_a_continuously_refilled_quota() -> None:
    q, calls, throttles, achieved = simulate("bucket")
    assert q.measured == pytest.approx(10_000, rel=0.05)
    assert achieved >= 0.95 * 10_000  # the quota's rate, nearly all of it
    assert throttles <= 0.05 * calls


def test_finds_a_clock_window_and_spends_each_window_from_its_start() -> None:
    # Throttling episodes that end right after a clock boundary of the quota's period, again
    # and again: the quota resets on the clock. Each window's tokens are then spent from its
    # start, and a refusal bounds the window's quota (the highest level Bedrock accepted).
    q, calls, throttles, achieved = simulate("window", seconds=240)
    assert q.window is not None
    assert q.window.period == 5.0
    assert q.window.phase == pytest.approx(0.0, abs=0.05)
    assert 45_000 <= q.window.quota <= 55_000  # 50k a window, plus what calls give back
    assert achieved >= 0.85 * 10_000
    assert throttles <= 0.05 * calls


def test_a_continuously_refilled_quota_is_never_taken_for_a_clock_window() -> None:
    q, _, _, _ = simulate("bucket", seconds=300)
    assert q.window is None


def test_a_spent_window_waits_for_the_next_one() -> None:
    from prism_cli.core.quota import _Window

    clock = Clock()
    q = quota(clock, capacity=5.0, wall=clock)
    q.rate = 1000.0
    q.window = _Window(5.0, 0.0, 10_000.0)
    clock.now = 1.0
    first, second = q.reserve(1000, 4000), q.reserve(1000, 4000)
    assert q.admit(first) == 0.0
    assert q.admit(second) == 0.0  # 10k: both fit
    third = q.reserve(1000, 4000)
    assert q.admit(third) > 0  # the window is spent; only a refund could make room
    q.on_throttle(second)  # and Bedrock says so: the quota is below 10k
    assert q.window.quota == 5000.0  # the most this window took with Bedrock accepting it
    q.on_success(first, 1000, 200)  # gives back 2k of its hold: 2k + 5k still do not fit
    assert q.admit(third) == pytest.approx(4.01, abs=0.01)  # until the next window
    clock.now = 5.02
    assert q.admit(third) == 0.0


def test_calls_that_fit_only_wait_for_the_calls_queued_before_them() -> None:
    from prism_cli.core.quota import _Window

    clock = Clock()
    q = quota(clock, capacity=5.0, wall=clock)
    q.rate = 4000.0
    q.window = _Window(5.0, 0.0, 12_000.0)
    clock.now = 4.0
    q.window.roll(clock.now)
    q.window.used = 12_000.0  # spent: everyone waits for the next window
    tickets = [q.reserve(1000, 4000) for _ in range(3)]
    assert all(q.admit(t) > 0.9 for t in tickets)
    clock.now = 5.01
    # The last in line looks first. Behind two calls it does not fit (15k), but alone it
    # would: it looks again at once instead of sleeping through the window.
    assert 0 < q.admit(tickets[2]) <= 0.05
    assert q.admit(tickets[0]) == 0.0
    assert 0 < q.admit(tickets[2]) <= 0.05
    assert q.admit(tickets[1]) == 0.0
    assert q.admit(tickets[2]) >= 0.1  # now spent: until the next window or a refund


def test_a_call_started_at_a_window_s_very_end_counts_in_the_next_window_too() -> None:
    from prism_cli.core.quota import _Window

    clock = Clock()
    q = quota(clock, capacity=5.0, wall=clock)
    q.rate = 2000.0
    q.window = _Window(5.0, 0.0, 10_000.0)
    clock.now = 4.95  # it may reach Bedrock after the boundary
    late = q.reserve(1000, 4000)
    assert q.admit(late) == 0.0
    clock.now = 5.01
    first, second = q.reserve(1000, 4000), q.reserve(1000, 4000)
    assert q.admit(first) == 0.0
    assert q.admit(second) > 0  # 5k carried + 5k: the next window holds no more


def test_a_throttle_on_one_model_never_slows_another() -> None:
    clock = Clock()
    book = QuotaBook(clock=clock)
    a, b = book["model-a"], book["model-b"]
    tickets = [a.reserve(1000, 4000) for _ in range(2)]
    for ticket in tickets:
        a.admit(ticket)
    clock.now = 0.1
    a.on_success(tickets[0], 1000, 200)
    a.on_throttle(tickets[1])
    assert a.rate is not None
    assert b.rate is None
    others = [b.reserve(1000, 4000) for _ in range(2)]
    assert [b.admit(t) for t in others] == [0.0, 0.0]


def test_a_storm_sets_the_model_aside_then_one_probe_decides() -> None:
    clock = Clock()
    q = quota(clock, aside_for=30.0)
    for n in range(3):
        clock.now = n * 0.1
        ticket = q.reserve(1000, 4000)
        q.admit(ticket)
        q.on_throttle(ticket)
    assert q.is_aside()
    assert not q.usable()
    clock.now = 31.0
    assert q.usable()  # one probe ...
    assert not q.usable()  # ... at a time
    ticket = q.reserve(1000, 4000)
    q.admit(ticket)
    assert q.on_throttle(ticket)  # the probe throttled: a longer cooldown
    clock.now = 62.0
    assert not q.usable()
    clock.now = 92.0
    assert q.usable()
    ticket = q.reserve(1000, 4000)
    q.admit(ticket)
    q.on_success(ticket, 100, 10)
    assert q.usable()
    assert not q.is_aside()


def test_throttles_while_accepted_calls_are_in_flight_are_not_a_storm() -> None:
    clock = Clock()
    q = quota(clock)
    accepted = q.reserve(1000, 4000)
    q.admit(accepted)  # still running a second later
    clock.now = 1.0
    for _ in range(5):
        ticket = q.reserve(1000, 4000)
        q.admit(ticket)
        assert not q.on_throttle(ticket)
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

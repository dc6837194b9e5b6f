"""The shared rate limiter (with a fake clock) and ConverseStream through the fake server."""

from __future__ import annotations

import pytest

from fake_bedrock import Err, FakeBedrock
from prism_cli.bedrock.client import BedrockClient, make_boto_client
from prism_cli.core.limiter import RateLimiter
from prism_cli.core.ports import ErrorKind, ModelCallError, Usage

SONNET45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_is_unlimited_until_throttled() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep)
    for _ in range(100):
        limiter.wait()
        limiter.on_success()
    assert limiter.rate is None
    assert clock.slept == []


def test_rate_limiter_learns_the_quota_rate_and_spaces_calls() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, increase=0.0)
    # A burst of 20 accepted calls in 2 s, then the quota binds.
    for _ in range(20):
        limiter.wait()
        limiter.on_success()
        clock.now += 0.1
    limiter.on_throttle()
    assert limiter.rate == pytest.approx(0.5 * 20 / 2.0)
    # Several throttles in one burst are one signal.
    limiter.on_throttle()
    assert limiter.rate == pytest.approx(5.0)
    # The service then accepts 2 calls/s: the next throttle settles just under that.
    for _ in range(40):
        clock.now += 0.5
        limiter.on_success()
    limiter.on_throttle()
    assert limiter.rate is not None
    assert limiter.rate == pytest.approx(0.95 * 2.0)
    # Calls are now spaced 1/rate apart instead of all at once.
    clock.slept.clear()
    for _ in range(5):
        limiter.wait()
    gaps = clock.slept[1:]
    assert gaps
    assert all(g == pytest.approx(1 / limiter.rate, rel=0.01) for g in gaps)


def test_rate_limiter_grows_back_with_successes() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, sleep=clock.sleep, increase=0.01)
    for _ in range(10):
        limiter.on_success()
    clock.now = 1.0
    limiter.on_throttle()
    start = limiter.rate
    assert start is not None
    for _ in range(50):
        limiter.on_success()
    assert limiter.rate == pytest.approx(start * 1.01**50)


def stream_client() -> BedrockClient:
    client, _region = make_boto_client("us-east-1", None)
    return BedrockClient(client)


def test_converse_stream_yields_text_then_stop_and_usage(bedrock: FakeBedrock) -> None:
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
    events = list(stream_client().converse_stream(SONNET45, request))
    deltas = [e["text"] for e in events if "text" in e]
    assert len(deltas) > 1  # really streamed, in several frames
    assert "".join(deltas) == text
    assert events[-1]["stop"] == "end_turn"
    usage = events[-1]["usage"]
    assert isinstance(usage, Usage)
    assert (usage.calls, usage.input_tokens, usage.output_tokens) == (1, 120, 30)
    assert bedrock.requests[-1][1] == "converse_stream"


def test_converse_stream_error_frame_mid_stream(bedrock: FakeBedrock) -> None:
    bedrock.queue(
        SONNET45,
        {"stream_error": ["throttlingException", "Too many tokens"], "text": "Partial ans"},
    )
    request = {"messages": [{"role": "user", "content": [{"text": "Summarise"}]}]}
    received: list[str] = []

    def consume() -> None:
        for item in stream_client().converse_stream(SONNET45, request):
            received.append(item.get("text", ""))

    with pytest.raises(ModelCallError) as info:
        consume()
    assert "".join(received) == "Partial ans"  # what came before the error frame
    assert info.value.kind is ErrorKind.THROTTLED
    assert "Too many tokens" in info.value.message


def test_converse_stream_error_before_the_stream(bedrock: FakeBedrock) -> None:
    bedrock.queue(SONNET45, Err("AccessDeniedException", 403, "no access"))
    request = {"messages": [{"role": "user", "content": [{"text": "Hi"}]}]}
    with pytest.raises(ModelCallError) as info:
        list(stream_client().converse_stream(SONNET45, request))
    assert info.value.kind is ErrorKind.ACCESS_DENIED

"""One Bedrock quota for every worker: the engine's limiter kept in a real Redis (Lua)."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis as redis_lib

from prism_cli.stores.redis_quota import SharedQuota


def quota(url: str, **kw: float) -> SharedQuota:
    return SharedQuota("m", redis_lib.Redis.from_url(url), **kw)  # type: ignore[arg-type]


def test_a_configured_quota_is_one_bucket_for_every_worker(redis_url: str) -> None:
    # 60k tokens a minute, a full bucket to start: twelve 5k holds in all, whoever asks.
    a, b = quota(redis_url, tpm=60_000), quota(redis_url, tpm=60_000)
    admitted = []
    for q in (a, b) * 7:
        ticket = q.reserve(1000, 4000)
        admitted.append(q.admit(ticket) == 0.0)
    assert admitted.count(True) == 12
    assert admitted[-2:] == [False, False]  # both workers wait now, not just one
    late = b.reserve(1000, 4000)
    assert 3.0 < b.admit(late) <= 5.5  # one hold's worth of refill at 1k tokens/s


def test_what_one_worker_learns_every_worker_keeps_to(redis_url: str) -> None:
    a, b = quota(redis_url), quota(redis_url)
    # Unknown rate: calls ramp up, counted over both workers.
    tickets = [(q, q.reserve(1000, 4000)) for q in (a, b, a, b)]
    started = [q.admit(t) == 0.0 for q, t in tickets]
    assert started == [True, True, False, False]  # two in flight before anything is answered
    for q, t in tickets[:2]:
        q.on_success(t, 1000, 200)
    assert all(q.admit(t) == 0.0 for q, t in tickets[2:])  # answered: more may go
    # A throttle on one worker binds the quota for both.
    (q1, t1), (q2, t2) = tickets[2], tickets[3]
    q2.on_success(t2, 1000, 200)
    q1.on_throttle(t1)
    assert a.rate is not None
    state = redis_lib.Redis.from_url(redis_url).hgetall("prism:quota:m")
    assert float(state[b"rate"]) == pytest.approx(a.rate)
    waiting = b.reserve(1000, 4000)
    assert b.admit(waiting) > 0.5  # the other worker waits for the shared bucket


def test_workers_share_the_quota_in_a_batch(tmp_path: Path, redis_url: str) -> None:
    """Throttles and settled tokens of one worker teach the other (the measurement is the
    sum of both): after an episode both hold the same rate, whatever each saw."""
    a, b = quota(redis_url, tpm=6_000), quota(redis_url, tpm=6_000)
    for q in (a, b):
        t = q.reserve(100, 400)
        assert q.admit(t) == 0.0
        q.on_success(t, 100, 50)
    assert a.rate == b.rate == 100.0

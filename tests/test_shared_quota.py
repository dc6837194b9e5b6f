"""One Bedrock quota for every worker: the engine's limiter, its state in a real Redis."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis as redis_lib

from prism_cli.engine.quota import ModelQuota, QuotaLimits, QuotaRules
from prism_cli.stores.redis_quota import RedisCell

RULES = QuotaRules(burst=1.0, margin=1.0)


def quota(
    url: str, limits: QuotaLimits | None = None, owner: str = "w", rules: QuotaRules = RULES
) -> ModelQuota:
    cell = RedisCell(redis_lib.Redis.from_url(url), "prism:quota:cross-region:m")
    return ModelQuota("m", cell=cell, limits=limits, rules=rules, owner=owner)


def test_a_known_quota_is_one_bucket_for_every_worker(redis_url: str) -> None:
    # 60k tokens a minute (a full bucket to start): twelve 5k holds in all, whoever asks.
    limits = QuotaLimits(tpm=60_000)
    a, b = quota(redis_url, limits, "a"), quota(redis_url, limits, "b")
    admitted = []
    for q in (a, b) * 7:
        ticket = q.reserve(1000, 4000)
        admitted.append(q.admit(ticket) == 0.0)
    assert admitted.count(True) == 12
    assert admitted[-2:] == [False, False]  # both workers wait now, not just one
    late = b.reserve(1000, 4000)
    # Behind b's own waiting call: two holds' worth of refill at 1k tokens/s.
    assert 8.0 < b.admit(late) <= 10.5


def test_requests_and_tokens_are_both_paced_for_every_worker(redis_url: str) -> None:
    limits = QuotaLimits(rpm=3, tpm=1_000_000)
    a, b = quota(redis_url, limits, "a"), quota(redis_url, limits, "b")
    started = [q.admit(q.reserve(10, 10)) == 0.0 for q in (a, b, a, b)]
    assert started == [True, True, True, False]  # three requests a minute, whoever asks
    # Behind b's own waiting call: two requests refill in 40 s.
    assert 35 < b.admit(b.reserve(10, 10)) <= 40.5


def test_what_one_worker_learns_every_worker_keeps_to(redis_url: str) -> None:
    # Quotas per 1.2 s instead of a minute (Redis's clock is real): a refusal teaches a limit
    # once a sixth of a period has gone by.
    short = QuotaRules.scaled(1.2)
    a, b = quota(redis_url, owner="a", rules=short), quota(redis_url, owner="b", rules=short)
    # Unknown limits: calls ramp up, counted over both workers.
    tickets = [(q, q.reserve(1000, 4000)) for q in (a, b, a, b)]
    started = [q.admit(t) == 0.0 for q, t in tickets]
    assert started == [True, True, False, False]  # two in flight before anything is answered
    for q, t in tickets[:2]:
        q.on_success(t, 1000, 200)
    assert all(q.admit(t) == 0.0 for q, t in tickets[2:])  # answered: more may go
    # A throttle on one worker, after enough was accepted to say something, binds both.
    (q1, t1), (q2, t2) = tickets[2], tickets[3]
    q2.on_success(t2, 1000, 200)
    for q in (a, b) * 5:
        t = q.reserve(1000, 4000)
        assert q.admit(t) == 0.0
        q.on_success(t, 1000, 200)
    time.sleep(0.25)
    q1.on_throttle(t1, "Too many tokens, please wait before trying again.")
    assert a.rate is not None
    stored = json.loads(redis_lib.Redis.from_url(redis_url).get("prism:quota:cross-region:m"))
    assert stored["tokens"]["limit"] == pytest.approx(a.rate * 1.2)
    assert stored["requests"]["limit"] is None  # the refusal named tokens
    waiting = b.reserve(1000, 4000)
    assert b.admit(waiting) > 0.05  # the other worker waits for the shared bucket (1.2 s quotas)


def test_workers_share_one_state_whatever_each_saw(tmp_path: Path, redis_url: str) -> None:
    limits = QuotaLimits(tpm=6_000)
    a, b = quota(redis_url, limits, "a"), quota(redis_url, limits, "b")
    for q in (a, b):
        t = q.reserve(100, 400)
        assert q.admit(t) == 0.0
        q.on_success(t, 100, 50)
    assert a.rate == b.rate == 100.0

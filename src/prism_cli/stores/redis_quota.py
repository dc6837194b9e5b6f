"""One Bedrock quota for every worker: the model engine's limiter, its state kept in Redis.

Each (model, scope) quota is one JSON value (``prism:quota:<scope>``) read, changed and written
back in a WATCH/MULTI transaction, so any number of workers on any machines run the very same
algorithm as a single process (:mod:`prism_cli.engine.quota`: both dimensions, known limits,
learning from 429s, the ramp before anything is known) on one shared state. Times are Redis's
own (``TIME``), so the machines' clocks need not agree. What stays local to a process: the order
of its own waiting calls, hold estimates, and setting a model aside in a throttle storm.

A worker that dies with calls in flight leaves them in the state; they are forgotten after
``QuotaRules.stale_after`` seconds, so the ramp never waits on them for good.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from prism_cli.engine.quota import ModelQuota, QuotaRules, QuotaState

S = TypeVar("S")


class RedisCell:
    """A :class:`~prism_cli.engine.quota.QuotaCell` in Redis (see the module)."""

    def __init__(self, redis: Any, key: str, ttl: int = 86_400) -> None:
        self._redis = redis
        self.key = key
        self._ttl = ttl

    def transact(self, fn: Callable[[QuotaState, float], S]) -> S:
        import redis as redis_lib

        from prism_cli.core.ports import StoreError

        try:
            with self._redis.pipeline() as pipe:
                while True:
                    try:
                        pipe.watch(self.key)
                        raw = pipe.get(self.key)
                        seconds, micros = pipe.time()
                        now = float(seconds) + float(micros) / 1e6
                        state = QuotaState.from_dict(json.loads(raw)) if raw else QuotaState()
                        result = fn(state, now)
                        pipe.multi()
                        pipe.set(self.key, json.dumps(state.to_dict()), ex=self._ttl)
                        pipe.execute()
                        return result
                    except redis_lib.WatchError:
                        continue  # another worker changed it meanwhile: again, on its state
        except redis_lib.RedisError as exc:
            raise StoreError(f"shared quota: {type(exc).__name__}: {exc}") from exc

    def peek(self, fn: Callable[[QuotaState, float], S]) -> S:
        """Read only: one GET and Redis's clock, nothing written (calls waiting behind the
        first ask this often)."""
        import redis as redis_lib

        from prism_cli.core.ports import StoreError

        try:
            with self._redis.pipeline() as pipe:
                pipe.get(self.key)
                pipe.time()
                raw, (seconds, micros) = pipe.execute()
        except redis_lib.RedisError as exc:
            raise StoreError(f"shared quota: {type(exc).__name__}: {exc}") from exc
        state = QuotaState.from_dict(json.loads(raw)) if raw else QuotaState()
        return fn(state, float(seconds) + float(micros) / 1e6)


def shared_quotas(url: str, period: float | None = None) -> Callable[..., ModelQuota]:
    """Builds each scope's quota shared through the Redis at ``url`` (for the engine).
    ``period``: the quotas' period in seconds (Bedrock's is a minute; benches against a fake
    with shorter windows say so)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    rules = QuotaRules.scaled(period) if period else None
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def make(scope: str, **kw: Any) -> ModelQuota:
        if rules is not None:
            kw["rules"] = rules
        cell = RedisCell(client, f"prism:quota:{scope}")
        return ModelQuota(scope, cell=cell, owner=owner, **kw)

    return make

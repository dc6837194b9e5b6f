"""One Bedrock quota for every worker: the model engine's token-aware limiter, kept in Redis.

Each model's mirrored bucket lives in one Redis hash (``prism:quota:<model>``) and changes only
inside Lua scripts, so any number of workers on any machines take their calls' holds from the
same bucket, give back what calls did not use, and learn the rate together:

* before the quota is known to bind, calls ramp up as TCP does (two more in flight for every
  call answered, counted over all workers), unless ``[models.X] tpm`` gives a starting rate;
* the first throttle after accepted calls sets the rate from what all workers got accepted so
  far, and a search upwards follows;
* each later episode of throttling measures the rate from the tokens all workers settled since
  earlier episodes (the best measurement, at a 0.95 margin, is the rate); between throttles the
  rate is probed upwards, slowly at first.

Times are Redis's own (``TIME``), so the machines' clocks need not agree. What is local stays
in :class:`~prism_cli.core.quota.ModelQuota`: hold estimates, and setting a model aside in a
throttle storm. The clock-window detection of the local limiter is not shared: under a clock
window the shared bucket behaves as a continuously refilled one.
"""

from __future__ import annotations

import itertools
import os
import socket
import uuid
from collections.abc import Callable
from typing import Any

from prism_cli.core.quota import ModelQuota

_COMMON = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local raw = redis.call('HGETALL', KEYS[1])
local st = {}
for i = 1, #raw, 2 do st[raw[i]] = raw[i + 1] end
local rate = tonumber(st.rate)
local level = tonumber(st.level or '0')
local at = tonumber(st.at or tostring(now))
local cap = tonumber(ARGV[3])
local function refill()
  if rate then level = math.min(rate * cap, level + (now - at) * rate) end
  at = now
end
"""

# ARGV: hold, member, capacity, cooldown, probe_after, increase, starting tpm ('' if none)
_ADMIT = (
    _COMMON
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 600)
if not st.first then redis.call('HSET', KEYS[1], 'first', now) end
if not rate and ARGV[7] ~= '' then
  rate = tonumber(ARGV[7]) / 60.0
  level = rate * cap
  redis.call('HSET', KEYS[1], 'rate', rate, 'level', level, 'at', now)
end
local hold = tonumber(ARGV[1])
if not rate then
  local running = redis.call('ZCARD', KEYS[2])
  if running >= 2 + 2 * tonumber(st.successes or '0') then return {'0.05', now} end
  redis.call('ZADD', KEYS[2], now, ARGV[2])
  return {'0', now}
end
refill()
local last_wait = tonumber(st.last_wait or '-1e18')
if level < hold then last_wait = now end
local last_growth = tonumber(st.last_growth or tostring(now))
local dt = math.min(5.0, now - last_growth)
if st.episode ~= '1' and now - last_wait <= 1.0 and dt > 0 then
  local quiet = now - tonumber(st.last_cut or '-1e18')
  local gain = tonumber(st.gain or '1')
  if st.searching == '1' and quiet >= tonumber(ARGV[4]) then
    rate = rate * 2 ^ (gain * dt)
  elseif quiet >= tonumber(ARGV[5]) then
    rate = rate * (1 + tonumber(ARGV[6]) * dt * math.min((quiet / tonumber(ARGV[5])) ^ 2, 4))
  end
end
local wait = 0
if level >= hold then
  level = level - hold
  redis.call('ZADD', KEYS[2], now, ARGV[2])
else
  wait = math.max((hold - level) / rate, 0.01)
end
redis.call('HSET', KEYS[1], 'rate', rate, 'level', level, 'at', now,
  'last_growth', now, 'last_wait', last_wait)
return {tostring(wait), now}
"""
)

# ARGV: hold, member, capacity, used, started (Redis time of the call's start), horizon
_SETTLE = (
    _COMMON
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
local used = tonumber(ARGV[4])
if rate then
  refill()
  level = math.min(rate * cap, level + tonumber(ARGV[1]) - used)
  redis.call('HSET', KEYS[1], 'level', level, 'at', now)
end
if used > 0 then
  redis.call('HINCRBY', KEYS[1], 'successes', 1)
  redis.call('HINCRBYFLOAT', KEYS[1], 'accepted', used)
  redis.call('ZADD', KEYS[3], now, now .. ':' .. ARGV[2] .. ':' .. used)
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[6]))
  if tonumber(ARGV[5]) > tonumber(st.last_throttle or '-1e18') then
    redis.call('HSET', KEYS[1], 'episode', '0')
  end
end
return tostring(rate or '')
"""
)

# ARGV: hold, member, capacity, cooldown, started, margin, horizon
_THROTTLE = (
    _COMMON
    + """
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'throttles', 1)
local started = tonumber(ARGV[5])
if started > tonumber(st.last_throttle or '-1e18') then
  redis.call('HSET', KEYS[1], 'last_throttle', started)
end
if rate then
  refill()
  level = math.min(level, 0)
  redis.call('HSET', KEYS[1], 'level', level, 'at', now)
end
local accepted = tonumber(st.accepted or '0')
if not rate and accepted <= 0 then return '' end
if rate and st.episode == '1' then return tostring(rate) end
redis.call('HSET', KEYS[1], 'episode', '1')
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[7]))
local earlier = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now - 4 * tonumber(ARGV[4]))
redis.call('ZADD', KEYS[4], now, tostring(now))
local last_cut = tonumber(st.last_cut or '-1e18')
if now - last_cut < tonumber(ARGV[4]) then return tostring(rate or '') end
redis.call('HSET', KEYS[1], 'last_cut', now, 'last_growth', now)
if not rate then
  local span = math.max(now - tonumber(st.first or tostring(now)), 0)
  rate = math.max(accepted / (cap + span), 1.0)
  redis.call('HSET', KEYS[1], 'rate', rate, 'level', 0, 'at', now, 'searching', '1', 'gain', 1)
  return tostring(rate)
end
local hold = tonumber(ARGV[1])
local measured = nil
local first = math.max(1, #earlier - 19)
for i = first, #earlier do
  local empty = tonumber(earlier[i])
  local taken = 0
  for _, entry in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '(' .. empty, now)) do
    taken = taken + tonumber(string.match(entry, ':([^:]+)$'))
  end
  if taken > 8 * hold then
    local r = taken / (now - empty)
    if not measured or r > measured then measured = r end
  end
end
local gain = tonumber(st.gain or '1')
if measured then
  rate = tonumber(ARGV[6]) * measured
  redis.call('HSET', KEYS[1], 'rate', rate, 'measured', measured, 'searching', '0')
elseif st.searching == '1' then
  gain = gain / 2
  rate = rate * 0.8
  redis.call('HSET', KEYS[1], 'rate', rate, 'gain', gain,
    'searching', gain >= 0.1 and '1' or '0')
else
  rate = rate * 0.9
  redis.call('HSET', KEYS[1], 'rate', rate)
end
return tostring(rate)
"""
)


class SharedQuota(ModelQuota):
    """A :class:`ModelQuota` whose bucket, rate and learning are in Redis (see the module)."""

    def __init__(self, model_id: str, redis: Any, *, prefix: str = "prism:quota:", **kw: Any):
        super().__init__(model_id, **kw)
        self._tpm = float(kw["tpm"]) if kw.get("tpm") else None
        self.rate = None  # the shared rate, as last seen
        self.level = 0.0
        self._redis = redis
        base = prefix + model_id
        self._keys = [base, base + ":inflight", base + ":ledger", base + ":empty"]
        self._scripts = {
            name: redis.register_script(source)
            for name, source in (("admit", _ADMIT), ("settle", _SETTLE), ("throttle", _THROTTLE))
        }
        self._members: dict[int, tuple[str, float]] = {}
        """Ticket -> (its member in the in-flight set, Redis time it started)."""
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._seq = itertools.count()

    def _run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        from prism_cli.core.ports import StoreError

        try:
            return self._scripts[name](keys=keys, args=args)
        except Exception as exc:  # redis errors: the quota is the queue's Redis
            raise StoreError(f"shared quota: {type(exc).__name__}: {exc}") from exc

    def admit(self, ticket: int) -> float:
        with self._lock:
            call = self._calls.get(ticket)
            if call is None or call.start != float("inf"):
                return 0.0
            hold = call.hold
        member = f"{self._owner}:{next(self._seq)}"
        wait, at = self._run(
            "admit",
            self._keys[:2],
            [
                hold,
                member,
                self.capacity,
                self.cooldown,
                self.probe_after,
                self.increase,
                self._tpm if self._tpm else "",
            ],
        )
        wait = float(wait)
        if wait > 0:
            return wait
        with self._lock:
            self._members[ticket] = (member, float(at))
            self._start(ticket, call, self._clock())
        return 0.0

    def _give_back(self, ticket: int, used: float) -> None:
        with self._lock:
            call = self._calls.get(ticket)
            started = self._members.pop(ticket, None)
        if call is None or started is None:
            return
        member, at = started
        rate = self._run(
            "settle",
            [self._keys[0], self._keys[1], self._keys[2]],
            [call.hold, member, self.capacity, used, at, self.horizon],
        )
        self._seen(rate)

    def _seen(self, rate: Any) -> None:
        text = rate.decode() if isinstance(rate, bytes) else str(rate or "")
        self.rate = float(text) if text else None

    def cancel(self, ticket: int, cost: float = 0.0) -> None:
        self._give_back(ticket, 0.0)
        super().cancel(ticket, cost)

    def on_error(self, ticket: int) -> None:
        self._give_back(ticket, 0.0)
        shared = self.rate
        super().on_error(ticket)
        self.rate = shared

    def on_success(self, ticket: int, input_tokens: int, output_tokens: int) -> None:
        used = self.settled(input_tokens, output_tokens)
        self._give_back(ticket, max(used, 1.0))
        shared = self.rate
        super().on_success(ticket, input_tokens, output_tokens)
        self.rate = shared

    def on_throttle(self, ticket: int) -> bool:
        with self._lock:
            call = self._calls.get(ticket)
            started = self._members.pop(ticket, None)
        shared = self.rate
        if call is not None and started is not None:
            member, at = started
            rate = self._run(
                "throttle",
                self._keys,
                [call.hold, member, self.capacity, self.cooldown, at, self.margin, self.horizon],
            )
            self._seen(rate)
            shared = self.rate
        storm = super().on_throttle(ticket)  # hold estimates and storms stay local
        self.rate = shared
        self.window = None
        return storm


def shared_quotas(url: str) -> Callable[..., ModelQuota]:
    """Builds each model's quota shared through the Redis at ``url`` (for the engine)."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)

    # Bedrock's quotas are per minute; benches against a fake with a shorter period say so.
    period = float(os.environ.get("PRISM_QUOTA_PERIOD") or 60.0)

    def make(model_id: str, **kw: Any) -> ModelQuota:
        kw.setdefault("capacity", period)
        return SharedQuota(model_id, client, **kw)

    return make

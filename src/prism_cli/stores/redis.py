"""Sessions in Redis: shared by every machine that can reach it.

Every key written is also in one sorted set (``prism:_index``, all scores 0, so ordered by
name): listing a prefix is a ``ZRANGEBYLEX``, whatever else the database holds, not a SCAN of
the whole keyspace. A store written before the index existed is indexed once, on first use.
"""

from __future__ import annotations

import builtins
from typing import Any

from prism_cli.core.ports import StoreError

_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


_INDEX = "prism:_index"
_INDEXED = "prism:_indexed"


class RedisStore:
    def __init__(self, url: str, *, password: str | None = None) -> None:
        from prism_cli.stores.masking import mask_url

        self.url = mask_url(url)
        self._raw_url = url
        self._password = password
        self._client: Any = None
        self._indexed = False

    @property
    def client(self) -> Any:
        if self._client is None:
            import redis

            kwargs: dict[str, Any] = {"socket_connect_timeout": 5, "socket_timeout": 30}
            if self._password:
                kwargs["password"] = self._password
            try:
                self._client = redis.Redis.from_url(self._raw_url, **kwargs)
            except ValueError as exc:
                raise StoreError(f"invalid store URL {self.url}: {exc}") from exc
        return self._client

    def _guard(self, what: str, fn: Any, *args: Any) -> Any:
        import redis

        try:
            return fn(*args)
        except redis.AuthenticationError as exc:
            raise StoreError(f"store {self.url}: authentication failed") from exc
        except redis.RedisError as exc:
            raise StoreError(f"store {self.url}: cannot {what}: {_reason(exc)}") from exc

    def check(self) -> None:
        self._guard("reach it", self.client.ping)
        self._guard("write", self.client.set, "prism:_check", b"ok")

    def get(self, key: str) -> bytes | None:
        value = self._guard("read", self.client.get, "prism:" + key)
        return bytes(value) if value is not None else None

    def put(self, key: str, value: bytes) -> None:
        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            pipe.set("prism:" + key, value)
            pipe.zadd(_INDEX, {key: 0})
            pipe.execute()

        self._guard("write", write)

    def put_many(self, items: dict[str, bytes]) -> None:
        def write() -> None:
            pipe = self.client.pipeline(transaction=True)
            for key, value in items.items():
                pipe.set("prism:" + key, value)
            pipe.zadd(_INDEX, dict.fromkeys(items, 0))
            pipe.execute()

        if items:
            self._guard("write", write)

    def delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            if batch:

                def drop(batch: list[str] = batch) -> None:
                    pipe = self.client.pipeline(transaction=True)
                    pipe.delete(*["prism:" + k for k in batch])
                    pipe.zrem(_INDEX, *batch)
                    pipe.execute()

                self._guard("delete", drop)

    def _ensure_index(self) -> None:
        if self._indexed:
            return
        if self._guard("read", self.client.get, _INDEXED) is None:
            # Written by a prism without the index: index what is there, once.
            def build() -> None:
                names: list[str] = []
                for raw in self.client.scan_iter(match="prism:*", count=1000):
                    name = raw.decode("utf-8")[len("prism:") :]
                    if not name.startswith(("_", "leases/")):
                        names.append(name)
                for start in range(0, len(names), 1000):
                    self.client.zadd(_INDEX, dict.fromkeys(names[start : start + 1000], 0))
                self.client.set(_INDEXED, b"1")

            self._guard("index", build)
        self._indexed = True

    def list(self, prefix: str) -> list[str]:
        self._ensure_index()
        low, high = b"[" + prefix.encode("utf-8"), b"(" + prefix.encode("utf-8") + b"\xff"
        keys = self._guard("list", self.client.zrangebylex, _INDEX, low, high)
        return [k.decode("utf-8") for k in keys]

    def children(self, prefix: str) -> builtins.list[str]:
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in self.list(prefix)})

    def acquire(self, key: str, owner: str, ttl: float) -> str | None:
        name, ms = "prism:" + key, max(1, int(ttl * 1000))
        if self._guard("take a lease", lambda: self.client.set(name, owner, px=ms, nx=True)):
            return None
        held = self._guard("read a lease", self.client.get, name)
        if held is None:
            again: str | None = self.acquire(key, owner, ttl)  # expired between the calls
            return again
        holder: str = held.decode("utf-8")
        if holder == owner:
            return None if self.renew(key, owner, ttl) else holder
        return holder

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        script = self.client.register_script(_RENEW)
        done = self._guard(
            "renew a lease", script, ["prism:" + key], [owner, max(1, int(ttl * 1000))]
        )
        return bool(done)

    def release(self, key: str, owner: str) -> None:
        script = self.client.register_script(_RELEASE)
        self._guard("release a lease", script, ["prism:" + key], [owner])


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text

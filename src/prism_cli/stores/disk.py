"""The default store: a diskcache directory (SQLite + files; safe across processes)."""

from __future__ import annotations

import builtins
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prism_cli.core.ports import StoreError

_WRITERS: dict[str, threading.Lock] = {}
_WRITERS_LOCK = threading.Lock()


def _writer_lock(directory: Path) -> threading.Lock:
    """One lock per store directory for this process's writes. SQLite lets one writer in at
    a time; a thread that finds the database busy sleeps in SQLite's back-off (up to 100 ms
    a step), so threads of one run queued on it for far longer than the writes took (a
    16-call run spent a quarter of its time there). Queued on this lock they wait only for
    the write ahead of them; other processes still meet SQLite's own lock."""
    with _WRITERS_LOCK:
        return _WRITERS.setdefault(str(directory.resolve()), threading.Lock())


class DiskStore:
    def __init__(self, directory: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        """Wall-clock seconds, for leases' expiry (processes compare them)."""
        self.directory = directory
        self.url = directory.as_uri() if directory.is_absolute() else str(directory)
        self._cache: Any = None
        self._writing = _writer_lock(directory)

    @property
    def cache(self) -> Any:
        if self._cache is None:
            import diskcache

            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(self.directory), timeout=30)
            except Exception as exc:  # OSError, sqlite3.Error
                raise StoreError(f"cannot open store {self.url}: {exc}") from exc
        return self._cache

    def _guard(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:  # sqlite3.Error, OSError, diskcache.Timeout
            raise StoreError(f"store {self.url}: cannot {what}: {exc}") from exc

    def _write(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        cache = self.cache  # opened outside the lock: opening may write too
        with self._writing:
            return self._guard(what, getattr(cache, fn), *args, **kwargs)

    def check(self) -> None:
        self._write("write", "set", "_prism/check", b"ok")

    def get(self, key: str) -> bytes | None:
        value = self._guard("read", self.cache.get, key)
        return bytes(value) if value is not None else None

    def put(self, key: str, value: bytes) -> None:
        # One SQLite transaction per key: readers see the old value or the new one.
        self._write("write", "set", key, value)

    def put_many(self, items: dict[str, bytes]) -> None:
        def write() -> None:
            with cache.transact():
                for key, value in items.items():
                    cache.set(key, value)

        cache = self.cache
        with self._writing:
            self._guard("write", write)

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            self._write("delete", "delete", key)

    def list(self, prefix: str) -> list[str]:
        # A range over the key index (not a scan of every key): a lookup costs the same
        # however many other sessions the store holds.
        def select() -> list[str]:
            rows = self.cache._sql(
                "SELECT key FROM Cache WHERE key >= ? AND key < ? AND raw = 1"
                " AND (expire_time IS NULL OR expire_time > ?)",
                (prefix, prefix + "\U0010ffff", time.time()),
            ).fetchall()
            return [str(row[0]) for row in rows]

        keys: list[str] = self._guard("list", select)
        return sorted(k for k in keys if k.startswith(prefix))

    def children(self, prefix: str) -> builtins.list[str]:
        return sorted({k[len(prefix) :].split("/", 1)[0] for k in self.list(prefix)})

    def acquire(self, key: str, owner: str, ttl: float) -> str | None:
        def take() -> str | None:
            with self.cache.transact():
                raw = self.cache.get(key)
                if raw is not None:
                    held = json.loads(raw)
                    if held["owner"] != owner and held["expires"] > self.clock():
                        return str(held["owner"])
                lease = json.dumps({"owner": owner, "expires": self.clock() + ttl})
                self.cache.set(key, lease, expire=ttl)
                return None

        with self._writing:
            result: str | None = self._guard("take a lease", take)
        return result

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        return self.acquire(key, owner, ttl) is None

    def release(self, key: str, owner: str) -> None:
        def drop() -> None:
            with self.cache.transact():
                raw = self.cache.get(key)
                if raw is not None and json.loads(raw)["owner"] == owner:
                    self.cache.delete(key)

        with self._writing:
            self._guard("release a lease", drop)

"""One contract for every session store: disk (diskcache), a real redis-server, moto's S3."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from prism_cli.core.ports import SessionStore, StoreError
from prism_cli.core.results import SectionResult
from prism_cli.core.session import (
    SCHEMA_VERSION,
    CorruptEntry,
    DocumentInfo,
    Sessions,
    cache_key,
    encode,
    migrate,
    parse_duration,
    validate_session_id,
)
from prism_cli.stores.masking import mask_url
from prism_cli.stores.url import open_store


def test_put_get_list_delete(store_url: str) -> None:
    store = open_store(store_url)
    store.check()
    assert store.get("sessions/a/meta") is None
    store.put("sessions/a/meta", b"one")
    store.put("sessions/a/results/s1", b"\x00\xffbinary")
    store.put("sessions/ab/meta", b"other")
    assert store.get("sessions/a/meta") == b"one"
    assert store.get("sessions/a/results/s1") == b"\x00\xffbinary"
    assert store.list("sessions/a/") == ["sessions/a/meta", "sessions/a/results/s1"]
    assert store.children("sessions/") == ["a", "ab"]
    assert store.children("sessions/a/") == ["meta", "results"]
    store.put("sessions/a/meta", b"two")
    assert store.get("sessions/a/meta") == b"two"
    store.delete(store.list("sessions/a/"))
    assert store.list("sessions/a/") == []
    assert store.get("sessions/ab/meta") == b"other"


def test_keys_with_glob_characters_are_listed_literally(store_url: str) -> None:
    store = open_store(store_url)
    store.put("sessions/x*/meta", b"1")
    store.put("sessions/xy/meta", b"2")
    assert store.list("sessions/x*/") == ["sessions/x*/meta"]


class Clock:
    """The store's wall clock, moved by the test: an expiry is a step, not a wait."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _store_on(store_url: str, clock: Clock) -> SessionStore:
    store = open_store(store_url)
    if hasattr(store, "clock"):
        store.clock = clock  # disk and S3 keep the expiry; Redis's server keeps its own
    return store


def test_a_lease_has_one_owner_until_it_expires(store_url: str) -> None:
    clock = Clock()
    store = _store_on(store_url, clock)
    redis = not hasattr(store, "clock")
    ttl = 0.4 if redis else 60.0
    assert store.acquire("leases/s", "alice", ttl) is None
    assert store.acquire("leases/s", "alice", ttl) is None  # re-entrant for its owner
    assert store.acquire("leases/s", "bob", ttl) == "alice"
    assert store.renew("leases/s", "alice", ttl)
    assert not store.renew("leases/s", "bob", ttl)
    clock.now += ttl - 1 if not redis else 0
    assert store.acquire("leases/s", "bob", ttl) == "alice"  # not yet expired
    if redis:
        time.sleep(ttl + 0.2)  # the server's clock: the one wait left
    else:
        clock.now += 2
    assert store.acquire("leases/s", "bob", 5.0) is None  # alice's lease expired
    assert not store.renew("leases/s", "alice", 1.0)
    store.release("leases/s", "alice")  # not hers any more: no effect
    assert store.acquire("leases/s", "carol", 1.0) == "bob"
    store.release("leases/s", "bob")
    assert store.acquire("leases/s", "carol", 1.0) is None


def test_only_one_of_many_racing_processes_gets_the_lease(store_url: str) -> None:
    winners: list[str] = []
    barrier = threading.Barrier(6)

    def race(name: str) -> None:
        store = open_store(store_url)  # one client each, like separate processes
        barrier.wait()
        if store.acquire("leases/race", name, 30.0) is None:
            winners.append(name)

    threads = [threading.Thread(target=race, args=(f"p{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_sessions_round_trip_and_detect_corruption(store_url: str) -> None:
    store = open_store(store_url)
    sessions = Sessions(store, who="test")
    meta = sessions.new("doc1", DocumentInfo("/a.docx", "a.docx", "x"), {})
    assert sessions.load("doc1") == meta
    result = SectionResult("s1", "reviewed", model="m", attempts=1)
    key = cache_key("text", "fw", "", "v1")
    sessions.put_result("doc1", result, key)
    held = sessions.result("doc1", "s1")
    assert held is not None
    assert held.cache_key == key
    assert held.reusable_for(key)
    assert not held.reusable_for(cache_key("other text", "fw", "", "v1"))
    assert sessions.result_ids("doc1") == ["s1"]
    cached = sessions.cached(key)
    assert cached is not None
    assert cached.to_result("s9").model == "m"
    sessions.log("doc1", "started")
    sessions.log("doc1", "section_done", section="s1", model="m")
    assert [a["event"] for a in sessions.activity("doc1")] == ["started", "section_done"]
    assert sessions.ids() == ["doc1"]
    # A truncated write or bit rot is reported, never used.
    raw = store.get("sessions/doc1/results/s1")
    assert raw is not None
    store.put("sessions/doc1/results/s1", raw[:-5])
    with pytest.raises(CorruptEntry, match="checksum"):
        sessions.result("doc1", "s1")
    store.put("sessions/doc1/meta", b"garbage")
    with pytest.raises(CorruptEntry, match="not a prism entry"):
        sessions.load("doc1")
    assert sessions.delete("doc1") >= 4
    assert sessions.ids() == []


def test_unreachable_store_is_a_store_error_with_the_password_masked() -> None:
    store = open_store("redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(StoreError) as info:
        store.check()
    assert "hunter2" not in str(info.value)
    assert "redis://:***@127.0.0.1:1/0" in str(info.value)


def test_missing_bucket_is_named(s3_bucket: str) -> None:
    store = open_store(f"s3://{s3_bucket}-missing/x")
    with pytest.raises(StoreError, match="does not exist"):
        store.check()


def test_mask_url() -> None:
    assert mask_url("redis://user:secret@host:6379/0") == "redis://user:***@host:6379/0"
    assert mask_url("rediss://:p%40ss@host/1") == "rediss://:***@host/1"
    assert mask_url("s3://bucket/prefix") == "s3://bucket/prefix"


@pytest.mark.parametrize(
    "bad", ["../etc", "a/b", "", "x" * 65, "a..b", "id;DEL *", "id\nx", "-rf", "a b"]
)
def test_session_ids_are_validated(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid session id"):
        validate_session_id(bad)


def test_unknown_urls_are_refused() -> None:
    for url in ("ftp://x", "s3://", "redis://"):
        with pytest.raises(ValueError, match="store URL"):
            open_store(url)


def test_migration_from_version_zero() -> None:
    old = {"id": "a", "document": {"outline": [{"id": "s1"}]}}
    new = migrate("k", old)
    assert new["schema_version"] == SCHEMA_VERSION
    assert new["document"]["sections"] == [{"id": "s1"}]
    with pytest.raises(CorruptEntry, match="upgrade prism"):
        migrate("k", {"schema_version": SCHEMA_VERSION + 1})


def test_encoding_is_checked() -> None:
    from prism_cli.core.session import decode

    assert decode("k", encode({"a": "é & <x> 🙂"})) == {"a": "é & <x> 🙂"}


def test_durations() -> None:
    assert parse_duration("30d").days == 30
    assert parse_duration("12h").total_seconds() == 43200
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration("soon")


def test_a_lease_is_renewed_while_held_and_released_after(tmp_path: Path) -> None:
    """The renewal runs on the test's steps: each pause of the lease's thread is a third of
    the ttl on the store's clock, and the test decides when it ends."""
    from prism_cli.errors import SessionBusy
    from prism_cli.stores.disk import DiskStore
    from prism_cli.stores.service import Leases

    clock = Clock()
    store = DiskStore(tmp_path / "store", clock=clock)
    mine = Sessions(store, who="host-a:1", lease_ttl=30)
    other = Sessions(store, who="host-b:2", lease_ttl=30)
    steps: list[threading.Event] = []
    paused = threading.Semaphore(0)
    stopping = threading.Event()

    def pause(seconds: float) -> bool:
        go = threading.Event()
        steps.append(go)
        paused.release()
        go.wait(10)
        clock.now += seconds
        return stopping.is_set()

    def step() -> None:
        """Let the renewal thread run one round, and wait until it is paused again."""
        assert paused.acquire(timeout=10)
        steps[-1].set()

    lease = Leases(mine, ["doc1"], wait=False, pause=pause)
    with lease:
        for _ in range(6):  # 60 s on the store's clock, twice the ttl: renewed all along
            step()
            with pytest.raises(SessionBusy, match="being reviewed by host-a:1"):
                Leases(other, ["doc1"], wait=False).__enter__()
        assert paused.acquire(timeout=10)  # the thread is paused: no more renewal
        clock.now += 31  # the holder stops renewing (a machine gone): the lease expires
        assert store.acquire("leases/doc1", "someone", 30) is None
        store.release("leases/doc1", "someone")
        stopping.set()
        steps[-1].set()
    with Leases(other, ["doc1"], wait=False):  # released on exit: free at once
        pass


def test_s3_failures_are_explained_without_credentials() -> None:
    import botocore.exceptions

    from prism_cli.stores.s3 import explain

    def error(code: str, operation: str = "PutObject") -> Exception:
        return botocore.exceptions.ClientError({"Error": {"Code": code, "Message": "m"}}, operation)

    assert explain(error("AccessDenied"), "b") == "access to bucket b denied (AccessDenied)"
    assert explain(error("NoSuchBucket"), "b") == "bucket b does not exist"
    assert explain(error("404", "HeadBucket"), "b") == "bucket b does not exist"
    assert explain(error("403", "HeadBucket"), "b") == "access to bucket b denied (403)"
    assert explain(botocore.exceptions.NoCredentialsError(), "b") == "no AWS credentials found"


def test_redis_lists_from_its_index_and_indexes_an_older_store(redis_url: str) -> None:
    import redis

    from prism_cli.stores.redis import RedisStore

    raw = redis.Redis.from_url(redis_url)
    # Written by a prism without the index.
    raw.set("prism:sessions/old/meta", b"x")
    raw.set("prism:sessions/old/results/s1", b"x")
    raw.set("prism:leases/old", b"someone")
    store = RedisStore(redis_url)
    assert store.list("sessions/old/") == ["sessions/old/meta", "sessions/old/results/s1"]
    store.put("sessions/new/meta", b"y")
    store.put("sessions/newer/meta", b"y")
    assert store.list("sessions/new/") == ["sessions/new/meta"]
    store.delete(["sessions/old/results/s1"])
    assert store.list("sessions/old/") == ["sessions/old/meta"]
    assert store.children("sessions/") == ["new", "newer", "old"]

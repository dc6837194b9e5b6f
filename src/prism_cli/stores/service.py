"""Sessions for the CLI: open the configured store, hold a session's lease while working."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from prism_cli.core.ports import StoreError
from prism_cli.core.session import Sessions
from prism_cli.errors import SessionBusy, UsageError

DEFAULT_LEASE_TTL = 30.0
T = TypeVar("T")
R = TypeVar("R")


def open_sessions(url: str | None, *, lease_ttl: float = DEFAULT_LEASE_TTL) -> Sessions:
    """The session repository of ``url`` (default: the user data dir), checked reachable;
    its leases last ``lease_ttl`` seconds without renewal (the ``lease_ttl`` setting)."""
    from prism_cli.stores.url import default_store_url, open_store

    try:
        store = open_store(url or default_store_url())
    except ValueError as exc:
        raise UsageError(f"invalid store URL: {exc}") from exc
    store.check()
    who = f"{socket.gethostname()}:{os.getpid()}"
    return Sessions(store, who=who, unique=lambda: uuid.uuid4().hex[:8], lease_ttl=lease_ttl)


def holder_is_dead(holder: str) -> bool:
    """True when a lease's holder (``host:pid ...``) is a process of this machine that no
    longer runs. A holder on another machine is never judged: its lease expires instead."""
    who = holder.split(" ", 1)[0]
    host, _, pid = who.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError):
        return False
    return _is_zombie(int(pid))


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return False


def parallel(fn: Callable[[T], R], items: list[T], workers: int = 16) -> list[R]:
    """``[fn(x) for x in items]`` on a few threads: store round trips overlap (S3, Redis)."""
    if len(items) <= 1:
        return [fn(x) for x in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
        return list(pool.map(fn, items))


class Leases:
    """Holds ``leases/<id>`` for sessions being worked on, renewed by one background thread."""

    def __init__(
        self,
        sessions: Sessions,
        session_ids: list[str],
        *,
        wait: bool,
        ttl: float | None = None,
        on_wait: Callable[[str, str], None] = lambda _sid, _holder: None,
        on_lost: Callable[[str], None] = lambda _msg: None,
        pause: Callable[[float], bool] | None = None,
    ) -> None:
        self.sessions = sessions
        self.session_ids = list(session_ids)
        self.wait = wait
        self.ttl = ttl or sessions.lease_ttl
        self.owner = f"{sessions.who} {uuid.uuid4().hex[:8]}"
        self._on_wait = on_wait
        self._on_lost = on_lost
        self._held: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pause = pause or self._stop.wait
        """Waits up to the seconds given; True when the leases are being let go. Tests give
        one that moves their clock instead of waiting."""

    def _take(self, session_id: str) -> None:
        store, key = self.sessions.store, Sessions.lease_key(session_id)
        told = False
        while True:
            holder = store.acquire(key, self.owner, self.ttl)
            if holder is None:
                with self._lock:
                    self._held.append(session_id)
                return
            if holder_is_dead(holder):
                # Its holder was killed (kill -9, a crash) on this machine: take it over now
                # rather than make the user wait for it to expire.
                store.release(key, holder)
                continue
            shown = holder.rsplit(" ", 1)[0]
            if not self.wait:
                raise SessionBusy(
                    f"session {session_id} is being reviewed by {shown} (if that process is "
                    f"gone, its lease expires within {self.ttl:g} s)"
                )
            if not told:
                self._on_wait(session_id, shown)
                told = True
            if self._pause(min(1.0, self.ttl / 3)):
                return

    def __enter__(self) -> Leases:
        try:
            parallel(self._take, self.session_ids)
        except BaseException:
            self._stop.set()
            self._release_all()
            raise
        self._thread = threading.Thread(target=self._renew, name="prism-leases", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        def renew(session_id: str) -> None:
            try:
                if not self.sessions.store.renew(
                    Sessions.lease_key(session_id), self.owner, self.ttl
                ):
                    self._on_lost(f"lost the lease on session {session_id}")
            except StoreError as exc:
                self._on_lost(str(exc))

        while not self._pause(self.ttl / 3):
            parallel(renew, list(self._held))

    def _release_all(self) -> None:
        def release(session_id: str) -> None:
            with contextlib.suppress(StoreError):  # if it cannot be released, it expires
                self.sessions.store.release(Sessions.lease_key(session_id), self.owner)

        parallel(release, list(self._held))
        self._held.clear()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._release_all()


def Lease(
    sessions: Sessions,
    session_id: str,
    *,
    wait: bool,
    ttl: float | None = None,
) -> Leases:
    return Leases(sessions, [session_id], wait=wait, ttl=ttl)

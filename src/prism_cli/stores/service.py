"""Sessions for the CLI: open the configured store, hold a session's lease while working."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from types import TracebackType

from prism_cli.core.ports import StoreError
from prism_cli.core.session import Sessions
from prism_cli.errors import SessionBusy, UsageError

DEFAULT_LEASE_TTL = 30.0


def lease_ttl() -> float:
    """Seconds a lease lasts without renewal (``PRISM_LEASE_TTL``; tests shorten it)."""
    try:
        return max(0.5, float(os.environ.get("PRISM_LEASE_TTL", DEFAULT_LEASE_TTL)))
    except ValueError:
        return DEFAULT_LEASE_TTL


def open_sessions(url: str | None) -> Sessions:
    """The session repository of ``url`` (default: the user data dir), checked reachable."""
    from prism_cli.stores.url import default_store_url, open_store

    try:
        store = open_store(url or default_store_url())
    except ValueError as exc:
        raise UsageError(f"--store: {exc}") from exc
    store.check()
    who = f"{socket.gethostname()}:{os.getpid()}"
    return Sessions(store, who=who, unique=lambda: uuid.uuid4().hex[:8])


class Lease:
    """Holds ``leases/<id>`` while a session is worked on; renewed in the background."""

    def __init__(
        self,
        sessions: Sessions,
        session_id: str,
        *,
        wait: bool,
        ttl: float | None = None,
        on_wait: Callable[[str], None] = lambda _holder: None,
        on_lost: Callable[[str], None] = lambda _msg: None,
    ) -> None:
        self.sessions = sessions
        self.session_id = session_id
        self.key = Sessions.lease_key(session_id)
        self.wait = wait
        self.ttl = ttl or lease_ttl()
        self.owner = f"{sessions.who} {uuid.uuid4().hex[:8]}"
        self._on_wait = on_wait
        self._on_lost = on_lost
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Lease:
        store = self.sessions.store
        told = False
        while True:
            holder = store.acquire(self.key, self.owner, self.ttl)
            if holder is None:
                break
            shown = holder.rsplit(" ", 1)[0]
            if not self.wait:
                raise SessionBusy(
                    f"session {self.session_id} is being reviewed by {shown}; "
                    "rerun with --wait to wait for it"
                )
            if not told:
                self._on_wait(shown)
                told = True
            time.sleep(min(1.0, self.ttl / 3))
        self._thread = threading.Thread(target=self._renew, name="prism-lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                if not self.sessions.store.renew(self.key, self.owner, self.ttl):
                    self._on_lost(f"lost the lease on session {self.session_id}")
                    return
            except StoreError as exc:
                self._on_lost(str(exc))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with contextlib.suppress(StoreError):  # if it cannot be released, it expires
            self.sessions.store.release(self.key, self.owner)

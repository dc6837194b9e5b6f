"""The section job and the worker processes that run it.

Built on RQ's public API (``SimpleWorker``, ``Queue``, ``StartedJobRegistry``, ``Retry``,
``RQScheduler``) except where it could not do what prism needs, each said where it is:

* ``HeartbeatWorker.execute_job`` renews the running job's heartbeat from a thread while the
  job runs (RQ's ``SimpleWorker`` renews it only between jobs, so a long model call would look
  abandoned, or a killed worker's job would wait for the whole job timeout);
* ``get_heartbeat_ttl`` gives the worker's ``--abandon-after``;
* the sweep thread runs registry cleanup and the scheduler's due retries every heartbeat (RQ's
  maintenance runs every ten minutes and its scheduler process does not survive a Redis
  restart), and cleans RQ's intermediate queue of a worker killed between dequeue and start.
These use rq 3's names; ``pyproject.toml`` allows rq 3.x only.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prism_cli.errors import ConfigError, PrismError

if TYPE_CHECKING:
    from prism_cli.app.run import RunSettings
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.report import PriceLookup
    from prism_cli.core.session import Sessions
    from prism_cli.telemetry import Telemetry

from prism_cli.batch.model import (
    HEARTBEAT,
    HEARTBEAT_TTL,
    QUEUE,
    Batch,
    SectionNotReviewed,
    finish_once,
    queue_connection,
    session_settled,
)


# -- the job -------------------------------------------------------------------------------
@dataclass
class WorkerContext:
    """What a worker process brings to its jobs: AWS settings, the shared quota, and what it
    built once (sessions per store, a reviewer per run settings)."""

    queue_url: str
    region: str | None = None
    profile: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    verbose: bool = False
    log_json: str | None = None
    """Append each job's events (calls, retries, fallbacks, the section's end) as JSON lines."""
    abandon_after: int = HEARTBEAT_TTL
    """Seconds without a heartbeat after which a running job is taken for abandoned (its
    worker died) and given to another worker; heartbeats come four times as often."""
    say: Callable[[str], None] = lambda _m: None
    quota_period: float | None = None
    """Bedrock's quotas are per minute; benches against a fake with shorter windows say so
    (the ``quota_period`` setting)."""
    lease_ttl: float = 30.0
    """Seconds a session's lease lasts (the ``lease_ttl`` setting)."""
    stores: tuple[str, ...] = ()
    """The store URLs this worker knows with their credentials (``--store``, ``PRISM_STORE``):
    a job names its store without them, and the worker puts its own back."""
    _sessions: dict[str, Sessions] = field(default_factory=dict)
    _reviewers: dict[str, tuple[Reviewer, PriceLookup, list[str]]] = field(default_factory=dict)
    read: dict[str, Any] = field(default_factory=dict)
    """What jobs read of each session (document, settings), for its next jobs."""
    _telemetry: Telemetry | None = None
    _prices: PriceLookup | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self) -> dict[str, Any]:
        """What a worker process of ``--concurrency N`` is started with (picklable)."""
        return {
            "queue_url": self.queue_url,
            "region": self.region,
            "profile": self.profile,
            "overrides": self.overrides,
            "verbose": self.verbose,
            "log_json": self.log_json,
            "abandon_after": self.abandon_after,
            "quota_period": self.quota_period,
            "lease_ttl": self.lease_ttl,
            "stores": self.stores,
        }

    @property
    def heartbeat(self) -> float:
        """Seconds between a running job's heartbeats (and between sweeps)."""
        return max(1.0, self.abandon_after / 4)

    @property
    def prices(self) -> PriceLookup:
        """The catalog's prices (the same whatever a session's settings)."""
        with self._lock:
            if self._prices is None:
                from prism_cli.bedrock.catalog import load_catalog

                self._prices = load_catalog(self.overrides).prices
            return self._prices

    def sessions(self, store_url: str) -> Sessions:
        """The sessions of the store a job names (without credentials: this worker's own are
        put back when one of its store URLs names the same store)."""
        from prism_cli.stores.masking import with_credentials
        from prism_cli.stores.service import open_sessions

        with self._lock:
            if store_url not in self._sessions:
                self._sessions[store_url] = open_sessions(
                    with_credentials(store_url, self.stores), lease_ttl=self.lease_ttl
                )
            return self._sessions[store_url]

    @property
    def telemetry(self) -> Telemetry | None:
        if self.log_json is None:
            return None
        with self._lock:
            if self._telemetry is None:
                from pathlib import Path

                from prism_cli.telemetry import Telemetry

                self._telemetry = Telemetry(Path(self.log_json))
            return self._telemetry

    def reviewer_for(self, settings: RunSettings) -> tuple[Reviewer, PriceLookup, list[str]]:
        from prism_cli.app.run import make_reviewer
        from prism_cli.stores.redis_quota import shared_quotas

        key = settings.shaping()
        telemetry = self.telemetry
        with self._lock:
            if key not in self._reviewers:
                self._reviewers[key] = make_reviewer(
                    settings,
                    region=self.region,
                    profile=self.profile,
                    overrides=self.overrides,
                    concurrency=1,
                    make_quota=shared_quotas(self.queue_url, period=self.quota_period),
                    on_event=telemetry.engine if telemetry is not None else lambda _e: None,
                )
            return self._reviewers[key]

    def stop_engines(self) -> None:
        """No new call from this process; calls waiting for their quota end now."""
        with self._lock:
            reviewers = list(self._reviewers.values())
        for reviewer, _prices, _notes in reviewers:
            reviewer.engine.stop()


_CONTEXT: WorkerContext | None = None


def section_job(store_url: str, batch_id: str, sid: str, section_id: str) -> str:
    """One RQ job: review one section of a stored session; finish the session when it was the
    last. Idempotent: a section already stored is not reviewed again."""
    from rq import get_current_job

    from prism_cli.app.stored import review_stored_section

    context = _CONTEXT
    if context is None:
        raise RuntimeError("section_job runs in a prism worker")
    sessions = context.sessions(store_url)
    job = get_current_job()
    retried = job is not None and bool(job.retries_left)
    path = sessions.require(sid).document.path
    telemetry = context.telemetry
    if telemetry is not None:
        # The batch's events, as a local run's: its id, the document's path, the section.
        telemetry.run_id = batch_id
        telemetry.batch_id = batch_id
        telemetry.at(path, section_id, session=sid)
    result = review_stored_section(
        sessions, sid, section_id, context.reviewer_for, context.read, keep_failed=not retried
    )
    status = "stored already" if result is None else result.status
    context.say(f"{sid} {section_id}: {status}")
    if telemetry is not None and result is not None:
        telemetry.section_end(path, result, context.prices)
    if result is not None and result.status == "failed" and retried:
        raise SectionNotReviewed(f"{sid} {section_id}: {result.error}")
    connection = job.connection if job is not None else queue_connection(context.queue_url)
    if _finish_if_settled(context, connection, store_url, batch_id, sid):
        context.say(f"{sid}: finished")
    return status


SECTION_JOBS = ("prism_cli.batch.worker.section_job", "prism_cli.jobs.section_job")
"""The job's import path, and the one jobs enqueued by an earlier prism carry."""


def _after_failure(job: Any) -> None:
    """A section's job failed for good: when that leaves nothing of its document pending,
    finish the session (the section is reported failed), so a batch nobody waits for ends."""
    context = _CONTEXT
    if context is None or job.func_name not in SECTION_JOBS:
        return
    store_url, batch_id, sid, _section = job.args
    if _finish_if_settled(context, job.connection, store_url, batch_id, sid):
        context.say(f"{sid}: finished, with a section that failed")


def _finish_if_settled(
    context: WorkerContext, connection: Any, store_url: str, batch_id: str, sid: str
) -> bool:
    """Finish the session once nothing of it is pending in the batch; True if we did."""
    sessions = context.sessions(store_url)
    batch = Batch.load(connection, batch_id)
    if not session_settled(sessions, connection, batch, sid):
        return False
    return finish_once(connection, sessions, batch, sid, context.prices)


# -- the worker ----------------------------------------------------------------------------
def _worker_class() -> type:
    from rq.job import JobStatus
    from rq.worker import SimpleWorker, WorkerStatus

    class HeartbeatWorker(SimpleWorker):
        """Runs jobs in its own process (the engine and its quota live on between jobs) and
        renews the running job's heartbeat every few seconds, so a worker killed mid-job
        leaves a job found abandoned within ``HEARTBEAT_TTL`` seconds."""

        def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
            return _CONTEXT.abandon_after if _CONTEXT is not None else HEARTBEAT_TTL

        def handle_exception(self, job: Any, *exc_info: Any) -> None:
            # An expected failure is one line, not a traceback (nor the job's arguments,
            # which hold the store's URL); anything else is RQ's full report.
            if len(exc_info) > 1 and isinstance(exc_info[1], PrismError):
                import sys

                from rq.job_lifecycle import call_exception_handlers

                left = job.retries_left or 0
                print(
                    f"prism worker {os.getpid()}: {exc_info[1]}"
                    + (f" (retried, {left} left)" if left else " (no retry left)"),
                    file=sys.stderr,
                    flush=True,
                )
                call_exception_handlers(self._exc_handlers, job, *exc_info)
                return
            super().handle_exception(job, *exc_info)

        def unsubscribe(self) -> None:
            # RQ's own, without its wait: redis-py's PubSubWorkerThread.stop() joins the
            # pubsub thread with no timeout, and that thread may sit in get_message for RQ's
            # 60 s poll, waiting for the subscription unsubscribe() just ended: a SIGTERM'd
            # idle worker then took up to a minute to exit. The thread is a daemon.
            thread = getattr(self, "pubsub_thread", None)
            pubsub: Any = getattr(self, "pubsub", None)
            if thread is None or pubsub is None:
                return
            with contextlib.suppress(Exception):
                pubsub.unsubscribe()
            try:
                thread.stop(timeout=1.0)
            except TypeError:  # redis-py without stop(timeout)
                threading.Thread(target=thread.stop, daemon=True).start()
            self.pubsub_thread = None

        def request_stop(self, signum: Any, frame: Any) -> None:
            # SIGTERM/SIGINT: a call waiting for its quota ends at once (its job is retried);
            # a call in flight finishes and is stored (RQ's warm shutdown).
            if _CONTEXT is not None:
                _CONTEXT.stop_engines()
            super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

        def handle_job_failure(self, job: Any, queue: Any, *args: Any, **kwargs: Any) -> None:
            super().handle_job_failure(job, queue, *args, **kwargs)
            try:
                if job.get_status() == JobStatus.FAILED:  # no retry left
                    _after_failure(job)
            except Exception as exc:  # the failure is recorded; finishing is best effort
                if _CONTEXT is not None:
                    _CONTEXT.say(f"could not finish the session after a failed job: {exc}")

        def execute_job(self, job: Any, queue: Any) -> None:
            execution = self.prepare_execution(job)
            stop = threading.Event()

            every = _CONTEXT.heartbeat if _CONTEXT is not None else HEARTBEAT

            def beat() -> None:
                while not stop.wait(every):
                    try:
                        self.maintain_heartbeats(job, execution)
                    except Exception:  # a missed beat is retried; the job goes on
                        continue

            beating = threading.Thread(target=beat, name="prism-heartbeat", daemon=True)
            beating.start()
            try:
                self.perform_job(job, queue, execution)
            finally:
                stop.set()
                beating.join()
            self.set_state(WorkerStatus.IDLE)

    return HeartbeatWorker


def work(context: WorkerContext, *, burst: bool) -> None:
    """Run one worker until stopped (SIGTERM/SIGINT: the job in flight finishes; the rest stay
    queued) or, with ``burst``, until the queue is empty. Outlives Redis restarts."""
    import redis
    from rq import Queue
    from rq.registry import StartedJobRegistry
    from rq.scheduler import RQScheduler

    global _CONTEXT
    _CONTEXT = context
    worker_class = _worker_class()
    stopping = threading.Event()
    while True:
        try:
            connection = queue_connection(context.queue_url)
            queue = Queue(QUEUE, connection=connection)
            worker = worker_class([queue], connection=connection)

            def sweep(
                queue: Any = queue, stopping: threading.Event = stopping, worker: Any = worker
            ) -> None:
                # Abandoned jobs (a worker killed mid-job) go back to the queue, and retries
                # due after their backoff are enqueued, every few seconds, by whichever
                # worker holds RQ's scheduler lock. (Not RQ's scheduler process: it dies with
                # a Redis restart and a new one starts only at the next maintenance, minutes
                # later.) A job a worker was killed with between taking it and starting it
                # sits in RQ's intermediate queue, which only RQ's maintenance (every 10
                # minutes) looked at: it is failed after a minute there, so it is retried.
                scheduler: Any = RQScheduler(
                    [queue], connection=queue.connection, logging_level="WARNING"
                )
                scheduler.log.setLevel(logging.WARNING)  # not a line per lock taken
                while not stopping.wait(context.heartbeat):
                    try:
                        StartedJobRegistry(queue=queue).cleanup()
                        queue.intermediate_queue.cleanup(worker, queue)
                        if scheduler.acquire_locks():
                            scheduler.enqueue_scheduled_jobs()
                            scheduler.release_locks()
                    except Exception:
                        continue

            sweeper = threading.Thread(target=sweep, name="prism-sweep", daemon=True)
            sweeper.start()
            worker.work(burst=burst, logging_level="WARNING")
            return
        except (redis.ConnectionError, redis.TimeoutError, ConfigError) as exc:
            if burst:
                raise ConfigError(f"queue lost: {exc}") from exc
            context.say(f"queue unreachable ({exc}); trying again in 2s")
            time.sleep(2.0)
        finally:
            stopping.set()
            stopping = threading.Event()


def work_many(settings: dict[str, Any], count: int, *, burst: bool) -> int:
    """``--concurrency N``: N worker processes; SIGTERM/SIGINT reach each (warm shutdown).
    ``settings`` are a :class:`WorkerContext`'s (queue_url, region, profile, overrides)."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    children = [
        spawn.Process(target=_child, args=(settings, burst), daemon=False) for _ in range(count)
    ]
    for child in children:
        child.start()

    def forward(signum: int, _frame: Any) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    return max((c.exitcode or 0) for c in children)


def _child(settings: dict[str, Any], burst: bool) -> None:
    """A worker process of ``--concurrency N``: it reports on its own stderr, as the parent's
    console would (a callback cannot cross the process boundary)."""
    from prism_cli.console import Console

    console = Console(verbose=bool(settings.get("verbose")))

    def say(message: str) -> None:
        console.debug(f"prism worker {os.getpid()}: {message}")

    work(WorkerContext(**settings, say=say), burst=burst)

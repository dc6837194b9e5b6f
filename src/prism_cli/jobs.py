"""Queued reviews on RQ: batches of section jobs, workers that run them, one shared quota.

``prism review --queue URL`` prepares each document's session in the shared store (as a
local run does: stored results and the results cache are reused), then enqueues one RQ job
per section still to review and records the batch in the queue's Redis. A ``prism worker``
runs the jobs: each rebuilds its section from the session alone (document, settings) through
the review service, reviews it through the model engine with the quota shared in the queue's
Redis, and records the result the moment it is done. The job that settles a document's last
section (stored, or failed for good) finishes its session (rules, report, status); whoever
waits collects the reports.

Failures: a job that raises is retried with backoff (RQ ``Retry``); a worker killed mid-job
stops renewing its job's heartbeat, so the job is found abandoned within seconds and retried
by any other worker; a section already stored is never reviewed again (the job checks first).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prism_cli.errors import ConfigError, IncompleteError, PrismError, UsageError

if TYPE_CHECKING:
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.report import DocumentReview, PriceLookup
    from prism_cli.core.session import Sessions
    from prism_cli.service import RunSettings
    from prism_cli.telemetry import Telemetry


class SectionNotReviewed(IncompleteError):
    """A section no model of the chain could review this time (throttled, unavailable...):
    raised so RQ retries the job with backoff. Its failed result is recorded only by the last
    attempt, so a stored result is always final."""


QUEUE = "prism"
HEARTBEAT = 3.0
"""Seconds between a running job's heartbeats; missing for ``HEARTBEAT_TTL``, it is abandoned."""
HEARTBEAT_TTL = 12
JOB_TIMEOUT = 1800
RETRIES = (2, 10, 30)


def queue_connection(url: str) -> Any:
    """The queue's Redis (``redis://``/``rediss://``), checked reachable."""
    import redis

    from prism_cli.stores.url import mask_url

    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise UsageError(f"--queue takes a Redis URL (redis://host:6379/0), not {mask_url(url)}")
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=60)
        client.ping()
    except (ValueError, redis.RedisError) as exc:
        raise ConfigError(f"queue {mask_url(url)}: cannot reach it: {exc}") from exc
    return client


def require_shared_store(store_url: str | None) -> str:
    if not store_url or not store_url.startswith(("redis://", "rediss://", "s3://")):
        raise UsageError(
            "--queue needs sessions in a shared store that every worker reaches: "
            "add --store redis://... or --store s3://bucket/prefix"
        )
    return store_url


# -- batches -------------------------------------------------------------------------------
@dataclass
class Batch:
    """A queued run, kept in the queue's Redis (``prism:batch:<id>``): its store, documents,
    sessions and jobs. ``prism batch`` needs the queue URL only."""

    id: str
    store: str
    rules: bool
    documents: list[dict[str, Any]] = field(default_factory=list)
    """[{"session", "path", "name", "sections": [enqueued section ids]}]"""
    jobs: dict[str, str] = field(default_factory=dict)
    """job id -> "<session>/<section>"."""
    created: float = field(default_factory=time.time)
    cancelled: bool = False

    def save(self, connection: Any) -> None:
        connection.set(f"prism:batch:{self.id}", json.dumps(self.__dict__), ex=30 * 86400)

    @classmethod
    def load(cls, connection: Any, batch_id: str) -> Batch:
        data = connection.get(f"prism:batch:{batch_id}")
        if data is None:
            raise UsageError(f"no batch {batch_id} in this queue (batches are kept 30 days)")
        return cls(**json.loads(data))

    @property
    def total(self) -> int:
        return sum(len(d["sections"]) for d in self.documents)


def submit(
    sessions: Sessions,
    connection: Any,
    store_url: str,
    reviews: list[DocumentReview],
    settings: RunSettings,
    *,
    fresh: bool = False,
    rules: bool = True,
) -> Batch:
    """Prepare each document's session and enqueue its sections still to review."""
    from rq import Queue, Retry

    from prism_cli.service import ReviewService, SessionRun
    from prism_cli.stores.service import parallel

    service = ReviewService(sessions, settings, reviewer=None, fresh=fresh)
    service.offline = False
    runs = [SessionRun(service, review) for review in reviews]
    todo = parallel(lambda run: run.prepare(), runs)
    batch = Batch(f"b{uuid.uuid4().hex[:11]}", store_url, rules)
    queue = Queue(QUEUE, connection=connection)
    jobs = []
    for run, sections in zip(runs, todo, strict=True):
        batch.documents.append(
            {
                "session": run.sid,
                "path": run.review.document.path,
                "name": run.name,
                "sections": [s.id for s in sections],
            }
        )
        for section in sections:
            job_id = f"prism-{batch.id}-{run.sid}-{section.id}"
            batch.jobs[job_id] = f"{run.sid}/{section.id}"
            jobs.append(
                Queue.prepare_data(
                    "prism_cli.jobs.section_job",
                    args=(store_url, batch.id, run.sid, section.id),
                    job_id=job_id,
                    timeout=JOB_TIMEOUT,
                    result_ttl=86400,
                    failure_ttl=7 * 86400,
                    retry=Retry(max=len(RETRIES), interval=list(RETRIES)),
                    description=f"review {run.name} {section.id}",
                )
            )
    batch.save(connection)  # before the jobs: a worker finishing a session reads the batch
    if jobs:
        queue.enqueue_many(jobs)
    # A document with nothing left to review is finished now.
    for doc in batch.documents:
        if not doc["sections"]:
            finish_once(connection, sessions, batch, doc["session"])
    return batch


@dataclass
class Progress:
    done: int
    failed: int
    total: int
    by_session: dict[str, tuple[int, int]]
    """session -> (sections stored or failed, sections enqueued)."""
    errors: dict[str, str]
    """"<session>/<section>" -> why its job failed for good."""
    stored: dict[str, set[str]] = field(default_factory=dict)
    """session -> the batch's sections it holds a result for."""

    @property
    def finished(self) -> bool:
        return self.done + self.failed >= self.total


def progress(sessions: Sessions, connection: Any, batch: Batch) -> Progress:
    """Where the batch stands; requeues jobs whose worker died (their heartbeat stopped)."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    queue = Queue(QUEUE, connection=connection)
    StartedJobRegistry(queue=queue).cleanup()
    failed_ids = set(FailedJobRegistry(queue=queue).get_job_ids())
    errors: dict[str, str] = {}
    for job_id in failed_ids & set(batch.jobs):
        errors[batch.jobs[job_id]] = _failure(connection, job_id)
    if batch.cancelled:
        from rq.registry import CanceledJobRegistry

        for job_id in set(CanceledJobRegistry(queue=queue).get_job_ids()) & set(batch.jobs):
            errors[batch.jobs[job_id]] = "cancelled"
    done = failed = 0
    by_session: dict[str, tuple[int, int]] = {}
    have: dict[str, set[str]] = {}
    for doc in batch.documents:
        stored = set(sessions.result_ids(doc["session"]))
        wanted = doc["sections"]
        ok = sum(1 for s in wanted if s in stored)
        bad = sum(1 for s in wanted if s not in stored and f"{doc['session']}/{s}" in errors)
        done, failed = done + ok, failed + bad
        by_session[doc["session"]] = (ok + bad, len(wanted))
        have[doc["session"]] = stored & set(wanted)
    return Progress(done, failed, batch.total, by_session, errors, have)


def session_settled(sessions: Sessions, connection: Any, batch: Batch, sid: str) -> bool:
    """True when every section the batch queued for session ``sid`` is stored or has failed
    for good (its job is in the failed registry): nothing of it is pending any more."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    doc = next((d for d in batch.documents if d["session"] == sid), None)
    if doc is None:
        return False
    stored = set(sessions.result_ids(sid))
    pending = [s for s in doc["sections"] if s not in stored]
    if not pending:
        return True
    failed = set(FailedJobRegistry(queue=Queue(QUEUE, connection=connection)).get_job_ids())
    gone = {
        where.partition("/")[2]
        for job_id, where in batch.jobs.items()
        if job_id in failed and where.startswith(f"{sid}/")
    }
    return all(s in gone for s in pending)


def _failure(connection: Any, job_id: str) -> str:
    from rq.job import Job

    try:
        result = Job.fetch(job_id, connection=connection).latest_result()
        text = (result.exc_string or "") if result is not None else ""
    except Exception:
        text = ""
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "the job failed"


def cancel(connection: Any, batch: Batch, sessions: Sessions) -> int:
    """Cancel the batch's jobs not started yet; started ones finish. Returns how many."""
    from rq.exceptions import InvalidJobOperation, NoSuchJobError
    from rq.job import Job, JobStatus

    cancelled = 0
    for job_id in batch.jobs:
        try:
            job = Job.fetch(job_id, connection=connection)
            if job.get_status() in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
                job.cancel()
                cancelled += 1
        except (NoSuchJobError, InvalidJobOperation):
            continue
    batch.cancelled = True
    batch.save(connection)
    return cancelled


FINISHING_FOR = 120.0
"""Seconds a finisher may take before a waiter stops waiting for it and finishes itself."""


def finish_once(
    connection: Any,
    sessions: Sessions,
    batch: Batch,
    sid: str,
    prices: PriceLookup | None = None,
    *,
    wait: bool = False,
) -> bool:
    """Finish a session of the batch (report, status) once, whoever gets there first. With
    ``wait``, return only once it is finished (by us or by whoever got there first): a waiter
    must not read the report while a worker is still writing it."""
    from prism_cli.app.stored import finish_stored

    flag = f"prism:batch:{batch.id}:finished:{sid}"
    if not connection.set(flag, f"finishing {os.getpid()}", nx=True, ex=30 * 86400):
        if not wait:
            return False  # someone else did (or does)
        deadline = time.monotonic() + FINISHING_FOR
        while connection.get(flag) not in (b"done", None) and time.monotonic() < deadline:
            time.sleep(0.05)
        if connection.get(flag) == b"done":
            return False
        # The finisher died (or the flag expired): finish here; finishing is idempotent.
    doc = next(d for d in batch.documents if d["session"] == sid)
    finish_stored(
        sessions,
        sid,
        prices or (lambda _m: None),
        rules=batch.rules,
        usage_of=set(doc["sections"]),
    )
    connection.set(flag, "done", ex=30 * 86400)
    return True


def collect(
    connection: Any, sessions: Sessions, batch: Batch, prices: PriceLookup
) -> list[DocumentReview]:
    """Every document of a finished batch, as its session now holds it (the reports)."""
    from prism_cli.app.stored import stored_review
    from prism_cli.core.findings import Finding
    from prism_cli.core.results import SectionStatus

    for doc in batch.documents:
        finish_once(connection, sessions, batch, doc["session"], prices, wait=True)
    reviews = []
    for doc in batch.documents:
        sid = doc["session"]
        _settings, review = stored_review(sessions, sid)
        for section_id, result in review.results.items():
            if section_id not in doc["sections"] and result.status != SectionStatus.FAILED:
                result.status, result.usage = (
                    SectionStatus.CACHED,
                    {},
                )  # reused, not reviewed by this batch
        report = sessions.report(sid) or {"documents": [{"findings": []}]}
        found = [Finding.model_validate(f) for f in report["documents"][0].get("findings", [])]
        review.findings = [Finding.model_validate(f) for f in sessions.apply(sid, found)]
        reviews.append(review)
    return reviews


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
    quota_period: float | None = field(
        default_factory=lambda: float(os.environ.get("PRISM_QUOTA_PERIOD") or 0) or None
    )
    """Bedrock's quotas are per minute; benches against a fake with shorter windows say so."""
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
        from prism_cli.stores.service import open_sessions

        with self._lock:
            if store_url not in self._sessions:
                self._sessions[store_url] = open_sessions(store_url)
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
        from prism_cli.service import make_reviewer
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
    result = review_stored_section(
        sessions, sid, section_id, context.reviewer_for, context.read, keep_failed=not retried
    )
    status = "stored already" if result is None else result.status
    context.say(f"{sid} {section_id}: {status}")
    telemetry = context.telemetry
    if telemetry is not None and result is not None:
        telemetry.section_end(sid, result, context.prices)
    if result is not None and result.status == "failed" and retried:
        raise SectionNotReviewed(f"{sid} {section_id}: {result.error}")
    connection = job.connection if job is not None else queue_connection(context.queue_url)
    if _finish_if_settled(context, connection, store_url, batch_id, sid):
        context.say(f"{sid}: finished")
    return status


def _after_failure(job: Any) -> None:
    """A section's job failed for good: when that leaves nothing of its document pending,
    finish the session (the section is reported failed), so a batch nobody waits for ends."""
    context = _CONTEXT
    if context is None or job.func_name != "prism_cli.jobs.section_job":
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
    import sys

    def say(message: str) -> None:
        if settings.get("verbose"):
            print(f"prism worker {os.getpid()}: {message}", file=sys.stderr, flush=True)

    work(WorkerContext(**settings, say=say), burst=burst)

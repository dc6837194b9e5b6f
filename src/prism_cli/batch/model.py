"""A batch in the queue's Redis: its record, its progress, cancelling it, collecting its
reports. The one module that knows the batch's keys."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prism_cli.errors import ConfigError, IncompleteError, UsageError

if TYPE_CHECKING:
    from prism_cli.core.report import DocumentReview, PriceLookup
    from prism_cli.core.session import Sessions


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

    from prism_cli.stores.masking import mask_url

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
class BatchDocument:
    """A document of a batch: its session, where it was read, and the sections enqueued."""

    session: str
    path: str
    name: str
    sections: list[str]


@dataclass
class Batch:
    """A queued run, kept in the queue's Redis (``prism:batch:<id>``): its store, documents,
    sessions and jobs. ``prism batch`` needs the queue URL only."""

    id: str
    store: str
    rules: bool
    documents: list[BatchDocument] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)
    """job id -> "<session>/<section>"."""
    created: float = field(default_factory=time.time)
    cancelled: bool = False

    def save(self, connection: Any) -> None:
        record = {**self.__dict__, "documents": [vars(d) for d in self.documents]}
        connection.set(f"prism:batch:{self.id}", json.dumps(record), ex=30 * 86400)

    @classmethod
    def load(cls, connection: Any, batch_id: str) -> Batch:
        data = connection.get(f"prism:batch:{batch_id}")
        if data is None:
            raise UsageError(f"no batch {batch_id} in this queue (batches are kept 30 days)")
        record = json.loads(data)
        record["documents"] = [BatchDocument(**d) for d in record.get("documents", [])]
        return cls(**record)

    def document(self, session_id: str) -> BatchDocument | None:
        return next((d for d in self.documents if d.session == session_id), None)

    @property
    def total(self) -> int:
        return sum(len(d.sections) for d in self.documents)


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
    cancelled: int = 0
    """Sections cancelled before they started (``prism batch cancel``): neither done nor
    failed."""

    @property
    def left(self) -> int:
        return self.total - self.done - self.failed - self.cancelled

    @property
    def finished(self) -> bool:
        return self.left <= 0

    def line(self, batch_id: str) -> str:
        """One line: where the batch stands (status, wait, cancel say the same)."""
        return (
            f"batch {batch_id}: {self.done} of {self.total} sections done, {self.failed} failed, "
            f"{self.cancelled} cancelled, {self.left} left"
        )


def progress(sessions: Sessions, connection: Any, batch: Batch) -> Progress:
    """Where the batch stands; requeues jobs whose worker died (their heartbeat stopped).
    Raises :class:`QueueUnavailable` when the queue's Redis cannot be reached."""
    import redis

    from prism_cli.errors import QueueUnavailable

    try:
        return _progress(sessions, connection, batch)
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise QueueUnavailable(f"the queue's Redis cannot be reached ({exc})") from exc


def _progress(sessions: Sessions, connection: Any, batch: Batch) -> Progress:
    from rq import Queue
    from rq.registry import FailedJobRegistry, StartedJobRegistry

    queue = Queue(QUEUE, connection=connection)
    StartedJobRegistry(queue=queue).cleanup()
    failed_ids = set(FailedJobRegistry(queue=queue).get_job_ids())
    errors: dict[str, str] = {}
    for job_id in failed_ids & set(batch.jobs):
        errors[batch.jobs[job_id]] = _failure(connection, job_id)
    cancelled_at: set[str] = set()
    if batch.cancelled:
        from rq.registry import CanceledJobRegistry

        for job_id in set(CanceledJobRegistry(queue=queue).get_job_ids()) & set(batch.jobs):
            errors[batch.jobs[job_id]] = CANCELLED
            cancelled_at.add(batch.jobs[job_id])
    done = failed = cancelled = 0
    by_session: dict[str, tuple[int, int]] = {}
    have: dict[str, set[str]] = {}
    for doc in batch.documents:
        stored = set(sessions.result_ids(doc.session))
        wanted = doc.sections
        ok = sum(1 for s in wanted if s in stored)
        off = sum(1 for s in wanted if s not in stored and f"{doc.session}/{s}" in cancelled_at)
        bad = sum(
            1
            for s in wanted
            if s not in stored
            and f"{doc.session}/{s}" in errors
            and f"{doc.session}/{s}" not in cancelled_at
        )
        done, failed, cancelled = done + ok, failed + bad, cancelled + off
        by_session[doc.session] = (ok + bad + off, len(wanted))
        have[doc.session] = stored & set(wanted)
    return Progress(done, failed, batch.total, by_session, errors, have, cancelled)


CANCELLED = "cancelled before it started (prism batch cancel)"


def session_settled(sessions: Sessions, connection: Any, batch: Batch, sid: str) -> bool:
    """True when every section the batch queued for session ``sid`` is stored or has failed
    for good (its job is in the failed registry): nothing of it is pending any more."""
    from rq import Queue
    from rq.registry import FailedJobRegistry

    doc = batch.document(sid)
    if doc is None:
        return False
    stored = set(sessions.result_ids(sid))
    pending = [s for s in doc.sections if s not in stored]
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
    doc = batch.document(sid)
    assert doc is not None
    finish_stored(
        sessions,
        sid,
        prices or (lambda _m: None),
        rules=batch.rules,
        usage_of=set(doc.sections),
    )
    connection.set(flag, "done", ex=30 * 86400)
    return True


def collect(
    connection: Any, sessions: Sessions, batch: Batch, prices: PriceLookup
) -> list[DocumentReview]:
    """Every document of a finished batch, as its session now holds it (the reports)."""
    from prism_cli.app.stored import stored_review
    from prism_cli.core.findings import Finding
    from prism_cli.core.report import since_of
    from prism_cli.core.results import SectionStatus

    for doc in batch.documents:
        finish_once(connection, sessions, batch, doc.session, prices, wait=True)
    reviews = []
    for doc in batch.documents:
        sid = doc.session
        _settings, review = stored_review(sessions, sid)
        for section_id, result in review.results.items():
            if section_id not in doc.sections and result.status != SectionStatus.FAILED:
                result.status, result.usage = (
                    SectionStatus.CACHED,
                    {},
                )  # reused, not reviewed by this batch
        report = sessions.report(sid) or {"documents": [{"findings": []}]}
        found = [Finding.model_validate(f) for f in report["documents"][0].get("findings", [])]
        review.findings = [Finding.model_validate(f) for f in sessions.apply(sid, found)]
        review.since = since_of(report["documents"][0])  # what the worker compared
        reviews.append(review)
    return reviews

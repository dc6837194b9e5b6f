"""Submitting a prepared run: one RQ job per section left to review, and the batch record."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prism_cli.app.run import RunSettings
    from prism_cli.core.report import DocumentReview
    from prism_cli.core.session import Sessions

from prism_cli.batch.model import JOB_TIMEOUT, QUEUE, RETRIES, Batch, BatchDocument, finish_once


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
    from rq.job import Dependency

    from prism_cli.app.run import ReviewService, SessionRun
    from prism_cli.stores.service import parallel

    service = ReviewService(sessions, settings, reviewer=None, fresh=fresh)
    service.offline = False
    runs = [SessionRun(service, review) for review in reviews]
    todo = parallel(lambda run: run.prepare(), runs)
    from prism_cli.stores.masking import public_url

    shared = public_url(store_url)  # no credentials in the queue: workers bring their own
    batch = Batch(f"b{uuid.uuid4().hex[:11]}", shared, rules)
    queue = Queue(QUEUE, connection=connection)
    jobs = []
    first: dict[str, str] = {}
    """results key -> the job that reviews it: an identical section elsewhere in the batch
    waits for that job and takes its result from the shared cache (paid once, as locally)."""
    for run, sections in zip(runs, todo, strict=True):
        batch.documents.append(
            BatchDocument(run.sid, run.review.document.path, run.name, [s.id for s in sections])
        )
        for section in sections:
            job_id = f"prism-{batch.id}-{run.sid}-{section.id}"
            batch.jobs[job_id] = f"{run.sid}/{section.id}"
            key = run.keys[section.id]
            after = first.get(key)
            if after is None:
                first[key] = job_id
            jobs.append(
                Queue.prepare_data(
                    "prism_cli.batch.worker.section_job",
                    args=(shared, batch.id, run.sid, section.id),
                    job_id=job_id,
                    timeout=JOB_TIMEOUT,
                    result_ttl=86400,
                    failure_ttl=7 * 86400,
                    retry=Retry(max=len(RETRIES), interval=list(RETRIES)),
                    description=f"review {run.name} {section.id}",
                    depends_on=Dependency([after], allow_failure=True) if after else None,
                )
            )
    batch.save(connection)  # before the jobs: a worker finishing a session reads the batch
    if jobs:
        queue.enqueue_many(jobs)
    # A document with nothing left to review is finished now.
    for doc in batch.documents:
        if not doc.sections:
            finish_once(connection, sessions, batch, doc.session)
    return batch

"""``prism review --queue``, ``prism worker`` and ``prism batch``: parse, call
:mod:`prism_cli.batch`, render. The queue's logic (batches, jobs, the shared quota) is there."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.cli.application import Application
from prism_cli.errors import EXIT_INTERRUPTED, EXIT_OK, Interrupted, UsageError

if TYPE_CHECKING:
    from redis import Redis

    from prism_cli.batch.model import Batch
    from prism_cli.cli.options import ReviewOptions
    from prism_cli.core.report import DocumentReview, PriceLookup
    from prism_cli.core.session import Sessions
    from prism_cli.service import RunOutcome, RunSettings

POLL = 0.2


def review_queued(
    app: Application,
    opts: ReviewOptions,
    fmt: str,
    reviews: list[DocumentReview],
    settings: RunSettings,
    codes: list[int],
) -> int:
    from prism_cli.batch import model as batches
    from prism_cli.batch import submit as submitting
    from prism_cli.stores.url import mask_url

    if opts.offline:
        raise UsageError("--offline makes no model call: it has nothing to queue")
    store_url = batches.require_shared_store(app.store_url)
    assert opts.queue is not None
    connection = batches.queue_connection(opts.queue)
    sessions = app.sessions
    batch = submitting.submit(
        sessions,
        connection,
        store_url,
        reviews,
        settings,
        fresh=opts.fresh,
        rules=opts.rules,
    )
    console = app.console
    console.info(
        f"batch {batch.id}: {batch.total} sections queued on {mask_url(opts.queue)} "
        f"({len(reviews)} documents)"
    )
    if opts.no_wait:
        console.write(batch.id)
        console.info(f"follow it: prism batch wait {batch.id} --queue {mask_url(opts.queue)}")
        return EXIT_OK
    outcome = follow(app, connection, sessions, batch, opts.queue)
    from prism_cli.cli.outcome import conclude

    return conclude(app, opts, fmt, outcome, sessions, codes)


def follow(
    app: Application, connection: Redis, sessions: Sessions, batch: Batch, queue_url: str
) -> RunOutcome:
    """Show the batch's progress until every section is stored or failed; then collect."""
    import os

    from prism_cli.batch import model as batches
    from prism_cli.cli.progress import Progress
    from prism_cli.core.report import build_report
    from prism_cli.service import RunOutcome
    from prism_cli.stores.url import mask_url

    console = app.console
    interval = float(os.environ.get("PRISM_PROGRESS_INTERVAL") or 30)
    try:
        with Progress(console, interval=interval) as shown:
            seen: dict[str, set[str]] = {}
            for doc in batch.documents:
                shown.add(doc["session"], doc["name"], len(doc["sections"]))
                seen[doc["session"]] = set()
            while True:
                state = batches.progress(sessions, connection, batch)
                for sid, stored in state.stored.items():
                    for section in sorted(stored - seen[sid]):
                        shown.advance(sid, _calls(sessions, sid, section))
                    seen[sid] |= stored
                for where in state.errors:
                    sid, _, section = where.partition("/")
                    if sid in seen and section not in seen[sid]:
                        seen[sid].add(section)
                        shown.advance(sid, 0)
                if state.finished:
                    break
                time.sleep(POLL)
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped following batch {batch.id}; its jobs go on: "
            f"prism batch wait {batch.id} --queue {mask_url(queue_url)}"
        ) from None
    for where, why in sorted(state.errors.items()):
        console.warn(f"section {where} not reviewed: {why}")
    prices = _prices(app)
    reviews = batches.collect(connection, sessions, batch, prices)
    failed = sum(1 for r in reviews for x in r.results.values() if x.status == "failed")
    report = build_report(reviews, prices)
    for review, doc in zip(reviews, report["documents"], strict=True):
        usage = (sessions.report(review.session_id) or {}).get("documents", [{}])[0].get("usage")
        if usage:
            doc["usage"] = usage
    return RunOutcome(reviews, report, [], [], failed)


def _calls(sessions: Sessions, sid: str, section: str) -> int:
    """The model calls a stored section took (for the progress line)."""
    stored = sessions.result(sid, section)
    return stored.calls if stored is not None else 0


def _prices(app: Application) -> PriceLookup:
    from prism_cli.bedrock.catalog import load_catalog

    return load_catalog(app.catalog_overrides).prices


def run_worker(
    app: Application,
    queue_url: str,
    burst: bool,
    concurrency: int,
    region: str | None,
    profile: str | None,
    log_json: Path | None = None,
    abandon_after: int = 12,
) -> int:
    from prism_cli.batch import model as batches
    from prism_cli.batch import worker as workers
    from prism_cli.bedrock.client import make_session
    from prism_cli.stores.url import mask_url

    console = app.console
    batches.queue_connection(queue_url)  # reachable, or exit 4 now
    make_session(region, profile)  # credentials and region, or exit 4 now
    context = workers.WorkerContext(
        queue_url,
        region,
        profile,
        app.catalog_overrides,
        console.verbose,
        str(log_json.resolve()) if log_json else None,
        abandon_after=abandon_after,
        say=console.debug,
    )
    console.info(
        f"prism worker: {concurrency} process{'es' if concurrency > 1 else ''} on "
        f"{mask_url(queue_url)}{' until the queue is empty' if burst else ''}"
    )
    if concurrency == 1:
        workers.work(context, burst=burst)
        return EXIT_OK
    code = workers.work_many(context.settings(), concurrency, burst=burst)
    return EXIT_OK if code in (0, -15, -2) else EXIT_INTERRUPTED


def run_batch(
    app: Application,
    action: str,
    batch_id: str,
    queue_url: str,
    *,
    fmt: str | None = None,
    output: Path | None = None,
    fail_on: str = "high",
) -> int:
    from prism_cli.batch import model as batches
    from prism_cli.stores.service import open_sessions

    console = app.console
    # A format that contradicts -o fails before the wait, not after it.
    resolved = app.output_format(fmt, output) if action == "wait" else ""
    connection = batches.queue_connection(queue_url)
    batch = batches.Batch.load(connection, batch_id)
    sessions = open_sessions(batch.store)
    if action == "cancel":
        count = batches.cancel(connection, batch, sessions)
        console.info(f"batch {batch.id}: {count} queued sections cancelled; running ones finish")
        return EXIT_OK
    if action == "status":
        state = batches.progress(sessions, connection, batch)
        for doc in batch.documents:
            count, total = state.by_session[doc["session"]]
            console.write(f"{doc['name']}  session {doc['session']}  {count}/{total} sections")
        left = state.total - state.done - state.failed
        console.write(
            f"batch {batch.id}: {state.done} of {state.total} sections done, "
            f"{state.failed} failed, {left} left{' (cancelled)' if batch.cancelled else ''}"
        )
        return EXIT_OK
    from prism_cli.cli.options import ReviewOptions
    from prism_cli.cli.outcome import conclude

    outcome = follow(app, connection, sessions, batch, queue_url)
    opts = ReviewOptions(paths=[], fmt=fmt, output=output, fail_on=fail_on, rules=batch.rules)
    if outcome.reviews:
        from prism_cli.service import RunSettings

        meta = sessions.require(outcome.reviews[0].session_id)
        opts.framework_record = RunSettings.from_record(meta.settings).framework.record()
    return conclude(app, opts, resolved, outcome, sessions, [EXIT_OK])

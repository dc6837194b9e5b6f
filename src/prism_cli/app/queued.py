"""A queued review seen from the machine that submitted it (or ``prism batch wait``): follow
the batch until every section is stored or failed, then the run's outcome from the store. The
front end shows the progress through callbacks; the batch and its Redis keys are
:mod:`prism_cli.batch.model`'s."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prism_cli.app.run import RunOutcome
    from prism_cli.batch.model import Batch
    from prism_cli.core.report import PriceLookup
    from prism_cli.core.session import Sessions

POLL = 0.2
"""Seconds between two looks at the batch."""


@dataclass
class FollowHooks:
    document: Callable[[str, str, int], None] = lambda sid, name, total: None
    """A document of the batch: its session, name and the sections queued for it."""
    section: Callable[[str, int], None] = lambda sid, calls: None
    """A section of that session settled (stored, or failed for good): the calls it took."""
    failed: Callable[[str, str], None] = lambda where, why: None
    """After the batch: ``<session>/<section>`` and why it was not reviewed."""
    waiting: Callable[[str | None], None] = lambda why: None
    """The queue (or the store) cannot be reached: why (None: reached again)."""
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)


OUTAGE = 600.0
"""Seconds a follower waits for an unreachable queue before it gives up (workers wait too)."""


def follow(
    sessions: Sessions, connection: Any, batch: Batch, prices: PriceLookup, hooks: FollowHooks
) -> RunOutcome:
    """Wait for the batch (reporting each settled section once), then collect its run."""
    from prism_cli.batch import model as batches
    from prism_cli.core.ports import StoreError
    from prism_cli.errors import QueueUnavailable

    seen: dict[str, set[str]] = {}
    for doc in batch.documents:
        hooks.document(doc.session, doc.name, len(doc.sections))
        seen[doc.session] = set()
    down_since: float | None = None
    while True:
        try:
            state = batches.progress(sessions, connection, batch)
        except (QueueUnavailable, StoreError) as exc:
            # A Redis restart: wait as the workers do, keep what was followed so far.
            now = hooks.clock()
            if down_since is None:
                down_since = now
                hooks.waiting(str(exc))
            elif now - down_since > OUTAGE:
                raise
            hooks.sleep(POLL)
            continue
        if down_since is not None:
            down_since = None
            hooks.waiting(None)
        for sid, stored in state.stored.items():
            for section in sorted(stored - seen[sid]):
                result = sessions.result(sid, section)
                hooks.section(sid, result.calls if result is not None else 0)
            seen[sid] |= stored
        for where in state.errors:
            sid, _, section = where.partition("/")
            if sid in seen and section not in seen[sid]:
                seen[sid].add(section)
                hooks.section(sid, 0)
        if state.finished:
            break
        hooks.sleep(POLL)
    for where, why in sorted(state.errors.items()):
        hooks.failed(where, why)
    return outcome_of(sessions, connection, batch, prices)


def outcome_of(
    sessions: Sessions, connection: Any, batch: Batch, prices: PriceLookup
) -> RunOutcome:
    """A finished batch as a run's outcome: its documents as the store holds them, the
    report with each document's usage as its session recorded it."""
    from prism_cli.app.run import RunOutcome
    from prism_cli.batch import model as batches
    from prism_cli.core.report import build_report
    from prism_cli.core.results import SectionStatus

    reviews = batches.collect(connection, sessions, batch, prices)
    failed = sum(1 for r in reviews for x in r.results.values() if x.status == SectionStatus.FAILED)
    report = build_report(reviews, prices)
    for review, doc in zip(reviews, report["documents"], strict=True):
        usage = (sessions.report(review.session_id) or {}).get("documents", [{}])[0].get("usage")
        if usage:
            doc["usage"] = usage
    return RunOutcome(reviews, report, [], [], failed)

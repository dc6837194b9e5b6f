"""``--dry-run``: what a review would cost (the sections left after what the sessions and
the shared cache hold, their tokens and prices), reading only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from prism_cli.core.pipeline import DocumentContext
from prism_cli.core.report import DocumentReview, PriceLookup
from prism_cli.core.session import (
    CorruptEntry,
    Sessions,
)

if TYPE_CHECKING:
    from prism_cli.app.review import ReviewHooks, ReviewRequest
    from prism_cli.core.document import Section
    from prism_cli.core.pipeline import Reviewer


from prism_cli.app.run import (
    RunSettings,
)
from prism_cli.app.stored import stored_results


def plan(
    sessions: Sessions, reviews: Sequence[DocumentReview], settings: RunSettings, *, fresh: bool
) -> list[list[Section]]:
    """The sections a run would still review, per document, after what its session holds and
    the shared results cache; reads only (``--dry-run`` writes nothing)."""
    todo: list[list[Section]] = []
    for review in reviews:
        sid = review.session_id
        left: list[Section] = []
        meta = None if fresh else sessions.load(sid)
        same = meta is not None and meta.document.sha256 == review.document.sha256
        held = stored_results(sessions, sid) if same else {}
        for section in review.sections:
            key = settings.key(section.text)
            stored = held.get(section.id)
            reusable = stored is not None and stored.reusable_for(key)
            if not reusable and not fresh:
                try:
                    reusable = sessions.cached(key) is not None
                except CorruptEntry:
                    reusable = False
            if not reusable:
                left.append(section)
        todo.append(left)
    return todo


def estimate_run(
    sessions: Sessions,
    reviews: Sequence[DocumentReview],
    settings: RunSettings,
    reviewer: Reviewer,
    prices: PriceLookup,
    *,
    fresh: bool = False,
) -> dict[str, Any]:
    """What a run would cost before any model call (``--dry-run``): the sections left after
    the session and the results cache, each call's input tokens (CountTokens where the model
    allows it, else an estimate), output as the store's history of the model's calls says (a
    quarter of ``max_tokens`` before it has one; at most all of it), and dollars by model
    (without prompt caching, which only lowers it)."""
    from concurrent.futures import ThreadPoolExecutor

    todo = plan(sessions, reviews, settings, fresh=fresh)
    jobs = [
        (i, DocumentContext(r.document.path, r.sections, settings.framework), section)
        for i, (r, left) in enumerate(zip(reviews, todo, strict=True))
        for section in left
    ]

    def count(job: tuple[int, DocumentContext, Section]) -> Any:
        return reviewer.estimate(job[1], job[2])

    # The first alone: a model that refuses CountTokens is then known before the others ask.
    counts = [count(job) for job in jobs[:1]]
    with ThreadPoolExecutor(max_workers=8) as pool:
        counts += list(pool.map(count, jobs[1:]))
    from prism_cli.app.run import expected_output

    learned: dict[str, tuple[int, str]] = {}

    def output_of(model: str) -> int:
        if model not in learned:
            learned[model] = expected_output(sessions, settings, model)
        return learned[model][0]

    models: dict[str, dict[str, Any]] = {}
    documents: list[dict[str, Any]] = [
        {
            "path": r.document.path,
            "session_id": r.session_id,
            "sections": len(r.sections),
            "reused": len(r.sections) - len(left),
            "to_review": len(left),
            "calls": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "cost_usd": 0.0,
            "max_cost_usd": 0.0,
        }
        for r, left in zip(reviews, todo, strict=True)
    ]
    counted = estimated = calls_counted = calls_estimated = 0
    for (i, _ctx, _section), calls in zip(jobs, counts, strict=True):
        doc = documents[i]
        for model, tokens, exact in calls:
            if exact:
                counted, calls_counted = counted + tokens, calls_counted + 1
            else:
                estimated, calls_estimated = estimated + tokens, calls_estimated + 1
            price = prices(model) or (0.0, 0.0)
            expected = output_of(model)
            cost = (tokens * price[0] + expected * price[1]) / 1_000_000
            worst = (tokens * price[0] + settings.max_tokens * price[1]) / 1_000_000
            row = models.setdefault(
                model, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0}
            )
            row["input_tokens_from"] = (
                "CountTokens" if exact else "estimate (request size x the model's tokenizer)"
            )
            row["output_tokens_per_call"] = expected
            row["output_tokens_from"] = learned[model][1]
            for target in (doc, row):
                target["calls"] += 1
                target["input_tokens"] += tokens
                target["output_tokens"] += expected
                target["cost_usd"] += cost
            doc["max_cost_usd"] += worst
    for row in [*documents, *models.values()]:
        for key in ("cost_usd", "max_cost_usd"):
            if key in row:
                row[key] = round(row[key], 6)
    return {
        "dry_run": True,
        "documents": documents,
        "models": models,
        "summary": {
            "sections": sum(d["sections"] for d in documents),
            "reused": sum(d["reused"] for d in documents),
            "to_review": sum(d["to_review"] for d in documents),
            "calls": sum(d["calls"] for d in documents),
            "input_tokens": sum(d["input_tokens"] for d in documents),
            "input_tokens_counted": counted,
            "input_tokens_estimated": estimated,
            "calls_counted": calls_counted,
            "calls_estimated": calls_estimated,
            "output_tokens_estimated": True,
            "output_tokens_per_call": (
                round(
                    sum(d["output_tokens"] for d in documents)
                    / max(1, sum(d["calls"] for d in documents))
                )
            ),
            "cost_usd": round(sum(d["cost_usd"] for d in documents), 6),
            "max_cost_usd": round(sum(d["max_cost_usd"] for d in documents), 6),
        },
    }


def dry_run(
    sessions: Sessions,
    request: ReviewRequest,
    reviews: Sequence[DocumentReview],
    settings: RunSettings,
    hooks: ReviewHooks,
) -> dict[str, Any]:
    """``--dry-run``: open the engine (to count tokens), estimate, write nothing."""
    from prism_cli.app.review import catalog_prices, open_engine

    reviewer, _notes = open_engine(request, settings, hooks)
    return estimate_run(
        sessions, reviews, settings, reviewer, catalog_prices(request), fresh=request.fresh
    )

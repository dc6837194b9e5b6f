"""Build the JSON report (DESIGN.md "Report", schema_version 1) from review results."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prism_cli.core.findings import Finding
from prism_cli.core.ports import Usage
from prism_cli.core.review import DocumentReview as DocumentReview

SCHEMA_VERSION = 1
CACHE_READ_FACTOR = 0.1
CACHE_WRITE_FACTOR = 1.25

PriceLookup = Callable[[str], tuple[float, ...] | None]
"""model id -> (USD per 1M input tokens, per 1M output tokens[, cache-read share of input]),
premiums included."""


def cost_usd(by_model: dict[str, Usage], prices: PriceLookup) -> float:
    total = 0.0
    for model, usage in by_model.items():
        price = prices(model)
        if price is None:
            continue
        per_in, per_out = price[0], price[1]
        read = price[2] if len(price) > 2 else CACHE_READ_FACTOR
        total += (
            usage.input_tokens * per_in
            + usage.output_tokens * per_out
            + usage.cache_read_tokens * per_in * read
            + usage.cache_write_tokens * per_in * CACHE_WRITE_FACTOR
        ) / 1_000_000
    return round(total, 6)


def usage_summary(by_model: dict[str, Usage], prices: PriceLookup) -> dict[str, Any]:
    total = Usage()
    for usage in by_model.values():
        total.add(usage)
    return {
        **total.as_dict(),
        "cost_usd": cost_usd(by_model, prices),
        "by_model": {
            m: {**u.as_dict(), "cost_usd": cost_usd({m: u}, prices)}
            for m, u in sorted(by_model.items())
        },
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    return f.model_dump(mode="json")


def _finding_dicts(review: DocumentReview) -> list[dict[str, Any]]:
    """The findings as dicts, each finding dumped once per review (a run builds the stored
    report and then its own from the same findings)."""
    memo = review.dumped
    out = []
    for f in review.findings:
        hit = memo.get(id(f))
        if hit is None or hit[0] is not f:
            hit = memo[id(f)] = (f, finding_dict(f))
        out.append(hit[1])
    return out


def document_dict(review: DocumentReview, prices: PriceLookup) -> dict[str, Any]:
    sections = []
    for s in review.sections:
        r = review.results.get(s.id)
        sections.append(
            {
                "id": s.id,
                "index": s.index,
                "number": s.number,
                "title": s.title,
                "level": s.level,
                "status": r.status if r else "skipped",
                "model": r.model if r else None,
                "attempts": r.attempts if r else 0,
                "error": r.error if r else None,
                "thinking": r.thinking if r else None,
            }
        )
    findings = _finding_dicts(review)
    out = {
        "path": review.document.path,
        "sha256": review.document.sha256,
        "title": review.title,
        "session_id": review.session_id,
        "sections": sections,
        "findings": findings,
        "usage": usage_summary(review.usage_by_model(), prices),
    }
    if review.since is not None:
        with_since(out, review.since)
    return out


def with_since(document: dict[str, Any], since: dict[str, Any]) -> None:
    """Put a comparison with the previous version (a review's ``since``) into a report
    document: the ``since`` record, and each finding's state (SARIF's baselineState words)."""
    states = since.get("states", {})
    document["findings"] = [
        {**f, "baseline_state": states.get(f["id"], "new")} for f in document["findings"]
    ]
    document["since"] = {k: v for k, v in since.items() if k != "states"}


def build_report(
    reviews: Sequence[DocumentReview],
    prices: PriceLookup,
    notes: Sequence[str] = (),
    fallbacks: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    documents = [document_dict(r, prices) for r in reviews]
    by_model: dict[str, Usage] = {}
    for review in reviews:
        for model, usage in review.usage_by_model().items():
            by_model.setdefault(model, Usage()).add(usage)
    statuses = [s["status"] for d in documents for s in d["sections"]]
    severities = {"high": 0, "medium": 0, "low": 0}
    for d in documents:
        for f in d["findings"]:
            severities[f["severity"]] += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "documents": documents,
        "summary": {
            "documents": len(documents),
            "sections": len(statuses),
            "reviewed": sum(1 for s in statuses if s in ("reviewed", "cached")),
            "failed": sum(1 for s in statuses if s == "failed"),
            "skipped": sum(1 for s in statuses if s == "skipped"),
            "findings": sum(severities.values()),
            "findings_by_severity": severities,
            "usage": usage_summary(by_model, prices),
            "notes": list(notes),
            "fallbacks": list(fallbacks),
        },
    }


def since_of(document: dict[str, Any]) -> dict[str, Any] | None:
    """A stored report document's comparison with its previous version, as a review holds
    it (``DocumentReview.since``: the record, with each finding's state)."""
    since = document.get("since")
    if not isinstance(since, dict):
        return None
    states = {
        str(f["id"]): str(f["baseline_state"])
        for f in document.get("findings", [])
        if f.get("baseline_state")
    }
    states |= dict.fromkeys(map(str, since.get("own_carried", [])), "unchanged")
    return {**since, "states": states}

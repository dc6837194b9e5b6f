"""``prism review``: read, run the rules, review with Bedrock, report.

This module wires adapters to the core; the logic lives in ``core.pipeline``, ``core.rules``
and ``core.report``.
"""

from __future__ import annotations

import os
import time
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.cli.application import Application
from prism_cli.cli.options import FAIL_ON, FORMATS, ReviewOptions
from prism_cli.cli.outcome import conclude, refuse_inputs, write_text
from prism_cli.errors import (
    EXIT_CONFIG,
    EXIT_OK,
    UsageError,
)

if TYPE_CHECKING:
    from prism_cli.app.review import ReviewRequest
    from prism_cli.core.report import DocumentReview
    from prism_cli.core.results import SectionResult
    from prism_cli.engine.engine import EngineEvent
    from prism_cli.service import RunOutcome, RunSettings


def _validate(opts: ReviewOptions) -> None:
    if opts.fmt is not None and opts.fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if len(opts.formats) > 1:
        out = opts.output
        if out is None or (out.exists() and not out.is_dir()) or str(out) == "-":
            raise UsageError("several --format need -o DIR (each format is written there)")
    if opts.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    from prism_cli.cli.limits import REVIEW

    for name, check in REVIEW.items():
        if refused := check(getattr(opts, name)):
            raise UsageError(f"--{name.replace('_', '-')} {refused}")


def _guard_output(app: Application, opts: ReviewOptions, fmt: str) -> None:
    """Refuse, before anything is spent, output that would replace a document under review or
    pour a binary Word file into a terminal."""
    from prism_cli.outputs import is_stdout

    binary = fmt == "docx" and opts.output is not None and is_stdout(opts.output)
    if binary and app.console.stdout_is_tty:
        raise UsageError(
            "-f docx -o - writes a binary Word file to standard output, which is a "
            "terminal: redirect it (> copy.docx) or give -o FILE"
        )


def request_of(app: Application, opts: ReviewOptions) -> ReviewRequest:
    """The options of ``prism review`` as the review use case takes them."""
    from prism_cli.app.review import ReviewRequest

    return ReviewRequest(
        framework=opts.framework,
        guidelines=opts.guidelines,
        session=opts.session,
        rules=opts.rules,
        offline=opts.offline,
        fresh=opts.fresh,
        wait=opts.wait,
        min_confidence=opts.min_confidence,
        models=tuple(opts.models),
        thinking=opts.thinking,
        effort=opts.effort,
        thinking_budget=opts.thinking_budget,
        max_tokens=opts.max_tokens,
        temperature=opts.temperature,
        region=opts.region,
        profile=opts.profile,
        concurrency=opts.concurrency,
        catalog_overrides=app.catalog_overrides,
    )


def run_review(app: Application, opts: ReviewOptions) -> int:
    from prism_cli.app import documents
    from prism_cli.app import review as use_case

    _validate(opts)
    console = app.console
    if opts.offline and (app.store_url or "").startswith("s3://"):
        raise UsageError("--offline makes no AWS calls: use a local or Redis --store with it")
    fmt = app.output_format(opts.fmt, opts.output)
    _guard_output(app, opts, fmt)
    request = request_of(app, opts)
    framework, settings = use_case.settings_for(request)

    from prism_cli.telemetry import Telemetry, parse_metrics

    if opts.queue and (opts.log_json or opts.metrics):
        raise UsageError(
            "--log-json and --metrics record this process's model calls; with --queue the "
            "workers make them"
        )
    if opts.offline and opts.metrics:
        raise UsageError("--metrics publishes to CloudWatch: --offline makes no AWS call")
    telemetry = Telemetry(opts.log_json, parse_metrics(opts.metrics))
    codes = [EXIT_OK]
    if not opts.paths and not opts.changed_since:
        raise UsageError("give documents to review (PATH...), or --changed-since REF")
    if opts.dry_run and opts.offline:
        raise UsageError("--dry-run estimates a model review: --offline makes no call to estimate")
    if opts.changed_since:
        from prism_cli.inputs import changed_documents

        selected = changed_documents(opts.changed_since, opts.paths)
        console.info(
            f"{len(selected)} document{'s' if len(selected) != 1 else ''} changed since "
            f"{opts.changed_since}"
        )
        if not selected:
            # Nothing changed: a successful run, and the report (empty) is written all the same.
            return conclude(app, opts, fmt, _no_outcome(), None, codes)
        opts.paths = [str(p) for p in selected]
    paths, problems = documents.expand(opts.paths)
    if opts.output is not None:
        refuse_inputs(opts.output, paths)
    prepared = use_case.prepare(request, paths, problems, (framework, settings))
    opts.framework_record = prepared.framework.record()
    for problem in prepared.unreadable:
        console.error(str(problem.error))
        codes.append(problem.error.exit_code)
        opts.unreadable.append({"path": problem.path, "error": problem.reason})
    reviews = prepared.reviews
    if not reviews:
        # Nothing to review: the report says so, in every format asked for.
        return conclude(app, opts, fmt, _no_outcome(), None, codes)
    if opts.dry_run:
        return _dry_run(app, opts, fmt, request, reviews, settings)
    if opts.queue:
        from prism_cli.cli.queue import review_queued

        return review_queued(app, opts, fmt, reviews, settings, codes)
    # The store first: an unreachable one stops the run before anything is written.
    sessions = app.sessions
    telemetry.event(
        "run_start",
        documents=[r.document.path for r in reviews],
        sections=sum(len(r.sections) for r in reviews),
        models=list(opts.models),
        offline=opts.offline,
    )
    interval = float(os.environ.get("PRISM_PROGRESS_INTERVAL") or 30)
    prices = use_case.no_prices if opts.offline else use_case.catalog_prices(request)
    from prism_cli.cli.progress import Progress

    with Progress(console, interval=interval) as progress:

        def started(key: str, name: str, total: int, reused: int) -> None:
            telemetry.event("document", document=key, sections=total, reused=reused)
            progress.add(key, name, total)
            for _ in range(reused):
                progress.advance(key, 0)

        def section_done(key: str, result: SectionResult) -> None:
            telemetry.section_end(key, result, prices)
            progress.advance(key, sum(u.calls for u in result.usage.values()))
            if result.status == "failed" and not progress.live:
                console.warn(
                    f"{Path(key).name}: section {result.section_id} not reviewed: {result.error}"
                )

        def engine_event(event: EngineEvent) -> None:
            if event.kind in ("adapt", "remap", "set_aside"):
                console.debug(f"{event.model}: {event.detail}")
            if event.kind == "wait" and event.model:
                with suppress(ValueError):
                    progress.waiting(event.model, float(event.detail))
            telemetry.engine(event)

        def engine_opened(models: list[str], details: list[str]) -> None:
            for detail in details:
                console.debug(detail)
            telemetry.event("engine", models=models)

        hooks = use_case.ReviewHooks(
            started=started,
            section_start=lambda key, section: (
                telemetry.section_start(key, section) if telemetry.active else None
            ),
            section_done=section_done,
            engine_event=engine_event,
            engine_opened=engine_opened,
            warn=console.warn,
            waiting=lambda sid, holder: console.info(
                f"waiting for session {sid} (being reviewed by {holder})"
            ),
        )
        started_at = time.monotonic()
        outcome = use_case.execute(sessions, request, prepared, hooks, prices)
        console.debug(f"review took {time.monotonic() - started_at:.1f}s")
    summary = outcome.report["summary"]
    telemetry.event(
        "run_end",
        seconds=round(time.monotonic() - started_at, 3),
        sections=summary["sections"],
        reviewed=summary["reviewed"],
        failed=summary["failed"],
        findings=summary["findings"],
        calls=summary["usage"]["calls"],
        cost_usd=summary["usage"]["cost_usd"],
        fallbacks=len(outcome.fallbacks),
    )
    if telemetry.namespace is not None:
        from prism_cli.bedrock.cloudwatch import publish_metrics

        published = publish_metrics(
            telemetry.namespace, telemetry.metric_data(), opts.region, opts.profile, console.warn
        )
        if published:
            console.info(f"published {published} metrics to CloudWatch ({telemetry.namespace})")
    telemetry.close()
    if outcome.no_usable_model:
        console.error(f"no usable model in the chain ({outcome.no_usable_model})")
        codes.append(EXIT_CONFIG)
    return conclude(app, opts, fmt, outcome, sessions, codes)


def _no_outcome() -> RunOutcome:
    """The outcome of a run with nothing to review (its report is written all the same)."""
    from prism_cli.app.review import no_prices
    from prism_cli.core.report import build_report
    from prism_cli.service import RunOutcome

    return RunOutcome([], build_report([], no_prices), [])


def _dry_run(
    app: Application,
    opts: ReviewOptions,
    fmt: str,
    request: ReviewRequest,
    reviews: list[DocumentReview],
    settings: RunSettings,
) -> int:
    """--dry-run: the estimate, and no call, no session written."""
    import json

    from prism_cli.app.estimate import estimate_run
    from prism_cli.app.review import ReviewHooks, catalog_prices, open_engine

    console = app.console

    def opened(_models: list[str], details: list[str]) -> None:
        for detail in details:
            console.debug(detail)

    reviewer, _notes = open_engine(request, settings, ReviewHooks(engine_opened=opened))
    prices = catalog_prices(request)
    estimate = estimate_run(app.sessions, reviews, settings, reviewer, prices, fresh=opts.fresh)
    text = json.dumps(estimate, indent=2) if fmt == "json" else _estimate_text(estimate)
    if opts.output is not None:
        write_text(app.console, opts.output, text)
    else:
        app.console.write(text)
    return EXIT_OK


def _estimate_text(estimate: dict[str, object]) -> str:
    summary = estimate["summary"]
    assert isinstance(summary, dict)
    documents = estimate["documents"]
    assert isinstance(documents, list)
    width = max([len(Path(d["path"]).name) for d in documents] + [8])
    lines = [f"{'document':{width}}  sections  reused  to review  calls  input tokens    cost $"]
    for d in documents:
        lines.append(
            f"{Path(d['path']).name:{width}}  {d['sections']:8}  {d['reused']:6}  "
            f"{d['to_review']:9}  {d['calls']:5}  {d['input_tokens']:12}  {d['cost_usd']:8.4f}"
        )
    how = (
        "counted with CountTokens"
        if not summary["calls_estimated"]
        else "estimated from each request's size and the model's tokenizer (the model does "
        "not offer CountTokens)"
        if not summary["calls_counted"]
        else f"{summary['calls_counted']} calls counted with CountTokens, "
        f"{summary['calls_estimated']} estimated"
    )
    models = estimate["models"]
    assert isinstance(models, dict)
    lines += [
        "",
        f"{summary['to_review']} of {summary['sections']} sections to review "
        f"({summary['reused']} reused from the session or the cache), {summary['calls']} calls.",
        f"Input tokens {how}; output assumed {summary['output_tokens_per_call']} tokens a call "
        f"(a quarter of --max-tokens).",
        f"Estimated cost ${summary['cost_usd']:.4f} (at most ${summary['max_cost_usd']:.4f} if "
        "every answer used --max-tokens; prompt caching lowers it)",
    ]
    for model, row in models.items():
        lines.append(f"  {model}: {row['calls']} calls, ${row['cost_usd']:.4f}")
    return "\n".join(lines)

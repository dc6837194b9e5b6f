"""``prism review``: read, run the rules, review with Bedrock, report.

This module wires adapters to the core; the logic lives in ``core.pipeline``, ``core.rules``
and ``core.report``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.cli.application import Application
from prism_cli.console import Console
from prism_cli.errors import (
    EXIT_CONFIG,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    UsageError,
    worst_exit_code,
)
from prism_cli.reports import EXTENSIONS, REGISTRY, REVIEW_FORMATS, render

if TYPE_CHECKING:
    from prism_cli.app.review import ReviewRequest
    from prism_cli.core.findings import Finding
    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.core.report import DocumentReview
    from prism_cli.core.results import SectionResult
    from prism_cli.core.session import Sessions
    from prism_cli.engine.engine import EngineEvent
    from prism_cli.reports.ci import Base
    from prism_cli.service import RunOutcome, RunSettings

FORMATS = REVIEW_FORMATS
FAIL_ON = ("high", "medium", "low", "never")


@dataclass
class ReviewOptions:
    paths: list[str]
    models: list[str] = field(default_factory=list)
    region: str | None = None
    profile: str | None = None
    offline: bool = False
    rules: bool = True
    fmt: str | None = None
    output: Path | None = None
    fail_on: str = "high"
    concurrency: int = 4
    thinking: bool = False
    thinking_budget: int | None = None
    effort: str | None = None
    framework: Path | None = None
    guidelines: Path | None = None
    min_confidence: float = 0.8
    max_tokens: int = 4096
    temperature: float | None = 0.7
    session: str | None = None
    fresh: bool = False
    wait: bool = False
    push: str | None = None
    sse_kms_key: str | None = None
    only_accepted: bool = False
    queue: str | None = None
    no_wait: bool = False
    formats: list[str] = field(default_factory=list)
    """Several ``-f`` (each to its own file in ``-o DIR``); one is ``fmt``."""
    annotate_level: str | None = None
    base_dir: Path | None = None
    unreadable: list[dict[str, str]] = field(default_factory=list)
    """Documents that could not be read: in every report format."""
    framework_record: dict[str, object] | None = None
    changed_since: str | None = None
    dry_run: bool = False
    log_json: Path | None = None
    metrics: str | None = None


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


REGION_FACTS = (": not offered in ", " profile; global")
"""Notes that say the same of a region on every run."""


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


def refuse_inputs(target: Path, inputs: Sequence[str | Path]) -> None:
    """A usage error when ``target`` is (or links to) one of the documents under review: prism
    never replaces its input."""
    import os

    if str(target) == "-":
        return
    real = os.path.realpath(target)
    for source in inputs:
        same = real == os.path.realpath(source)
        if not same and os.path.exists(real) and os.path.exists(source):
            same = os.path.samefile(real, source)  # a hard link
        if same:
            raise UsageError(
                f"-o {target} would replace {source}, a document under review: prism never "
                "overwrites its input; choose another file name"
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
    opts.framework_record = prepared.framework_record
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
        outcome = use_case.execute(sessions, request, prepared, hooks)
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
        from prism_cli.bedrock.client import make_session

        session, region = make_session(opts.region, opts.profile)
        published = telemetry.publish(session, region, console.warn)
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


def conclude(
    app: Application,
    opts: ReviewOptions,
    fmt: str,
    outcome: RunOutcome,
    sessions: Sessions | None,
    codes: list[int],
) -> int:
    """The end of a run, local or queued: exit code, notes, the report, --push."""
    from prism_cli.core.findings import at_or_above

    console, reviews = app.console, outcome.reviews
    if opts.unreadable:
        outcome.report["summary"]["unreadable"] = list(opts.unreadable)
    if opts.framework_record:
        outcome.report["framework"] = opts.framework_record
    if outcome.failed:
        codes.append(EXIT_INCOMPLETE)
    live = [f for review in reviews for f in review.findings if f.status != "rejected"]
    if at_or_above(live, opts.fail_on):
        codes.append(EXIT_FINDINGS)
    from prism_cli.cli.notes import first_time

    for note in outcome.notes:
        # A fact of the region (a model it does not offer, no profile of its own) is the same
        # on every run: said the first time on this machine, then with -v only. Everything
        # else the run learned is said every time.
        if any(mark in note for mark in REGION_FACTS) and not first_time(note):
            console.debug(f"note: {note}")
        else:
            console.note(f"note: {note}")
    formats = opts.formats if len(opts.formats) > 1 else [fmt]
    # Only the CI formats make paths repository-relative: no git call for the others.
    base = _base(opts) if {"sarif", "github"} & set(formats) else None
    for each in formats:
        _emit(console, each, opts, outcome.report, reviews, base, several=len(formats) > 1)
    _say_fail_on(console, opts.fail_on, live)
    _step_summary(console, outcome.report)
    if opts.push and sessions is not None:
        _push(console, opts, reviews, sessions)
    return worst_exit_code(*codes)


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

    from prism_cli.app.review import ReviewHooks, catalog_prices, open_engine
    from prism_cli.service import estimate_run

    console = app.console

    def opened(_models: list[str], details: list[str]) -> None:
        for detail in details:
            console.debug(detail)

    reviewer, _notes = open_engine(request, settings, ReviewHooks(engine_opened=opened))
    prices = catalog_prices(request)
    estimate = estimate_run(app.sessions, reviews, settings, reviewer, prices, fresh=opts.fresh)
    text = json.dumps(estimate, indent=2) if fmt == "json" else _estimate_text(estimate)
    if opts.output is not None:
        _write_text(app.console, opts.output, text)
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


def _step_summary(console: Console, report: JSONObject) -> None:
    """On GitHub Actions, a Markdown summary on the run's page ($GITHUB_STEP_SUMMARY)."""
    import os

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from prism_cli.reports.markdown import summary

    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write(summary(report) + "\n")
    except OSError as exc:
        console.warn(f"cannot write the step summary to {target}: {exc.strerror or exc}")


def _say_fail_on(console: Console, fail_on: str, findings: list[Finding]) -> None:
    """One line on what --fail-on makes of these findings (the exit code is for CI)."""
    from prism_cli.core.findings import at_or_above

    def counted(level: str) -> str:
        hits = len(at_or_above(findings, level))
        return f"{hits} finding{'s' if hits != 1 else ''} at or above {level}"

    if fail_on != "never" and at_or_above(findings, fail_on):
        console.info(f"exit 1: {counted(fail_on)} (--fail-on {fail_on}; never: always exit 0)")
    elif fail_on == "never" and at_or_above(findings, "high"):
        console.info(
            f"with --fail-on high (the default, for CI) this run would exit 1: {counted('high')}"
        )


def _push(
    console: Console, opts: ReviewOptions, reviews: list[DocumentReview], sessions: Sessions
) -> None:
    """Export each document's session (as ``prism export`` does) to ``--push``."""
    from prism_cli.service import export_session

    assert opts.push is not None
    for review in reviews:
        where = export_session(
            sessions,
            review.session_id,
            opts.push,
            only_accepted=opts.only_accepted,
            kms_key=opts.sse_kms_key,
            warn=console.warn,
        )
        console.info(f"pushed {where}")


def _base(opts: ReviewOptions) -> Base:
    """What CI paths are relative to: --base-dir, else the git top level, else the cwd."""
    import os
    import subprocess

    from prism_cli.reports.ci import Base

    cwd = os.getcwd()
    if opts.base_dir is not None:
        return Base(str(opts.base_dir.resolve()), cwd)
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return Base(cwd, cwd)
    root = top.stdout.strip()
    return Base(root if top.returncode == 0 and root else cwd, cwd)


def _emit(
    console: Console,
    fmt: str,
    opts: ReviewOptions,
    report: JSONObject,
    reviews: list[DocumentReview],
    base: Base | None = None,
    *,
    several: bool = False,
) -> None:
    def text(report: JSONObject) -> str:
        return render(fmt, report, opts.fail_on, base=base, annotate_level=opts.annotate_level)

    if fmt == "docx":
        _write_reviewed_copies(console, opts.output, reviews, opts.only_accepted)
        return
    if several:
        # One file per format in -o DIR; annotations and the table go to stdout, where CI
        # and people read them.
        assert opts.output is not None
        if fmt == "table":
            from prism_cli.reports import table

            for renderable in table.render(report, verbose=console.verbose):
                console.render(renderable)
            return
        if fmt == "github":
            if rendered := text(report):
                console.write(rendered.rstrip("\n"))
            return
        opts.output.mkdir(parents=True, exist_ok=True)
        name = REGISTRY[fmt].export_name or f"report{EXTENSIONS[fmt]}"
        _write_text(console, opts.output / name, text(report))
        return
    if (
        opts.output is not None
        and (opts.output.is_dir() or str(opts.output).endswith(("/", "\\")))
        and len(reviews) > 1
    ):
        opts.output.mkdir(parents=True, exist_ok=True)
        for review, doc in zip(reviews, report["documents"], strict=True):
            single = {**report, "documents": [doc]}
            target = opts.output / (Path(review.document.path).stem + EXTENSIONS[fmt])
            _write_text(console, target, text(single))
        return
    if opts.output is not None:
        target = opts.output
        if target.is_dir() or str(target).endswith(("/", "\\")):
            target.mkdir(parents=True, exist_ok=True)
            stem = Path(reviews[0].document.path).stem if reviews else "report"
            target = target / (stem + EXTENSIONS[fmt])
        _write_text(console, target, text(report))
        return
    if fmt == "table":
        from prism_cli.reports import table

        for renderable in table.render(report, verbose=console.verbose):
            console.render(renderable)
        return
    rendered = text(report)
    if rendered:
        console.write(rendered.rstrip("\n"))


def _write_text(console: Console, target: Path, text: str) -> None:
    from prism_cli import outputs

    outputs.write_text(target, text)
    if not outputs.is_stdout(target):
        console.info(f"wrote {target}")


def _write_reviewed_copies(
    console: Console,
    output: Path | None,
    reviews: list[DocumentReview],
    only_accepted: bool = False,
) -> None:
    from prism_cli.core.findings import in_reviewed_copy
    from prism_cli.outputs import is_stdout
    from prism_cli.word.annotate import annotate

    several = len(reviews) > 1
    if output is not None and is_stdout(output) and several:
        raise UsageError("-o - writes one reviewed copy; give a folder for several documents")
    for review in reviews:
        source = Path(review.document.path)
        name = f"{source.stem}.reviewed.docx"
        if output is None:
            target = Path.cwd() / name
        elif is_stdout(output):
            target = output
        elif output.is_dir() or several or str(output).endswith(("/", "\\")):
            target = output / name
        else:
            target = output
        refuse_inputs(target, [r.document.path for r in reviews])
        chosen = [f for f in review.findings if in_reviewed_copy(f.status, only_accepted)]
        count = annotate(source, target, chosen, review.session_id or None)
        if not is_stdout(target):
            console.info(f"wrote {target} ({count} comments)")

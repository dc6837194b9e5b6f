"""``prism review``: its options, turned into a request for the review use case
(:mod:`prism_cli.app.review`), whose outcome :mod:`prism_cli.cli.outcome` renders."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

from prism_cli.cli import review_options as o
from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    ENV_EPILOG,
    FAIL_ON,
    FORMATS,
    SHORT,
    FailOn,
    ReviewOptions,
    application,
    command_app,
)
from prism_cli.cli.outcome import conclude, refuse_inputs, write_text
from prism_cli.errors import EXIT_CONFIG, EXIT_OK, UsageError

if TYPE_CHECKING:
    from prism_cli.app.review import Prepared

command = command_app()


@command.command("review", cls=PanelCommand, short_help=SHORT["review"], epilog=ENV_EPILOG)
def review(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(metavar="PATH", help="Files, directories or globs.", show_default=False),
    ] = None,
    models: o.Models = None,
    region: o.Region = None,
    profile: o.Profile = None,
    offline: o.Offline = False,
    no_rules: o.NoRules = False,
    fmt: o.Fmt = None,
    annotate_level: o.AnnotateLevel = None,
    base_dir: o.BaseDir = None,
    baseline: o.Baseline = None,
    new_only: o.NewOnly = False,
    output: o.Output = None,
    fail_on: o.FailLevel = FailOn.high,
    concurrency: o.Concurrency = 4,
    max_cost: o.MaxCost = None,
    thinking: o.Thinking = False,
    effort: o.Effort = None,
    thinking_budget: o.ThinkingBudget = None,
    framework: o.Framework = None,
    guidelines: o.Guidelines = None,
    min_confidence: o.MinConfidence = 0.8,
    max_tokens: o.MaxTokens = 4096,
    temperature: o.Temperature = 0.7,
    store: o.Store = None,
    session: o.Session = None,
    fresh: o.Fresh = False,
    wait: o.Wait = False,
    changed_since: o.ChangedSince = None,
    since: o.Since = None,
    fail_on_new: o.FailOnNew = None,
    dry_run: o.DryRun = False,
    log_json: o.LogJson = None,
    metrics: o.Metrics = None,
    queue: o.Queue = None,
    no_wait: o.NoWait = False,
    push: o.Push = None,
    sse_kms_key: o.SseKmsKey = None,
    only_accepted: o.OnlyAccepted = False,
    suggest: o.Suggest = False,
    suggest_author: o.SuggestAuthor = "prism",
    quiet: o.Quiet = False,
    verbose: o.Verbose = False,
) -> None:
    """Review documents against a framework with Claude on Bedrock (or --offline rules).

    Every run is a session: running the same command again resumes it, and sections already
    reviewed (in this session or any other, unchanged) are never sent to a model again.
    """
    given = {
        k: v for k, v in locals().items() if k not in ("ctx", "fmt", "store", "quiet", "verbose")
    }
    given |= {"paths": list(paths or []), "models": list(models or []), "rules": not no_rules}
    given |= {"fail_on": fail_on.value, "formats": [f.value for f in fmt or []]}
    given["fail_on_new"] = fail_on_new.value if fail_on_new else None
    given["fmt"] = fmt[0].value if fmt and len(fmt) == 1 else None
    given["annotate_level"] = annotate_level.value if annotate_level else None
    del given["no_rules"]
    app = application(ctx, store=store, quiet=quiet, verbose=verbose)
    raise typer.Exit(run_review(app, ReviewOptions(**given)))


def validate(app: Application, opts: ReviewOptions, fmt: str) -> None:
    """Refuse, before anything is read or spent, options that cannot work together."""
    from prism_cli.cli.limits import REVIEW
    from prism_cli.outputs import is_stdout

    if opts.fmt is not None and opts.fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if len(opts.formats) > 1:
        out = opts.output
        if out is None or (out.exists() and not out.is_dir()) or str(out) == "-":
            raise UsageError("several --format need -o DIR (each format is written there)")
    if opts.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    for name, check in REVIEW.items():
        if refused := check(getattr(opts, name)):
            raise UsageError(f"--{name.replace('_', '-')} {refused}")
    if opts.offline and (app.store_url or "").startswith("s3://"):
        raise UsageError("--offline makes no AWS calls: use a local or Redis --store with it")
    binary = fmt == "docx" and opts.output is not None and is_stdout(opts.output)
    if binary and app.console.stdout_is_tty:
        raise UsageError(
            "-f docx -o - writes a binary Word file to standard output, which is a "
            "terminal: redirect it (> copy.docx) or give -o FILE"
        )
    if opts.queue and (opts.log_json or opts.metrics):
        raise UsageError(
            "--log-json and --metrics record this process's model calls; with --queue the "
            "workers make them"
        )
    if opts.offline and opts.metrics:
        raise UsageError("--metrics publishes to CloudWatch: --offline makes no AWS call")
    if not opts.paths and not opts.changed_since:
        raise UsageError("give documents to review (PATH...), or --changed-since REF")
    if opts.dry_run and opts.offline:
        raise UsageError("--dry-run estimates a model review: --offline makes no call to estimate")
    if opts.suggest and fmt != "docx" and "docx" not in opts.formats:
        raise UsageError("--suggest writes tracked changes into the Word copy: use it with -f docx")
    if not opts.suggest_author.strip():
        raise UsageError("--suggest-author needs a name")
    if opts.queue and opts.since:
        raise UsageError(
            "--since is for a local run: queued workers find a previous version by the "
            "document's path or session"
        )
    if opts.queue and opts.offline:
        raise UsageError("--offline makes no model call: it has nothing to queue")


def run_review(app: Application, opts: ReviewOptions) -> int:
    from prism_cli.app import documents
    from prism_cli.app import review as use_case
    from prism_cli.telemetry import Telemetry, parse_metrics

    console = app.console
    fmt = app.output_format(opts.fmt, opts.output)
    validate(app, opts, fmt)
    request = opts.request(app.catalog_overrides, app.settings.section_rules)
    framework, settings = use_case.settings_for(request)
    telemetry = Telemetry(opts.log_json, parse_metrics(opts.metrics))
    codes = [EXIT_OK]
    if opts.changed_since:
        from prism_cli.inputs import changed_documents

        selected = changed_documents(
            opts.changed_since, opts.paths, opts.deleted, None if opts.since else opts.previous
        )
        many = "s" if len(selected) != 1 else ""
        gone = f", {len(opts.deleted)} deleted" if opts.deleted else ""
        console.info(f"{len(selected)} document{many} changed since {opts.changed_since}{gone}")
        if not selected:  # a successful run: its (empty) report is written all the same
            return conclude(app, opts, fmt, use_case.no_outcome(), None, codes)
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
    if not reviews:  # nothing to review: the report says so, in every format asked for
        return conclude(app, opts, fmt, use_case.no_outcome(), None, codes)
    request = use_case.with_previous(request, reviews, opts.since, opts.previous)
    if opts.dry_run:
        return _dry_run(app, opts, fmt, prepared)
    if opts.queue:
        return _queued(app, opts, fmt, prepared, codes)
    sessions = app.sessions  # an unreachable store stops the run before anything is written
    documents_ = [r.document.path for r in reviews]
    sections = sum(len(r.sections) for r in reviews)
    telemetry.event("run_start", documents=documents_, sections=sections, models=opts.models)
    prices = use_case.no_prices if opts.offline else use_case.catalog_prices(request)
    from prism_cli.cli.progress import Progress, review_hooks

    started_at = time.monotonic()
    with Progress(console, interval=app.settings.progress_interval) as progress:
        hooks = review_hooks(console, progress, telemetry, prices)
        outcome = use_case.execute(sessions, request, prepared, hooks, prices)
    took = time.monotonic() - started_at
    opts.seconds = took
    console.debug(f"review took {took:.1f}s")
    telemetry.run_end(outcome.report, took, len(outcome.fallbacks))
    telemetry.publish(opts.region, opts.profile, console.info, console.warn)
    telemetry.close()
    if outcome.no_usable_model:
        console.error(f"no usable model in the chain ({outcome.no_usable_model})")
        codes.append(EXIT_CONFIG)
    return conclude(app, opts, fmt, outcome, sessions, codes)


def _dry_run(app: Application, opts: ReviewOptions, fmt: str, prepared: Prepared) -> int:
    """--dry-run: the estimate; no call, no session written."""
    import json

    from prism_cli.app.estimate import dry_run
    from prism_cli.app.review import ReviewHooks
    from prism_cli.reports.estimate import to_text

    request = opts.request(app.catalog_overrides, app.settings.section_rules)

    def opened(_models: list[str], details: list[str]) -> None:
        for detail in details:
            app.console.debug(detail)

    hooks = ReviewHooks(engine_opened=opened)
    estimate = dry_run(app.sessions, request, prepared.reviews, prepared.settings, hooks)
    text = json.dumps(estimate, indent=2) if fmt == "json" else to_text(estimate)
    if opts.output is not None:
        write_text(app.console, opts.output, text)
    else:
        app.console.write(text)
    return EXIT_OK


def _queued(
    app: Application, opts: ReviewOptions, fmt: str, prepared: Prepared, codes: list[int]
) -> int:
    """--queue: the sections as jobs for `prism worker`s; then follow them (or --no-wait)."""
    from prism_cli.batch import model as batches
    from prism_cli.batch.submit import submit
    from prism_cli.cli.progress import follow_batch
    from prism_cli.stores.masking import mask_url, pasteable

    assert opts.queue is not None
    store_url = batches.require_shared_store(app.store_url)
    connection = batches.queue_connection(opts.queue)
    sessions, reviews = app.sessions, prepared.reviews
    batch = submit(
        sessions,
        connection,
        store_url,
        reviews,
        prepared.settings,
        fresh=opts.fresh,
        rules=opts.rules,
    )
    where = mask_url(opts.queue)
    app.console.info(
        f"batch {batch.id}: {batch.total} sections queued on {where} ({len(reviews)} documents)"
    )
    if opts.no_wait:
        app.console.write(batch.id)
        store = pasteable(store_url, "PRISM_STORE")
        app.console.info(
            f"follow it: prism batch wait {batch.id} --queue {pasteable(opts.queue, 'PRISM_QUEUE')}"
            + (f" --store {store}" if store != store_url else "")
        )
        return EXIT_OK
    outcome = follow_batch(app, connection, sessions, batch, opts.queue)
    return conclude(app, opts, fmt, outcome, sessions, codes)

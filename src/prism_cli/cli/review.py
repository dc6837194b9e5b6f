"""``prism review``: read, run the rules, review with Bedrock, report.

This module wires adapters to the core; the logic lives in ``core.pipeline``, ``core.rules``
and ``core.report``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prism_cli.console import Console
from prism_cli.errors import (
    EXIT_CONFIG,
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_INPUT,
    EXIT_OK,
    InputError,
    PrismError,
    UsageError,
    worst_exit_code,
)
from prism_cli.inputs import expand_paths
from prism_cli.reports import EXTENSIONS, render

FORMATS = ("table", "json", "markdown", "sarif", "junit", "github", "docx")
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
    store: str | None = None
    session: str | None = None
    fresh: bool = False
    wait: bool = False
    push: str | None = None
    sse_kms_key: str | None = None
    only_accepted: bool = False
    catalog_overrides: dict[str, Any] = field(default_factory=dict)


def _validate(opts: ReviewOptions) -> None:
    if opts.fmt is not None and opts.fmt not in FORMATS:
        raise UsageError(f"--format must be one of {', '.join(FORMATS)}")
    if opts.fail_on not in FAIL_ON:
        raise UsageError(f"--fail-on must be one of {', '.join(FAIL_ON)}")
    if not 0.0 <= opts.min_confidence <= 1.0:
        raise UsageError("--min-confidence must be between 0 and 1")
    if opts.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if opts.thinking_budget is not None and opts.thinking_budget < 1024:
        raise UsageError("--thinking-budget must be at least 1024 tokens")
    from prism_cli.core.catalog import EFFORT_LEVELS

    if opts.effort is not None and opts.effort not in EFFORT_LEVELS:
        raise UsageError(f"--effort must be one of {', '.join(EFFORT_LEVELS)}")
    if opts.max_tokens < 256:
        raise UsageError("--max-tokens must be at least 256")
    if opts.push is not None and not opts.push.startswith("s3://"):
        raise UsageError("--push must be an s3://bucket/prefix URL")
    if opts.session is not None:
        from prism_cli.core.session import validate_session_id

        try:
            validate_session_id(opts.session)
        except ValueError as exc:
            raise UsageError(f"--session: {exc}") from exc


def load_framework(path: Path | None) -> Any:
    from importlib import resources

    from prism_cli.core.framework import FrameworkError, parse_framework

    if path is None:
        text = resources.files("prism_cli.frameworks").joinpath("default.toml").read_text("utf-8")
        return parse_framework(text)
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            str(path), f"cannot read framework: {getattr(exc, 'strerror', None) or exc}"
        ) from exc
    try:
        return parse_framework(text)
    except FrameworkError as exc:
        raise InputError(str(path), f"invalid framework: {exc}") from exc


def load_guidelines(path: Path | None) -> str:
    if path is None:
        return ""
    if path.suffix.lower() in (".docx", ".docm", ".dotx", ".dotm"):
        from prism_cli.word.reader import read_document

        return "\n".join(b.text for b in read_document(path).blocks if b.text.strip())
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(
            str(path), f"cannot read guidelines: {getattr(exc, 'strerror', None) or exc}"
        ) from exc


class _Progress:
    """Per-document progress bars on a terminal; nothing when piped or quiet."""

    def __init__(self, console: Console, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._tasks: dict[str, Any] = {}
        self._progress: Any = None
        if enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[model]}"),
                TextColumn("{task.fields[tokens]} tok"),
                TimeElapsedColumn(),
                console=console.rich_err(),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def add(self, key: str, name: str, total: int) -> None:
        if self._progress is not None:
            self._tasks[key] = self._progress.add_task(name, total=total, model="", tokens=0)

    def advance(self, key: str, model: str | None, tokens: int) -> None:
        if self._progress is None:
            return
        with self._lock:
            task = self._tasks[key]
            current = self._progress.tasks[task].fields.get("tokens", 0)
            self._progress.update(task, advance=1, model=model or "", tokens=current + tokens)


def run_review(console: Console, opts: ReviewOptions) -> int:
    from prism_cli.core.findings import at_or_above
    from prism_cli.core.pipeline import ReviewSettings, SectionResult
    from prism_cli.core.report import DocumentReview, build_report
    from prism_cli.core.rules import run_rules
    from prism_cli.core.sections import split_sections
    from prism_cli.word.reader import read_document

    _validate(opts)
    fmt = opts.fmt or ("table" if console.stdout_is_tty else "json")
    framework = load_framework(opts.framework)
    guidelines = load_guidelines(opts.guidelines)

    codes = [EXIT_OK]
    expanded = expand_paths(opts.paths)
    for err in expanded.errors:
        console.error(str(err))
        codes.append(EXIT_INPUT)
    reviews: list[DocumentReview] = []
    for path in expanded.paths:
        try:
            document = read_document(path)
        except PrismError as exc:
            console.error(str(exc))
            codes.append(exc.exit_code)
            continue
        reviews.append(
            DocumentReview(
                document, split_sections(document.blocks), session_id=document.sha256[:12]
            )
        )
    if not reviews:
        return worst_exit_code(*codes)

    rule_findings: dict[str, list[Any]] = {}
    if opts.rules:
        for review in reviews:
            rule_findings[review.document.path] = run_rules(
                review.document, review.sections, framework
            )

    if opts.session is not None and len(reviews) > 1:
        raise UsageError("--session names one session: give one document")
    seen: dict[str, int] = {}
    for review in reviews:
        sid = opts.session or review.document.sha256[:12]
        seen[sid] = seen.get(sid, 0) + 1
        # Two copies of one document in a run: one session each (in path order, so stable).
        review.session_id = sid if seen[sid] == 1 else f"{sid}-{seen[sid]}"

    notes: list[str] = []
    fallbacks: list[dict[str, Any]] = []
    prices = _no_prices
    sessions: Any = None
    if opts.offline:
        for review in reviews:
            for section in review.sections:
                review.results[section.id] = SectionResult(
                    section.id, "skipped", error="offline: rules only"
                )
    else:
        from prism_cli.stores.service import Leases, open_sessions, parallel

        settings = ReviewSettings(
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            min_confidence=opts.min_confidence,
            concurrency=opts.concurrency,
            guidelines=guidelines,
        )
        # The store first: an unreachable one stops the run before anything is written.
        sessions = open_sessions(opts.store)
        reviewer, prices, notes = _make_reviewer(console, opts, settings)
        engine = reviewer.engine
        runs = [_SessionRun(sessions, review, framework, guidelines, opts) for review in reviews]
        leases = Leases(
            sessions,
            [run.sid for run in runs],
            wait=opts.wait,
            on_wait=lambda sid, holder: console.info(
                f"waiting for session {sid} (being reviewed by {holder})"
            ),
            on_lost=console.warn,
        )
        with leases:
            # Documents are prepared and finished side by side: store round trips overlap.
            jobs = [
                job for found in parallel(lambda run: run.prepare(console), runs) for job in found
            ]
            _review_jobs(console, reviewer, runs, jobs)
            notes = [*notes, *reviewer.notes]
            fallbacks = engine.fallbacks()
            failed = [r for rv in reviews for r in rv.results.values() if r.status == "failed"]
            if failed:
                codes.append(EXIT_INCOMPLETE)
                usable = [m for m in reviewer.chain if m.model_id not in reviewer.skipped]
                if not usable:
                    reasons = "; ".join(f"{m}: {why}" for m, why in reviewer.skipped.items())
                    console.error(f"no usable model in the chain ({reasons})")
                    codes.append(EXIT_CONFIG)
            parallel(
                lambda run: run.finish(
                    rule_findings.get(run.review.document.path, []), prices, notes, fallbacks
                ),
                runs,
            )

    for review in reviews:
        if sessions is None:
            _combine_findings(review, rule_findings.get(review.document.path, []))
        live = [f for f in review.findings if f.status != "rejected"]
        if at_or_above(live, opts.fail_on):
            codes.append(EXIT_FINDINGS)

    report = build_report(reviews, prices, notes, fallbacks)
    for note in notes:
        console.info(f"note: {note}")
    _emit(console, fmt, opts, report, reviews)
    if opts.push:
        _push(console, opts, report, reviews, sessions)
    return worst_exit_code(*codes)


def _combine_findings(review: Any, rule_findings: list[Any]) -> None:
    """The document's findings: rules and every section's, near-duplicates merged, sorted."""
    from prism_cli.core.findings import merge_near_duplicates, sort_findings

    found = list(rule_findings)
    for result in review.results.values():
        found.extend(result.findings)
    order = {s.id: s.index for s in review.sections}
    review.findings = sort_findings(merge_near_duplicates(found), order)


class _SessionRun:
    """One document's session during a review: reuse what is stored, record what finishes."""

    def __init__(
        self, sessions: Any, review: Any, framework: Any, guidelines: str, opts: ReviewOptions
    ) -> None:
        from prism_cli.core.prompts import PROMPT_VERSION
        from prism_cli.core.session import cache_key, digest

        self.sessions = sessions
        self.review = review
        self.sid: str = review.session_id
        self.opts = opts
        self.framework = framework
        shaping = f"{framework.digest}|min_confidence={opts.min_confidence}"
        self.keys = {
            s.id: cache_key(s.text, shaping, guidelines, PROMPT_VERSION) for s in review.sections
        }
        self.settings = {
            "framework": framework.name,
            "framework_digest": framework.digest,
            "guidelines_digest": digest(guidelines),
            "prompt_version": PROMPT_VERSION,
            "min_confidence": opts.min_confidence,
            "models": list(opts.models),
        }
        self.reused = 0

    def prepare(self, console: Console) -> list[Any]:
        """Load or create the session; return the jobs still to do."""
        from prism_cli.core.pipeline import DocumentContext, locator_for
        from prism_cli.core.session import REUSABLE, CorruptEntry, result_from_dict

        doc, sessions, sid = self.review.document, self.sessions, self.sid
        name = Path(doc.path).name
        try:
            meta = sessions.load(sid)
        except CorruptEntry as exc:
            if not self.opts.fresh:
                raise CorruptEntry(
                    f"{exc.message}; start it over with --fresh or `prism sessions delete {sid}`"
                ) from exc
            meta = None
        if meta is not None and self.opts.fresh:
            sessions.delete(sid)
            meta = None
        if meta is not None and meta["document"]["sha256"] != doc.sha256:
            raise UsageError(
                f"session {sid} holds another document ({meta['document'].get('name')}); "
                "use --fresh to start it over for this one"
            )
        sections_info = [
            {
                "id": s.id,
                "index": s.index,
                "title": s.title,
                "level": s.level,
                "locator": s.anchor_locator,
            }
            for s in self.review.sections
        ]
        document_info = {
            "path": str(Path(doc.path).resolve()),
            "name": name,
            "sha256": doc.sha256,
            "sections": sections_info,
        }
        stored: dict[str, Any] = {}
        if meta is None:
            sessions.new(sid, document_info, self.settings)
            sessions.put_document(sid, Path(doc.path).read_bytes())
            sessions.log(sid, "started", f"{name}: {len(self.review.sections)} sections")
        else:
            sessions.save({**meta, "status": "running", "document": document_info})
            present = set(sessions.result_ids(sid))
            for section in self.review.sections:
                if section.id not in present:
                    continue
                try:
                    data = sessions.result(sid, section.id)
                except CorruptEntry as exc:
                    console.warn(f"{exc.message}; reviewing that section again")
                    sessions.log(sid, "corrupt_entry", exc.message, section=section.id)
                    continue
                if data is not None:
                    stored[section.id] = data
        jobs = []
        ctx = DocumentContext(doc.path, self.review.sections, self.framework)
        for section in self.review.sections:
            key = self.keys[section.id]
            data = stored.get(section.id)
            if data is None or data.get("cache_key") != key or data.get("status") not in REUSABLE:
                data = None if self.opts.fresh else self._cached(console, key)
                if data is not None:
                    # Read from the cache: into the session only, no need to write it back.
                    sessions.put_result(sid, result_from_dict(data, section.id), key, cache=False)
                    sessions.log(sid, "cached", "unchanged section reused", section=section.id)
            if data is None:
                jobs.append((ctx, section))
                continue
            result = result_from_dict(data, section.id)
            result.usage = {}
            if result.status != "skipped":  # an empty section stays skipped
                result.status = "cached"
            for finding in result.findings:  # the cache may come from another document
                finding.locator = locator_for(section, finding.quote)
            self.review.results[section.id] = result
            self.reused += 1
        if meta is not None:
            sessions.log(
                sid, "resumed", f"{self.reused} of {len(self.review.sections)} sections reused"
            )
        return jobs

    def _cached(self, console: Console, key: str) -> dict[str, Any] | None:
        from prism_cli.core.session import CorruptEntry

        try:
            return self.sessions.cached(key)  # type: ignore[no-any-return]
        except CorruptEntry as exc:
            console.warn(f"{exc.message}; ignoring it")
            self.sessions.drop_cached(key)
            return None

    def record(self, result: Any) -> None:
        """Called as each section finishes (from worker threads): one atomic write."""
        sessions, sid = self.sessions, self.sid
        sessions.put_result(sid, result, self.keys[result.section_id])
        for event in result.events:
            if event.kind in ("fallback", "remap", "split", "invalid_output"):
                sessions.log(
                    sid, event.kind, event.detail, section=result.section_id, model=event.model
                )
        if result.status == "failed":
            sessions.log(sid, "failed", result.error or "", section=result.section_id)
        else:
            sessions.log(
                sid,
                "section_done",
                f"{len(result.findings)} findings, {result.attempts} attempts",
                section=result.section_id,
                model=result.model,
            )

    def interrupted(self) -> tuple[int, int]:
        done = sum(1 for r in self.review.results.values() if r.status != "failed")
        total = len(self.review.sections)
        meta = self.sessions.load(self.sid)
        if meta is not None:
            self.sessions.save({**meta, "status": "interrupted"})
        self.sessions.log(self.sid, "interrupted", f"{done} of {total} sections saved")
        return done, total

    def finish(
        self,
        rule_findings: list[Any],
        prices: Any,
        notes: list[str],
        fallbacks: list[dict[str, Any]] | None = None,
    ) -> None:
        from prism_cli.core.findings import Finding
        from prism_cli.core.report import build_report

        review, sessions, sid = self.review, self.sessions, self.sid
        _combine_findings(review, rule_findings)
        # The stored report has no decisions in it: they are applied when it is read.
        sessions.put_report(sid, build_report([review], prices, notes, fallbacks or []))
        failed = sum(1 for r in review.results.values() if r.status == "failed")
        meta = sessions.load(sid)
        if meta is not None:
            sessions.save({**meta, "status": "incomplete" if failed else "complete"})
        sessions.log(
            sid,
            "finished",
            f"{len(review.sections) - failed} of {len(review.sections)} sections reviewed, "
            f"{len(review.findings)} findings",
        )
        decisions = sessions.decisions(sid)
        accepted, rejected = set(decisions["accepted"]), set(decisions["rejected"])
        for f in review.findings:
            f.status = (
                "accepted" if f.id in accepted else "rejected" if f.id in rejected else "open"
            )
        review.findings.extend(Finding.model_validate(c) for c in decisions["custom"])


def _review_jobs(console: Console, reviewer: Any, runs: list[_SessionRun], jobs: list[Any]) -> None:
    import signal

    from prism_cli.errors import Interrupted

    by_path = {run.review.document.path: run for run in runs}
    lock = threading.Lock()
    show = console.stderr_is_tty and not console.quiet
    with _Progress(console, show) as progress:
        for run in runs:
            progress.add(
                run.review.document.path,
                Path(run.review.document.path).name,
                len(run.review.sections),
            )
            for _ in range(run.reused):
                progress.advance(run.review.document.path, "cached", 0)

        def on_section(ctx: Any, result: Any) -> None:
            if result.status == "interrupted":
                return
            run = by_path[ctx.key]
            run.record(result)
            with lock:
                run.review.results[result.section_id] = result
            tokens = sum(u.input_tokens + u.output_tokens for u in result.usage.values())
            progress.advance(ctx.key, result.model, tokens)
            if result.status == "failed" and not show:
                console.warn(
                    f"{Path(ctx.key).name}: section {result.section_id} not reviewed: {result.error}"
                )

        def on_term(_signum: int, _frame: Any) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_term)
        started = time.monotonic()
        try:
            reviewer.review_all(jobs, on_section)
        except KeyboardInterrupt:
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            from prism_cli.stores.service import parallel

            counts = parallel(lambda run: run.interrupted(), runs)
            done, total = sum(d for d, _ in counts), sum(t for _, t in counts)
            ids = [run.sid for run in runs]
            named = ", ".join(ids) if len(ids) <= 3 else f"{len(ids)} sessions"
            raise Interrupted(
                f"interrupted: {done} of {total} sections are saved (session "
                f"{named}); run the same command again to resume"
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        console.debug(f"reviewed {len(jobs)} sections in {time.monotonic() - started:.1f}s")


def _push(
    console: Console, opts: ReviewOptions, report: dict[str, Any], reviews: list[Any], sessions: Any
) -> None:
    from prism_cli import export

    assert opts.push is not None
    for review, doc in zip(reviews, report["documents"], strict=True):
        single = {**report, "documents": [doc]}
        activity = sessions.activity(review.session_id) if sessions is not None else []
        chat = sessions.chat(review.session_id) if sessions is not None else []
        files = export.build_files(
            single,
            docx=Path(review.document.path).read_bytes(),
            activity=activity,
            chat=chat,
            only_accepted=opts.only_accepted,
        )
        where = export.write(
            files,
            opts.push,
            export.folder_name(review.document.path),
            kms_key=opts.sse_kms_key,
        )
        if sessions is not None:
            sessions.log(review.session_id, "exported", where)
        console.info(f"pushed {where}")


def _no_prices(_model_id: str) -> tuple[float, float] | None:
    return None


def _make_reviewer(
    console: Console, opts: ReviewOptions, settings: Any
) -> tuple[Any, Any, list[str]]:
    from prism_cli.bedrock.setup import open_engine
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.requests import Thinking

    setup = open_engine(
        region=opts.region,
        profile=opts.profile,
        models=opts.models,
        overrides=opts.catalog_overrides,
        thinking=Thinking(opts.thinking, opts.effort, opts.thinking_budget),
        on_event=lambda event: (
            console.debug(f"{event.model}: {event.detail}")
            if event.kind in ("adapt", "remap", "set_aside")
            else None
        ),
    )
    for detail in setup.details:
        console.debug(detail)
    return Reviewer(setup.engine, settings), setup.catalog.prices, setup.notes


def _emit(
    console: Console, fmt: str, opts: ReviewOptions, report: dict[str, Any], reviews: list[Any]
) -> None:
    if fmt == "docx":
        _write_reviewed_copies(console, opts.output, reviews, opts.only_accepted)
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
            _write_text(target, render(fmt, single, opts.fail_on))
            console.info(f"wrote {target}")
        return
    if opts.output is not None:
        target = opts.output
        if target.is_dir():
            target = target / (Path(reviews[0].document.path).stem + EXTENSIONS[fmt])
        _write_text(target, render(fmt, report, opts.fail_on))
        console.info(f"wrote {target}")
        return
    if fmt == "table":
        from prism_cli.reports import table

        for renderable in table.render(report):
            console.render(renderable)
        return
    console.write(render(fmt, report, opts.fail_on))


def _write_text(target: Path, text: str) -> None:
    import os
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(str(target), f"cannot write: {exc.strerror or exc}") from exc


def _write_reviewed_copies(
    console: Console, output: Path | None, reviews: list[Any], only_accepted: bool = False
) -> None:
    from prism_cli.core.findings import in_reviewed_copy
    from prism_cli.word.annotate import annotate

    several = len(reviews) > 1
    for review in reviews:
        source = Path(review.document.path)
        name = f"{source.stem}.reviewed.docx"
        if output is None:
            target = Path.cwd() / name
        elif output.is_dir() or several or str(output).endswith(("/", "\\")):
            target = output / name
        else:
            target = output
        chosen = [f for f in review.findings if in_reviewed_copy(f.status, only_accepted)]
        count = annotate(source, target, chosen)
        console.info(f"wrote {target} ({count} comments)")

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
    ModelAccessError,
    PrismError,
    UsageError,
    worst_exit_code,
)
from prism_cli.inputs import expand_paths

FORMATS = ("table", "json", "markdown", "sarif", "junit", "github", "docx")
EXTENSIONS = {
    "json": ".json",
    "markdown": ".md",
    "sarif": ".sarif",
    "junit": ".xml",
    "github": ".txt",
    "table": ".txt",
}
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
    thinking_budget: int = 2048
    framework: Path | None = None
    guidelines: Path | None = None
    min_confidence: float = 0.8
    max_tokens: int = 4096
    temperature: float = 0.7
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
    if opts.thinking and opts.thinking_budget < 1024:
        raise UsageError("--thinking-budget must be at least 1024 tokens")
    if opts.max_tokens < 256:
        raise UsageError("--max-tokens must be at least 256")


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
    from prism_cli.core.findings import at_or_above, merge_near_duplicates, sort_findings
    from prism_cli.core.pipeline import DocumentContext, ReviewSettings, SectionResult
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

    notes: list[str] = []
    prices = _no_prices
    if opts.offline:
        for review in reviews:
            for section in review.sections:
                review.results[section.id] = SectionResult(
                    section.id, "skipped", error="offline: rules only"
                )
    else:
        settings = ReviewSettings(
            max_tokens=opts.max_tokens,
            temperature=opts.temperature,
            thinking=opts.thinking,
            thinking_budget=opts.thinking_budget,
            min_confidence=opts.min_confidence,
            concurrency=opts.concurrency,
            guidelines=guidelines,
        )
        reviewer, prices, notes = _make_reviewer(console, opts, settings)
        jobs = []
        contexts = {}
        for review in reviews:
            ctx = DocumentContext(review.document.path, review.sections, framework)
            contexts[review.document.path] = review
            jobs += [(ctx, s) for s in review.sections]
        lock = threading.Lock()
        show = console.stderr_is_tty and not console.quiet
        with _Progress(console, show) as progress:
            for review in reviews:
                progress.add(
                    review.document.path, Path(review.document.path).name, len(review.sections)
                )

            def on_section(ctx: DocumentContext, result: SectionResult) -> None:
                with lock:
                    contexts[ctx.key].results[result.section_id] = result
                tokens = sum(u.input_tokens + u.output_tokens for u in result.usage.values())
                progress.advance(ctx.key, result.model, tokens)
                if result.status == "failed" and not show:
                    console.warn(
                        f"{Path(ctx.key).name}: section {result.section_id} not reviewed: {result.error}"
                    )

            started = time.monotonic()
            reviewer.review_all(jobs, on_section)
            console.debug(f"reviewed {len(jobs)} sections in {time.monotonic() - started:.1f}s")
        notes = [*notes, *reviewer.notes]
        failed = [r for rv in reviews for r in rv.results.values() if r.status == "failed"]
        if failed:
            codes.append(EXIT_INCOMPLETE)
            usable = [m for m in reviewer.chain if m.model_id not in reviewer.skipped]
            if not usable:
                reasons = "; ".join(f"{m}: {why}" for m, why in reviewer.skipped.items())
                console.error(f"no usable model in the chain ({reasons})")
                codes.append(EXIT_CONFIG)

    for review in reviews:
        found = list(rule_findings.get(review.document.path, []))
        for result in review.results.values():
            found.extend(result.findings)
        order = {s.id: s.index for s in review.sections}
        review.findings = sort_findings(merge_near_duplicates(found), order)
        if at_or_above(review.findings, opts.fail_on):
            codes.append(EXIT_FINDINGS)

    report = build_report(reviews, prices, notes)
    for note in notes:
        console.info(f"note: {note}")
    _emit(console, fmt, opts, report, reviews)
    return worst_exit_code(*codes)


def _no_prices(_model_id: str) -> tuple[float, float] | None:
    return None


def _make_reviewer(
    console: Console, opts: ReviewOptions, settings: Any
) -> tuple[Any, Any, list[str]]:
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_boto_client
    from prism_cli.core.catalog import strip_geography
    from prism_cli.core.pipeline import Reviewer

    catalog = load_catalog(opts.catalog_overrides)
    boto_client, region = make_boto_client(opts.region, opts.profile)
    chain, notes = catalog.chain(region, opts.models or None)
    if not chain:
        raise ModelAccessError(f"no model of the chain is offered in {region}: " + "; ".join(notes))
    console.debug("chain: " + ", ".join(m.model_id for m in chain))

    def remap(model_id: str) -> str | None:
        return catalog.profile_for(strip_geography(model_id), region)

    return Reviewer(BedrockClient(boto_client), chain, settings, remap=remap), catalog.prices, notes


def _emit(
    console: Console, fmt: str, opts: ReviewOptions, report: dict[str, Any], reviews: list[Any]
) -> None:
    if fmt == "docx":
        _write_reviewed_copies(console, opts.output, reviews)
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
            _write_text(target, _render_text(fmt, single, opts.fail_on))
            console.info(f"wrote {target}")
        return
    if opts.output is not None:
        target = opts.output
        if target.is_dir():
            target = target / (Path(reviews[0].document.path).stem + EXTENSIONS[fmt])
        _write_text(target, _render_text(fmt, report, opts.fail_on))
        console.info(f"wrote {target}")
        return
    if fmt == "table":
        from prism_cli.reports import table

        for renderable in table.render(report):
            console.render(renderable)
        return
    console.write(_render_text(fmt, report, opts.fail_on))


def _render_text(fmt: str, report: dict[str, Any], fail_on: str) -> str:
    import json

    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False)
    if fmt == "markdown":
        from prism_cli.reports import markdown

        return markdown.render(report)
    if fmt == "sarif":
        from prism_cli.reports import sarif

        return sarif.render(report)
    if fmt == "junit":
        from prism_cli.reports import junit

        return junit.render(report, fail_on)
    if fmt == "github":
        from prism_cli.reports import github

        return github.render(report)
    from io import StringIO

    from rich.console import Console as RichConsole

    from prism_cli.reports import table

    buffer = StringIO()
    rich = RichConsole(file=buffer, no_color=True, width=120)
    for renderable in table.render(report):
        rich.print(renderable)
    return buffer.getvalue()


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


def _write_reviewed_copies(console: Console, output: Path | None, reviews: list[Any]) -> None:
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
        count = annotate(source, target, review.findings)
        console.info(f"wrote {target} ({count} comments)")

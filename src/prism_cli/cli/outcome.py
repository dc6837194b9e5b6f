"""What a review run's outcome becomes: the report in every format asked for, the Word
copies, the CI step summary, the push to S3 and the exit status. Shared by a local run and a
queued one."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.cli.application import Application
from prism_cli.console import Console
from prism_cli.errors import (
    EXIT_FINDINGS,
    EXIT_INCOMPLETE,
    EXIT_OK,
    UsageError,
    worst_exit_code,
)
from prism_cli.reports import EXTENSIONS, REGISTRY, render

if TYPE_CHECKING:
    from prism_cli.app.run import RunOutcome
    from prism_cli.core.findings import Finding
    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.core.report import DocumentReview
    from prism_cli.core.session import Sessions
    from prism_cli.reports.ci import Base


from prism_cli.cli.options import ReviewOptions

REGION_FACTS = (": not offered in ", " profile; global")
"""Notes that say the same of a region on every run."""


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
    if opts.deleted:
        outcome.report["summary"]["deleted"] = list(opts.deleted)
    if opts.seconds is not None:
        outcome.report["summary"]["seconds"] = round(opts.seconds, 3)
    if opts.framework_record:
        outcome.report["framework"] = opts.framework_record
    if outcome.failed:
        codes.append(EXIT_INCOMPLETE)
    from functools import cache

    base_of = cache(lambda: _base(opts))  # one git call at most, and only when needed
    open_ids = _baseline(console, opts, outcome.report, base_of)

    def is_live(review: DocumentReview, f: Finding) -> bool:
        if f.status == "rejected":
            return False
        return open_ids is None or (review.session_id, f.id) in open_ids

    level, flag = opts.fail_on, "--fail-on"
    if opts.fail_on_new:  # only what is new since each document's previous version
        level, flag = opts.fail_on_new, "--fail-on-new"

    def counts(review: DocumentReview, f: Finding) -> bool:
        if not opts.fail_on_new:
            return True
        return bool((review.since or {}).get("states", {}).get(f.id, "new") == "new")

    live = [f for r in reviews for f in r.findings if is_live(r, f) and counts(r, f)]
    if at_or_above(live, level):
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
    base = base_of() if {"sarif", "github"} & set(formats) else None
    for each in formats:
        _emit(console, each, opts, outcome.report, reviews, base, several=len(formats) > 1)
    code = worst_exit_code(*codes)
    verdict = _verdict(code, level, live, outcome.report, flag)
    _step_summary(console, outcome.report, verdict)
    if opts.push and sessions is not None:
        _push(console, opts, reviews, sessions)
    _say_fail_on(console, code, verdict, level, live)
    return code


def _step_summary(console: Console, report: JSONObject, verdict: str) -> None:
    """On GitHub Actions, a Markdown summary on the run's page ($GITHUB_STEP_SUMMARY), opening
    with the outcome."""

    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    from prism_cli.reports.markdown import summary

    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write(summary(report, outcome=verdict) + "\n")
    except OSError as exc:
        console.warn(f"cannot write the step summary to {target}: {exc.strerror or exc}")


def _baseline(
    console: Console, opts: ReviewOptions, report: JSONObject, base_of: Callable[[], Base]
) -> set[tuple[str, str]] | None:
    """Apply the baseline (``--baseline``, else ``.prism/baseline.json`` at the repository's
    top when there is one) to the report; the (session, finding) pairs left open, or None
    when there is no baseline."""
    from prism_cli.app import baseline as decisions

    path = opts.baseline
    if path is None:
        found = base_of().root
        candidate = Path(found) / decisions.DEFAULT_PATH
        if not candidate.is_file():
            if opts.new_only:
                raise UsageError(
                    f"--new-only needs a baseline: none at {candidate} (prism baseline)"
                )
            return None
        path = candidate
    elif not path.is_file():
        raise UsageError(f"--baseline {path}: no such file (prism baseline writes one)")
    counts = decisions.apply(report, decisions.load(path), new_only=opts.new_only)
    console.info(
        f"baseline {path}: {counts['known']} known finding{'s' if counts['known'] != 1 else ''}"
        f" ({counts['suppressed']} rejected), {counts['new']} new"
        + ("; only the new ones are reported" if opts.new_only else "")
    )
    return {
        (str(doc.get("session_id")), str(f["id"]))
        for doc in report["documents"]
        for f in doc["findings"]
        if f["status"] != "rejected"
    }


def _counted(findings: list[Finding], level: str) -> str:
    from prism_cli.core.findings import at_or_above

    hits = len(at_or_above(findings, level))
    return f"{hits} finding{'s' if hits != 1 else ''} at or above {level}"


def _verdict(
    code: int, fail_on: str, findings: list[Finding], report: JSONObject, flag: str = "--fail-on"
) -> str:
    """The run's outcome in one line that names its exit code: the last line on stderr and
    the first of the CI step summary."""
    from prism_cli.core.findings import at_or_above

    summary = report.get("summary") or {}
    failing = fail_on != "never" and bool(at_or_above(findings, fail_on))
    new = " new" if flag == "--fail-on-new" else ""
    counted = _counted(findings, fail_on).replace(" finding", f"{new} finding", 1)
    also = f"; {counted} ({flag} {fail_on})" if failing else ""
    if code == EXIT_OK:
        return (
            f"exit 0: no{new} finding at or above {fail_on}"
            if fail_on != "never"
            else (f"exit 0 ({flag} never)")
        )
    if code == EXIT_FINDINGS:
        return f"exit 1: {counted} ({flag} {fail_on}; never: always exit 0)"
    if code == EXIT_INCOMPLETE:
        capped = [n for n in summary.get("notes") or [] if str(n).startswith("the spending cap")]
        if capped:
            return f"exit 3: {capped[0]}{also}"
        failed = summary.get("failed", 0)
        return f"exit 3: {failed} section{'s' if failed != 1 else ''} could not be reviewed{also}"
    unreadable = len(summary.get("unreadable") or [])
    if unreadable:
        many = "s" if unreadable != 1 else ""
        return f"exit {code}: {unreadable} document{many} could not be read{also}"
    return f"exit {code}{also}"


def _say_fail_on(
    console: Console, code: int, verdict: str, fail_on: str, findings: list[Finding]
) -> None:
    """The last line: what the exit code says (CI reads it), and what --fail-on never hides."""
    from prism_cli.core.findings import at_or_above

    if code == EXIT_OK and fail_on == "never" and at_or_above(findings, "high"):
        console.info(
            "exit 0; with --fail-on high (the default, for CI) this run would exit 1: "
            + _counted(findings, "high")
        )
    elif code != EXIT_OK:
        console.info(verdict)


def _push(
    console: Console, opts: ReviewOptions, reviews: list[DocumentReview], sessions: Sessions
) -> None:
    """Export each document's session (as ``prism export`` does) to ``--push``."""
    from prism_cli.app.sessions import export_session

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
        _write_reviewed_copies(
            console,
            opts.output,
            reviews,
            opts.only_accepted,
            opts.suggest_author if opts.suggest else None,
        )
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
        write_text(console, opts.output / name, text(report))
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
            write_text(console, target, text(single))
        return
    if opts.output is not None:
        target = opts.output
        if target.is_dir() or str(target).endswith(("/", "\\")):
            target.mkdir(parents=True, exist_ok=True)
            stem = Path(reviews[0].document.path).stem if reviews else "report"
            target = target / (stem + EXTENSIONS[fmt])
        write_text(console, target, text(report))
        return
    if fmt == "table":
        from prism_cli.reports import table

        for renderable in table.render(report, verbose=console.verbose):
            console.render(renderable)
        return
    rendered = text(report)
    if rendered:
        console.write(rendered.rstrip("\n"))


def write_text(console: Console, target: Path, text: str) -> None:
    from prism_cli import outputs

    outputs.write_text(target, text)
    if not outputs.is_stdout(target):
        console.info(f"wrote {target}")


def _write_reviewed_copies(
    console: Console,
    output: Path | None,
    reviews: list[DocumentReview],
    only_accepted: bool = False,
    suggest: str | None = None,
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
        summary = None
        if review.since is not None:
            from prism_cli.reports.versions import since_comment

            summary = since_comment(review.since)
        made = annotate(source, target, chosen, review.session_id or None, summary, suggest)
        for fid, why in made.kept_as_comments:
            console.note(f"note: {fid}'s suggestion is a comment only: {why}")
        if not is_stdout(target):
            n = made.suggestions
            also = f", {n} suggested change{'s' if n != 1 else ''}" if suggest is not None else ""
            console.info(f"wrote {target} ({made.comments} comments{also})")
        if suggest is not None and not made.suggestions and not made.kept_as_comments:
            console.note(
                "note: no finding came with a rewrite (sections reviewed before prism asked "
                "for rewrites keep their findings: --fresh asks again)"
            )

"""The ``prism`` command. Heavy libraries are imported inside the commands that use them,
so ``prism --help`` and ``prism --version`` stay fast (a test checks the imports)."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from prism_cli import __version__
from prism_cli.cli.application import Application
from prism_cli.console import Console
from prism_cli.errors import EXIT_INTERRUPTED, PrismError

app = typer.Typer(
    name="prism",
    help="Review Word documents with Claude on Amazon Bedrock.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"prism {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Review Word documents with Claude on Amazon Bedrock."""
    from prism_cli.cli.config import default_map, find_config, load_config

    config = load_config(find_config())
    ctx.default_map = default_map(config)
    ctx.obj = config


def _app(
    ctx: typer.Context,
    *,
    store: str | None = None,
    quiet: bool = False,
    verbose: bool = False,
) -> Application:
    """The :class:`Application` a command works with (config from the root callback)."""
    config = ctx.find_root().obj
    return Application(
        Console(quiet=quiet, verbose=verbose),
        config if isinstance(config, dict) else {},
        store_url=store,
    )


class SectionsFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command()
def sections(
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories or globs.", show_default=False)
    ],
    fmt: Annotated[
        SectionsFormat | None,
        typer.Option(
            "--format", "-f", help="Output format [default: table on a terminal, else json]."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
) -> None:
    """Show the sections found in documents (no model call)."""
    from prism_cli.cli.sections import run_sections

    console = Console(quiet=quiet)
    raise typer.Exit(run_sections(console, paths, fmt.value if fmt else None))


class ReviewFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"
    sarif = "sarif"
    junit = "junit"
    github = "github"
    docx = "docx"


class FailOn(str, Enum):
    high = "high"
    medium = "medium"
    low = "low"
    never = "never"


@app.command()
def review(
    ctx: typer.Context,
    paths: Annotated[
        list[str], typer.Argument(help="Files, directories or globs.", show_default=False)
    ],
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            envvar="PRISM_MODEL",
            help="Model id or catalog key; repeat to set the fallback chain.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(envvar="PRISM_REGION", help="AWS region (default: AWS config).")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(envvar="PRISM_PROFILE", help="AWS profile.")
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            envvar="PRISM_OFFLINE", help="Built-in rules only: no AWS call, no credential lookup."
        ),
    ] = False,
    no_rules: Annotated[
        bool, typer.Option("--no-rules", envvar="PRISM_NO_RULES", help="Skip the built-in rules.")
    ] = False,
    fmt: Annotated[
        ReviewFormat | None,
        typer.Option(
            "--format",
            "-f",
            envvar="PRISM_FORMAT",
            help="Report format [default: table on a terminal, else json].",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            envvar="PRISM_OUTPUT",
            help="Write to a file, or a directory for several documents.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            envvar="PRISM_FAIL_ON", help="Exit 1 when a finding is at or above this severity."
        ),
    ] = FailOn.high,
    concurrency: Annotated[
        int,
        typer.Option(
            envvar="PRISM_CONCURRENCY",
            min=1,
            max=64,
            help="Sections reviewed at once (adapts to throttling).",
        ),
    ] = 4,
    thinking: Annotated[
        bool,
        typer.Option(
            "--thinking/--no-thinking",
            envvar="PRISM_THINKING",
            help="Extended thinking: adaptive on 4.6+ models, a token budget on older ones.",
        ),
    ] = False,
    effort: Annotated[
        str | None,
        typer.Option(
            envvar="PRISM_EFFORT",
            help="Thinking effort for adaptive models: low, medium, high, xhigh or max.",
        ),
    ] = None,
    thinking_budget: Annotated[
        int | None,
        typer.Option(
            envvar="PRISM_THINKING_BUDGET",
            help="Thinking budget in tokens (>= 1024) for budget-thinking models (4.5 and older).",
        ),
    ] = None,
    framework: Annotated[
        Path | None,
        typer.Option(envvar="PRISM_FRAMEWORK", help="Review framework (TOML checklist)."),
    ] = None,
    guidelines: Annotated[
        Path | None,
        typer.Option(envvar="PRISM_GUIDELINES", help="Extra guidelines (md, txt or docx)."),
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            envvar="PRISM_MIN_CONFIDENCE", help="Drop model findings below this confidence."
        ),
    ] = 0.8,
    max_tokens: Annotated[
        int, typer.Option(envvar="PRISM_MAX_TOKENS", help="Max output tokens per call.")
    ] = 4096,
    temperature: Annotated[
        float,
        typer.Option(
            envvar="PRISM_TEMPERATURE",
            help="Temperature, sent only to models that take one and only when not thinking.",
        ),
    ] = 0.7,
    store: Annotated[
        str | None,
        typer.Option(
            envvar="PRISM_STORE",
            help="Session store: file:///dir, redis://host:port/db or s3://bucket/prefix "
            "[default: the user data dir].",
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            envvar="PRISM_SESSION", help="Session id [default: from the document's content]."
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(help="Start the session over: no stored or cached result is reused."),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            envvar="PRISM_WAIT", help="Wait for another process reviewing the same session."
        ),
    ] = False,
    push: Annotated[
        str | None,
        typer.Option(envvar="PRISM_PUSH", help="Also export the results to s3://bucket/prefix."),
    ] = None,
    sse_kms_key: Annotated[
        str | None,
        typer.Option(envvar="PRISM_SSE_KMS_KEY", help="KMS key for --push (default: AES256)."),
    ] = None,
    only_accepted: Annotated[
        bool,
        typer.Option(help="Reviewed docx: only the findings accepted with `prism feedback`."),
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail on stderr.")
    ] = False,
) -> None:
    """Review documents against a framework with Claude on Bedrock (or --offline rules).

    Every run is a session: running the same command again resumes it, and sections already
    reviewed (in this session or any other, unchanged) are never sent to a model again.
    """
    from prism_cli.cli.review import ReviewOptions, run_review

    options = ReviewOptions(
        paths=paths,
        models=list(model or []),
        region=region,
        profile=profile,
        offline=offline,
        rules=not no_rules,
        fmt=fmt.value if fmt else None,
        output=output,
        fail_on=fail_on.value,
        concurrency=concurrency,
        thinking=thinking,
        thinking_budget=thinking_budget,
        effort=effort,
        framework=framework,
        guidelines=guidelines,
        min_confidence=min_confidence,
        max_tokens=max_tokens,
        temperature=temperature,
        session=session,
        fresh=fresh,
        wait=wait,
        push=push,
        sse_kms_key=sse_kms_key,
        only_accepted=only_accepted,
    )
    application = _app(ctx, store=store, quiet=quiet, verbose=verbose)
    raise typer.Exit(run_review(application, options))


@app.command()
def models(
    ctx: typer.Context,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", envvar="PRISM_MODEL", help="Chain to resolve instead of the default."
        ),
    ] = None,
    region: Annotated[str | None, typer.Option(envvar="PRISM_REGION", help="AWS region.")] = None,
    profile: Annotated[
        str | None, typer.Option(envvar="PRISM_PROFILE", help="AWS profile.")
    ] = None,
    check: Annotated[
        bool, typer.Option("--check", help="Send each model a tiny request and report access.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the account again (ignore the day-old cache).")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every model of the catalog, not only the chain.")
    ] = False,
    fmt: Annotated[
        SectionsFormat | None, typer.Option("--format", "-f", help="table or json.")
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="More detail on stderr.")
    ] = False,
) -> None:
    """Show the fallback chain resolved for the region: the id called, lifecycle, price,
    request rules and where each fact came from; --check tests access to each model."""
    from prism_cli.cli.models import ModelsOptions, run_models

    overrides = _app(ctx).catalog_overrides
    options = ModelsOptions(
        idents=list(model or []),
        region=region,
        profile=profile,
        check=check,
        refresh=refresh,
        show_all=show_all,
        fmt=fmt.value if fmt else None,
        overrides=overrides,
    )
    raise typer.Exit(run_models(Console(verbose=verbose), options))


StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="PRISM_STORE",
        help="Session store URL [default: the user data dir].",
    ),
]
ListFormat = Annotated[SectionsFormat | None, typer.Option("--format", "-f", help="table or json.")]

sessions_app = typer.Typer(
    help="Manage stored review sessions.", no_args_is_help=True, add_completion=False
)
app.add_typer(sessions_app, name="sessions")


@sessions_app.command("list")
def sessions_list(ctx: typer.Context, store: StoreOption = None, fmt: ListFormat = None) -> None:
    """List sessions, most recently updated first."""
    from prism_cli.cli.sessions import run_list

    raise typer.Exit(run_list(_app(ctx, store=store), fmt.value if fmt else None))


@sessions_app.command("show")
def sessions_show(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or the reviewed .docx.")],
    store: StoreOption = None,
    fmt: ListFormat = None,
) -> None:
    """Statistics and recent activity of one session."""
    from prism_cli.cli.sessions import run_show

    raise typer.Exit(run_show(_app(ctx, store=store), session, fmt.value if fmt else None))


@sessions_app.command("delete")
def sessions_delete(
    ctx: typer.Context,
    session: Annotated[list[str], typer.Argument(help="Session ids or reviewed .docx files.")],
    store: StoreOption = None,
) -> None:
    """Delete sessions (refused while one is being reviewed)."""
    from prism_cli.cli.sessions import run_delete

    raise typer.Exit(run_delete(_app(ctx, store=store), session))


@sessions_app.command("prune")
def sessions_prune(
    ctx: typer.Context,
    older_than: Annotated[
        str, typer.Option("--older-than", help="Age like 30d, 12h, 2w.", show_default=False)
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list them.")] = False,
    store: StoreOption = None,
) -> None:
    """Delete sessions not updated for a while."""
    from prism_cli.cli.sessions import run_prune

    raise typer.Exit(run_prune(_app(ctx, store=store), older_than, dry_run))


@app.command()
def feedback(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or the reviewed .docx.")],
    action: Annotated[str, typer.Argument(help="accept, reject, reopen or add.")],
    items: Annotated[
        list[str] | None,
        typer.Argument(
            help="Finding ids (accept/reject/reopen) or the text (add).", show_default=False
        ),
    ] = None,
    section: Annotated[str | None, typer.Option(help="add: the section id (s3) or title.")] = None,
    severity: Annotated[str, typer.Option(help="add: high, medium or low.")] = "medium",
    kind: Annotated[
        str, typer.Option("--type", help="add: critical, important, suggestion or positive.")
    ] = "important",
    title: Annotated[str, typer.Option(help="add: a title [default: the text's first line].")] = "",
    store: StoreOption = None,
) -> None:
    """Record the reviewer's decisions: accept or reject findings, or add your own.

    prism feedback ID accept s2-m1 s3-r1 | prism feedback ID add --section s3 --severity high "text"
    """
    from prism_cli.cli.sessions import run_feedback

    raise typer.Exit(
        run_feedback(
            _app(ctx, store=store),
            session,
            action,
            list(items or []),
            section,
            severity,
            kind,
            title,
        )
    )


@app.command("export")
def export_cmd(
    ctx: typer.Context,
    session: Annotated[str, typer.Argument(help="Session id or the reviewed .docx.")],
    to: Annotated[
        str, typer.Option("--to", help="A directory or s3://bucket/prefix.", show_default=False)
    ],
    only_accepted: Annotated[
        bool, typer.Option(help="reviewed.docx: only accepted findings.")
    ] = False,
    sse_kms_key: Annotated[
        str | None,
        typer.Option(envvar="PRISM_SSE_KMS_KEY", help="KMS key for S3 (default: AES256)."),
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            help="Also write the report as sarif, junit or github (repeatable); "
            "report.json and report.md are always written.",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write a session's results to a folder <UTC time>_<document>/ in DIR or on S3."""
    from prism_cli.cli.sessions import run_export

    raise typer.Exit(
        run_export(_app(ctx, store=store), session, to, only_accepted, sse_kms_key, list(fmt or []))
    )


def main() -> NoReturn:
    """Entry point: click handles usage errors (exit 2); prism's own errors are mapped here."""
    console = Console()
    try:
        app()
    except PrismError as exc:
        console.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)

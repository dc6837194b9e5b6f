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
from prism_cli.cli.entry import COMMANDS, SUMMARY
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.console import Console
from prism_cli.errors import EXIT_INTERRUPTED, PrismError

app = typer.Typer(
    name="prism",
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
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
    from prism_cli.cli.config import check_config, default_map, find_config, load_config
    from prism_cli.errors import ConfigError

    command = ctx.invoked_subcommand or ""
    path = find_config()
    try:
        config = load_config(path)
    except ConfigError as exc:
        if command not in NO_CONFIG:
            raise
        Console().warn(f"{exc} (ignored: prism {command} uses no configuration)")
        config = {}
    options, groups, params = _options(ctx)
    if path is not None and config:
        console = Console()
        for where, what, hint in check_config(path, config, options):
            console.warn(f"{where}: {what}{hint} (ignored)")
        if command == "doctor":
            # doctor vouches for every command: a value any of them refuses is its failure.
            problems: dict[str, list[str]] = {}
            for name in options:
                try:
                    _check_values(ctx, path, config, name, options[name], params[name])
                except ConfigError as exc:
                    problems.setdefault(str(exc), []).append(name)
            ctx.meta["config_problems"] = [
                f"{problem} (prism {', '.join(names)})" for problem, names in problems.items()
            ]
        elif command in options:
            _check_values(ctx, path, config, command, options[command], params[command])
    defaults = default_map(config, options, groups)
    for name, found in params.items():
        table = defaults.get(name)
        if not isinstance(table, dict):
            continue
        for param in found.values():
            value = table.get(getattr(param, "name", ""))
            if getattr(param, "multiple", False) and isinstance(value, str):
                table[getattr(param, "name", "")] = [value]  # format = "json" is one of them
    ctx.default_map = defaults
    ctx.obj = config


SHORT = dict(COMMANDS)

ENV_EPILOG = (
    "Every option can also be set as PRISM_<OPTION> (PRISM_FAIL_ON=medium) or in prism.toml "
    '([review] fail_on = "medium"); the command line wins, then the environment, then the file.'
)

NO_CONFIG = {"sections"}
"""Commands that read nothing from prism.toml: a broken one is a warning for them."""


def _options(
    ctx: typer.Context,
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]], dict[str, dict[str, object]]]:
    """For each command: config key -> parameter name, the subcommands of groups, and config
    key -> the option itself (to check values)."""
    options: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {}
    params: dict[str, dict[str, object]] = {}
    commands: dict[str, object] = getattr(ctx.command, "commands", {})
    for name, command in commands.items():
        subs: dict[str, object] = getattr(command, "commands", None) or {}
        keys: dict[str, str] = {}
        found: dict[str, object] = {}
        for each in list(subs.values()) or [command]:
            for param in getattr(each, "params", []):
                longs = [o for o in param.opts if o.startswith("--")]
                if param.param_type_name != "option" or not longs or not param.name:
                    continue
                key = longs[0][2:].replace("-", "_")
                keys[key], found[key] = param.name, param
        options[name], params[name] = keys, found
        if subs:
            groups[name] = list(subs)
    return options, groups, params


def _coerce(param: object, value: object, ctx: typer.Context) -> object:
    """A config value as the option would take it from the command line: click's own type
    conversion (typer 0.29 and later convert through pydantic, a slower path that every
    command then paid for; prism pins below it)."""
    runtime = getattr(param, "get_runtime_param", None)
    if runtime is not None:
        return runtime().coerce(value, param=param, ctx=ctx)
    return getattr(param, "type_cast_value")(ctx, value)  # noqa: B009


def _check_values(
    ctx: typer.Context,
    path: Path,
    config: dict[str, object],
    command: str,
    keys: dict[str, str],
    params: dict[str, object],
) -> None:
    """A value the command's option would refuse names the file, line and key: its type,
    choices and range, and what the command itself checks (:func:`value_refused`)."""
    from prism_cli.cli.config import line_of
    from prism_cli.cli.limits import value_refused
    from prism_cli.errors import ConfigError

    table = config.get(command)
    for scope in (None, command):
        values = config if scope is None else table
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, dict) or key not in keys:
                continue
            param = params[key]
            if getattr(param, "multiple", False) and isinstance(value, str):
                value = [value]  # format = "json": one of a repeatable option
            try:
                coerced = _coerce(param, value, ctx)
                if refused := value_refused(command, keys[key], coerced):
                    raise ValueError(refused)
            except (typer.BadParameter, ValueError, TypeError) as exc:
                line = line_of(path.read_text("utf-8"), scope, key)
                where = f"{path}:{line}" if line else str(path)
                section = f" in [{scope}]" if scope else ""
                reason = str(getattr(exc, "message", None) or exc).removeprefix("Value error, ")
                raise ConfigError(f"{where}: {key} = {value!r}{section}: {reason}") from None


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


RegionOption = Annotated[
    str | None,
    typer.Option(metavar="REGION", envvar="PRISM_REGION", show_envvar=False, help="AWS region."),
]
ProfileOption = Annotated[
    str | None,
    typer.Option(metavar="NAME", envvar="PRISM_PROFILE", show_envvar=False, help="AWS profile."),
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        metavar="MODEL",
        envvar="PRISM_MODEL",
        show_envvar=False,
        help="Model id or catalog key; repeat to set the fallback chain.",
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr.")]


class SectionsFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


@app.command(cls=PanelCommand, short_help=SHORT["sections"])
def sections(
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH", help="Files, directories or globs.", show_default=False),
    ],
    fmt: Annotated[
        SectionsFormat | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="table, json or markdown (default: table on a terminal, else json).",
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


@app.command(epilog=ENV_EPILOG, cls=PanelCommand, short_help=SHORT["review"])
def review(
    ctx: typer.Context,
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="PATH",
            help="Files, directories or globs.",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            "--model",
            "-m",
            metavar="MODEL",
            rich_help_panel="Model",
            envvar="PRISM_MODEL",
            show_envvar=False,
            help="Model id or catalog key; repeat to set the fallback chain.",
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            metavar="REGION",
            rich_help_panel="Model",
            envvar="PRISM_REGION",
            show_envvar=False,
            help="AWS region (default: AWS config).",
        ),
    ] = None,
    profile: Annotated[
        str | None,
        typer.Option(
            metavar="NAME",
            rich_help_panel="Model",
            envvar="PRISM_PROFILE",
            show_envvar=False,
            help="AWS profile.",
        ),
    ] = None,
    offline: Annotated[
        bool,
        typer.Option(
            "--offline",
            metavar="",
            rich_help_panel="Review",
            envvar="PRISM_OFFLINE",
            show_envvar=False,
            help="Built-in rules only: no AWS call, no credential lookup.",
        ),
    ] = False,
    no_rules: Annotated[
        bool,
        typer.Option(
            "--no-rules",
            metavar="",
            rich_help_panel="Review",
            envvar="PRISM_NO_RULES",
            show_envvar=False,
            help="Skip the built-in rules.",
        ),
    ] = False,
    fmt: Annotated[
        list[ReviewFormat] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            rich_help_panel="Output",
            envvar="PRISM_FORMAT",
            show_envvar=False,
            help="table, json, markdown, sarif, junit, github or docx (default: table on a "
            "terminal, else json); repeat for several, with -o DIR.",
        ),
    ] = None,
    annotate_level: Annotated[
        FailOn | None,
        typer.Option(
            metavar="LEVEL",
            rich_help_panel="Output",
            envvar="PRISM_ANNOTATE_LEVEL",
            show_envvar=False,
            help="-f github: findings at or above it (default: --fail-on).",
        ),
    ] = None,
    base_dir: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            rich_help_panel="Output",
            envvar="PRISM_BASE_DIR",
            show_envvar=False,
            help="CI paths are relative to it (default: git top level).",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="PATH",
            rich_help_panel="Output",
            envvar="PRISM_OUTPUT",
            show_envvar=False,
            help="Write to a file, or a directory for several documents.",
        ),
    ] = None,
    fail_on: Annotated[
        FailOn,
        typer.Option(
            metavar="LEVEL",
            rich_help_panel="Output",
            envvar="PRISM_FAIL_ON",
            show_envvar=False,
            help="Exit 1 on a finding at or above it: high, medium, low or never.",
        ),
    ] = FailOn.high,
    concurrency: Annotated[
        int,
        typer.Option(
            metavar="N",
            rich_help_panel="Model",
            envvar="PRISM_CONCURRENCY",
            show_envvar=False,
            min=1,
            max=64,
            help="Sections reviewed at once (adapts to throttling).",
        ),
    ] = 4,
    thinking: Annotated[
        bool,
        typer.Option(
            "--thinking",
            metavar="",
            rich_help_panel="Model",
            envvar="PRISM_THINKING",
            show_envvar=False,
            help="Extended thinking: adaptive on 4.6+ models, a token budget on older ones.",
        ),
    ] = False,
    effort: Annotated[
        str | None,
        typer.Option(
            metavar="LEVEL",
            rich_help_panel="Model",
            envvar="PRISM_EFFORT",
            show_envvar=False,
            help="Thinking effort for adaptive models: low, medium, high, xhigh or max.",
        ),
    ] = None,
    thinking_budget: Annotated[
        int | None,
        typer.Option(
            metavar="TOKENS",
            rich_help_panel="Model",
            envvar="PRISM_THINKING_BUDGET",
            show_envvar=False,
            help="Thinking budget in tokens (>= 1024) for budget-thinking models (4.5 and older).",
        ),
    ] = None,
    framework: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            rich_help_panel="Review",
            envvar="PRISM_FRAMEWORK",
            show_envvar=False,
            help="Review framework (TOML checklist).",
        ),
    ] = None,
    guidelines: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            rich_help_panel="Review",
            envvar="PRISM_GUIDELINES",
            show_envvar=False,
            help="Extra guidelines (md, txt or docx).",
        ),
    ] = None,
    min_confidence: Annotated[
        float,
        typer.Option(
            metavar="0-1",
            rich_help_panel="Review",
            envvar="PRISM_MIN_CONFIDENCE",
            show_envvar=False,
            help="Drop model findings below this confidence.",
        ),
    ] = 0.8,
    max_tokens: Annotated[
        int,
        typer.Option(
            metavar="N",
            rich_help_panel="Model",
            envvar="PRISM_MAX_TOKENS",
            show_envvar=False,
            help="Max output tokens per call.",
        ),
    ] = 4096,
    temperature: Annotated[
        float,
        typer.Option(
            metavar="T",
            rich_help_panel="Model",
            envvar="PRISM_TEMPERATURE",
            show_envvar=False,
            help="Temperature, sent only to models that take one and only when not thinking.",
        ),
    ] = 0.7,
    store: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            rich_help_panel="Session",
            envvar="PRISM_STORE",
            show_envvar=False,
            help="Session store: file:///dir, redis://host:port/db or s3://bucket/prefix "
            "(default: the user data dir).",
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            rich_help_panel="Session",
            envvar="PRISM_SESSION",
            show_envvar=False,
            help="Session id (default: from the document's content).",
        ),
    ] = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            metavar="",
            rich_help_panel="Session",
            help="Start the session over: no stored or cached result is reused.",
        ),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            metavar="",
            rich_help_panel="Session",
            envvar="PRISM_WAIT",
            show_envvar=False,
            help="Wait for another process reviewing the same session.",
        ),
    ] = False,
    changed_since: Annotated[
        str | None,
        typer.Option(
            metavar="REF",
            rich_help_panel="Review",
            envvar="PRISM_CHANGED_SINCE",
            show_envvar=False,
            help="Only documents changed since this git ref.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            metavar="",
            rich_help_panel="Review",
            help="Estimate sections, tokens and dollars; no call.",
        ),
    ] = False,
    log_json: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            rich_help_panel="Output",
            envvar="PRISM_LOG_JSON",
            show_envvar=False,
            help="Append one JSON object per event (calls, retries, fallbacks...) to FILE.",
        ),
    ] = None,
    metrics: Annotated[
        str | None,
        typer.Option(
            metavar="cloudwatch[:NS]",
            rich_help_panel="Output",
            envvar="PRISM_METRICS",
            show_envvar=False,
            help="Publish the run's metrics to CloudWatch (namespace: prism).",
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            rich_help_panel="Queue",
            envvar="PRISM_QUEUE",
            show_envvar=False,
            help="Queue sections on redis://... for `prism worker`s.",
        ),
    ] = None,
    no_wait: Annotated[
        bool,
        typer.Option(
            "--no-wait",
            metavar="",
            rich_help_panel="Queue",
            help="With --queue: print the batch id and exit.",
        ),
    ] = False,
    push: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            rich_help_panel="Output",
            envvar="PRISM_PUSH",
            show_envvar=False,
            help="Also export the results to s3://bucket/prefix.",
        ),
    ] = None,
    sse_kms_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            rich_help_panel="Output",
            envvar="PRISM_SSE_KMS_KEY",
            show_envvar=False,
            help="KMS key for --push (default: AES256).",
        ),
    ] = None,
    only_accepted: Annotated[
        bool,
        typer.Option(
            "--only-accepted",
            metavar="",
            rich_help_panel="Output",
            help="Reviewed docx: only the findings accepted with `prism feedback`.",
        ),
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", metavar="", rich_help_panel="Output", help="Only errors on stderr."
        ),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", "-v", metavar="", rich_help_panel="Output", help="More detail on stderr."
        ),
    ] = False,
) -> None:
    """Review documents against a framework with Claude on Bedrock (or --offline rules).

    Every run is a session: running the same command again resumes it, and sections already
    reviewed (in this session or any other, unchanged) are never sent to a model again.
    """
    from prism_cli.cli.options import ReviewOptions
    from prism_cli.cli.review import run_review

    options = ReviewOptions(
        paths=list(paths or []),
        changed_since=changed_since,
        dry_run=dry_run,
        log_json=log_json,
        metrics=metrics,
        models=list(model or []),
        region=region,
        profile=profile,
        offline=offline,
        rules=not no_rules,
        fmt=fmt[0].value if fmt and len(fmt) == 1 else None,
        formats=[f.value for f in fmt or []],
        annotate_level=annotate_level.value if annotate_level else None,
        base_dir=base_dir,
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
        queue=queue,
        no_wait=no_wait,
    )
    application = _app(ctx, store=store, quiet=quiet, verbose=verbose)
    raise typer.Exit(run_review(application, options))


QueueOption = Annotated[
    str,
    typer.Option(
        metavar="URL",
        envvar="PRISM_QUEUE",
        show_envvar=False,
        help="The queue: redis://host:port/db.",
    ),
]


@app.command(cls=PanelCommand, short_help=SHORT["worker"], epilog=ENV_EPILOG)
def worker(
    ctx: typer.Context,
    queue: QueueOption,
    burst: Annotated[
        bool, typer.Option("--burst", metavar="", help="Stop when the queue is empty.")
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            metavar="N", min=1, max=64, help="Worker processes on this machine (one call each)."
        ),
    ] = 1,
    log_json: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Append one JSON object per event (calls, retries, fallbacks, sections).",
        ),
    ] = None,
    abandon_after: Annotated[
        int,
        typer.Option(
            metavar="SECONDS",
            min=3,
            max=600,
            help="A job whose worker sends no heartbeat this long goes to another worker.",
        ),
    ] = 12,
    region: RegionOption = None,
    profile: ProfileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run queued review jobs (from `prism review --queue`) until stopped.

    Workers on as many machines as you like share one Bedrock quota per model, kept in the
    queue's Redis. SIGTERM or Ctrl-C: the call in flight finishes, the rest stays queued.
    """
    from prism_cli.cli.queue import run_worker

    application = _app(ctx, verbose=verbose)
    raise typer.Exit(
        run_worker(application, queue, burst, concurrency, region, profile, log_json, abandon_after)
    )


batch_app = typer.Typer(
    help="Follow or cancel a queued review (`prism review --queue ... --no-wait`).",
    no_args_is_help=True,
)
app.add_typer(batch_app, name="batch", short_help=SHORT["batch"])


@batch_app.command("status", cls=PanelCommand)
def batch_status(
    ctx: typer.Context, batch_id: Annotated[str, typer.Argument(metavar="ID")], queue: QueueOption
) -> None:
    """Sections done, failed and left, per document."""
    from prism_cli.cli.queue import run_batch

    raise typer.Exit(run_batch(_app(ctx), "status", batch_id, queue))


@batch_app.command("wait", cls=PanelCommand)
def batch_wait(
    ctx: typer.Context,
    batch_id: Annotated[str, typer.Argument(metavar="ID")],
    queue: QueueOption,
    fmt: Annotated[
        ReviewFormat | None,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="The report's format, as for review."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="PATH", help="Write the report to a file."),
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(metavar="LEVEL", help="As for review.")] = FailOn.high,
) -> None:
    """Wait until every section is done, then print the report as `prism review` does."""
    from prism_cli.cli.queue import run_batch

    raise typer.Exit(
        run_batch(
            _app(ctx),
            "wait",
            batch_id,
            queue,
            fmt=fmt.value if fmt else None,
            output=output,
            fail_on=fail_on.value,
        )
    )


@batch_app.command("cancel", cls=PanelCommand)
def batch_cancel(
    ctx: typer.Context, batch_id: Annotated[str, typer.Argument(metavar="ID")], queue: QueueOption
) -> None:
    """Cancel the sections not started yet (those running finish)."""
    from prism_cli.cli.queue import run_batch

    raise typer.Exit(run_batch(_app(ctx), "cancel", batch_id, queue))


@app.command(cls=PanelCommand, short_help=SHORT["models"])
def models(
    ctx: typer.Context,
    model: ModelOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
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
        SectionsFormat | None,
        typer.Option("--format", "-f", metavar="FORMAT", help="table, json or markdown."),
    ] = None,
    verbose: VerboseOption = False,
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
        metavar="URL",
        envvar="PRISM_STORE",
        show_envvar=False,
        help="Session store URL (default: the user data dir).",
    ),
]
ListFormat = Annotated[
    SectionsFormat | None,
    typer.Option("--format", "-f", metavar="FORMAT", help="table, json or markdown."),
]

sessions_app = typer.Typer(
    help="Manage stored review sessions.", no_args_is_help=True, add_completion=False
)
app.add_typer(sessions_app, name="sessions", short_help=SHORT["sessions"])


@sessions_app.command("list", cls=PanelCommand)
def sessions_list(ctx: typer.Context, store: StoreOption = None, fmt: ListFormat = None) -> None:
    """List sessions, most recently updated first."""
    from prism_cli.cli.sessions import run_list

    raise typer.Exit(run_list(_app(ctx, store=store), fmt.value if fmt else None))


@sessions_app.command("show", cls=PanelCommand)
def sessions_show(
    ctx: typer.Context,
    session: Annotated[
        str, typer.Argument(metavar="SESSION", help="Session id or the reviewed .docx.")
    ],
    store: StoreOption = None,
    fmt: ListFormat = None,
) -> None:
    """Statistics and recent activity of one session."""
    from prism_cli.cli.sessions import run_show

    raise typer.Exit(run_show(_app(ctx, store=store), session, fmt.value if fmt else None))


@sessions_app.command("delete", cls=PanelCommand)
def sessions_delete(
    ctx: typer.Context,
    session: Annotated[
        list[str], typer.Argument(metavar="SESSION", help="Session ids or reviewed .docx files.")
    ],
    store: StoreOption = None,
) -> None:
    """Delete sessions (refused while one is being reviewed)."""
    from prism_cli.cli.sessions import run_delete

    raise typer.Exit(run_delete(_app(ctx, store=store), session))


@sessions_app.command("prune", cls=PanelCommand)
def sessions_prune(
    ctx: typer.Context,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than", metavar="AGE", help="Age like 30d, 12h, 2w.", show_default=False
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list them.")] = False,
    store: StoreOption = None,
) -> None:
    """Delete sessions not updated for a while."""
    from prism_cli.cli.sessions import run_prune

    raise typer.Exit(run_prune(_app(ctx, store=store), older_than, dry_run))


@app.command(cls=PanelCommand, short_help=SHORT["feedback"])
def feedback(
    ctx: typer.Context,
    session: Annotated[
        str, typer.Argument(metavar="SESSION", help="Session id or the reviewed .docx.")
    ],
    action: Annotated[str, typer.Argument(metavar="ACTION", help="accept, reject, reopen or add.")],
    items: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ITEM",
            help="Finding ids (accept/reject/reopen) or the text (add).",
            show_default=False,
        ),
    ] = None,
    section: Annotated[
        str | None, typer.Option(metavar="SECTION", help="add: the section id (s3) or title.")
    ] = None,
    severity: Annotated[
        str, typer.Option(metavar="LEVEL", help="add: high, medium or low.")
    ] = "medium",
    kind: Annotated[
        str,
        typer.Option(
            "--type", metavar="TYPE", help="add: critical, important, suggestion or positive."
        ),
    ] = "important",
    title: Annotated[
        str, typer.Option(metavar="TEXT", help="add: a title (default: the text's first line).")
    ] = "",
    store: StoreOption = None,
) -> None:
    """Record the reviewer's decisions: accept or reject findings, or add your own.

    \b
    prism feedback ID accept s2-m1 s3-r1
    prism feedback ID add --section s3 --severity high "text"
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


class ChatFormat(str, Enum):
    text = "text"
    json = "json"


@app.command(cls=PanelCommand, short_help=SHORT["chat"], epilog=ENV_EPILOG)
def chat(
    ctx: typer.Context,
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="[SESSION|DOCX]",
            help="Session id or document (default: the most recent session).",
            show_default=False,
        ),
    ] = None,
    ask: Annotated[
        str | None,
        typer.Option("--ask", metavar="TEXT", help="Answer this question and exit."),
    ] = None,
    fmt: Annotated[
        ChatFormat,
        typer.Option("--format", "-f", metavar="FORMAT", help="text or json (one per answer)."),
    ] = ChatFormat.text,
    section: Annotated[
        str | None,
        typer.Option(metavar="N", help="Start with this section in focus (number or title)."),
    ] = None,
    model: ModelOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    store: StoreOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Talk about a document and its review: answers grounded in its sections and findings,
    streamed, kept in the session. --ask, or questions on stdin, answer without a terminal."""
    from prism_cli.cli.chat import ChatOptions, run_chat

    options = ChatOptions(
        target=target,
        ask=ask,
        fmt=fmt.value,
        region=region,
        profile=profile,
        models=list(model or []),
        section=section,
    )
    raise typer.Exit(run_chat(_app(ctx, store=store, verbose=verbose), options))


@app.command(cls=PanelCommand, short_help=SHORT["doctor"], epilog=ENV_EPILOG)
def doctor(
    ctx: typer.Context,
    store: StoreOption = None,
    push: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            envvar="PRISM_PUSH",
            show_envvar=False,
            help="Also check this s3://bucket/prefix (exists, region, writable, encryption).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")
    ] = "table",
    offline: Annotated[
        bool, typer.Option("--offline", metavar="", help="Skip every AWS check.")
    ] = False,
    model: ModelOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
) -> None:
    """Check what prism needs: configuration, AWS credentials and region, each model of the
    chain (access, lifecycle, quotas), the session store and the --push destination.

    Exit 0 when every check passes or only warns, 4 when any fails.
    """
    from prism_cli.cli.config import find_config
    from prism_cli.cli.doctor import run_doctor
    from prism_cli.doctor import DoctorOptions

    def from_flag(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    given = {
        key: str(value)
        for key, value in (("store", store), ("region", region), ("profile", profile))
        if value is not None and from_flag(key)
    }
    if model and from_flag("model"):
        given["model"] = ",".join(model)
    application = _app(ctx, store=store)
    path = find_config()
    options = DoctorOptions(
        store=store,
        push=push,
        region=region,
        profile=profile,
        models=list(model or []),
        offline=offline,
        config_path=str(path) if path else None,
        config=application.config,
        overrides=application.catalog_overrides,
        flags=given,
        config_problems=list(ctx.find_root().meta.get("config_problems", [])),
    )
    raise typer.Exit(run_doctor(application, options, fmt))


@app.command("export", cls=PanelCommand, short_help=SHORT["export"])
def export_cmd(
    ctx: typer.Context,
    session: Annotated[
        str, typer.Argument(metavar="SESSION", help="Session id or the reviewed .docx.")
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="DEST", help="A directory or s3://bucket/prefix.", show_default=False
        ),
    ],
    only_accepted: Annotated[
        bool, typer.Option("--only-accepted", help="reviewed.docx: only accepted findings.")
    ] = False,
    sse_kms_key: Annotated[
        str | None,
        typer.Option(
            metavar="KEY",
            envvar="PRISM_SSE_KMS_KEY",
            show_envvar=False,
            help="KMS key for S3 (default: AES256).",
        ),
    ] = None,
    fmt: Annotated[
        list[str] | None,
        typer.Option(
            "--format",
            "-f",
            metavar="FORMAT",
            help="Also write the report as sarif, junit or github (repeatable); "
            "report.json and report.md are always written.",
        ),
    ] = None,
    store: StoreOption = None,
) -> None:
    """Write a session's results to a folder <UTC time>_<document>_<id>/ in DEST (a directory
    or S3)."""
    from prism_cli.cli.sessions import run_export

    raise typer.Exit(
        run_export(_app(ctx, store=store), session, to, only_accepted, sse_kms_key, list(fmt or []))
    )


def main() -> NoReturn:
    """Entry point: click handles usage errors (exit 2); prism's own errors are mapped here."""
    console = Console()
    try:
        app(prog_name="prism")
    except PrismError as exc:
        console.error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        console.error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)

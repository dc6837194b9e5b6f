"""What several commands share: the options they declare alike (``--region``, ``--store``,
``--format`` choices...), :func:`opt` to declare one in a line, the :class:`Application` a
command works with, and the options of ``prism review`` as one value (``ReviewOptions``, also
what ``prism batch wait`` renders with)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.commands import COMMANDS
from prism_cli.console import Console

if TYPE_CHECKING:
    from prism_cli.app.review import ReviewRequest
    from prism_cli.core.sections import SectionRules

SHORT = dict(COMMANDS)

ENV_EPILOG = (
    "Every option can also be set as PRISM_<OPTION> (PRISM_FAIL_ON=medium) or in prism.toml "
    '([review] fail_on = "medium"); the command line wins, then the environment, then the file.'
)


def opt(
    *decls: str,
    help: str,
    metavar: str | None = None,
    panel: str | None = None,
    env: str | None = None,
    min: int | None = None,
    max: int | None = None,
) -> object:
    """One option: ``env`` is the name after ``PRISM_`` (kept out of the help, which says it
    once in the epilog)."""
    return typer.Option(
        *decls,
        help=help,
        metavar=metavar,
        rich_help_panel=panel,
        envvar=f"PRISM_{env}" if env else None,
        show_envvar=False,
        min=min,
        max=max,
    )


def application(
    ctx: typer.Context, *, store: str | None = None, quiet: bool = False, verbose: bool = False
) -> Application:
    """The :class:`Application` a command works with (the config read by the root callback)."""
    root = ctx.find_root()
    return Application(
        Console(quiet=quiet, verbose=verbose),
        root.obj if isinstance(root.obj, dict) else {},
        store_url=store,
        config_path=root.meta.get("config_path"),
        settings=root.meta.get("settings"),
    )


class TableFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


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


RegionOption = Annotated[str | None, opt(metavar="REGION", env="REGION", help="AWS region.")]
ProfileOption = Annotated[str | None, opt(metavar="NAME", env="PROFILE", help="AWS profile.")]
ModelOption = Annotated[
    list[str] | None,
    opt(
        "--model",
        "-m",
        metavar="MODEL",
        env="MODEL",
        help="Model id or catalog key; repeat to set the fallback chain.",
    ),
]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="More detail on stderr.")]
StoreOption = Annotated[
    str | None,
    opt(
        "--store",
        metavar="URL",
        env="STORE",
        help="Session store URL (default: the user data dir).",
    ),
]
QueueOption = Annotated[
    str, opt(metavar="URL", env="QUEUE", help="The queue: redis://host:port/db.")
]
ListFormat = Annotated[
    TableFormat | None,
    typer.Option("--format", "-f", metavar="FORMAT", help="table, json or markdown."),
]
SessionArgument = Annotated[
    str, typer.Argument(metavar="SESSION", help="Session id or the reviewed .docx.")
]


FORMATS = tuple(f.value for f in ReviewFormat)
"""The report formats (a test holds them to the reports' registry)."""


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
    suggest: bool = False
    """-f docx: each finding's replacement as a tracked change."""
    suggest_author: str = "prism"
    queue: str | None = None
    no_wait: bool = False
    formats: list[str] = field(default_factory=list)
    """Several ``-f`` (each to its own file in ``-o DIR``); one is ``fmt``."""
    annotate_level: str | None = None
    base_dir: Path | None = None
    unreadable: list[dict[str, str]] = field(default_factory=list)
    """Documents that could not be read: in every report format."""
    seconds: float | None = None
    """How long the run took (JUnit's time)."""
    deleted: list[str] = field(default_factory=list)
    """With --changed-since: the documents deleted since the ref (the report says so)."""
    baseline: Path | None = None
    """The baseline file of decisions kept in the repository (None: .prism/baseline.json
    at the repository's top, when there is one)."""
    new_only: bool = False
    max_cost: float | None = None
    framework_record: dict[str, object] | None = None
    changed_since: str | None = None
    since: str | None = None
    """The previous version of the one document (``--since``)."""
    previous: dict[str, str] = field(default_factory=dict)
    """Each document's previous version by path (``--since``; ``--changed-since``: the base
    commit's copy, by its digest)."""
    fail_on_new: str | None = None
    """Exit 1 only on findings new since the previous version at or above this level."""
    dry_run: bool = False
    log_json: Path | None = None
    metrics: str | None = None

    def request(
        self, catalog_overrides: dict[str, object], sections: SectionRules | None = None
    ) -> ReviewRequest:
        """These options as the review use case takes them (``sections``: how documents are
        split, from prism.toml's ``[sections]``)."""
        from prism_cli.app.review import ReviewRequest
        from prism_cli.core.sections import DEFAULT_RULES

        return ReviewRequest(
            framework=self.framework,
            guidelines=self.guidelines,
            session=self.session,
            rules=self.rules,
            offline=self.offline,
            fresh=self.fresh,
            wait=self.wait,
            min_confidence=self.min_confidence,
            models=tuple(self.models),
            thinking=self.thinking,
            effort=self.effort,
            thinking_budget=self.thinking_budget,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            region=self.region,
            profile=self.profile,
            concurrency=self.concurrency,
            catalog_overrides=catalog_overrides,
            sections=sections or DEFAULT_RULES,
            max_cost=self.max_cost,
            previous=tuple(sorted(self.previous.items())),
        )


def command_app(
    name: str | None = None,
    help: str | None = None,
    short_help: str | None = None,
) -> typer.Typer:
    """The Typer a command module declares its command on; with a name, a group of them."""
    return typer.Typer(
        name=name,
        help=help,
        short_help=short_help,
        no_args_is_help=name is not None,
        add_completion=False,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )

"""The review use case: a :class:`ReviewRequest` in, a :class:`~prism_cli.app.run.RunOutcome`
out. The documents are read and split, given their sessions, checked by the rules and
reviewed through the review service; the model engine opens only when a section is left to
review. Front ends (the CLI, a test, another tool) say what to review and render the outcome;
what happens on the way reaches them through :class:`ReviewHooks`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prism_cli.app import documents
from prism_cli.core.sections import DEFAULT_RULES, SectionRules
from prism_cli.errors import NoCredentials, SessionBusy, UsageError

if TYPE_CHECKING:
    from prism_cli.app.documents import Unreadable
    from prism_cli.app.run import RunOutcome, RunSettings
    from prism_cli.core.findings import Finding
    from prism_cli.core.framework import Framework
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.report import DocumentReview, PriceLookup
    from prism_cli.core.results import Event, SectionResult
    from prism_cli.core.session import Sessions
    from prism_cli.engine.engine import EngineEvent


@dataclass(frozen=True)
class ReviewRequest:
    """What to review and how: every choice a review run takes, and nothing about output."""

    framework: Path | None = None
    guidelines: Path | None = None
    session: str | None = None
    rules: bool = True
    offline: bool = False
    fresh: bool = False
    wait: bool = False
    min_confidence: float = 0.8
    models: tuple[str, ...] = ()
    thinking: bool = False
    effort: str | None = None
    thinking_budget: int | None = None
    max_tokens: int = 4096
    temperature: float | None = 0.7
    region: str | None = None
    profile: str | None = None
    concurrency: int = 4
    sections: SectionRules = DEFAULT_RULES
    """How documents are split (prism.toml's ``[sections]``)."""
    max_cost: float | None = None
    """Dollars the run may spend (``--max-cost``); None: no cap."""
    previous: tuple[tuple[str, str], ...] = ()
    """(document path, its previous version: a session id, a reviewed file or
    ``sha256:<digest>``) where the run names it (``--since``, ``--changed-since``)."""
    catalog_overrides: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass
class Prepared:
    """Documents ready to review: read, split, given sessions, checked by the rules."""

    reviews: list[DocumentReview]
    unreadable: list[Unreadable]
    framework: Framework
    settings: RunSettings
    rules: bool
    """The built-in rules run (when a report is built: an unchanged rerun takes its stored
    report and runs nothing)."""

    def rule_findings(self, review: DocumentReview) -> list[Finding]:
        from prism_cli.core.rules import run_rules

        return run_rules(review.document, review.sections, self.framework, review.title)


def _nothing(*_args: Any) -> None:
    return None


@dataclass
class ReviewHooks:
    """What a front end hears of a run (all optional, all called from the run's threads)."""

    started: Callable[[str, str, int, int], None] = _nothing
    """(document key, name, sections, reused)"""
    section_start: Callable[[str, str], None] = _nothing
    """(document key, section id), as a model starts on it"""
    section_done: Callable[[str, SectionResult], None] = _nothing
    engine_event: Callable[[EngineEvent], None] = _nothing
    """Every model-engine event: calls, errors, waits, fallbacks."""
    engine_opened: Callable[[list[str], list[str]], None] = _nothing
    """(the chain's model ids, where its facts came from), when the engine opens"""
    warn: Callable[[str], None] = _nothing
    waiting: Callable[[str, str], None] = _nothing
    """(session id, holder): the session is being reviewed elsewhere; --wait waits"""


def settings_for(request: ReviewRequest) -> tuple[Framework, RunSettings]:
    """The framework and the run settings a request asks for (files read and checked)."""
    from prism_cli.app.inputs import load_framework, load_guidelines
    from prism_cli.app.run import RunSettings

    framework = load_framework(request.framework)
    settings = RunSettings(
        framework=framework,
        guidelines=load_guidelines(request.guidelines),
        min_confidence=request.min_confidence,
        models=request.models,
        thinking=request.thinking,
        effort=request.effort,
        thinking_budget=request.thinking_budget,
        max_tokens=request.max_tokens,
        temperature=request.temperature,
        sections=request.sections,
    )
    return framework, settings


def prepare(
    request: ReviewRequest,
    paths: Sequence[Path],
    unreadable: Sequence[Unreadable] = (),
    settings: tuple[Framework, RunSettings] | None = None,
) -> Prepared:
    """Read and split ``paths``, give each document its session."""
    from prism_cli.app.run import assign_session_ids

    framework, run_settings = settings or settings_for(request)
    loaded = documents.load(paths, run_settings.sections)
    reviews = loaded.reviews
    if reviews:
        assign_session_ids(reviews, request.session)
    return Prepared(
        reviews, [*unreadable, *loaded.unreadable], framework, run_settings, request.rules
    )


def with_previous(
    request: ReviewRequest,
    reviews: Sequence[DocumentReview],
    since: str | None,
    previous: dict[str, str],
) -> ReviewRequest:
    """The request with each document's previous version where the run names it: ``since``
    (one document's), or ``previous`` by path (``--changed-since``)."""
    import dataclasses

    if since is not None:
        if len(reviews) != 1:
            raise UsageError("--since names the previous version of one document: give one")
        previous = {reviews[0].document.path: since}
    pairs = tuple(sorted((str(Path(p).resolve()), ref) for p, ref in previous.items()))
    return dataclasses.replace(request, previous=pairs)


def catalog_prices(request: ReviewRequest) -> PriceLookup:
    """The catalog's prices (the catalog and its overrides checked now, as doctor does)."""
    from prism_cli.bedrock.catalog import load_catalog

    return load_catalog(request.catalog_overrides).prices


def no_prices(_model_id: str) -> tuple[float, float] | None:
    return None


def execute(
    sessions: Sessions,
    request: ReviewRequest,
    prepared: Prepared,
    hooks: ReviewHooks,
    prices: PriceLookup | None = None,
) -> RunOutcome:
    """Review the prepared documents: what the sessions hold is reused, the rest reviewed
    through the model chain (opened only when a section needs it), the sessions finished.
    ``prices``: the catalog's, when the caller has read it already."""
    from prism_cli.app.run import Hooks, ReviewService, resolve_session
    from prism_cli.app.versions import SHA_REF, resolve

    own = {str(Path(r.document.path).resolve()): r.session_id for r in prepared.reviews}
    for path, ref in request.previous:  # a previous version named is checked first
        if not ref.startswith(SHA_REF) and resolve(sessions, ref, resolve_session) == own.get(path):
            raise UsageError(f"--since {ref} is this very version of the document")
    open_reviewer: Callable[[], tuple[Reviewer, list[str]]] | None = None
    if request.offline:
        prices = no_prices
    else:
        # An unchanged rerun needs no credentials and no network; what the request says
        # is checked now all the same.
        prices = prices or catalog_prices(request)
        if request.region:
            from prism_cli.bedrock.client import validate_region

            validate_region(request.region)

        def open_reviewer() -> tuple[Reviewer, list[str]]:
            return open_engine(request, prepared.settings, hooks)

    service = ReviewService(
        sessions,
        prepared.settings,
        open_reviewer=open_reviewer,
        prices=prices,
        fresh=request.fresh,
        wait=request.wait,
        max_cost=request.max_cost,
        since=dict(request.previous),
        hooks=Hooks(
            started=hooks.started,
            section_done=hooks.section_done,
            warn=hooks.warn,
            waiting=hooks.waiting,
        ),
    )
    try:
        return service.run(
            prepared.reviews, rules=prepared.rule_findings if prepared.rules else None
        )
    except SessionBusy as exc:
        if request.wait:
            raise
        raise SessionBusy(f"{exc}; rerun with --wait to wait for it") from exc


def open_engine(
    request: ReviewRequest, settings: RunSettings, hooks: ReviewHooks
) -> tuple[Reviewer, list[str]]:
    """The reviewer a request calls for, on Bedrock, and the notes a run should show."""
    from prism_cli.app.run import make_reviewer

    try:
        reviewer, _prices, notes = make_reviewer(
            settings,
            region=request.region,
            profile=request.profile,
            overrides=request.catalog_overrides,
            concurrency=request.concurrency,
            on_event=hooks.engine_event,
        )
    except NoCredentials as exc:
        raise NoCredentials(f"{exc}; or use --offline (built-in rules only)") from None

    def on_section(event: Event) -> None:
        if event.kind == "section_start":
            hooks.section_start(event.detail, event.section_id)

    reviewer.on_event = on_section
    hooks.engine_opened([m.model_id for m in reviewer.chain], list(reviewer.details))
    return reviewer, notes


def no_outcome() -> RunOutcome:
    """The outcome of a run with nothing to review (its report is written all the same)."""
    from prism_cli.app.run import RunOutcome
    from prism_cli.core.report import build_report

    return RunOutcome([], build_report([], no_prices), [])

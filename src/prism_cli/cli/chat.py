"""``prism chat``: parse, build the chat service, render. The conversation itself (grounding,
streaming, fallback, persistence, decisions) is :mod:`prism_cli.app.chat`'s."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.chat_commands import Relay
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    ENV_EPILOG,
    SHORT,
    ModelOption,
    ProfileOption,
    RegionOption,
    StoreOption,
    VerboseOption,
    application,
    command_app,
)
from prism_cli.console import Console
from prism_cli.errors import EXIT_INCOMPLETE, EXIT_OK, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from prism_cli.app.chat import Answered, ChatService, SectionReviewed
    from prism_cli.app.run import RunSettings
    from prism_cli.bedrock.setup import EngineSetup
    from prism_cli.core.pipeline import Reviewer
    from prism_cli.core.report import PriceLookup


@dataclass
class ChatOptions:
    target: str | None
    ask: str | None
    fmt: str
    region: str | None
    profile: str | None
    models: list[str]
    section: str | None


RELAY = Relay()


def engine_for(app: Application, opts: ChatOptions, models: list[str]) -> EngineSetup:
    """The model engine chat talks through (``/model`` builds another one)."""
    from prism_cli.bedrock.setup import open_engine
    from prism_cli.engine.requests import Thinking

    setup = open_engine(
        region=opts.region,
        profile=opts.profile,
        models=models,
        overrides=app.catalog_overrides,
        thinking=Thinking(False, None, None),
        on_event=RELAY,
    )
    for detail in setup.details:
        app.console.debug(detail)
    return setup


def open_chat(app: Application, opts: ChatOptions) -> ChatService:
    from prism_cli.app.chat import ChatService

    sessions = app.sessions
    setup = engine_for(app, opts, opts.models)
    service = ChatService.open(
        sessions,
        opts.target,
        engine=setup.engine,
        prices=setup.catalog.prices,
        rules=app.settings.section_rules,
    )
    if opts.section:
        service.focus = service.section(opts.section).id

    def reviewer_for(settings: RunSettings) -> tuple[Reviewer, PriceLookup, list[str]]:
        from prism_cli.app.run import make_reviewer

        reviewer, prices, notes = make_reviewer(
            settings,
            region=opts.region,
            profile=opts.profile,
            overrides=app.catalog_overrides,
            on_event=RELAY,
        )
        for detail in reviewer.details:
            app.console.debug(detail)
        return reviewer, prices, notes

    from prism_cli.app.inputs import load_framework
    from prism_cli.app.run import RunSettings

    service.reviewer_for = reviewer_for
    service.default_settings = RunSettings(
        framework=load_framework(None),
        models=tuple(opts.models),
        sections=app.settings.section_rules,
    )
    return service


def _record(answered: Answered) -> dict[str, object]:
    turn = answered.turn
    return {
        "question": turn.question,
        "answer": turn.answer,
        "model": turn.model,
        "sections_used": list(turn.sections_used),
        "citations": [
            {"text": c.text, "section_id": c.section_id, "valid": c.section_id is not None}
            for c in answered.citations
        ],
        "usage": turn.usage,
        "cost_usd": turn.cost_usd,
        "status": turn.status,
        "error": answered.error,
    }


def answer_plainly(console: Console, service: ChatService, question: str, fmt: str) -> int:
    """One question, one answer, no terminal needed; exit 3 when the answer broke off."""
    if fmt == "json":
        answered = service.ask_all(question)
        console.write(json.dumps(_record(answered), ensure_ascii=False))
    else:
        out = sys.stdout

        def show(text: str) -> None:
            out.write(text)
            out.flush()

        answered = service.ask_all(question, show)
        out.write("\n")
        out.flush()
        _after(console, answered)
    return EXIT_INCOMPLETE if answered.error else EXIT_OK


def answer_piped(
    console: Console,
    service: ChatService,
    opts: ChatOptions,
    engine_for: Callable[[list[str]], EngineSetup],
) -> int:
    """Questions and slash commands read from stdin, one per line: a command runs as in the
    REPL (it is never sent to the model, nor billed), each answer follows its question
    (``› question``) so the transcript reads; a command that fails says why on stderr and the
    rest goes on (its exit code at the end)."""
    from prism_cli.cli.chat_commands import ChatCommands, Piece
    from prism_cli.errors import PrismError

    worst = EXIT_OK

    def say(pieces: Sequence[Piece]) -> None:
        if opts.fmt == "json":
            console.write(json.dumps({"output": "".join(t for t, _ in pieces)}, ensure_ascii=False))
        else:
            console.write("".join(t for t, _ in pieces))

    def ask(question: str) -> None:
        nonlocal worst
        commands.last_question = question
        if opts.fmt != "json":
            console.write(f"› {question}")
        worst = max(worst, answer_plainly(console, service, question, opts.fmt))

    def review(again: bool) -> SectionReviewed:
        return service.review_focus(again=again)

    commands = ChatCommands(service, say, ask=ask, review=review, engine_for=engine_for)
    for raw in sys.stdin:
        line = raw.strip()
        if not line:
            continue
        if not line.startswith("/"):
            ask(line)
            continue
        try:
            if commands.run(line):
                break
        except PrismError as exc:
            console.error(str(exc))
            worst = max(worst, exc.exit_code)
    return worst


def _after(console: Console, answered: Answered) -> None:
    if answered.fallback:
        console.info(f"answered by {answered.turn.model} ({', '.join(answered.fallback)} passed)")
    bad = [c.text for c in answered.citations if c.section_id is None]
    if bad:
        console.warn(f"the answer cites sections that do not exist: {', '.join(bad)}")
    if answered.error:
        console.warn(f"the answer broke off ({answered.error}); ask again to retry")


def run_chat(app: Application, opts: ChatOptions) -> int:
    if opts.fmt not in ("text", "json"):
        raise UsageError("--format must be text or json")
    console = app.console
    service = open_chat(app, opts)
    if opts.ask is not None:
        return answer_plainly(console, service, opts.ask, opts.fmt)
    if not sys.stdin.isatty():
        return answer_piped(console, service, opts, lambda models: engine_for(app, opts, models))
    from prism_cli.cli.repl import Repl

    return Repl(app, service, lambda models: engine_for(app, opts, models), RELAY).run()


class ChatFormat(str, Enum):
    text = "text"
    json = "json"


command = command_app()


@command.command("chat", cls=PanelCommand, short_help=SHORT["chat"], epilog=ENV_EPILOG)
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
    options = ChatOptions(
        target=target,
        ask=ask,
        fmt=fmt.value,
        region=region,
        profile=profile,
        models=list(model or []),
        section=section,
    )
    raise typer.Exit(run_chat(application(ctx, store=store, verbose=verbose), options))

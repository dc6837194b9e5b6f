"""The interactive side of ``prism chat``: a line editor (prompt_toolkit) with history and
completion, answers streamed as Markdown (rich), slash commands. Everything it does to the
session goes through :class:`~prism_cli.chat_service.ChatService` and :class:`Sessions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Imported by `prism chat` on a terminal only: the line editor may load at import.
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from prism_cli.cli.application import Application
from prism_cli.errors import EXIT_OK, PrismError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from rich.text import Text

    from prism_cli.bedrock.setup import EngineSetup
    from prism_cli.chat_service import Answered, ChatService
    from prism_cli.cli.chat import Relay
    from prism_cli.core.engine import EngineEvent

COMMANDS = {
    "/help": "this list",
    "/sections": "the document's sections",
    "/section": "N or title: focus on a section (its text goes first)",
    "/findings": "[high|medium|low]: the review's findings",
    "/accept": "ID...: accept findings (as prism feedback)",
    "/reject": "ID...: reject findings",
    "/note": "TEXT: your own finding on the section in focus",
    "/review": "[again]: review the section in focus now (a stored review is reused)",
    "/export": "DIR or s3://...: export the session",
    "/model": "ID...: answer with these models from now on (a fallback chain)",
    "/retry": "ask the last question again",
    "/cost": "tokens and cost so far",
    "/history": "the conversation so far",
    "/clear": "start a new thread (the old one is kept)",
    "/exit": "leave (Ctrl-D too)",
}


class Repl:
    def __init__(
        self,
        app: Application,
        service: ChatService,
        engine_for: Callable[[list[str]], EngineSetup] | None = None,
        relay: Relay | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.engine_for = engine_for
        self.relay = relay
        self.console = app.console.rich_out()
        self.last_question: str | None = None
        self.model = "-"

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> int:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory
        from prompt_toolkit.key_binding import KeyBindings

        bindings = KeyBindings()

        @bindings.add("escape", "enter")
        def _newline(event: object) -> None:
            event.current_buffer.insert_text("\n")  # type: ignore[attr-defined]

        session: PromptSession[str] = PromptSession(
            history=FileHistory(str(self._history_file())),
            completer=self._completer(),
            key_bindings=bindings,
            bottom_toolbar=self._status,
            complete_while_typing=False,
        )
        self._welcome()
        while True:
            try:
                line = session.prompt("› ")
            except KeyboardInterrupt:
                continue  # a line being typed is dropped; the session goes on
            except EOFError:
                break
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith("/"):
                    if self._command(line):
                        break
                else:
                    self._ask(line)
            except PrismError as exc:
                self.console.print(f"[red]error:[/red] {_e(exc)}", highlight=False)
        return EXIT_OK

    def _history_file(self) -> object:
        from pathlib import Path

        from platformdirs import user_data_dir

        folder = Path(user_data_dir("prism"))
        folder.mkdir(parents=True, exist_ok=True)
        return folder / "chat-history"

    def _completer(self) -> Completer:
        return _Completer(self.service)

    def _status(self) -> str:
        """The bottom toolbar: model, tokens, cost, focus; what does not fit the terminal's
        width goes, least needed first (the help hint, then the focus, then the words)."""
        import shutil

        spent = self.service.spent
        width = shutil.get_terminal_size((100, 24)).columns
        cost = f"${self.service.cost:.4f}"
        focus = f"focus {self.service.focus}" if self.service.focus else ""
        model = self.model.split(".anthropic.", 1)[-1]  # the geography and vendor go first
        tokens = f"{spent.input_tokens} in / {spent.output_tokens} out tokens"
        short = f"{spent.input_tokens}/{spent.output_tokens} tok"
        for parts in (
            [self.model, tokens, cost, focus, "/help"],
            [model, tokens, cost, focus, "/help"],
            [model, tokens, cost, focus],
            [model, short, cost, focus],
            [model, short, cost],
        ):
            line = " " + " · ".join(p for p in parts if p)
            if len(line) < width:
                return line
        return line

    def _welcome(self) -> None:
        service = self.service
        meta = service.sessions.require(service.session_id)
        self.console.print(
            f"[bold]{_e(meta.document.name)}[/bold] · session {_e(service.session_id)} · "
            f"{len(service.sections)} sections · {len(service.findings())} findings",
            highlight=False,
        )
        earlier = service.history()[-3:]
        if earlier:
            self.console.print("[dim]earlier in this thread:[/dim]")
            for turn in earlier:
                self.console.print(f"[dim]› {_e(turn.question)}[/dim]", highlight=False)
                self.console.print(f"[dim]{_e(_short(turn.answer))}[/dim]", highlight=False)

    # -- asking ----------------------------------------------------------------------------
    def _ask(self, question: str) -> None:
        from rich.live import Live
        from rich.markdown import Markdown

        from prism_cli.chat_service import Answered, Chosen, Chunk

        self.last_question = question
        text = ""
        answered: Answered | None = None
        events = self.service.ask(question)
        with Live(
            Markdown(""), console=self.console, refresh_per_second=8, vertical_overflow="visible"
        ) as live:

            def waiting(event: EngineEvent) -> None:
                # Throttled: a countdown until the call may go, instead of silence.
                if event.kind == "wait" and not text:
                    countdown = _Countdown(event.model or "the model", float(event.detail))
                    live.update(countdown, refresh=True)

            if self.relay is not None:
                self.relay.listeners.append(waiting)
            try:
                for event in events:
                    if isinstance(event, Chosen):
                        self.model = event.model
                        if event.passed:
                            live.console.print(
                                f"[dim]answered by {_e(event.model)} ({_e(', '.join(event.passed))} "
                                "passed)[/dim]",
                                highlight=False,
                            )
                    elif isinstance(event, Chunk):
                        text += event.text
                        live.update(Markdown(text))
                    elif isinstance(event, Answered):
                        answered = event
            except KeyboardInterrupt:
                # Cancel the answer, not the session: the partial answer is stored.
                try:
                    last = events.throw(KeyboardInterrupt)
                    answered = last if isinstance(last, Answered) else answered
                except (KeyboardInterrupt, StopIteration):
                    pass
            finally:
                if self.relay is not None:
                    self.relay.listeners.remove(waiting)
        if answered is not None:
            self._footer(answered)

    def _review(self, *, again: bool) -> None:
        service = self.service
        if service.focus is None:
            raise UsageError("/review reviews the section in focus: /section N first")
        section = service.section(service.focus)
        with self.console.status(f"reviewing §{_e(section.number)} {_e(section.title)}…"):
            done = service.review_focus(again=again)
        if done.status == "failed":
            self.console.print(
                f"[yellow]§{_e(section.number)} not reviewed: {_e(done.error)}[/yellow]",
                highlight=False,
            )
            return
        how = (
            "stored review reused (/review again asks anew)"
            if done.status == "cached"
            else (f"reviewed by {done.model}")
        )
        count = len(done.findings)
        self.console.print(
            f"§{_e(section.number)} {_e(section.title)}: {count} finding{'s' if count != 1 else ''} "
            f"[dim]({_e(how)})[/dim]",
            highlight=False,
        )
        for f in done.findings:
            self.console.print(
                f"  {f.severity:6} {_e(f.id)}  {_e(f.title)} [dim]({_e(f.status)})[/dim]",
                highlight=False,
            )

    def _footer(self, answered: Answered) -> None:
        cited = [
            f"[green]{_e(c.text)}[/green]"
            if c.section_id
            else f"[red]{_e(c.text)} (no such section)[/red]"
            for c in answered.citations
        ]
        if cited:
            self.console.print("[dim]cited:[/dim] " + " ".join(cited), highlight=False)
        if answered.error:
            self.console.print(
                f"[yellow]the answer broke off ({_e(answered.error)}); /retry asks again[/yellow]",
                highlight=False,
            )

    # -- slash commands --------------------------------------------------------------------
    def _command(self, line: str) -> bool:
        """Run a slash command; True to leave."""
        name, _, rest = line.partition(" ")
        rest = rest.strip()
        service = self.service
        sessions = service.sessions
        if name in ("/exit", "/quit"):
            return True
        if name == "/help":
            for command, what in COMMANDS.items():
                self.console.print(f"  [bold]{_e(command)}[/bold] {_e(what)}", highlight=False)
        elif name == "/sections":
            for s in service.sections:
                mark = "›" if s.id == service.focus else " "
                self.console.print(f" {mark} §{_e(s.number)} {_e(s.title)}", highlight=False)
        elif name == "/section":
            section = service.section(rest)
            service.focus = section.id
            self.console.print(f"focus: §{_e(section.number)} {_e(section.title)}", highlight=False)
        elif name == "/findings":
            for f in service.findings():
                if rest and f.get("severity") != rest:
                    continue
                self.console.print(
                    f"  {_e(f.get('severity')):6} {_e(f.get('id'))}  {_e(f.get('title'))} "
                    f"[dim]({_e(f.get('status', 'open'))})[/dim]",
                    highlight=False,
                )
        elif name in ("/accept", "/reject"):
            from prism_cli.core.session import Decision

            ids = rest.split()
            if not ids:
                raise UsageError(f"{name} ID...: give finding ids (see /findings)")
            sessions.decide(service.session_id, Decision(name[1:]), ids)
            self.console.print(f"{name[1:]}ed {len(ids)} finding(s)", highlight=False)
        elif name == "/note":
            if not service.focus:
                raise UsageError("/note needs a section in focus: /section N first")
            if not rest:
                raise UsageError("/note TEXT")
            finding = sessions.add_finding(service.session_id, service.focus, rest)
            self.console.print(f"added {_e(finding['id'])}", highlight=False)
        elif name == "/review":
            if rest not in ("", "again"):
                raise UsageError("/review [again]")
            self._review(again=rest == "again")
        elif name == "/export":
            from prism_cli.service import export_session

            if not rest:
                raise UsageError("/export DIR or s3://bucket/prefix")
            where = export_session(
                sessions, service.session_id, rest, warn=lambda m: self.console.print(_e(m))
            )
            self.console.print(f"exported to {_e(where)}", highlight=False)
        elif name == "/model":
            if not rest or self.engine_for is None:
                raise UsageError("/model ID...: a model id or catalog key (see prism models)")
            setup = self.engine_for(rest.split())
            service.engine, service.prices = setup.engine, setup.catalog.prices
            chain = ", ".join(m.model_id for m in setup.engine.chain)
            self.console.print(f"models: {_e(chain)}", highlight=False)
        elif name == "/retry":
            if self.last_question is None:
                raise UsageError("nothing to retry yet")
            self._ask(self.last_question)
        elif name == "/cost":
            spent = service.spent
            self.console.print(
                f"{spent.input_tokens} in / {spent.output_tokens} out tokens, "
                f"cache {spent.cache_read_tokens} read · ${service.cost:.4f}",
                highlight=False,
            )
        elif name == "/history":
            for turn in service.history():
                self.console.print(f"[bold]› {_e(turn.question)}[/bold]", highlight=False)
                self.console.print(_e(_short(turn.answer, 400)), highlight=False)
        elif name == "/clear":
            service.clear()
            self.console.print("new thread (the old one is kept)", highlight=False)
        else:
            raise UsageError(f"unknown command {name} (see /help)")
        return False


class _Completer(Completer):
    """Slash commands; then what each takes: section numbers and titles, finding ids (read at
    each completion: /review and /note add findings), severities."""

    def __init__(self, service: ChatService) -> None:
        self.service = service

    def get_completions(self, document: Document, _event: CompleteEvent) -> Iterator[Completion]:
        line: str = document.text_before_cursor
        if not line.startswith("/"):
            return
        name, space, rest = line.partition(" ")
        if not space:
            for command in COMMANDS:
                if command.startswith(name):
                    yield Completion(command, -len(name), display_meta=COMMANDS[command])
            return
        if name == "/section":
            key = rest.casefold()
            for s in self.service.sections:
                if s.title.casefold().startswith(key) or str(s.number) == key:
                    yield Completion(s.title, -len(rest), display_meta=f"§{s.number}")
        elif name in ("/accept", "/reject"):
            word = rest.rsplit(" ", 1)[-1]
            typed = set(rest.split())
            for f in self.service.findings():
                fid = str(f.get("id"))
                if fid.startswith(word) and fid not in typed:
                    yield Completion(fid, -len(word), display_meta=str(f.get("title", ""))[:40])
        elif name == "/findings":
            for level in ("high", "medium", "low"):
                if level.startswith(rest):
                    yield Completion(level, -len(rest))
        elif name == "/review" and "again".startswith(rest):
            yield Completion("again", -len(rest))


class _Countdown:
    def __init__(self, model: str, seconds: float) -> None:
        import time

        self.model = model
        self.until = time.monotonic() + seconds

    def __rich__(self) -> Text:
        import time

        from rich.text import Text

        left = max(0.0, self.until - time.monotonic())
        return Text(f"throttled by {self.model}: asking again in {left:.0f}s", style="dim")


def _e(value: object) -> str:
    """Untrusted text (a question, a document's title, a model's answer) for a markup string:
    shown literally, never read as markup ("[/bold]" in a question broke chat for good)."""
    from rich.markup import escape

    return escape(str(value))


def _short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"

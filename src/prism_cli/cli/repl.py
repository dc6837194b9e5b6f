"""The interactive side of ``prism chat``: a line editor (prompt_toolkit) with history and
completion, answers streamed as Markdown (rich), slash commands. Everything it does to the
session goes through :class:`~prism_cli.app.chat.ChatService` and :class:`Sessions`."""

from __future__ import annotations

from typing import TYPE_CHECKING

# Imported by `prism chat` on a terminal only: the line editor may load at import.
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from prism_cli.cli.application import Application
from prism_cli.cli.chat_commands import COMMANDS, ChatCommands, Piece, Relay, short
from prism_cli.errors import EXIT_OK, PrismError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator, Sequence

    from rich.text import Text

    from prism_cli.app.chat import Answered, ChatService, SectionReviewed
    from prism_cli.bedrock.setup import EngineSetup
    from prism_cli.engine.engine import EngineEvent


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
        self.model = "-"
        self.commands = ChatCommands(
            service, self._say, ask=self._ask, review=self._review_now, engine_for=engine_for
        )

    def _say(self, pieces: Sequence[Piece]) -> None:
        """A line of plain pieces as rich Text: shown literally, never read as markup."""
        from rich.text import Text

        self.console.print(Text.assemble(*((t, s or "") for t, s in pieces)), highlight=False)

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
                    if self.commands.run(line):
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
        full = self.model if self.model != "-" else self._first_model()
        model = full.split(".anthropic.", 1)[-1]  # the geography and vendor go first
        tokens = f"{spent.input_tokens} in / {spent.output_tokens} out tokens"
        short = f"{spent.input_tokens}/{spent.output_tokens} tok"
        for parts in (
            [full, tokens, cost, focus, "/help"],
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
                self.console.print(f"[dim]{_e(short(turn.answer))}[/dim]", highlight=False)

    # -- asking ----------------------------------------------------------------------------
    def _ask(self, question: str) -> None:
        """Ask and stream the answer; Ctrl-C at any moment (even while the display starts)
        cancels the answer, says so, and leaves the session as it was."""
        self._streamed = False
        self._events: Generator[object, None, None] | None = None
        try:
            self._ask_and_show(question)
        except KeyboardInterrupt:
            if self._events is not None:
                self._events.close()  # the call gives back its quota; nothing half-stored
            self._cancelled()

    def _cancelled(self) -> None:
        from rich.text import Text

        said = (
            "cancelled: the answer so far is kept (/retry asks again)"
            if self._streamed
            else "cancelled before the first word: nothing was kept"
        )
        self.console.print(Text(said, style="yellow"), highlight=False)

    def _ask_and_show(self, question: str) -> None:
        from rich.live import Live
        from rich.markdown import Markdown
        from rich.text import Text

        from prism_cli.app.chat import Answered, Chosen, Chunk

        self.commands.last_question = question
        text = ""
        answered: Answered | None = None
        cancelled = False
        events = self.service.ask(question)
        self._events = events
        status = _Waiting(self.model if self.model != "-" else self._first_model())
        with Live(
            status, console=self.console, refresh_per_second=8, vertical_overflow="visible"
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
                        status.model = event.model
                        if event.passed:
                            live.console.print(
                                Text(
                                    f"answered by {event.model} ({', '.join(event.passed)} passed)",
                                    style="dim",
                                ),
                                highlight=False,
                            )
                    elif isinstance(event, Chunk):
                        first = not text
                        text += event.text
                        self._streamed = True
                        # The first words are drawn at once, not at the display's next tick.
                        live.update(Markdown(text), refresh=first)
                    elif isinstance(event, Answered):
                        answered = event
            except KeyboardInterrupt:
                # Cancel the answer, not the session: the partial answer is stored.
                cancelled = True
                try:
                    last = events.throw(KeyboardInterrupt)
                    answered = last if isinstance(last, Answered) else answered
                except (KeyboardInterrupt, StopIteration):
                    pass
            finally:
                if self.relay is not None:
                    self.relay.listeners.remove(waiting)
                if not text:
                    live.update(Text(""), refresh=True)  # the waiting line goes
        if answered is not None and answered.error == "cancelled":
            cancelled = True  # Ctrl-C reached the stream itself, which kept what it had
        if cancelled:
            self._cancelled()
        if answered is not None:
            self._footer(answered, cancelled=cancelled)

    def _first_model(self) -> str:
        """The model a question goes to first (the chain's head), before one has answered."""
        engine = getattr(self.service, "engine", None)
        chain = getattr(engine, "chain", None) or []
        return str(getattr(chain[0], "model_id", "the model")) if chain else "the model"

    def _review_now(self, again: bool) -> SectionReviewed:
        service = self.service
        section = service.section(service.focus or "")
        with self.console.status(f"reviewing §{_e(section.number)} {_e(section.title)}…"):
            return service.review_focus(again=again)

    def _footer(self, answered: Answered, *, cancelled: bool = False) -> None:
        cited = [
            f"[green]{_e(c.text)}[/green]"
            if c.section_id
            else f"[red]{_e(c.text)} (no such section)[/red]"
            for c in answered.citations
        ]
        if cited:
            self.console.print("[dim]cited:[/dim] " + " ".join(cited), highlight=False)
        if answered.error and not cancelled:
            self.console.print(
                f"[yellow]the answer broke off ({_e(answered.error)}); /retry asks again[/yellow]",
                highlight=False,
            )


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


class _Waiting:
    """What the screen says between a question and its first word: whom it waits for, for
    how long so far, and how to stop waiting."""

    def __init__(self, model: str) -> None:
        import time

        self.model = model
        self.since = time.monotonic()

    def __rich__(self) -> Text:
        import time

        from rich.text import Text

        waited = time.monotonic() - self.since
        model = self.model.split(".anthropic.", 1)[-1]
        return Text(f"waiting for {model}… {waited:.0f}s · Ctrl-C cancels", style="dim")


class _Countdown:
    def __init__(self, model: str, seconds: float) -> None:
        import time

        self.model = model
        self.until = time.monotonic() + seconds

    def __rich__(self) -> Text:
        import time

        from rich.text import Text

        left = self.until - time.monotonic()
        model = self.model.split(".anthropic.", 1)[-1]
        if left <= -1.0:  # the call went: now it waits for the first word
            return Text(f"waiting for {model}… · Ctrl-C cancels", style="dim")
        # A wait shorter than the display's first draw still says it was a throttle.
        return Text(f"throttled by {model}: asking again in {max(left, 0):.0f}s", style="dim")


def _e(value: object) -> str:
    """Untrusted text (a question, a document's title, a model's answer) for a markup string:
    shown literally, never read as markup ("[/bold]" in a question broke chat for good)."""
    from rich.markup import escape

    return escape(str(value))

"""Chat's slash commands, for every front end: the terminal REPL and questions piped on stdin
(``printf '/findings high\\n' | prism chat doc.docx``) run the same commands, and neither sends
one to the model. Output is plain text in styled pieces; the front end draws them (the REPL as
rich ``Text``, never markup: a finding's title is untrusted), so what a command says is the
same everywhere."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from prism_cli.errors import UsageError

if TYPE_CHECKING:
    from prism_cli.app.chat import ChatService, SectionReviewed
    from prism_cli.bedrock.setup import EngineSetup
    from prism_cli.engine.engine import EngineEvent

COMMANDS = {
    "/help": "this list",
    "/sections": "the document's sections",
    "/section": "N or title: focus on a section (its text goes first)",
    "/findings": "[high|medium|low]: the review's findings",
    "/accept": "ID...: accept findings (as prism feedback); alone: the rewrite /suggest gave",
    "/suggest": "ID: a rewrite of the finding's quote (/accept keeps it)",
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

Piece = tuple[str, str | None]
"""A piece of a line: its text (shown literally) and a style name (``bold``, ``dim``...)."""
Say = Callable[[Sequence[Piece]], None]


def short(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ChatCommands:
    """Runs one slash command line against the chat service; see the module docstring."""

    def __init__(
        self,
        service: ChatService,
        say: Say,
        *,
        ask: Callable[[str], None],
        review: Callable[[bool], SectionReviewed | None],
        engine_for: Callable[[list[str]], EngineSetup] | None = None,
    ) -> None:
        self.service = service
        self.say = say
        self.ask = ask
        self.review = review
        self.engine_for = engine_for
        self.last_question: str | None = None

    def line(self, *pieces: Piece | str) -> None:
        self.say([(p, None) if isinstance(p, str) else p for p in pieces])

    def run(self, line: str) -> bool:
        """Run a slash command; True to leave."""
        name, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        service = self.service
        sessions = service.sessions
        if name in ("/exit", "/quit"):
            return True
        if name == "/help":
            for command, what in COMMANDS.items():
                self.line("  ", (command, "bold"), " ", what)
        elif name == "/sections":
            for s in service.sections:
                mark = "›" if s.id == service.focus else " "
                self.line(f" {mark} §{s.number} {s.title}")
        elif name == "/section":
            section = service.section(rest)
            service.focus = section.id
            self.line(f"focus: §{section.number} {section.title}")
        elif name == "/findings":
            if rest and rest not in ("high", "medium", "low"):
                raise UsageError("/findings [high|medium|low]")
            for f in service.findings():
                if rest and f.get("severity") != rest:
                    continue
                self.line(
                    f"  {f.get('severity')!s:6} {f.get('id')}  {f.get('title')} ",
                    (f"({f.get('status', 'open')})", "dim"),
                )
        elif name == "/accept" and not rest and service.pending is not None:
            finding_id, wording = service.accept_rewrite()
            self.line(f"accepted {finding_id} with its rewrite “{short(wording, 120)}”")
            self.line(
                ("  prism review -f docx --suggest, or prism apply, writes it as a tracked change",
                 "dim")
            )  # fmt: skip
        elif name == "/suggest":
            ids = rest.split()
            if len(ids) != 1:
                raise UsageError("/suggest ID: one finding id (see /findings)")
            question = service.ask_rewrite(ids[0])
            self.ask(question)
            if service.pending is not None:
                self.line(("/accept keeps this rewrite for the Word copy", "dim"))
            elif service.rejected_rewrite:
                self.line((f"this rewrite cannot be used: {service.rejected_rewrite}", "yellow"))
        elif name in ("/accept", "/reject"):
            from prism_cli.core.session import Decision

            ids = rest.split()
            if not ids:
                raise UsageError(f"{name} ID...: give finding ids (see /findings)")
            sessions.decide(service.session_id, Decision(name[1:]), ids)
            self.line(f"{name[1:]}ed {len(ids)} finding(s)")
        elif name == "/note":
            if not service.focus:
                raise UsageError("/note needs a section in focus: /section N first")
            if not rest:
                raise UsageError("/note TEXT")
            finding = sessions.add_finding(service.session_id, service.focus, rest)
            self.line(f"added {finding['id']}")
        elif name == "/review":
            if rest not in ("", "again"):
                raise UsageError("/review [again]")
            self._review(again=rest == "again")
        elif name == "/export":
            from prism_cli.app.sessions import export_session

            if not rest:
                raise UsageError("/export DIR or s3://bucket/prefix")
            where = export_session(sessions, service.session_id, rest, warn=lambda m: self.line(m))
            self.line(f"exported to {where}")
        elif name == "/model":
            if not rest or self.engine_for is None:
                raise UsageError("/model ID...: a model id or catalog key (see prism models)")
            setup = self.engine_for(rest.split())
            service.engine, service.prices = setup.engine, setup.catalog.prices
            self.line("models: " + ", ".join(m.model_id for m in setup.engine.chain))
        elif name == "/retry":
            if self.last_question is None:
                raise UsageError("nothing to retry yet")
            self.ask(self.last_question)
        elif name == "/cost":
            spent = service.spent
            self.line(
                f"{spent.input_tokens} in / {spent.output_tokens} out tokens, "
                f"cache {spent.cache_read_tokens} read · ${service.cost:.4f}"
            )
        elif name == "/history":
            for turn in service.history():
                self.line((f"› {turn.question}", "bold"))
                self.line(short(turn.answer, 400))
        elif name == "/clear":
            service.clear()
            self.line("new thread (the old one is kept)")
        else:
            raise UsageError(f"unknown command {name} (see /help)")
        return False

    def _review(self, *, again: bool) -> None:
        service = self.service
        if service.focus is None:
            raise UsageError("/review reviews the section in focus: /section N first")
        section = service.section(service.focus)
        done = self.review(again)
        if done is None:
            return
        if done.status == "failed":
            self.line((f"§{section.number} not reviewed: {done.error}", "yellow"))
            return
        how = (
            "stored review reused (/review again asks anew)"
            if done.status == "cached"
            else f"reviewed by {done.model}"
        )
        count = len(done.findings)
        self.line(
            f"§{section.number} {section.title}: {count} finding{'s' if count != 1 else ''} ",
            (f"({how})", "dim"),
        )
        for f in done.findings:
            self.line(f"  {f.severity:6} {f.id}  {f.title} ", (f"({f.status})", "dim"))


class Relay:
    """Engine events, to whoever listens now (the REPL counts a throttling wait down)."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[EngineEvent], None]] = []

    def __call__(self, event: EngineEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

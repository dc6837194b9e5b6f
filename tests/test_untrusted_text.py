"""Text from a document, a model or a user is shown literally by every renderer: the findings
table, chat (welcome, answers' footers, commands' output), chat's history and help, the review
progress, `sections` and `sessions list`. Arbitrary text (markup-like brackets, backslashes,
control characters, right-to-left marks, emoji) must neither raise nor vanish."""

from __future__ import annotations

import io
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console as RichConsole

from prism_cli.cli.application import Application
from prism_cli.cli.chat_commands import ChatCommands
from prism_cli.console import Console
from prism_cli.core.chat import ChatSection, Citation, Turn
from prism_cli.reports import table

NASTY = st.sampled_from(
    ["[/bold]", "[bold]", "[red]x[/]", "\\", "[", "]", "[[", "\\[b]", "\u200f", "\u202e",
     "\x1b[31m", "\x07", "\t", "\r", "\u00a0", "🙂", "e\u0301", "[link=file:///etc]x[/link]",
     "[@click=quit]", ":smile:", "%s", "{0}"]
)  # fmt: skip
TEXT = st.lists(st.one_of(NASTY, st.text(min_size=1, max_size=8)), min_size=1, max_size=6).map(
    "".join
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def visible(text: str) -> str:
    """The characters a reader sees: printable, not blank (control codes and direction marks
    are not drawn; rich may turn a tab into spaces and wrap or pad lines)."""
    # An escape sequence's printable tail ("[31m") is shown as text by rich: keep it.
    return "".join(c for c in text if c.isprintable() and not c.isspace())


def wide() -> tuple[RichConsole, io.StringIO]:
    buffer = io.StringIO()
    return RichConsole(file=buffer, width=10_000, no_color=True, force_terminal=False), buffer


def assert_shown(text: str, output: str) -> None:
    assert visible(text) in visible(output), (text, output)


@SETTINGS
@given(title=TEXT, path=TEXT, quote=TEXT, section=TEXT)
def test_the_findings_table(title: str, path: str, quote: str, section: str) -> None:
    report: dict[str, Any] = {
        "documents": [
            {
                "path": path,
                "session_id": "abc123def456",
                "sections": [{"id": "s1", "title": section, "status": "reviewed"}],
                "findings": [
                    {
                        "id": "s1-m1",
                        "section_id": "s1",
                        "severity": "high",
                        "title": title,
                        "status": "open",
                        "description": title,
                        "suggestion": title,
                        "quote": quote,
                    }
                ],
            }
        ],
        "summary": {
            "documents": 1,
            "sections": 1,
            "reviewed": 1,
            "failed": 0,
            "findings_by_severity": {"high": 1, "medium": 0, "low": 0},
            "usage": {"calls": 1, "cost_usd": 0.0},
        },
    }
    console, buffer = wide()
    for renderable in table.render(report, verbose=True):
        console.print(renderable)
    out = buffer.getvalue()
    for each in (title, path, quote, section):
        assert_shown(each, out)


@SETTINGS
@given(old=TEXT, new=TEXT, fixed=TEXT, own=TEXT)
def test_what_changed_since_the_previous_version(old: str, new: str, fixed: str, own: str) -> None:
    """Headings of both versions, a fixed finding's title and a reviewer's own finding, all
    from documents or people, in the table and in the Word copy's summary comment."""
    from prism_cli.reports.versions import since_comment

    since = {
        "previous": {"date": "2026-12-01T10:00:00Z"},
        "headline": "Since the version of 2026-12-01: 0 new, 0 persisting, 1 fixed",
        "counts": {"new": 0, "unchanged": 0, "updated": 0, "fixed": 1, "sections_changed": 1},
        "sections": [
            {"state": "changed", "old": ["s1"], "new": ["s1"], "old_heading": old,
             "new_heading": new, "renamed": True, "summary": f"“{old}” → “{new}”"}
        ],
        "fixed": [{"id": "s1-m1", "title": fixed, "severity": "high"}],
        "needs_look": [{"id": "s1-c1", "title": own, "why": "its section is gone"}],
    }  # fmt: skip
    report: dict[str, Any] = {
        "documents": [
            {"path": "a.docx", "session_id": "abc123def456", "since": since,
             "sections": [{"id": "s1", "title": new, "status": "reviewed"}], "findings": []}
        ],
        "summary": {"documents": 1, "sections": 1, "reviewed": 1, "failed": 0,
                    "findings_by_severity": {"high": 0, "medium": 0, "low": 0},
                    "usage": {"calls": 0, "cost_usd": 0.0}},
    }  # fmt: skip
    console, buffer = wide()
    for renderable in table.render(report, verbose=True):
        console.print(renderable)
    out = buffer.getvalue()
    comment = since_comment(since)
    for each in (old, new, fixed, own):
        assert_shown(each, out)
    for each in (fixed, own):
        assert_shown(each, comment)


class _Service(SimpleNamespace):
    """A chat service as far as the renderers read it."""


def chat_service(text: str) -> Any:
    turn = Turn(question=text, answer=text)
    section = ChatSection(1, "s1", text, "body")
    finding = {"id": "s1-m1", "severity": "high", "title": text, "status": "open"}
    meta = SimpleNamespace(document=SimpleNamespace(name=text))
    sessions = SimpleNamespace(require=lambda _sid: meta)
    return _Service(
        session_id="abc123def456", sessions=sessions, sections=[section], focus="s1",
        history=lambda: [turn], findings=lambda: [finding], section=lambda _ref: section,
    )  # fmt: skip


@pytest.fixture
def repl_factory() -> Any:
    pytest.importorskip("prompt_toolkit")
    from prism_cli.cli.repl import Repl

    def make(service: Any) -> tuple[Any, io.StringIO]:
        buffer = io.StringIO()
        app = Application(Console(stdout=buffer))
        repl = Repl(app, service)
        repl.console = RichConsole(file=buffer, width=10_000, no_color=True, force_terminal=False)
        return repl, buffer

    return make


@SETTINGS
@given(text=TEXT)
def test_chat_welcome_footer_and_commands(repl_factory: Any, text: str) -> None:
    repl, buffer = repl_factory(chat_service(text))
    repl._welcome()
    answered = SimpleNamespace(
        citations=[Citation(text, 9, None), Citation(text, 1, "s1")], error=text
    )
    repl._footer(answered)
    for command in ("/history", "/findings", "/sections", "/help"):
        assert repl.commands.run(command) is False
    out = buffer.getvalue()
    assert_shown(text, out)
    assert "/findings[high|medium|low]:the" in visible(out)  # help's own brackets kept
    assert "/review[again]:" in visible(out)


@SETTINGS
@given(text=TEXT)
def test_piped_chat_commands_print_plain_text(text: str) -> None:
    lines: list[str] = []
    commands = ChatCommands(
        chat_service(text),
        lambda pieces: lines.append("".join(t for t, _ in pieces)),
        ask=lambda _q: None,
        review=lambda _again: None,
    )
    commands.run("/history")
    commands.run("/findings")
    assert text in "\n".join(lines)  # exactly, not escaped


@SETTINGS
@given(name=TEXT, model=TEXT)
def test_the_review_progress(monkeypatch: pytest.MonkeyPatch, name: str, model: str) -> None:
    from prism_cli.cli.progress import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("COLUMNS", "10000")
    progress = Progress(Console(stderr=Tty()), interval=1)
    assert progress._progress is not None
    progress._overall = progress._progress.add_task("reviewing", total=0, calls="")
    progress.add("doc", name + ".docx", 3)
    progress.advance("doc", 1)
    progress.waiting(model, 30)
    progress._show_wait()
    console, buffer = wide()
    console.print(progress._progress.get_renderable())
    out = buffer.getvalue()
    assert_shown(name.split("/")[-1], out)
    assert_shown(model, out)


@SETTINGS
@given(title=TEXT)
def test_sections_table(title: str) -> None:
    from prism_cli.core.document import Block, BlockKind, Document, Section
    from prism_cli.reports.sections import DocumentSections, to_table

    document = Document(path=f"{title}.docx", sha256="0" * 64, blocks=())
    section = Section("s1", 0, title, 1, 0, (Block(BlockKind.PARAGRAPH, "text", 1),))
    console, buffer = wide()
    for renderable in to_table([DocumentSections(document, [section])]):
        console.print(renderable)
    assert_shown(title, buffer.getvalue())

"""Help on an 80-column terminal: option names and env vars never cut, no Python type
placeholders, options grouped, review help on about two screens."""

from __future__ import annotations

import re

import pytest

from conftest import run_prism

COMMANDS = [
    [], ["review"], ["sections"], ["models"], ["feedback"], ["export"],
    ["sessions"], ["sessions", "list"], ["sessions", "show"], ["sessions", "delete"],
    ["sessions", "prune"],
]  # fmt: skip
TYPE_PLACEHOLDER = re.compile(r"<(bool|str|int|float|path|list\[[a-z]+\]|int range)>")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "prism")
def test_help_at_80_columns_is_whole(command: list[str]) -> None:
    result = run_prism(*command, "--help", env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in result.stdout  # nothing cut
    assert not TYPE_PLACEHOLDER.search(result.stdout), result.stdout
    assert "[env var:" not in result.stdout  # env vars are documented once
    # (--no-wait is not --wait's twin: it is --queue's "do not follow the batch".)
    assert not re.search(r"--no-(offline|thinking|fresh|only-accepted)", result.stdout)


def test_review_help_is_grouped_and_short() -> None:
    result = run_prism("review", "--help", env={"COLUMNS": "80", "NO_COLOR": "1"})
    out = result.stdout
    for panel in ("Model", "Review", "Output", "Session"):
        assert f"\n{panel} options:\n" in out
    assert len(out.splitlines()) <= 80  # about two screens
    for metavar in ("MODEL", "PATH", "URL", "ID", "N", "LEVEL"):
        assert re.search(rf"\s{metavar}\s", out), metavar
    assert "PRISM_<OPTION>" in out  # said once, at the end
    assert "[review] fail_on" in out
    assert "Report format ." not in out


def test_the_fast_top_level_help_is_the_app_s_own() -> None:
    # prism --help answers without importing typer; it must say what the app would say.
    fast = run_prism("--help", env={"COLUMNS": "80"})
    slow = run_prism("--help", env={"COLUMNS": "80"}, typer_app=True)
    assert fast.code == slow.code == 0
    assert fast.stdout == slow.stdout
    assert run_prism("--version").stdout == run_prism("--version", typer_app=True).stdout
    none = run_prism()
    assert none.code == 2
    assert "Commands:" in none.stdout

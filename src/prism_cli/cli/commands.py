"""The command list (each command's name and one-line summary) and the guard every command
runs under: light, so the entry point can answer ``--help`` from it and run ``prism sections``
without importing typer, and the Typer app (:mod:`prism_cli.cli.app`) shares both."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn

SUMMARY = "Review Word documents with Claude on Amazon Bedrock."
COMMANDS = (
    ("sections", "Show the sections found in documents (no model call)."),
    ("review", "Review documents with Claude on Bedrock, or --offline rules."),
    ("worker", "Run queued review jobs (prism review --queue) until stopped."),
    ("models", "Show the model chain for a region; --check tests access."),
    ("feedback", "Accept or reject findings, or add your own."),
    ("baseline", "Keep the decisions on findings in the repository, for CI."),
    ("diff", "Compare two versions of a document: sections and findings."),
    ("apply", "Write a copy with the findings' rewrites as tracked changes."),
    ("chat", "Talk about a document and its review (--ask without a terminal)."),
    ("doctor", "Check credentials, models, quotas, the store and S3."),
    ("export", "Write a session's results to a folder or to S3."),
    ("batch", "Follow or cancel a queued review: status, wait, cancel."),
    ("sessions", "List, show, delete and prune stored sessions."),
)


def guarded(run: Callable[[], object]) -> NoReturn:
    """Run a command: prism's own errors are one line and their exit code, Ctrl-C is 130."""
    from prism_cli.console import Console
    from prism_cli.errors import EXIT_INTERRUPTED, PrismError

    try:
        code = run()
    except PrismError as exc:
        Console().error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        Console().error("interrupted")
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(code if isinstance(code, int) else 0)

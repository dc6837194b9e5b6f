"""``prism doctor``: run the checks of :mod:`prism_cli.doctor` and print one line each."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from prism_cli.cli.application import Application
from prism_cli.errors import EXIT_CONFIG, EXIT_OK, UsageError

if TYPE_CHECKING:
    from prism_cli.doctor import Check, DoctorOptions

MARKS = {"ok": "ok", "warning": "warning", "failed": "FAILED", "skipped": "skipped"}


def run_doctor(app: Application, opts: DoctorOptions, fmt: str) -> int:
    from prism_cli.doctor import FAILED, run_checks

    if fmt not in ("table", "json"):
        raise UsageError("--format must be table or json")
    console = app.console

    import shutil
    import textwrap

    width = shutil.get_terminal_size((100, 24)).columns if console.stdout_is_tty else 10_000
    indent = " " * 22

    def show(check: Check) -> None:
        if fmt != "table":
            return
        line = f"{MARKS[check.status]:8} {check.name:12} {check.detail}"
        console.write(
            textwrap.fill(
                line, max(width - 1, 60), subsequent_indent=indent, break_on_hyphens=False
            )
        )
        if check.hint and check.status != "ok":
            hint = f"{indent}→ {check.hint}"
            console.write(
                textwrap.fill(
                    hint,
                    max(width - 1, 60),
                    subsequent_indent=indent + "  ",
                    break_on_hyphens=False,
                )
            )

    checks = run_checks(opts, show)
    failed = [c.name for c in checks if c.status == FAILED]
    if fmt == "json":
        console.write(
            json.dumps({"ok": not failed, "checks": [c.as_dict() for c in checks]}, indent=2)
        )
    elif failed:
        console.info(
            f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}"
        )
    else:
        warned = sum(1 for c in checks if c.status == "warning")
        console.info("all checks passed" + (f" ({warned} with a warning)" if warned else ""))
    return EXIT_CONFIG if failed else EXIT_OK

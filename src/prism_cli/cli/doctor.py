"""``prism doctor``: run the checks of :mod:`prism_cli.app.doctor` and print one line each."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    ENV_EPILOG,
    SHORT,
    ModelOption,
    ProfileOption,
    RegionOption,
    StoreOption,
    application,
    command_app,
    opt,
)
from prism_cli.errors import EXIT_CONFIG, EXIT_OK, UsageError

if TYPE_CHECKING:
    from prism_cli.app.doctor import Check, DoctorOptions

MARKS = {"ok": "ok", "warning": "warning", "failed": "FAILED", "skipped": "skipped"}


def run_doctor(app: Application, opts: DoctorOptions, fmt: str) -> int:
    from prism_cli.app.doctor import FAILED, run_checks

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


command = command_app()


@command.command("doctor", cls=PanelCommand, short_help=SHORT["doctor"], epilog=ENV_EPILOG)
def doctor(
    ctx: typer.Context,
    store: StoreOption = None,
    push: Annotated[
        str | None,
        opt(
            metavar="URL",
            env="PUSH",
            help="Also check this s3://bucket/prefix (exists, region, writable, encryption).",
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", "-f", metavar="FORMAT", help="table or json.")
    ] = "table",
    offline: Annotated[
        bool, typer.Option("--offline", metavar="", help="Skip every AWS check.")
    ] = False,
    model: ModelOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
) -> None:
    """Check what prism needs: configuration, AWS credentials and region, each model of the
    chain (access, lifecycle, quotas), the session store and the --push destination.

    Exit 0 when every check passes or only warns, 4 when any fails.
    """
    from prism_cli.app.doctor import DoctorOptions
    from prism_cli.cli.config import find_config

    def from_flag(name: str) -> bool:
        source = ctx.get_parameter_source(name)
        return source is not None and source.name == "COMMANDLINE"

    given = {
        key: str(value)
        for key, value in (("store", store), ("region", region), ("profile", profile))
        if value is not None and from_flag(key)
    }
    if model and from_flag("model"):
        given["model"] = ",".join(model)
    app = application(ctx, store=store)
    path = find_config()
    options = DoctorOptions(
        store=store,
        push=push,
        region=region,
        profile=profile,
        models=list(model or []),
        offline=offline,
        config_path=str(path) if path else None,
        config=app.config,
        overrides=app.catalog_overrides,
        flags=given,
        config_problems=list(ctx.find_root().meta.get("config_problems", [])),
    )
    raise typer.Exit(run_doctor(app, options, fmt))

"""``prism models``: the chain resolved for a region, where each fact came from, and
(``--check``) whether each model answers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    import boto3

    from prism_cli.core.jsontypes import JSONObject
    from prism_cli.engine.catalog import Catalog

from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    SHORT,
    ListFormat,
    ModelOption,
    ProfileOption,
    RegionOption,
    VerboseOption,
    application,
    command_app,
)
from prism_cli.console import Console
from prism_cli.errors import EXIT_CONFIG, EXIT_OK, ConfigError


@dataclass
class ModelsOptions:
    idents: list[str] = field(default_factory=list)
    region: str | None = None
    profile: str | None = None
    check: bool = False
    refresh: bool = False
    show_all: bool = False
    fmt: str | None = None
    overrides: JSONObject = field(default_factory=dict)


def _price(catalog: Catalog, model_id: str) -> str:
    prices = catalog.prices(model_id)
    if prices is None:
        return "?"
    return f"${prices[0]:g} / ${prices[1]:g}"


def run_models(console: Console, opts: ModelsOptions) -> int:
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_session, resolve_region, runtime_client
    from prism_cli.bedrock.discovery import discover

    catalog = load_catalog(opts.overrides)
    client: BedrockClient | None = None
    session: boto3.Session | None = None
    try:
        session, region = make_session(opts.region, opts.profile)
    except ConfigError as exc:
        if opts.check:
            raise
        console.debug(f"no account listings: {exc}")
        region = resolve_region(opts.region, opts.profile)
    available = None
    if session is not None:
        available, why = discover(session, region, refresh=opts.refresh)
        console.debug(why)
        if opts.check:
            client = BedrockClient(runtime_client(session, region))
    idents = opts.idents or None
    if opts.show_all:
        idents = list(catalog.models)
    chain, notes = catalog.chain(region, idents, available)
    rows: list[JSONObject] = []
    usable = 0
    for model in chain:
        info = model.info
        lifecycle = catalog.lifecycle(info, available)
        listed = available is not None and info.base_id in available.lifecycle
        row: JSONObject = {
            "key": model.key,
            "name": info.name,
            "model_id": model.model_id,
            "geography": model.geography,
            "id_source": model.source,
            "lifecycle": lifecycle,
            "lifecycle_source": "account" if listed else "catalog",
            "eol_date": info.eol_date,
            "in_catalog": info.known,
            "thinking": info.thinking,
            "efforts": list(info.efforts),
            "sampling": info.sampling,
            "forced_tool": info.forced_tool,
            "structured_output": info.structured_output,
            "context_window": info.context_window,
            "max_output": info.max_output,
            "price_per_mtok": list(catalog.prices(model.model_id) or ())[:2],
            "cache_read_share": model.info.cache_read_factor,
            "note": model.note,
        }
        if client is not None:
            from prism_cli.bedrock.probe import probe

            access = probe(client, model.model_id)
            row["status"] = access.status
            if access.message:
                row["error"] = access.message
            usable += access.usable
        rows.append(row)
    code = EXIT_CONFIG if opts.check and usable == 0 else EXIT_OK
    fmt = opts.fmt or ("table" if console.stdout_is_tty else "json")
    source = "account listings" if available is not None else "catalog only"
    if fmt == "json":
        console.write(
            json.dumps(
                {"region": region, "source": source, "chain": rows, "skipped": notes}, indent=2
            )
        )
        return code
    from rich.table import Table
    from rich.text import Text

    table = Table(
        title=f"Fallback chain for {region} ({source})", title_justify="left", expand=False
    )
    columns = ["#", "model", "id to call", "lifecycle", "$/M in/out", "thinking"]
    if opts.check:
        columns.append("status")
    for column in columns:
        table.add_column(column, overflow="fold")
    for n, row in enumerate(rows, start=1):
        lifecycle = row["lifecycle"] + (f" (eol {row['eol_date']})" if row["eol_date"] else "")
        if row["lifecycle_source"] == "account":
            lifecycle += " *"
        model_id = row["model_id"] + (" *" if row["id_source"] == "account" else "")
        cells = [
            str(n),
            row["name"].removeprefix("Claude "),
            model_id,
            lifecycle,
            _price(catalog, row["model_id"]),
            row["thinking"].replace("_", " "),
        ]
        if opts.check:
            cells.append(row["status"])
        table.add_row(*(Text(c) for c in cells))  # config may name a model: never markup
    console.render(table)
    if available is not None:
        console.info("* from the account's listings; everything else from prism's catalog")
    for note in notes:
        console.info(f"note: {note}")
    return code


command = command_app()


@command.command("models", cls=PanelCommand, short_help=SHORT["models"])
def models(
    ctx: typer.Context,
    model: ModelOption = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    check: Annotated[
        bool, typer.Option("--check", help="Send each model a tiny request and report access.")
    ] = False,
    refresh: Annotated[
        bool, typer.Option("--refresh", help="Ask the account again (ignore the day-old cache).")
    ] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Every model of the catalog, not only the chain.")
    ] = False,
    fmt: ListFormat = None,
    verbose: VerboseOption = False,
) -> None:
    """Show the fallback chain resolved for the region: the id called, lifecycle, price,
    request rules and where each fact came from; --check tests access to each model."""
    options = ModelsOptions(
        idents=list(model or []),
        region=region,
        profile=profile,
        check=check,
        refresh=refresh,
        show_all=show_all,
        fmt=fmt.value if fmt else None,
        overrides=application(ctx).catalog_overrides,
    )
    raise typer.Exit(run_models(Console(verbose=verbose), options))

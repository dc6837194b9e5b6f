"""``prism models``: the chain resolved for a region, and (``--check``) whether each answers."""

from __future__ import annotations

import json
from typing import Any

from prism_cli.console import Console
from prism_cli.errors import EXIT_CONFIG, EXIT_OK

CHECK_REQUEST: dict[str, Any] = {
    "messages": [{"role": "user", "content": [{"text": "Reply with: ok"}]}],
    "inferenceConfig": {"maxTokens": 5},
}


def _status(kind: str) -> str:
    if kind in ("access_denied", "no_credentials"):
        return "no access"
    if kind in ("not_found", "needs_inference_profile"):
        return "not offered"
    if kind == "throttled":
        return "ok (throttled)"
    return f"error: {kind}"


def run_models(
    console: Console,
    idents: list[str],
    region: str | None,
    profile: str | None,
    check: bool,
    fmt: str | None,
    overrides: dict[str, Any],
) -> int:
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_boto_client, resolve_region

    catalog = load_catalog(overrides)
    client: BedrockClient | None = None
    if check:
        boto_client, region = make_boto_client(region, profile)
        client = BedrockClient(boto_client)
    else:
        region = resolve_region(region, profile)
    chain, notes = catalog.chain(region, idents or None)
    rows: list[dict[str, Any]] = []
    code = EXIT_OK
    usable = 0
    for model in chain:
        row: dict[str, Any] = {
            "key": model.key,
            "name": model.info.name,
            "model_id": model.model_id,
            "geography": model.geography,
            "thinking": model.info.thinking,
            "structured_output": model.info.structured_output,
            "max_output": model.info.max_output,
            "note": model.note,
        }
        if client is not None:
            from prism_cli.core.ports import ModelCallError

            try:
                client.converse(model.model_id, CHECK_REQUEST)
                row["status"] = "ok"
            except ModelCallError as exc:
                row["status"] = _status(exc.kind.value)
                row["error"] = exc.message
            usable += row["status"].startswith("ok")
        rows.append(row)
    if check and usable == 0:
        code = EXIT_CONFIG
    fmt = fmt or ("table" if console.stdout_is_tty else "json")
    if fmt == "json":
        console.write(json.dumps({"region": region, "chain": rows, "skipped": notes}, indent=2))
    else:
        from rich.table import Table

        table = Table(title=f"Fallback chain for {region}", title_justify="left")
        for column in ("#", "model", "id to call", "thinking", "note") + (
            ("status",) if check else ()
        ):
            table.add_column(column)
        for n, row in enumerate(rows, start=1):
            cells = [
                str(n),
                row["name"],
                row["model_id"],
                "yes" if row["thinking"] else "no",
                row["note"],
            ]
            if check:
                cells.append(row["status"])
            table.add_row(*cells)
        console.render(table)
        for note in notes:
            console.info(f"note: {note}")
    return code

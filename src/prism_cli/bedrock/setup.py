"""Build the model engine from options: one place for review, chat and queue workers.

Region and credentials (validated), the catalog with config overrides, discovery of what the
account can call, the chain resolved against it, and the notes a user should see about it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from prism_cli.engine.catalog import Availability, Catalog, strip_geography
from prism_cli.engine.engine import EngineEvent, ModelEngine
from prism_cli.engine.fallback import RetryPolicy
from prism_cli.engine.quota import ModelQuota, QuotaLimits
from prism_cli.engine.requests import Thinking
from prism_cli.errors import ModelAccessError


@dataclass
class EngineSetup:
    engine: ModelEngine
    catalog: Catalog
    region: str
    available: Availability | None
    notes: list[str] = field(default_factory=list)
    """For every run: models skipped before any call, legacy warnings, thinking notes."""
    details: list[str] = field(default_factory=list)
    """For ``-v``: where the chain's facts came from."""


def thinking_notes(engine: ModelEngine, thinking: Thinking) -> list[str]:
    notes: list[str] = []
    modes = {m.info.key: m.info.thinking for m in engine.chain}
    if thinking.enabled:
        for key, mode in modes.items():
            if mode == "none":
                notes.append(f"{key}: no extended thinking; reviewed without it")
    if thinking.budget is not None:
        budget = [k for k, mode in modes.items() if mode == "budget"]
        if not budget:
            notes.append(
                "--thinking-budget has no effect on this chain: its models think adaptively "
                "(use --effort)"
            )
        elif len(budget) < len(modes):
            notes.append(
                f"--thinking-budget applies to {', '.join(budget)} only; the others think "
                "adaptively (use --effort)"
            )
    return notes


def open_engine(
    *,
    region: str | None,
    profile: str | None,
    models: list[str] | None,
    overrides: dict[str, Any] | None,
    thinking: Thinking,
    policy: RetryPolicy | None = None,
    discovery: bool = True,
    on_event: Callable[[EngineEvent], None] = lambda _event: None,
    make_quota: Callable[..., ModelQuota] | None = None,
) -> EngineSetup:
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, make_session, runtime_client
    from prism_cli.bedrock.discovery import discover
    from prism_cli.bedrock.quotas import limits_for, read_quotas

    catalog = load_catalog(overrides)
    session, resolved_region = make_session(region, profile)
    details: list[str] = []
    available: Availability | None = None
    applied: list[Any] | None = None
    if discovery:
        available, why = discover(session, resolved_region)
        details.append(why)
        applied, why_quotas = read_quotas(session, resolved_region)
        details.append(
            f"quotas: {len(applied)} per-minute quotas from {why_quotas}"
            if applied is not None
            else f"quotas: not readable ({why_quotas}); learned from 429s"
        )
    chain, notes = catalog.chain(resolved_region, models or None, available)
    if not chain:
        raise ModelAccessError(
            f"no model of the chain is usable in {resolved_region}: " + "; ".join(notes)
        )
    details.append("chain: " + ", ".join(f"{m.model_id} ({m.source})" for m in chain))
    said: dict[str, list[str]] = {}
    for model in chain:
        if model.note:
            said.setdefault(model.note, []).append(model.model_id)
    for note, ids in said.items():  # one line per fact, not one per model of the chain
        notes.append(f"{', '.join(ids)}: {note}")

    def remap(model_id: str) -> str | None:
        return catalog.profile_for(strip_geography(model_id), resolved_region)

    def limits(model_id: str) -> QuotaLimits | None:
        """Config (``[models.X] rpm``/``tpm``) over Service Quotas, per dimension."""
        info = catalog.info_for(model_id)
        read = limits_for(applied, info, model_id) if applied else None
        if info.rpm or info.tpm:
            return QuotaLimits(
                info.rpm or (read.rpm if read else None),
                info.tpm or (read.tpm if read else None),
                "config",
            )
        return read

    engine = ModelEngine(
        BedrockClient(runtime_client(session, resolved_region)),
        chain,
        thinking=thinking,
        policy=policy,
        remap=remap,
        suggest=catalog.suggest,
        on_event=on_event,
        make_quota=make_quota,
        limits=limits,
    )
    notes.extend(thinking_notes(engine, thinking))
    return EngineSetup(engine, catalog, resolved_region, available, notes, details)

"""The applied Bedrock quotas of each model, read from Service Quotas and matched exactly.

``ListServiceQuotas(ServiceCode="bedrock")`` (paginated) names each quota in words, e.g.
"Cross-region model inference tokens per minute for Anthropic Claude Opus 4.6 V1". A model's
quota in a scope is the one whose name is exactly the scope's prefix, the dimension, and the
model's label (" V1" is part of some labels, not others): every geographic profile (``us.``,
``eu.``, ...) shares the "Cross-region" quota, ``global.`` has its own "Global cross-region"
one, a base id called on demand the "On-demand" one. A substring match would take "Claude Opus
4" for 4.1 ... 4.7, or "Claude Sonnet 5" for 5.5: never.

Reading needs ``servicequotas:ListServiceQuotas``; where the role lacks it the limits are
learned from 429s instead. Answers are cached beside discovery's, for a day.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prism_cli.engine.catalog import ModelInfo
from prism_cli.engine.quota import QuotaLimits, scope_of

TTL = 24 * 3600

SCOPES = {
    "cross-region": "Cross-region model inference",
    "global": "Global cross-region model inference",
    "on-demand": "On-demand model inference",
}


@dataclass(frozen=True)
class AppliedQuota:
    name: str
    value: float
    code: str = ""


def scope_for(model_id: str) -> str:
    """``cross-region`` | ``global`` | ``on-demand``: the limiter's scope, without the model."""
    return scope_of(model_id).split(":", 1)[0]


def quota_names(scope: str, dimension: str, label: str) -> tuple[str, ...]:
    """The names a quota of ``label`` may have (with and without " V1")."""
    base = f"{SCOPES[scope]} {dimension} per minute for Anthropic {label}"
    return (base, f"{base} V1") if not label.endswith(" V1") else (base, base[: -len(" V1")])


def match(
    quotas: Iterable[AppliedQuota], info: ModelInfo, model_id: str
) -> dict[str, AppliedQuota]:
    """``{"requests": ..., "tokens": ...}``: the quotas of ``model_id``'s scope, exactly."""
    scope = scope_for(model_id)
    by_name = {q.name.casefold(): q for q in quotas}
    found: dict[str, AppliedQuota] = {}
    for dimension in ("requests", "tokens"):
        for name in quota_names(scope, dimension, info.name):
            quota = by_name.get(name.casefold())
            if quota is not None:
                found[dimension] = quota
                break
    return found


def limits_for(
    quotas: Iterable[AppliedQuota], info: ModelInfo, model_id: str
) -> QuotaLimits | None:
    found = match(quotas, info, model_id)
    if not found:
        return None
    rpm = found["requests"].value if "requests" in found else None
    tpm = found["tokens"].value if "tokens" in found else None
    return QuotaLimits(rpm, tpm, "service-quotas")


def _cache_file(session: Any, region: str) -> Path | None:
    from prism_cli.bedrock.discovery import _cache_file as discovery_file

    path = discovery_file(session, region)
    return path.with_name(path.stem + "-quotas.json") if path is not None else None


def _list(session: Any, region: str) -> list[AppliedQuota]:
    from botocore.config import Config

    client = session.client(
        "service-quotas",
        region_name=region,
        config=Config(retries={"total_max_attempts": 2, "mode": "standard"},
                      connect_timeout=3, read_timeout=10, user_agent_extra="prism-cli"),
    )  # fmt: skip
    found: list[AppliedQuota] = []
    for page in client.get_paginator("list_service_quotas").paginate(ServiceCode="bedrock"):
        for raw in page.get("Quotas", []):
            name = str(raw.get("QuotaName", ""))
            if "per minute for Anthropic" in name:
                found.append(
                    AppliedQuota(name, float(raw.get("Value", 0)), str(raw.get("QuotaCode", "")))
                )
    return found


def read_quotas(
    session: Any, region: str, *, refresh: bool = False
) -> tuple[list[AppliedQuota] | None, str]:
    """The account's per-minute Anthropic quotas in ``region``; (None, why) when unreadable."""
    import botocore.exceptions

    if os.environ.get("PRISM_NO_DISCOVERY", "").lower() in ("1", "true", "yes", "on"):
        return None, "discovery is off (PRISM_NO_DISCOVERY)"
    path = _cache_file(session, region)
    now = time.time()
    if path is not None and not refresh:
        try:
            data = json.loads(path.read_text("utf-8"))
            if now - float(data["fetched_at"]) < TTL:
                cached = [AppliedQuota(q["name"], float(q["value"]), q.get("code", ""))
                          for q in data["quotas"]]  # fmt: skip
                return cached, "Service Quotas (cached)"
        except (OSError, ValueError, KeyError, TypeError):
            pass
    try:
        found = _list(session, region)
    except botocore.exceptions.ClientError as exc:
        return None, str(exc.response.get("Error", {}).get("Code", "error"))
    except botocore.exceptions.BotoCoreError as exc:
        return None, f"unreachable ({type(exc).__name__})"
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            payload = {"fetched_at": now,
                       "quotas": [{"name": q.name, "value": q.value, "code": q.code} for q in found]}  # fmt: skip
            tmp.write_text(json.dumps(payload), "utf-8")
            tmp.replace(path)
        except OSError:
            pass
    return found, "Service Quotas"

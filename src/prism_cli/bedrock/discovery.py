"""Ask the account which Claude models and profiles it can call, instead of guessing.

The control-plane service ``bedrock`` (endpoint override ``AWS_ENDPOINT_URL_BEDROCK``) lists
the system-defined inference profiles (``ListInferenceProfiles``) and the foundation models
with their lifecycle (``ListFoundationModels``) for one region. Both need IAM permissions a CI
role may lack, so discovery is best effort: denied, unreachable or slow -> None and the
catalog decides, with a note for ``-v``. Answers are cached per account and region in the user
cache dir for a day (``PRISM_NO_DISCOVERY=1`` turns discovery off).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from prism_cli.engine.catalog import Availability

TTL = 24 * 3600
CONNECT_TIMEOUT = 3
READ_TIMEOUT = 10


def _cache_file(session: Any, region: str) -> Path | None:
    import botocore.exceptions
    from platformdirs import user_cache_dir

    try:
        credentials = session.get_credentials()
        access_key = credentials.access_key if credentials is not None else "bearer"
    except botocore.exceptions.BotoCoreError:
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_BEDROCK", "")
    account = hashlib.sha256(f"{access_key}|{endpoint}".encode()).hexdigest()[:16]
    return Path(user_cache_dir("prism")) / "discovery" / f"{account}-{region}.json"


def _read_cache(path: Path, now: float) -> Availability | None:
    try:
        data = json.loads(path.read_text("utf-8"))
        found = Availability.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if now - found.fetched_at < TTL else None


def _write_cache(path: Path, found: Availability) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found.to_dict()), "utf-8")
        tmp.replace(path)
    except OSError:
        pass  # a read-only cache dir only costs the next run two listings


def _list(session: Any, region: str) -> Availability:
    from botocore.config import Config

    client = session.client(
        "bedrock",
        region_name=region,
        config=Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
            user_agent_extra="prism-cli",
        ),
    )
    profiles: set[str] = set()
    token: str | None = None
    while True:
        kwargs: dict[str, Any] = {"typeEquals": "SYSTEM_DEFINED", "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = client.list_inference_profiles(**kwargs)
        for summary in page.get("inferenceProfileSummaries", []):
            if str(summary.get("status", "ACTIVE")).upper() == "ACTIVE":
                profiles.add(str(summary["inferenceProfileId"]))
        token = page.get("nextToken")
        if not token:
            break
    on_demand: set[str] = set()
    lifecycle: dict[str, str] = {}
    for summary in client.list_foundation_models(byProvider="anthropic").get("modelSummaries", []):
        model_id = str(summary["modelId"])
        status = str((summary.get("modelLifecycle") or {}).get("status", "ACTIVE")).lower()
        lifecycle[model_id] = status
        if "ON_DEMAND" in (summary.get("inferenceTypesSupported") or []):
            on_demand.add(model_id)
    return Availability(region, frozenset(profiles), frozenset(on_demand), lifecycle, time.time())


def discover(
    session: Any, region: str, *, refresh: bool = False
) -> tuple[Availability | None, str]:
    """What the account can call in ``region``; (None, why) when it cannot be known."""
    import botocore.exceptions

    if os.environ.get("PRISM_NO_DISCOVERY", "").lower() in ("1", "true", "yes", "on"):
        return None, "discovery is off (PRISM_NO_DISCOVERY); using the catalog"
    now = time.time()
    path = _cache_file(session, region)
    if path is not None and not refresh:
        cached = _read_cache(path, now)
        if cached is not None:
            return cached, f"account listings for {region} from the cache ({path})"
    try:
        found = _list(session, region)
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return None, f"account listings unavailable ({code}); using the catalog"
    except botocore.exceptions.BotoCoreError as exc:
        return None, f"account listings unreachable ({type(exc).__name__}); using the catalog"
    if not found.profiles and not found.on_demand:
        return None, f"account listings for {region} are empty; using the catalog"
    if path is not None:
        _write_cache(path, found)
    return found, f"account listings for {region}: {len(found.profiles)} profiles"

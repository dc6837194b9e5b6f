"""``prism doctor``: one check per part prism needs, each ok / warning / failed with a hint.

Checks, in order: versions; configuration (the file and where each setting came from); the
region and how it was found; AWS credentials (STS GetCallerIdentity: account and principal,
never a secret); discovery (ListInferenceProfiles); every model of the chain (the id it
resolves to, lifecycle, access, quotas from Service Quotas); the session store (a probe
entry written, read back, deleted); the S3 destination of ``--push``. A failed check names
the part and says how to fix it; the command exits 4 when any check failed.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from boto3 import Session

OK, WARNING, FAILED, SKIPPED = "ok", "warning", "failed", "skipped"


@dataclass
class Check:
    name: str
    status: str
    detail: str
    hint: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"check": self.name, "status": self.status, "detail": self.detail, "hint": self.hint}


@dataclass
class DoctorOptions:
    store: str | None = None
    push: str | None = None
    region: str | None = None
    profile: str | None = None
    models: list[str] = field(default_factory=list)
    offline: bool = False
    config_path: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)
    """Settings given as doctor's own flags (their source is "flag")."""
    config_problems: list[str] = field(default_factory=list)
    """Values in the config file a command would refuse (file:line: key = value: why)."""


SETTINGS = ("region", "profile", "store", "model", "fail_on", "format", "concurrency", "queue")
DEFAULTS = {
    "region": "AWS config",
    "profile": "none",
    "store": "the user data dir",
    "model": "the catalog's chain",
    "fail_on": "high",
    "format": "table on a terminal, else json",
    "concurrency": "4",
    "queue": "none",
}


def _settings(opts: DoctorOptions) -> Check:
    """Where each setting a review would use comes from: flag, env, file or default."""
    from prism_cli.stores.masking import mask_url

    review = opts.config.get("review") if isinstance(opts.config.get("review"), dict) else {}
    assert isinstance(review, dict)
    parts = []
    for key in SETTINGS:
        env = f"PRISM_{key.upper()}"
        if key in opts.flags:
            value, source = opts.flags[key], "flag"
        elif os.environ.get(env):
            value, source = os.environ[env], f"env {env}"
        elif key in review or key in opts.config:
            value, source = str(review.get(key, opts.config.get(key))), "file"
        else:
            value, source = DEFAULTS[key], "default"
        if key in ("store", "queue"):
            value = mask_url(value)
        parts.append(f"{key}={value} ({source})")
    return Check("settings", OK, "; ".join(parts))


def _config(opts: DoctorOptions) -> Check:
    if opts.config_path is None:
        return Check("config", OK, "no prism.toml (looked in this folder and its parents)")
    if opts.config_problems:
        return Check(
            "config",
            FAILED,
            "; ".join(opts.config_problems),
            "fix the value: the command named refuses to run with it",
        )
    catalog = _catalog_problem(opts)
    if catalog:
        return Check("config", FAILED, catalog, "fix the [models] table")
    return Check("config", OK, f"{opts.config_path}")


def _catalog_problem(opts: DoctorOptions) -> str | None:
    """A ``[models.X]`` table the catalog refuses (review exits 4 on it)."""
    if not opts.overrides:
        return None
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.errors import PrismError

    try:
        load_catalog(opts.overrides)
    except PrismError as exc:
        return str(exc)
    return None


def _region(opts: DoctorOptions) -> tuple[Check, str | None]:
    from prism_cli.bedrock.account import profile_region
    from prism_cli.bedrock.client import validate_region
    from prism_cli.errors import PrismError

    how = None
    region = None
    if opts.region:
        region, how = opts.region, "--region" if "region" in opts.flags else "PRISM_REGION"
    elif os.environ.get("AWS_REGION"):
        region, how = os.environ["AWS_REGION"], "AWS_REGION"
    elif os.environ.get("AWS_DEFAULT_REGION"):
        region, how = os.environ["AWS_DEFAULT_REGION"], "AWS_DEFAULT_REGION"
    else:
        try:
            region = profile_region(opts.profile)
        except PrismError as exc:
            return Check("region", FAILED, str(exc), "check --profile"), None
        how = f"profile {opts.profile or 'default'} (~/.aws/config)"
    if not region:
        return Check(
            "region", FAILED, "no region", "pass --region, set AWS_REGION or run aws configure"
        ), None
    try:
        validate_region(region)
    except PrismError as exc:
        return Check("region", FAILED, str(exc), "pass a Bedrock region, e.g. us-east-1"), None
    return Check("region", OK, f"{region} (from {how})"), region


CREDENTIAL_HINTS = {
    "missing": "set AWS_PROFILE or run aws configure",
    "refused": "the keys are wrong or expired: renew them (aws sso login, aws configure)",
    "unverified": "reviews need only Bedrock: the model checks below say whether it answers",
}


def _credentials(opts: DoctorOptions, region: str) -> tuple[Check, Session | None]:
    from prism_cli.bedrock.account import identify

    found = identify(region, opts.profile)
    status = {"ok": OK, "unverified": WARNING}.get(found.status, FAILED)
    hint = CREDENTIAL_HINTS.get(found.status, "")
    if found.status == "missing" and found.detail.startswith("AWS configuration"):
        hint = "check AWS_PROFILE and ~/.aws"
    session = found.session if status != FAILED else None
    return Check("credentials", status, found.detail, hint), session


def _discovery(session: Session, region: str) -> Check:
    from prism_cli.bedrock.discovery import discover

    available, why = discover(session, region, refresh=True)
    if available is None:
        hint = (
            "check the network and the Bedrock endpoint (a VPC needs one for the bedrock "
            "control plane): the chain then follows what the account can call"
            if "unreachable" in why
            else "allow bedrock:ListInferenceProfiles and bedrock:ListFoundationModels: the "
            "chain then follows what the account can call"
        )
        return Check("discovery", WARNING, why, hint)
    return Check("discovery", OK, why)


def _models(opts: DoctorOptions, session: Session, region: str) -> list[Check]:
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.bedrock.client import BedrockClient, runtime_client
    from prism_cli.bedrock.discovery import discover

    catalog = load_catalog(opts.overrides)
    available, _ = discover(session, region)
    chain, notes = catalog.chain(region, opts.models or None, available)
    checks: list[Check] = []
    if not chain:
        return [
            Check(
                "models", FAILED, "no model of the chain is usable: " + "; ".join(notes),
                "pick models offered in this region: prism models --all",
            )
        ]  # fmt: skip
    from prism_cli.bedrock.quotas import SCOPES, match, read_quotas, scope_for

    runtime = BedrockClient(runtime_client(session, region))
    quotas, why_not = read_quotas(session, region, refresh=True)
    for n, model in enumerate(chain, 1):
        info = model.info
        name = f"model {n}"
        lifecycle = catalog.lifecycle(info, available)
        parts = [f"{model.model_id} ({info.name}, {model.source}, {lifecycle})"]
        status, hint = OK, ""
        if lifecycle != "active":
            status = WARNING
            hint = (
                f"{info.name} is {lifecycle}"
                + (f" (end of life {info.eol_date})" if info.eol_date else "")
                + ": move to a current model (prism models)"
            )
        access, detail = _access(runtime, model.model_id, info.base_id, info.base_on_demand)
        parts.append(detail)
        if access == FAILED:
            status = FAILED
            hint = (
                "request access to this model in the Bedrock console (Model access) and allow "
                "bedrock:InvokeModel on it; reviews would otherwise pay for fallbacks"
            )
        configured = [
            f"{n} {v:,.0f}/min" for n, v in (("requests", info.rpm), ("tokens", info.tpm)) if v
        ]
        if quotas is not None:
            found = match(quotas, info, model.model_id)
            scope = scope_for(model.model_id)
            if found:
                shown = ", ".join(
                    f"{found[dim].value:,.0f} {dim}/min" for dim in ("requests", "tokens")
                    if dim in found
                )  # fmt: skip
                label = found.get("tokens", found.get("requests"))
                assert label is not None
                named = label.name.split(" for Anthropic ", 1)[-1]
                codes = ", ".join(found[d].code for d in ("requests", "tokens") if d in found)
                parts.append(f"quota: {shown} ({SCOPES[scope]}, {named}: {codes}; Service Quotas)")
            else:
                parts.append(f"quota: none listed for {SCOPES[scope]} (learned from 429s)")
        if configured:
            parts.append("quota set in config (used first): " + ", ".join(configured))
        checks.append(Check(name, status, ", ".join(parts), hint))
    if quotas is None:
        checks.append(
            Check(
                "quotas",
                WARNING,
                f"Service Quotas not readable ({why_not})",
                (
                    "check the network and the Service Quotas endpoint"
                    if _unreachable(why_not)
                    else "allow servicequotas:ListServiceQuotas"
                )
                + ": runs then pace to each model's requests and tokens per minute from the "
                "first call instead of learning them from 429s",
            )
        )
    return checks


def _unreachable(why: str) -> bool:
    """A connection failure (botocore's), not a refusal."""
    return "unreachable" in why


def _access(client: Any, model_id: str, base_id: str, on_demand: bool) -> tuple[str, str]:
    """Access proven by the probe ``models --check`` uses (bedrock/probe); whether
    CountTokens (free, what ``--dry-run`` uses) answers for the model's base id."""
    from prism_cli.bedrock.probe import counts_tokens, probe

    access = probe(client, model_id)
    if not access.usable:
        return FAILED, f"{access.status}: {access.message}".rstrip(": ")
    detail = "access ok" + (" (throttled)" if access.status != "ok" else "")
    if not on_demand:
        # CountTokens does not answer for models offered only through cross-region profiles:
        # not asked, not a failure.
        return OK, f"{detail}, no CountTokens for profile-only models (--dry-run estimates)"
    counting = (
        "CountTokens answers"
        if counts_tokens(client, base_id)
        else ("no CountTokens (--dry-run estimates)")
    )
    return OK, f"{detail}, {counting}"


def _store(opts: DoctorOptions) -> Check:
    from prism_cli.errors import PrismError
    from prism_cli.stores.masking import mask_url
    from prism_cli.stores.url import default_store_url, open_store

    url = opts.store or default_store_url()
    shown = mask_url(url)
    if opts.offline and url.startswith("s3://"):
        return Check("store", SKIPPED, f"{shown} (--offline: no AWS call)")
    try:
        store = open_store(url)
        store.check()
        key = f"doctor/probe-{uuid.uuid4().hex}"
        payload = b"prism doctor probe"
        store.put(key, payload)
        back = store.get(key)
        store.delete([key])
        gone = store.get(key) is None
    except ValueError as exc:
        return Check("store", FAILED, f"invalid store URL: {exc}", "see README: Stores")
    except PrismError as exc:
        return Check(
            "store", FAILED, str(exc), "start the store or fix --store / PRISM_STORE / store ="
        )
    if back != payload or not gone:
        return Check("store", FAILED, f"{shown}: the probe did not read back", "")
    return Check("store", OK, f"{shown}: reachable; a probe entry written, read back, deleted")


def _push(opts: DoctorOptions, session: Session, region: str) -> Check:
    from prism_cli.stores.s3 import check_destination

    assert opts.push is not None
    found = check_destination(session, region, opts.push)
    return Check("push", found.status, found.detail, found.hint)


def run_checks(
    opts: DoctorOptions, on_check: Callable[[Check], None] = lambda _c: None
) -> list[Check]:
    from prism_cli import __version__

    checks: list[Check] = []

    def add(check: Check) -> None:
        checks.append(check)
        on_check(check)

    add(Check("prism", OK, f"prism {__version__}, Python {sys.version.split()[0]}"))
    add(_config(opts))
    add(_settings(opts))
    session: Session | None = None
    region: str | None = None
    if opts.offline:
        add(Check("aws", SKIPPED, "--offline: region, credentials, models and S3 not checked"))
    else:
        region_check, region = _region(opts)
        add(region_check)
        if region is not None:
            credentials, session = _credentials(opts, region)
            add(credentials)
        if session is not None and region is not None:
            add(_discovery(session, region))
            for check in _models(opts, session, region):
                add(check)
    add(_store(opts))
    if opts.push:
        if opts.offline:
            add(Check("push", SKIPPED, "--offline: the S3 destination is not checked"))
        elif session is None or region is None:
            add(Check("push", SKIPPED, "no AWS credentials to check it with"))
        else:
            add(_push(opts, session, region))
    return checks

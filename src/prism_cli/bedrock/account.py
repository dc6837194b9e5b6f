"""Who prism is on AWS, for ``prism doctor``: the region a profile names, and the caller's
identity (STS GetCallerIdentity: the account and principal, never a secret). botocore's
errors are classified here, so the doctor reads outcomes, not exceptions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prism_cli.errors import ConfigError


def profile_region(profile: str | None) -> str | None:
    """The region ``~/.aws/config`` gives the profile (or the default one), if any."""
    import boto3
    import botocore.exceptions

    try:
        return boto3.Session(profile_name=profile).region_name
    except botocore.exceptions.ProfileNotFound:
        raise ConfigError(f"AWS profile not found: {profile}") from None


@dataclass
class Identity:
    status: str
    """``ok`` (verified), ``unverified`` (credentials found, STS out of reach), ``refused``
    (STS refused them) or ``missing`` (none found, or the AWS configuration is broken)."""
    detail: str
    session: Any = None
    """The boto3 session, when credentials were found."""


def identify(region: str, profile: str | None) -> Identity:
    import botocore.exceptions

    from prism_cli.bedrock.client import make_session
    from prism_cli.errors import PrismError

    try:
        session, _ = make_session(region, profile)
        creds = session.get_credentials()
    except PrismError as exc:
        return Identity("missing", str(exc))
    except botocore.exceptions.BotoCoreError as exc:
        return Identity("missing", f"AWS configuration: {exc}")
    method = getattr(creds, "method", None) or "bearer token"
    try:
        who = session.client("sts", region_name=region).get_caller_identity()
    except botocore.exceptions.ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        return Identity("refused", f"STS refused the credentials ({code}, from {method})")
    except botocore.exceptions.BotoCoreError as exc:
        # STS may be out of reach (a VPC with a Bedrock endpoint and none for STS) while
        # Bedrock is not.
        detail = (
            f"credentials found ({method}) but not verified: STS unreachable ({type(exc).__name__})"
        )
        return Identity("unverified", detail, session)
    detail = f"account {who.get('Account')}, {who.get('Arn')} (from {method})"
    return Identity("ok", detail, session)

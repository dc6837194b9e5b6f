"""Converse and ConverseStream over boto3, with botocore's retries off and every error
classified into the core's :class:`ErrorKind` (BEDROCK.md's error table).

Standard AWS configuration works untouched: profiles, region, the credential chain and
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` (which is how the tests point boto3 at a fake server).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from prism_cli.core.ports import (
    ErrorKind,
    ModelCallError,
    ModelResponse,
    ReasoningDelta,
    StreamEvent,
    StreamStop,
    StreamUsage,
    TextDelta,
    ToolInputDelta,
    Usage,
)
from prism_cli.errors import ConfigError, NoCredentials, UsageError

READ_TIMEOUT = 600
CONNECT_TIMEOUT = 10

_CODES = {
    "ThrottlingException": ErrorKind.THROTTLED,
    "ModelNotReadyException": ErrorKind.NOT_READY,
    "ServiceUnavailableException": ErrorKind.UNAVAILABLE,
    "InternalServerException": ErrorKind.INTERNAL,
    "ModelTimeoutException": ErrorKind.TIMEOUT,
    "ModelErrorException": ErrorKind.MODEL_ERROR,
    "ModelStreamErrorException": ErrorKind.MODEL_ERROR,
    "ServiceQuotaExceededException": ErrorKind.QUOTA,
    "AccessDeniedException": ErrorKind.ACCESS_DENIED,
    "ResourceNotFoundException": ErrorKind.NOT_FOUND,
    "UnrecognizedClientException": ErrorKind.NO_CREDENTIALS,
    "InvalidSignatureException": ErrorKind.NO_CREDENTIALS,
    "ExpiredTokenException": ErrorKind.NO_CREDENTIALS,
}
_RETENTION = re.compile(r"data retention", re.IGNORECASE)
_INVALID_ID = re.compile(r"model identifier is invalid", re.IGNORECASE)
_NEEDS_PROFILE = re.compile(r"on-demand throughput|inference profile", re.IGNORECASE)
_TOO_LONG = re.compile(
    r"too long|context window|context length|maximum context|prompt is too", re.IGNORECASE
)


def classify(code: str, message: str) -> ErrorKind:
    if code in _CODES:
        return _CODES[code]
    if code in ("ValidationException", "validationException"):
        if _INVALID_ID.search(message):
            return ErrorKind.INVALID_MODEL
        if _RETENTION.search(message):
            return ErrorKind.ACCOUNT_SETTING
        if _NEEDS_PROFILE.search(message):
            return ErrorKind.NEEDS_PROFILE
        if _TOO_LONG.search(message):
            return ErrorKind.TOO_LONG
        return ErrorKind.INVALID
    lowered = code[:1].upper() + code[1:]  # event-stream codes are lower camel case
    return _CODES.get(lowered, ErrorKind.INTERNAL)


def _retry_after(response: Any) -> float | None:
    headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {}) or {}
    value = headers.get("retry-after") or headers.get("x-amzn-retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _usage(raw: dict[str, Any] | None) -> Usage:
    raw = raw or {}
    return Usage(
        calls=1,
        input_tokens=int(raw.get("inputTokens", 0)),
        output_tokens=int(raw.get("outputTokens", 0)),
        cache_read_tokens=int(raw.get("cacheReadInputTokens", 0)),
        cache_write_tokens=int(raw.get("cacheWriteInputTokens", 0)),
    )


def known_regions() -> list[str]:
    """Every AWS region botocore knows of (all partitions), read from its data file without
    importing botocore (a fifth of a second) when the file is where botocore keeps it."""
    import importlib.util
    import json
    from pathlib import Path

    data: Any = None
    spec = importlib.util.find_spec("botocore")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            data = json.loads((Path(folder) / "data" / "partitions.json").read_text("utf-8"))
            break
        except (OSError, ValueError):
            continue
    if not isinstance(data, dict) or not isinstance(data.get("partitions"), list):
        import botocore.session

        data = botocore.session.get_session().get_data("partitions")
    return [
        name
        for partition in data["partitions"]
        for name in partition["regions"]
        if not name.endswith("-global")
    ]


def validate_region(region: str) -> str:
    """``region`` if AWS has it; else a usage error with the closest names (exit 2)."""
    import difflib

    regions = known_regions()
    if region in regions:
        return region
    close = difflib.get_close_matches(region, regions, n=2, cutoff=0.6)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise UsageError(f"unknown AWS region {region!r}{hint}")


def make_session(region: str | None, profile: str | None) -> tuple[Any, str]:
    """A boto3 session with usable credentials, and its region (validated)."""
    import boto3
    import botocore.exceptions

    try:
        session = boto3.Session(profile_name=profile, region_name=region or _env_region())
    except botocore.exceptions.ProfileNotFound as exc:
        raise ConfigError(f"AWS profile not found: {profile}") from exc
    resolved = session.region_name
    if not resolved:
        raise ConfigError("no AWS region: pass --region or set AWS_REGION")
    validate_region(resolved)
    try:
        credentials = session.get_credentials()
    except botocore.exceptions.BotoCoreError as exc:
        raise ConfigError(f"AWS credentials could not be loaded: {exc}") from exc
    if credentials is None and not _bearer_token_set():
        raise NoCredentials(
            "no AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run `aws configure`"
        )
    return session, resolved


def runtime_client(session: Any, region: str) -> Any:
    """bedrock-runtime with botocore's retries off (prism's own policy decides)."""
    from botocore.config import Config

    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        read_timeout=READ_TIMEOUT,
        connect_timeout=CONNECT_TIMEOUT,
        max_pool_connections=64,
        user_agent_extra="prism-cli",
    )
    return session.client("bedrock-runtime", region_name=region, config=config)


def make_boto_client(region: str | None, profile: str | None) -> tuple[Any, str]:
    """A bedrock-runtime client and its region; raises :class:`ConfigError` when unusable."""
    session, resolved = make_session(region, profile)
    return runtime_client(session, resolved), resolved


def _bearer_token_set() -> bool:
    import os

    return bool(os.environ.get("AWS_BEARER_TOKEN_BEDROCK"))


class BedrockClient:
    """The core's ``ModelPort`` over a boto3 ``bedrock-runtime`` client (real or pointed at a fake)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def converse(self, model_id: str, request: dict[str, Any]) -> ModelResponse:
        import botocore.exceptions

        try:
            raw = self._client.converse(modelId=model_id, **request)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise _call_error(exc) from exc
        stop = str(raw.get("stopReason", ""))
        if stop == "model_context_window_exceeded":
            raise ModelCallError(ErrorKind.TOO_LONG, "model context window exceeded")
        content = raw.get("output", {}).get("message", {}).get("content", []) or []
        return ModelResponse(list(content), stop, _usage(raw.get("usage")))

    def count_tokens(self, model_id: str, request: dict[str, Any]) -> int | None:
        """CountTokens (free) for a Converse request; None where the model or the role does
        not allow it (Bedrock takes bare base ids only, and not every Claude model)."""
        import botocore.exceptions

        converse = {
            key: request[key]
            for key in ("messages", "system", "toolConfig", "additionalModelRequestFields")
            if key in request
        }
        try:
            raw = self._client.count_tokens(modelId=model_id, input={"converse": converse})
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError):
            return None
        tokens = raw.get("inputTokens")
        return int(tokens) if isinstance(tokens, int) else None

    def stream(self, model_id: str, request: dict[str, Any]) -> Iterator[StreamEvent]:
        """ConverseStream as typed events: text, tool input, reasoning, usage, stop."""
        import botocore.exceptions

        try:
            raw = self._client.converse_stream(modelId=model_id, **request)
            tools: dict[int, str] = {}
            for event in raw["stream"]:
                if "contentBlockStart" in event:
                    start = event["contentBlockStart"]
                    tool = start.get("start", {}).get("toolUse")
                    if tool:
                        tools[int(start.get("contentBlockIndex", 0))] = str(tool.get("name", ""))
                elif "contentBlockDelta" in event:
                    block = event["contentBlockDelta"]
                    delta = block.get("delta", {})
                    if "text" in delta:
                        yield TextDelta(delta["text"])
                    elif "toolUse" in delta:
                        name = tools.get(int(block.get("contentBlockIndex", 0)), "")
                        yield ToolInputDelta(str(delta["toolUse"].get("input", "")), name)
                    elif "reasoningContent" in delta:
                        text = delta["reasoningContent"].get("text")
                        if text:
                            yield ReasoningDelta(text)
                elif "messageStop" in event:
                    yield StreamStop(str(event["messageStop"].get("stopReason", "")))
                elif "metadata" in event:
                    yield StreamUsage(_usage(event["metadata"].get("usage")))
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            # EventStreamError (an error frame mid-stream) is a ClientError too.
            raise _call_error(exc) from exc


def _call_error(exc: Exception) -> ModelCallError:
    """A botocore exception as the core's :class:`ModelCallError`."""
    import botocore.exceptions

    if isinstance(exc, botocore.exceptions.ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or code
        return ModelCallError(classify(code, message), message, _retry_after(exc.response))
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return ModelCallError(ErrorKind.NO_CREDENTIALS, str(exc))
    # Connection refused/closed, read and connect timeouts, and any other transport failure.
    return ModelCallError(ErrorKind.CONNECTION, str(exc))


def _env_region() -> str | None:
    """``AWS_REGION`` (what the AWS CLI v2 and the other SDKs read first): botocore itself
    only reads ``AWS_DEFAULT_REGION`` and the profile."""
    import os

    return os.environ.get("AWS_REGION") or None


def resolve_region(region: str | None, profile: str | None) -> str:
    """The region to show a chain for without needing credentials (``prism models``)."""
    if region or _env_region():
        return validate_region(region or _env_region() or "us-east-1")
    import boto3
    import botocore.exceptions

    try:
        return boto3.Session(profile_name=profile).region_name or "us-east-1"
    except botocore.exceptions.ProfileNotFound as exc:
        raise ConfigError(f"AWS profile not found: {profile}") from exc

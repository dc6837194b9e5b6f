"""Whether a model answers this account: one minimal request (16 output tokens at most, a
fraction of a cent), classified the way a review classifies a failed call. The one access
check behind ``prism doctor`` and ``prism models --check``."""

from __future__ import annotations

from dataclasses import dataclass

from prism_cli.bedrock.client import BedrockClient
from prism_cli.errors import ErrorKind, ModelCallError

PROBE_REQUEST = {
    "messages": [{"role": "user", "content": [{"text": "Reply with: ok"}]}],
    "inferenceConfig": {"maxTokens": 16},
}


@dataclass(frozen=True)
class Access:
    status: str
    """``ok``, ``ok (throttled)``, ``no access``, ``not offered``, ``unreachable`` or
    ``error: <kind>``."""
    message: str = ""
    """What Bedrock said, when it refused."""

    @property
    def usable(self) -> bool:
        return self.status.startswith("ok")


def status_of(kind: ErrorKind) -> str:
    """A failed call's kind as an access status (a throttled model answers: it is usable)."""
    if kind in (ErrorKind.ACCESS_DENIED, ErrorKind.NO_CREDENTIALS, ErrorKind.ACCOUNT_SETTING):
        return "no access"
    if kind in (ErrorKind.NOT_FOUND, ErrorKind.NEEDS_PROFILE, ErrorKind.INVALID_MODEL):
        return "not offered"
    if kind == ErrorKind.THROTTLED:
        return "ok (throttled)"
    if kind == ErrorKind.CONNECTION:
        return "unreachable"
    return f"error: {kind.value}"


def probe(client: BedrockClient, model_id: str) -> Access:
    try:
        client.converse(model_id, PROBE_REQUEST)
    except ModelCallError as exc:
        return Access(status_of(exc.kind), exc.message)
    return Access("ok")


def counts_tokens(client: BedrockClient, base_id: str) -> bool:
    """Whether CountTokens (free: what ``--dry-run`` uses) answers for a base model id."""
    request = {"messages": [{"role": "user", "content": [{"text": "ok"}]}]}
    return client.count_tokens(base_id, request) is not None

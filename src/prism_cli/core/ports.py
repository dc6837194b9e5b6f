"""The seams between the pure core and the adapters (Bedrock, stores).

The Converse request is plain data (the dict boto3's ``converse`` takes, minus ``modelId``),
so the core builds it and an adapter only sends it and classifies errors.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from prism_cli.errors import ConfigError, ErrorKind, ModelCallError

__all__ = ["ErrorKind", "ModelCallError"]


@dataclass
class Usage:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens

    def as_dict(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_write_tokens": self.cache_write_tokens,
        }


@dataclass
class ModelResponse:
    content: list[dict[str, Any]]
    stop_reason: str
    usage: Usage = field(default_factory=Usage)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class ToolInputDelta:
    """A fragment of a tool call's input JSON (concatenate them, then parse)."""

    text: str
    name: str = ""


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class StreamUsage:
    usage: Usage


@dataclass(frozen=True)
class StreamStop:
    reason: str


@dataclass(frozen=True)
class ModelChosen:
    """The first event of an engine stream: which model answers, and which were passed over."""

    model_id: str
    passed_over: tuple[str, ...] = ()
    thinking: str | None = None


StreamEvent = TextDelta | ToolInputDelta | ReasoningDelta | StreamUsage | StreamStop | ModelChosen


class ModelPort(Protocol):
    def converse(self, model_id: str, request: dict[str, Any]) -> ModelResponse:
        """Send one Converse request; raise :class:`ModelCallError` on failure."""
        ...

    def stream(self, model_id: str, request: dict[str, Any]) -> Iterator[StreamEvent]:
        """ConverseStream as typed events; :class:`ModelCallError` before or during it."""
        ...

    def count_tokens(self, model_id: str, request: dict[str, Any]) -> int | None:
        """The input tokens of a Converse request (CountTokens); None where not allowed."""
        ...


class StoreError(ConfigError):
    """A store failed (unreachable, denied, corrupted); the adapter says which in ``message``.

    Exit 4 (a configuration or access error) when it reaches the CLI.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SessionStore(Protocol):
    """A small key-value store shared by processes (and machines): disk, Redis or S3.

    Keys are ``/``-separated strings built by ``core.session``; values are bytes. ``put`` is
    atomic: a reader sees the old value or the new one, never a mix. Leases are the one
    compare-and-set operation: at most one owner holds a lease until it expires.
    """

    url: str
    """The store's URL with any credentials masked (safe to print)."""

    def check(self) -> None:
        """Raise :class:`StoreError` unless the store is reachable and writable."""
        ...

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, value: bytes) -> None: ...

    def put_many(self, items: dict[str, bytes]) -> None:
        """Several puts, in order; in one transaction where the store has them (disk, Redis):
        a reader then sees all of them or none."""
        ...

    def delete(self, keys: list[str]) -> None: ...

    def list(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix``, sorted."""
        ...

    def children(self, prefix: str) -> builtins.list[str]:
        """The distinct names right under ``prefix`` (a folder listing), sorted."""
        ...

    def acquire(self, key: str, owner: str, ttl: float) -> str | None:
        """Take the lease ``key`` for ``ttl`` seconds; None when taken, else the holder."""
        ...

    def renew(self, key: str, owner: str, ttl: float) -> bool:
        """Extend a lease we hold; False when it was lost (expired and taken)."""
        ...

    def release(self, key: str, owner: str) -> None: ...

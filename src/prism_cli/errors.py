"""The one error tree of prism.

Every expected failure is a :class:`PrismError`; the CLI catches only this base class and
maps ``exit_code`` to the process exit status (DESIGN.md: 4 > 2 > 3 > 1 > 0). Adapters
translate library exceptions (zipfile, lxml, botocore, redis, ...) at their boundary with
``raise ... from exc`` so nothing foreign leaks into the core or the CLI.

    PrismError
    ├── UsageError            exit 2  bad option or argument
    │   └── FrameworkError    exit 2  a framework file that is not usable
    ├── InputError            exit 2  a document that cannot be read (carries the path)
    ├── ConfigError           exit 4  configuration, credentials, access
    │   ├── NoCredentials     exit 4  no AWS credentials to be found
    │   ├── CatalogError      exit 4  the model catalog or a [models.X] override is malformed
    │   ├── ModelAccessError  exit 4  no usable model in the chain
    │   ├── StoreError        exit 4  store unreachable, denied or corrupted (core.ports)
    │   ├── SessionBusy       exit 4  another process holds the session's lease
    │   └── ExportError       exit 4  an export or push target cannot be written
    ├── ModelCallError        exit 3  one Bedrock call failed (kind says how: ErrorKind)
    ├── OutputError           exit 3  a model's answer cannot be used (FindingsParseError)
    ├── IncompleteError       exit 3  some sections could not be reviewed
    │   └── EngineFailure     exit 3  no answer from the chain (InputTooLong, RequestRefused,
    │                                 ChainExhausted in engine.engine)
    └── Interrupted           exit 130 SIGINT/SIGTERM; what finished is saved
        └── Stopped           exit 130 the model engine is stopping: no new call
"""

from __future__ import annotations

from enum import Enum
from typing import Any

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_INPUT = 2
EXIT_INCOMPLETE = 3
EXIT_CONFIG = 4
EXIT_INTERRUPTED = 130

# DESIGN.md: "the highest applicable wins in this order 4 > 2 > 3 > 1 > 0".
_PRECEDENCE = {EXIT_OK: 0, EXIT_FINDINGS: 1, EXIT_INCOMPLETE: 2, EXIT_INPUT: 3, EXIT_CONFIG: 4}


def worst_exit_code(*codes: int) -> int:
    """Combine exit codes by the precedence of DESIGN.md (130 beats everything)."""
    if EXIT_INTERRUPTED in codes:
        return EXIT_INTERRUPTED
    return max(codes, key=lambda c: _PRECEDENCE.get(c, 0), default=EXIT_OK)


class PrismError(Exception):
    """Base of every expected failure; ``str(err)`` is the one line shown to users."""

    exit_code = EXIT_INPUT


class UsageError(PrismError):
    exit_code = EXIT_INPUT


class InputError(PrismError):
    """A document (or another input file) that cannot be used."""

    exit_code = EXIT_INPUT

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class ConfigError(PrismError):
    exit_code = EXIT_CONFIG


class ExportError(ConfigError):
    """The target cannot be written (missing bucket, access denied, unwritable directory)."""


class NoCredentials(ConfigError):
    """No AWS credentials anywhere boto3 looks (a command may add its own way out)."""


class ModelAccessError(ConfigError):
    """No model of the chain can be used (credentials, access, region)."""


class QueueUnavailable(ConfigError):
    """The queue's Redis cannot be reached (a restart, a network cut): a follower waits for
    it a while, then stops with this."""


class IncompleteError(PrismError):
    exit_code = EXIT_INCOMPLETE


class FrameworkError(UsageError, ValueError):
    """The framework file is not usable; the message says why."""


class CatalogError(ConfigError, ValueError):
    """The catalog or a config override is malformed."""


class ErrorKind(str, Enum):
    """Every Bedrock failure, as BEDROCK.md's error table distinguishes them."""

    THROTTLED = "throttled"
    NOT_READY = "model_not_ready"
    UNAVAILABLE = "service_unavailable"
    INTERNAL = "internal_error"
    TIMEOUT = "model_timeout"
    MODEL_ERROR = "model_error"
    QUOTA = "service_quota"
    ACCESS_DENIED = "access_denied"
    NOT_FOUND = "not_found"
    INVALID_MODEL = "invalid_model_id"
    NEEDS_PROFILE = "needs_inference_profile"
    TOO_LONG = "context_too_long"
    INVALID = "invalid_request"
    CONNECTION = "connection"
    NO_CREDENTIALS = "no_credentials"
    ACCOUNT_SETTING = "account_setting"
    """Bedrock refuses the model until an account setting changes (data retention mode)."""


class ModelCallError(PrismError):
    """One Bedrock call failed; adapters raise it, the engine decides what it means."""

    exit_code = EXIT_INCOMPLETE

    def __init__(self, kind: ErrorKind, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retry_after = retry_after


class OutputError(PrismError):
    """A model's answer cannot be used (the engine repairs once)."""

    exit_code = EXIT_INCOMPLETE


class FindingsParseError(OutputError, ValueError):
    """The model's output is not valid findings; ``str()`` is fed back in the repair retry."""


class SessionBusy(ConfigError):
    """Another process is reviewing the session (it holds the lease)."""


class Interrupted(PrismError):
    exit_code = EXIT_INTERRUPTED


class Stopped(Interrupted):
    """The model engine is stopping: no new call."""


class EngineFailure(IncompleteError):
    """No answer; carries the calls made on the way (they are billed all the same)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.usage: dict[str, Any] = {}
        """Usage per model id (``core.ports.Usage``)."""
        self.attempts = 0

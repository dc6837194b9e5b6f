"""The one error tree of prism.

Every expected failure is a :class:`PrismError`; the CLI catches only this base class and
maps ``exit_code`` to the process exit status (DESIGN.md: 4 > 2 > 3 > 1 > 0). Adapters
translate library exceptions (zipfile, lxml, botocore, redis, ...) at their boundary with
``raise ... from exc`` so nothing foreign leaks into the core or the CLI.

    PrismError
    ├── UsageError            exit 2  bad option or argument
    ├── InputError            exit 2  a document that cannot be read (carries the path)
    ├── ConfigError           exit 4  configuration, credentials, access
    │   ├── ModelAccessError  exit 4  no usable model in the chain
    │   ├── StoreError        exit 4  store unreachable, denied or corrupted (core.ports)
    │   └── SessionBusy       exit 4  another process holds the session's lease
    ├── IncompleteError       exit 3  some sections could not be reviewed
    └── Interrupted           exit 130 SIGINT/SIGTERM; what finished is saved
"""

from __future__ import annotations

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


class ModelAccessError(ConfigError):
    """No model of the chain can be used (credentials, access, region)."""


class IncompleteError(PrismError):
    exit_code = EXIT_INCOMPLETE


class SessionBusy(ConfigError):
    """Another process is reviewing the session (it holds the lease)."""


class Interrupted(PrismError):
    exit_code = EXIT_INTERRUPTED

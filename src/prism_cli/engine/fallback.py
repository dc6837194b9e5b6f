"""The fallback policy: what to do after each kind of Bedrock failure (BEDROCK.md's table)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import Enum

from prism_cli.core.ports import ErrorKind


class Action(str, Enum):
    RETRY = "retry"
    """Back off, then the same model again."""
    NEXT_MODEL = "next_model"
    SKIP_MODEL = "skip_model"
    """Next model at once, and skip this one for the rest of the run."""
    REMAP_PROFILE = "remap_profile"
    """Call the region's inference profile instead of the base id (not a model failure)."""
    SPLIT = "split"
    """The input is too large: split the chunk."""
    FAIL = "fail"
    """Our request is wrong: fail the section, no retry."""


RETRYABLE = frozenset(
    {
        ErrorKind.THROTTLED,
        ErrorKind.NOT_READY,
        ErrorKind.UNAVAILABLE,
        ErrorKind.INTERNAL,
        ErrorKind.CONNECTION,
    }
)


SKIP_FOR_RUN = frozenset(
    {
        ErrorKind.ACCESS_DENIED,
        ErrorKind.NOT_FOUND,
        ErrorKind.NO_CREDENTIALS,
        ErrorKind.INVALID_MODEL,
        ErrorKind.ACCOUNT_SETTING,
    }
)
"""Failures that say the model cannot be used at all: learned once, skipped for the run."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts_per_model: int = 3
    base_delay: float = 1.0
    max_delay: float = 20.0

    def decide(self, kind: ErrorKind, attempt: int) -> Action:
        """``attempt`` counts this model's failed calls so far for this chunk (1-based)."""
        if kind in RETRYABLE:
            return Action.RETRY if attempt < self.attempts_per_model else Action.NEXT_MODEL
        if kind in SKIP_FOR_RUN:
            return Action.SKIP_MODEL
        if kind is ErrorKind.NEEDS_PROFILE:
            return Action.REMAP_PROFILE
        if kind is ErrorKind.TOO_LONG:
            return Action.SPLIT
        if kind is ErrorKind.INVALID:
            return Action.FAIL
        return Action.NEXT_MODEL  # timeout, model error, service quota

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt)), never below a retry hint."""
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(attempt - 1, 0)))
        delay = rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.max_delay))
        return delay

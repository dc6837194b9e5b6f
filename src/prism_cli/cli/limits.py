"""What a command refuses in an option's value beyond its type and choices: one table read by
the command itself and by the configuration check, so ``prism doctor`` refuses exactly what
``prism review`` does, whether the value came from the command line, the environment or
prism.toml."""

from __future__ import annotations

from collections.abc import Callable


def _at_least(low: float, what: str) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if value is None or not isinstance(value, (int, float)):
            return None
        return None if value >= low else f"must be at least {what}"

    return check


def _between(low: float, high: float) -> Callable[[object], str | None]:
    def check(value: object) -> str | None:
        if value is None or not isinstance(value, (int, float)):
            return None
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def _effort(value: object) -> str | None:
    from prism_cli.engine.catalog import EFFORT_LEVELS

    if value is None or value in EFFORT_LEVELS:
        return None
    return f"must be one of {', '.join(EFFORT_LEVELS)}"


def _push(value: object) -> str | None:
    if value is None or str(value).startswith("s3://"):
        return None
    return "must be an s3://bucket/prefix URL"


def _session(value: object) -> str | None:
    if value is None:
        return None
    from prism_cli.core.session import validate_session_id

    try:
        validate_session_id(str(value))
    except ValueError as exc:
        return str(exc)
    return None


REVIEW: dict[str, Callable[[object], str | None]] = {
    "concurrency": _at_least(1, "1"),
    "min_confidence": _between(0, 1),
    "thinking_budget": _at_least(1024, "1024 tokens"),
    "max_tokens": _at_least(256, "256"),
    "effort": _effort,
    "push": _push,
    "session": _session,
}
LIMITS: dict[str, dict[str, Callable[[object], str | None]]] = {"review": REVIEW}
"""For each command: parameter name -> why a value is refused (None: it is not)."""


def value_refused(command: str, name: str, value: object) -> str | None:
    check = LIMITS.get(command, {}).get(name)
    return check(value) if check is not None else None

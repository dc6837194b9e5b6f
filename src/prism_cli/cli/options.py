"""The options of ``prism review`` as one value, shared by the local run (``cli/review.py``)
and a queued one (``cli/queue.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.reports import REVIEW_FORMATS

if TYPE_CHECKING:
    pass


FORMATS = REVIEW_FORMATS


FAIL_ON = ("high", "medium", "low", "never")


@dataclass
class ReviewOptions:
    paths: list[str]
    models: list[str] = field(default_factory=list)
    region: str | None = None
    profile: str | None = None
    offline: bool = False
    rules: bool = True
    fmt: str | None = None
    output: Path | None = None
    fail_on: str = "high"
    concurrency: int = 4
    thinking: bool = False
    thinking_budget: int | None = None
    effort: str | None = None
    framework: Path | None = None
    guidelines: Path | None = None
    min_confidence: float = 0.8
    max_tokens: int = 4096
    temperature: float | None = 0.7
    session: str | None = None
    fresh: bool = False
    wait: bool = False
    push: str | None = None
    sse_kms_key: str | None = None
    only_accepted: bool = False
    queue: str | None = None
    no_wait: bool = False
    formats: list[str] = field(default_factory=list)
    """Several ``-f`` (each to its own file in ``-o DIR``); one is ``fmt``."""
    annotate_level: str | None = None
    base_dir: Path | None = None
    unreadable: list[dict[str, str]] = field(default_factory=list)
    """Documents that could not be read: in every report format."""
    framework_record: dict[str, object] | None = None
    changed_since: str | None = None
    dry_run: bool = False
    log_json: Path | None = None
    metrics: str | None = None

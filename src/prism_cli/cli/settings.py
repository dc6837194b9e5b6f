"""Run-wide settings: what no single command's option sets but a run depends on (how long a
session's lease lasts, how often progress is logged without a terminal, the quota window of
queue workers, the catalog's ``[models.X]`` tables).

One :class:`Settings` value, built once by the :class:`~prism_cli.cli.application.Application`
and passed down, from (first wins) values given in code > ``PRISM_*`` environment variables >
prism.toml's top level > the defaults here. pydantic-settings reads and checks them
(:mod:`prism_cli.cli.prism_settings`) when anything sets one; a run that sets none takes the
defaults without paying for its import. A command's own options (``--region``,
``--concurrency``...) go through click's chain, which has the same order (flag > ``PRISM_*`` >
prism.toml > default) and each option's own checks; the keys here are checked against the same
file with the same one-line messages.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_cli.core.sections import SectionRules

KEYS = ("lease_ttl", "progress_interval", "quota_period")
"""The top-level keys of prism.toml (and ``PRISM_<KEY>`` variables) that set them."""
CATALOG_TABLE = "models"
SECTIONS_TABLE = "sections"
SECTION_KEYS = (
    "heading_styles",
    "ignore_styles",
    "numbered_headings",
    "formatting_headings",
    "outline_levels",
)
"""The keys of prism.toml's ``[sections]`` that say how documents are split (the table also
holds ``prism sections``' own option defaults)."""


@dataclass(frozen=True)
class Settings:
    lease_ttl: float = 30.0
    """Seconds a session's lease lasts without renewal: a run that died holds its session
    this long before another may take it (a live run renews it a few times a lease)."""
    progress_interval: float = 30.0
    """Seconds between two progress lines when stderr is not a terminal (CI logs)."""
    quota_period: float | None = None
    """Seconds of a quota window for queue workers (default: Bedrock's minute); a bench
    against a fake with shorter windows sets it."""
    models: Mapping[str, object] = field(default_factory=dict)
    """prism.toml's ``[models.<key>]`` tables: the catalog's entries extended or overridden."""
    sections: Mapping[str, object] = field(default_factory=dict)
    """prism.toml's ``[sections]`` keys (:data:`SECTION_KEYS`), checked."""

    @property
    def catalog_overrides(self) -> dict[str, object]:
        """The ``[models.X]`` tables as the model catalog takes them."""
        return {CATALOG_TABLE: dict(self.models)} if self.models else {}

    @property
    def section_rules(self) -> SectionRules:
        """How documents are split, as ``[sections]`` says."""
        from prism_cli.core.sections import SectionRules

        return SectionRules.from_record(dict(self.sections))


DEFAULTS = Settings()


def sets_any(config: Mapping[str, object]) -> bool:
    """Whether prism.toml or the environment sets a run-wide setting."""
    table = config.get(SECTIONS_TABLE)
    return (
        CATALOG_TABLE in config
        or (isinstance(table, Mapping) and any(key in table for key in SECTION_KEYS))
        or any(key in config or f"PRISM_{key.upper()}" in os.environ for key in KEYS)
    )


def load_settings(
    config: Mapping[str, object], path: Path | None = None, **given: object
) -> Settings:
    """The settings from ``given`` > the environment > ``config`` (prism.toml at ``path``) >
    the defaults; a value refused is a :class:`~prism_cli.errors.ConfigError` naming where it
    came from."""
    if not given and not sets_any(config):
        return DEFAULTS
    from prism_cli.cli.prism_settings import validate

    return Settings(**validate(config, path, given))

"""Load the packaged model catalog, merged with overrides from configuration."""

from __future__ import annotations

from importlib import resources
from typing import Any

from prism_cli.engine.catalog import Catalog
from prism_cli.errors import CatalogError, ConfigError


def load_catalog(overrides: dict[str, Any] | None = None) -> Catalog:
    text = resources.files("prism_cli.bedrock").joinpath("models.toml").read_text("utf-8")
    try:
        return Catalog.from_toml(text, overrides)
    except CatalogError as exc:
        raise ConfigError(f"model catalog: {exc}") from exc

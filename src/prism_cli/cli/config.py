"""Configuration files: ``prism.toml`` found upward from the working directory, else the user
config dir. Its tables become click's ``default_map`` (``[review] region = "eu-west-1"``), so
the order is: command-line option > ``PRISM_<NAME>`` environment variable > config file."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_cli.core.jsontypes import JSONObject

from prism_cli.errors import ConfigError

FILE_NAME = "prism.toml"


def find_config(start: Path | None = None) -> Path | None:
    explicit = os.environ.get("PRISM_CONFIG")
    if explicit:
        return Path(explicit)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    from platformdirs import user_config_dir

    user = Path(user_config_dir("prism")) / FILE_NAME
    return user if user.is_file() else None


def load_config(path: Path | None) -> JSONObject:
    if path is None:
        return {}
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: invalid config: {exc}") from exc


def default_map(config: JSONObject) -> JSONObject:
    """Option defaults per command; top-level scalars apply to every command."""
    shared = {k: v for k, v in config.items() if not isinstance(v, dict)}
    out: JSONObject = {}
    for command in ("review", "models", "sections", "feedback", "export"):
        out[command] = {**shared, **(config.get(command) or {})}
    group = {**shared, **(config.get("sessions") or {})}
    group = {k: v for k, v in group.items() if not isinstance(v, dict)}
    out["sessions"] = {name: dict(group) for name in ("list", "show", "delete", "prune")}
    return out

"""Configuration files: ``prism.toml`` found upward from the working directory, else the user
config dir. Its tables become click's ``default_map`` (``[review] region = "eu-west-1"``), so
the order is: command-line option > ``PRISM_<NAME>`` environment variable > config file.
Unknown keys and tables are reported with the file, line and a suggestion; a bad value names
the file, line and key."""

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


Options = dict[str, dict[str, str]]
"""For each command (``sessions`` for all of its subcommands): config key -> parameter name.
A key is the option's long name with ``_`` for ``-`` (``fail_on``, ``format``)."""


def settings_for(config: JSONObject, command: str, keys: dict[str, str]) -> dict[str, object]:
    """What the config sets for one command, by parameter name: top-level scalars, then the
    command's table (``[review]``); keys the command does not have are left out."""
    table = config.get(command)
    merged = {k: v for k, v in config.items() if not isinstance(v, dict)}
    if isinstance(table, dict):
        merged.update({k: v for k, v in table.items() if not isinstance(v, dict)})
    return {keys[k]: v for k, v in merged.items() if k in keys}


def default_map(config: JSONObject, options: Options, groups: dict[str, list[str]]) -> JSONObject:
    """click's ``default_map``: option defaults per command (and per subcommand of a group)."""
    out: JSONObject = {}
    for command, keys in options.items():
        values = settings_for(config, command, keys)
        if command in groups:
            out[command] = {sub: dict(values) for sub in groups[command]}
        else:
            out[command] = values
    return out


# -- checking a config file against the commands it configures ---------------------------------
CATALOG_TABLE = "models"
"""``[models.<key>]`` tables extend or override the model catalog (checked by the catalog)."""


def line_of(text: str, table: str | None, key: str | None) -> int | None:
    """The line where ``key`` is set in ``[table]`` (or where ``[table]`` starts)."""
    current: str | None = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("[") and not stripped.startswith("[["):
            current = stripped.strip("[]").split("#")[0].strip().strip("]").strip()
            if key is None and current == table:
                return number
            continue
        if key is not None and current == table:
            name = stripped.split("=", 1)[0].strip().strip("\"'")
            if "=" in stripped and name == key:
                return number
    return None


def _suggest(word: str, choices: set[str]) -> str:
    import difflib

    close = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def check_config(path: Path, config: JSONObject, options: Options) -> list[tuple[str, str, str]]:
    """Keys and tables no command knows: ``(where, what, hint)`` for each, where is
    ``file:line``. ``options`` maps each command (and ``sessions``) to its option names."""
    try:
        text = path.read_text("utf-8")
    except OSError:
        text = ""
    every: set[str] = set().union(*(set(keys) for keys in options.values()))
    found: list[tuple[str, str, str]] = []

    def where(table: str | None, key: str | None) -> str:
        line = line_of(text, table, key)
        return f"{path}:{line}" if line else str(path)

    for name, value in config.items():
        if not isinstance(value, dict):
            if name not in every:
                found.append((where(None, name), f"unknown key '{name}'", _suggest(name, every)))
            continue
        if name not in options and name != CATALOG_TABLE:
            tables = set(options) | {CATALOG_TABLE}
            found.append((where(name, None), f"unknown section [{name}]", _suggest(name, tables)))
            continue
        known = set(options.get(name, {}))
        for key, inner in value.items():
            if name == CATALOG_TABLE and isinstance(inner, dict):
                continue  # a model's facts: the catalog checks them
            if key not in known:
                found.append(
                    (where(name, key), f"unknown key '{key}' in [{name}]", _suggest(key, known))
                )
    return found

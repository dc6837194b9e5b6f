"""Configuration files: ``prism.toml`` found upward from the working directory, else the user
config dir. Its tables become click's ``default_map`` (``[review] region = "eu-west-1"``), so
the order is: command-line option > ``PRISM_<NAME>`` environment variable > config file.
Unknown keys and tables are reported with the file, line and a suggestion; a bad value names
the file, line and key."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prism_cli.core.jsontypes import JSONObject

from prism_cli.cli.tomltext import line_of
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
    user = _user_config_dir() / FILE_NAME
    return user if user.is_file() else None


def _user_config_dir() -> Path:
    """platformdirs' ``user_config_dir("prism")``; on Linux worked out here, as platformdirs
    does it (``$XDG_CONFIG_HOME`` or ``~/.config``), since every command looks for the file
    and importing platformdirs costs more than reading a small document."""
    import sys

    xdg, home = os.environ.get("XDG_CONFIG_HOME", ""), os.environ.get("HOME", "")
    if sys.platform.startswith("linux") and (os.path.isabs(xdg) or os.path.isabs(home)):
        # an XDG folder counts only when absolute; else ~/.config (HOME absolute)
        return Path(xdg if os.path.isabs(xdg) else os.path.join(home, ".config")) / "prism"
    from platformdirs import user_config_dir

    return Path(user_config_dir("prism"))


def load_config(path: Path | None) -> JSONObject:
    if path is None:
        return {}
    import tomllib

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
    from prism_cli.cli.settings import CATALOG_TABLE, KEYS, SECTION_KEYS, SECTIONS_TABLE

    every: set[str] = set(KEYS).union(*(set(keys) for keys in options.values()))
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
        if name == SECTIONS_TABLE:
            known |= set(SECTION_KEYS)  # how documents are split, beside the command's options
        for key, inner in value.items():
            if name == CATALOG_TABLE and isinstance(inner, dict):
                continue  # a model's facts: the catalog checks them
            if key not in known:
                found.append(
                    (where(name, key), f"unknown key '{key}' in [{name}]", _suggest(key, known))
                )
    return found


# -- the root callback: prism.toml into each command's defaults --------------------------------
NO_CONFIG: set[str] = set()
"""Commands that read nothing from prism.toml: a broken one is a warning for them (none:
``prism sections`` reads ``[sections]``)."""

if TYPE_CHECKING:
    from typer import Context


def configure(ctx: Context) -> None:
    """Read prism.toml once for the command about to run: warn about keys no command knows,
    refuse a value the command's option would refuse (doctor: any command's), and hand the
    rest to click as the command's defaults (a flag and ``PRISM_*`` still win)."""
    from prism_cli.console import Console

    command = ctx.invoked_subcommand or ""
    path = find_config()
    try:
        config = load_config(path)
    except ConfigError as exc:
        if command not in NO_CONFIG:
            raise
        Console().warn(f"{exc} (ignored: prism {command} uses no configuration)")
        config = {}
    # Only the command that runs is loaded, unless the file must be checked against all.
    every = path is not None and bool(config)
    options, groups, params = _options(ctx, None if every else {command})
    if path is not None and config:
        console = Console()
        for where, what, hint in check_config(path, config, options):
            console.warn(f"{where}: {what}{hint} (ignored)")
        if command == "doctor":
            # doctor vouches for every command: a value any of them refuses is its failure.
            problems: dict[str, list[str]] = {}
            for name in options:
                try:
                    _check_values(ctx, path, config, name, options[name], params[name])
                except ConfigError as exc:
                    problems.setdefault(str(exc), []).append(name)
            ctx.meta["config_problems"] = [
                f"{problem} (prism {', '.join(names)})" for problem, names in problems.items()
            ]
        elif command in options:
            _check_values(ctx, path, config, command, options[command], params[command])
    from prism_cli.cli.settings import CATALOG_TABLE, DEFAULTS, Settings, load_settings, sets_any

    if command not in NO_CONFIG and sets_any(config):
        try:  # refused now, not when the run first needs the setting
            ctx.meta["settings"] = load_settings(config, path)
        except ConfigError as exc:
            if command != "doctor":
                raise
            ctx.meta.setdefault("config_problems", []).append(str(exc))
            # doctor goes on with the defaults, to check the rest
            models = config.get(CATALOG_TABLE)
            ctx.meta["settings"] = Settings(models=models) if isinstance(models, dict) else DEFAULTS
    defaults = default_map(config, options, groups)
    for name, found in params.items():
        table = defaults.get(name)
        if not isinstance(table, dict):
            continue
        for param in found.values():
            value = table.get(getattr(param, "name", ""))
            if getattr(param, "multiple", False) and isinstance(value, str):
                table[getattr(param, "name", "")] = [value]  # format = "json" is one of them
    ctx.default_map = defaults
    ctx.obj = config
    ctx.meta["config_path"] = path


def _options(
    ctx: Context, only: set[str] | None
) -> tuple[dict[str, dict[str, str]], dict[str, list[str]], dict[str, dict[str, object]]]:
    """For each command (``only`` those, when given): config key -> parameter name, the
    subcommands of groups, and config key -> the option itself (to check values)."""
    options: dict[str, dict[str, str]] = {}
    groups: dict[str, list[str]] = {}
    params: dict[str, dict[str, object]] = {}
    group = ctx.command
    names: list[str] = getattr(group, "list_commands")(ctx)  # noqa: B009
    for name in names:
        if only is not None and name not in only:
            continue
        command = getattr(group, "get_command")(ctx, name)  # noqa: B009
        subs: dict[str, object] = getattr(command, "commands", None) or {}
        keys: dict[str, str] = {}
        found: dict[str, object] = {}
        for each in list(subs.values()) or [command]:
            for param in getattr(each, "params", []):
                longs = [o for o in param.opts if o.startswith("--")]
                if param.param_type_name != "option" or not longs or not param.name:
                    continue
                key = longs[0][2:].replace("-", "_")
                keys[key], found[key] = param.name, param
        options[name], params[name] = keys, found
        if subs:
            groups[name] = list(subs)
    return options, groups, params


def _coerce(param: object, value: object, ctx: Context) -> object:
    """A config value as the option would take it from the command line: click's own type
    conversion (typer 0.29 and later convert through pydantic, a slower path that every
    command then paid for; prism pins below it)."""
    runtime = getattr(param, "get_runtime_param", None)
    if runtime is not None:
        return runtime().coerce(value, param=param, ctx=ctx)
    return getattr(param, "type_cast_value")(ctx, value)  # noqa: B009


def _check_values(
    ctx: Context,
    path: Path,
    config: JSONObject,
    command: str,
    keys: dict[str, str],
    params: dict[str, object],
) -> None:
    """A value the command's option would refuse names the file, line and key: its type,
    choices and range, and what the command itself checks (:func:`value_refused`)."""
    import typer

    from prism_cli.cli.limits import value_refused

    table = config.get(command)
    for scope in (None, command):
        values = config if scope is None else table
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if isinstance(value, dict) or key not in keys:
                continue
            param = params[key]
            if getattr(param, "multiple", False) and isinstance(value, str):
                value = [value]  # format = "json": one of a repeatable option
            try:
                coerced = _coerce(param, value, ctx)
                if refused := value_refused(command, keys[key], coerced):
                    raise ValueError(refused)
            except (typer.BadParameter, ValueError, TypeError) as exc:
                line = line_of(path.read_text("utf-8"), scope, key)
                where = f"{path}:{line}" if line else str(path)
                section = f" in [{scope}]" if scope else ""
                reason = str(getattr(exc, "message", None) or exc).removeprefix("Value error, ")
                raise ConfigError(f"{where}: {key} = {value!r}{section}: {reason}") from None

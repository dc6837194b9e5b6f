"""Run-wide settings: what no single command's option sets but a run depends on (how long a
session's lease lasts, how often progress is logged without a terminal, the quota window, the
catalog's ``[models.X]`` tables).

One :class:`PrismSettings`, built once by the :class:`~prism_cli.cli.application.Application`
and passed down, from (first wins) values given in code > ``PRISM_*`` environment variables >
prism.toml's top level > the defaults here. A command's own options (``--region``,
``--concurrency``...) go through click's chain, which has the same order (flag > ``PRISM_*`` >
prism.toml > default) and each option's own checks; the keys here are checked against the
same file with the same one-line messages.

Imported only when a command asks for a setting: pydantic-settings costs about 100 ms.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from prism_cli.errors import ConfigError

_FILE: ContextVar[Mapping[str, object] | None] = ContextVar("prism_file_settings", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """prism.toml's top-level keys (and its ``[models]`` table), already read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        return (_FILE.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, object]:
        values = _FILE.get() or {}
        return {name: values[name] for name in self.settings_cls.model_fields if name in values}


class PrismSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRISM_", extra="ignore", frozen=True)

    lease_ttl: float = Field(default=30.0, ge=0.5)
    """Seconds a session's lease lasts without renewal: a run that died holds its session
    this long before another may take it (a live run renews it a few times a lease)."""
    progress_interval: float = Field(default=30.0, gt=0)
    """Seconds between two progress lines when stderr is not a terminal (CI logs)."""
    quota_period: float | None = Field(default=None, gt=0)
    """Seconds of a quota window for queue workers (default: Bedrock's minute); a bench
    against a fake with shorter windows sets it."""
    models: dict[str, object] = Field(default_factory=dict)
    """prism.toml's ``[models.<key>]`` tables: the catalog's entries extended or overridden."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _FileSource(settings_cls)

    @property
    def catalog_overrides(self) -> dict[str, object]:
        """The ``[models.X]`` tables as the model catalog takes them."""
        return {"models": self.models} if self.models else {}


def load_settings(
    config: Mapping[str, object], path: Path | None = None, **given: object
) -> PrismSettings:
    """The settings from ``given`` > the environment > ``config`` (prism.toml at ``path``) >
    defaults. A value refused names where it came from, as a bad option value does."""
    import os

    token = _FILE.set(config)
    try:
        return PrismSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "?"
        reason = str(error["msg"]).removeprefix("Value error, ")
        env = f"PRISM_{key.upper()}"
        if key in given:
            raise ConfigError(f"{key} = {given[key]!r}: {reason}") from None
        if env in os.environ:
            raise ConfigError(f"{env}={os.environ[env]!r}: {reason}") from None
        from prism_cli.cli.config import line_of

        line = line_of(path.read_text("utf-8"), None, key) if path else None
        where = f"{path}:{line}" if line else str(path or "prism.toml")
        raise ConfigError(f"{where}: {key} = {config.get(key)!r}: {reason}") from None
    finally:
        _FILE.reset(token)

"""The loader of the run-wide settings: pydantic-settings, with prism.toml as a source after
the environment. Imported only when something sets one (it costs about 70 ms on top of
pydantic); :func:`prism_cli.cli.settings.load_settings` decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import TypedDict, cast

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_serializer
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from prism_cli.cli.tomltext import line_of
from prism_cli.errors import ConfigError


class Values(TypedDict):
    """:class:`~prism_cli.cli.settings.Settings`' fields, checked."""

    lease_ttl: float
    progress_interval: float
    quota_period: float | None
    models: dict[str, object]
    sections: dict[str, object]


_FILE: ContextVar[Mapping[str, object] | None] = ContextVar("prism_file_settings", default=None)


class _FileSource(PydanticBaseSettingsSource):
    """prism.toml's top-level keys (and its ``[models]`` table), already read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[object, str, bool]:
        return (_FILE.get() or {}).get(field_name), field_name, False

    def __call__(self) -> dict[str, object]:
        values = _FILE.get() or {}
        return {name: values[name] for name in self.settings_cls.model_fields if name in values}


class SectionSettings(BaseModel):
    """``[sections]``: how documents are split (its other keys are ``prism sections``'
    option defaults, checked with the command's options)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    heading_styles: list[str] = Field(default_factory=list)
    ignore_styles: list[str] = Field(default_factory=list)
    numbered_headings: StrictBool = True
    formatting_headings: StrictBool = True
    outline_levels: StrictBool = True


class PrismSettings(BaseSettings):
    """The fields of :class:`~prism_cli.cli.settings.Settings`, with their checks (a test
    holds the two to the same fields and defaults)."""

    model_config = SettingsConfigDict(env_prefix="PRISM_", extra="ignore", frozen=True)

    lease_ttl: float = Field(default=30.0, ge=0.5)
    progress_interval: float = Field(default=30.0, gt=0)
    quota_period: float | None = Field(default=None, gt=0)
    models: dict[str, object] = Field(default_factory=dict)
    sections: SectionSettings = Field(default_factory=lambda: SectionSettings())

    @field_serializer("sections")
    def _sections(self, value: SectionSettings) -> dict[str, object]:
        return value.model_dump(exclude_unset=True)

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


def validate(
    config: Mapping[str, object], path: Path | None, given: Mapping[str, object]
) -> Values:
    """The settings (as fields and values) from ``given`` > the environment > ``config`` (prism.toml at ``path``) >
    defaults. A value refused names where it came from, as a bad option value does."""
    import os

    token = _FILE.set(config)
    try:
        return cast(Values, PrismSettings(**given).model_dump())  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        key = str(error["loc"][0]) if error["loc"] else "?"
        if key == "sections" and len(error["loc"]) > 1:
            inner = str(error["loc"][1])
            reason = str(error["msg"]).removeprefix("Value error, ")
            table = config.get("sections")
            value = table.get(inner) if isinstance(table, Mapping) else None
            line = line_of(path.read_text("utf-8"), "sections", inner) if path else None
            where = f"{path}:{line}" if line else str(path or "prism.toml")
            raise ConfigError(f"{where}: [sections] {inner} = {value!r}: {reason}") from None
        reason = str(error["msg"]).removeprefix("Value error, ")
        env = f"PRISM_{key.upper()}"
        if key in given:
            raise ConfigError(f"{key} = {given[key]!r}: {reason}") from None
        if env in os.environ:
            raise ConfigError(f"{env}={os.environ[env]!r}: {reason}") from None
        line = line_of(path.read_text("utf-8"), None, key) if path else None
        where = f"{path}:{line}" if line else str(path or "prism.toml")
        raise ConfigError(f"{where}: {key} = {config.get(key)!r}: {reason}") from None
    finally:
        _FILE.reset(token)

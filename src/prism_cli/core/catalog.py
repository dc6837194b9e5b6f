"""The model catalog (data from ``models.toml``) and region -> inference-profile resolution.

Newer Claude models can only be called on demand through an inference profile: the base id
prefixed with a geography (``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``) or ``global.``.
prism prefers the region's geography (data stays there), then ``global.``, then the base id
where the catalog says it is callable on demand; a model with none of these is "not offered".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from typing import Any


class CatalogError(ValueError):
    """The catalog or a config override is malformed."""


GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "global", "us-gov", "ca")


@dataclass(frozen=True)
class ModelInfo:
    key: str
    name: str
    base_id: str
    profiles: tuple[str, ...] = ()
    base_on_demand: bool = False
    max_output: int = 4096
    thinking: bool = False
    structured_output: bool = False
    cache_min_tokens: int | None = None
    input_price: float = 0.0
    output_price: float = 0.0
    geo_premium: float = 1.0


@dataclass(frozen=True)
class ResolvedModel:
    info: ModelInfo
    model_id: str
    """The id to call: a profile id, the base id, or whatever the user gave."""
    geography: str | None
    note: str = ""

    @property
    def key(self) -> str:
        return self.info.key


@dataclass
class Catalog:
    models: dict[str, ModelInfo] = field(default_factory=dict)
    default_chain: tuple[str, ...] = ()

    @classmethod
    def from_toml(cls, text: str, overrides: dict[str, Any] | None = None) -> Catalog:
        data = tomllib.loads(text)
        catalog = cls()
        catalog._merge(data)
        if overrides:
            catalog._merge(overrides)
        return catalog

    def _merge(self, data: dict[str, Any]) -> None:
        for key, entry in (data.get("models") or {}).items():
            if not isinstance(entry, dict):
                raise CatalogError(f"models.{key} must be a table")
            current = self.models.get(key)
            values: dict[str, Any] = {
                k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()
            }
            try:
                if current is None:
                    self.models[key] = ModelInfo(key=key, **values)
                else:
                    self.models[key] = replace(current, **values)
            except TypeError as exc:
                raise CatalogError(f"models.{key}: {exc}") from exc
        if "default_chain" in data:
            self.default_chain = tuple(data["default_chain"])

    def find(self, ident: str) -> ModelInfo | None:
        """A catalog entry by key, base id, or profile id (``eu.anthropic...``)."""
        if ident in self.models:
            return self.models[ident]
        base = strip_geography(ident)
        for info in self.models.values():
            if info.base_id == base:
                return info
        return None

    def resolve(self, ident: str, region: str) -> ResolvedModel | None:
        """The id to call for ``ident`` in ``region``; None when the model is not offered."""
        info = self.find(ident)
        if info is None:
            # Unknown to the catalog: call it as given (an ARN, a new model).
            unknown = ModelInfo(key=ident, name=ident, base_id=ident, base_on_demand=True)
            return ResolvedModel(unknown, ident, None, "not in the catalog; called as given")
        if ident not in self.models and ident != info.base_id:
            return ResolvedModel(info, ident, ident.split(".", 1)[0], "profile given explicitly")
        for geo in geographies_for_region(region):
            if geo in info.profiles:
                return ResolvedModel(info, f"{geo}.{info.base_id}", geo)
        if "global" in info.profiles:
            return ResolvedModel(
                info, f"global.{info.base_id}", "global", f"no profile for {region}; global"
            )
        if info.base_on_demand:
            return ResolvedModel(info, info.base_id, None)
        return None

    def prices(self, model_id: str) -> tuple[float, float] | None:
        """USD per 1M input and output tokens for the id called (geo profiles cost more)."""
        info = self.find(model_id)
        if info is None:
            return None
        geo = model_id.split(".", 1)[0] if strip_geography(model_id) != model_id else None
        factor = info.geo_premium if geo not in (None, "global") else 1.0
        return info.input_price * factor, info.output_price * factor

    def profile_for(self, base_id: str, region: str) -> str | None:
        """The profile id to use when Bedrock refuses ``base_id`` on demand."""
        info = self.find(base_id)
        if info is None:
            return None
        for geo in geographies_for_region(region):
            if geo in info.profiles:
                return f"{geo}.{info.base_id}"
        if "global" in info.profiles:
            return f"global.{info.base_id}"
        return None

    def chain(
        self, region: str, idents: list[str] | None = None
    ) -> tuple[list[ResolvedModel], list[str]]:
        """Resolve a chain; returns the usable models and notes for the skipped ones."""
        resolved: list[ResolvedModel] = []
        notes: list[str] = []
        for ident in idents or list(self.default_chain):
            model = self.resolve(ident, region)
            if model is None:
                notes.append(f"{ident}: not offered in {region}; skipped")
            elif all(m.model_id != model.model_id for m in resolved):
                resolved.append(model)
        return resolved, notes


def strip_geography(model_id: str) -> str:
    head, _, rest = model_id.partition(".")
    return rest if head in GEO_PREFIXES and rest else model_id


def geographies_for_region(region: str) -> tuple[str, ...]:
    """Geographies whose profiles serve ``region``, most local first."""
    if region.startswith("us-gov-"):
        return ("us-gov",)
    if region.startswith(("us-", "ca-")):
        return ("us",)
    if region.startswith("eu-"):
        return ("eu",)
    if region == "ap-northeast-1":
        return ("jp", "apac")
    if region in ("ap-southeast-2", "ap-southeast-4"):
        return ("au", "apac")
    if region.startswith("ap-"):
        return ("apac",)
    return ()

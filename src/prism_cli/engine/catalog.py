"""The model catalog (data from ``models.toml``) and region -> inference-profile resolution.

Newer Claude models can only be called on demand through an inference profile: the base id
prefixed with a geography (``us.``, ``eu.``, ``apac.``, ``jp.``, ``au.``) or ``global.``.
prism prefers the region's geography (data stays there), then ``global.``, then the base id
where the catalog says it is callable on demand; a model with none of these is "not offered".

Each entry also carries the model's request rules (:class:`ModelInfo`): how it thinks, whether
it takes sampling parameters, forced tool use, structured output, effort. The request builder
follows them; an id the catalog does not know gets the ``[unknown]`` rules, which any Claude
model accepts. When the account's own listings are known (:class:`Availability`, from
discovery), they decide which id is called and what the lifecycle is.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

from prism_cli.errors import CatalogError

GEO_PREFIXES = ("us", "eu", "apac", "jp", "au", "global", "us-gov", "ca")
THINKING_MODES = ("none", "budget", "adaptive", "adaptive_only")
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
LIFECYCLES = ("active", "legacy", "eol")


@dataclass(frozen=True)
class ModelInfo:
    key: str
    name: str
    base_id: str
    profiles: tuple[str, ...] = ()
    base_on_demand: bool = False
    context_window: int = 200_000
    max_output: int = 4096
    thinking: str = "none"
    efforts: tuple[str, ...] = ()
    default_effort: str | None = None
    """The effort the model uses when none is sent (medium on Opus 5.5 and Haiku 5.5)."""
    sampling: bool = True
    temperature_with_top_p: bool = True
    """False where temperature and top_p are refused together (the 4.5 and 4.6 models)."""
    forced_tool: bool = True
    structured_output: bool = False
    cache_min_tokens: int | None = None
    cache_read_factor: float = 0.1
    """Price of a cache read, as a share of the input price (0.05 on Opus 5.5, 0.025 on
    Fable 5.1)."""
    tokenizer_factor: float = 1.0
    burndown: float = 5.0
    input_price: float = 0.0
    output_price: float = 0.0
    geo_premium: float = 1.0
    lifecycle: str = "active"
    legacy_since: str | None = None
    eol_date: str | None = None
    released: str | None = None
    data_retention: bool = False
    """Bedrock serves it only to accounts whose data retention mode allows provider data
    sharing (the Fables): a refusal naming it sets the model aside with that hint."""
    tpm: float | None = None
    """Known tokens per minute of this model's quota (config); else read or learned."""
    rpm: float | None = None
    """Known requests per minute (config); else read from Service Quotas or learned."""
    known: bool = True
    """False for an id the catalog does not know (it got the ``[unknown]`` rules)."""

    @property
    def thinks_always(self) -> bool:
        return self.thinking == "adaptive_only"


@dataclass(frozen=True)
class Availability:
    """What the account can call in one region, from the control-plane listings."""

    region: str
    profiles: frozenset[str] = frozenset()
    """System-defined inference profile ids (``eu.anthropic...``)."""
    on_demand: frozenset[str] = frozenset()
    """Base ids callable on demand in this region."""
    lifecycle: dict[str, str] = field(default_factory=dict)
    """Base id -> ``active`` | ``legacy`` (ListFoundationModels' modelLifecycle.status)."""
    fetched_at: float = 0.0

    def has(self, model_id: str) -> bool:
        return model_id in self.profiles or model_id in self.on_demand

    def to_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "profiles": sorted(self.profiles),
            "on_demand": sorted(self.on_demand),
            "lifecycle": dict(sorted(self.lifecycle.items())),
            "fetched_at": self.fetched_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Availability:
        return cls(
            region=str(data["region"]),
            profiles=frozenset(data.get("profiles", ())),
            on_demand=frozenset(data.get("on_demand", ())),
            lifecycle={str(k): str(v) for k, v in (data.get("lifecycle") or {}).items()},
            fetched_at=float(data.get("fetched_at", 0.0)),
        )


@dataclass(frozen=True)
class ResolvedModel:
    info: ModelInfo
    model_id: str
    """The id to call: a profile id, the base id, or whatever the user gave."""
    geography: str | None
    note: str = ""
    source: str = "catalog"
    """Where the id came from: ``catalog`` (resolved from data) or ``account`` (discovery)."""

    @property
    def key(self) -> str:
        return self.info.key


_FIELDS = {f.name for f in fields(ModelInfo)}
_NUMBERS = ("context_window", "max_output", "cache_min_tokens", "cache_read_factor",
            "tokenizer_factor", "burndown", "input_price", "output_price", "geo_premium",
            "tpm", "rpm")  # fmt: skip
_POSITIVE = ("context_window", "max_output", "tokenizer_factor", "tpm", "rpm")
"""A quota of 0 or less would never admit a call: refused where it is read."""


def _values(key: str, entry: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in entry.items():
        if name not in _FIELDS or name in ("key", "known"):
            close = difflib.get_close_matches(name, sorted(_FIELDS), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise CatalogError(f"models.{key}: unknown field {name!r}{hint}")
        if name == "thinking" and isinstance(value, bool):
            value = "budget" if value else "none"  # prism.toml files written for 2025
        if isinstance(value, list):
            value = tuple(value)
        values[name] = value
    for name in _NUMBERS:
        if name not in values or values[name] is None:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise CatalogError(f"models.{key}: {name} must be a number, not {value!r}")
        if value < 0 or (name in _POSITIVE and value == 0):
            raise CatalogError(f"models.{key}: {name} must be above 0, not {value!r}")
    if "thinking" in values and values["thinking"] not in THINKING_MODES:
        raise CatalogError(f"models.{key}: thinking must be one of {', '.join(THINKING_MODES)}")
    if "lifecycle" in values and values["lifecycle"] not in LIFECYCLES:
        raise CatalogError(f"models.{key}: lifecycle must be one of {', '.join(LIFECYCLES)}")
    for level in (*values.get("efforts", ()), *filter(None, [values.get("default_effort")])):
        if level not in EFFORT_LEVELS:
            raise CatalogError(f"models.{key}: unknown effort level {level!r}")
    return values


REQUIRED = ("name", "base_id", "profiles", "context_window", "max_output", "thinking",
            "sampling", "forced_tool", "structured_output", "tokenizer_factor", "burndown",
            "input_price", "output_price", "lifecycle")  # fmt: skip
"""What a model entry of the shipped catalog must say: its requests and its price depend on
every one of them (a test holds the catalog to it)."""


def incomplete(data: dict[str, Any]) -> dict[str, list[str]]:
    """Model entries (not past end of life) of a catalog's TOML data missing a field of
    :data:`REQUIRED`: key -> the missing fields."""
    out: dict[str, list[str]] = {}
    for key, entry in (data.get("models") or {}).items():
        if not isinstance(entry, dict) or entry.get("lifecycle") == "eol":
            continue
        missing = [name for name in REQUIRED if name not in entry]
        if missing:
            out[key] = missing
    return out


@dataclass
class Catalog:
    models: dict[str, ModelInfo] = field(default_factory=dict)
    default_chain: tuple[str, ...] = ()
    unknown_rules: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_toml(cls, text: str, overrides: dict[str, Any] | None = None) -> Catalog:
        data = tomllib.loads(text)
        catalog = cls()
        catalog._merge(data)
        if overrides:
            catalog._merge(overrides)
        return catalog

    def _merge(self, data: dict[str, Any]) -> None:
        if "unknown" in data:
            self.unknown_rules.update(_values("unknown", data["unknown"]))
        for key, entry in (data.get("models") or {}).items():
            if not isinstance(entry, dict):
                raise CatalogError(f"models.{key} must be a table")
            values = _values(key, entry)
            current = self.models.get(key)
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

    def unknown(self, ident: str) -> ModelInfo:
        """Rules for an id the catalog does not know: safe for any Claude model."""
        return ModelInfo(key=ident, name=ident, base_id=ident, known=False, **self.unknown_rules)

    def info_for(self, model_id: str) -> ModelInfo:
        return self.find(model_id) or self.unknown(model_id)

    def suggest(self, ident: str) -> str | None:
        """The closest catalog key to a mistyped one (for "did you mean ...?")."""
        names = list(self.models)
        base = strip_geography(ident).removeprefix("anthropic.")
        close = difflib.get_close_matches(base, names, n=1, cutoff=0.6)
        return close[0] if close else None

    def candidates(self, info: ModelInfo, region: str) -> list[tuple[str, str | None]]:
        """Ids this model can be called by from ``region``, best first: (id, geography)."""
        out: list[tuple[str, str | None]] = []
        for geo in geographies_for_region(region):
            if geo in info.profiles:
                out.append((f"{geo}.{info.base_id}", geo))
        if "global" in info.profiles:
            out.append((f"global.{info.base_id}", "global"))
        if info.base_on_demand:
            out.append((info.base_id, None))
        return out

    def resolve(
        self, ident: str, region: str, available: Availability | None = None
    ) -> tuple[ResolvedModel | None, str]:
        """The id to call for ``ident`` in ``region`` and a note; None when not usable here."""
        info = self.find(ident)
        if info is None:
            # Unknown to the catalog: call it as given (an ARN, a model newer than the catalog).
            known = available is not None and available.has(ident)
            note = "not in the catalog; called as given with requests any Claude model takes"
            if available is not None and not known and "arn:" not in ident:
                hint = self.suggest(ident)
                if hint is not None:
                    return None, f"{ident}: not offered to this account; did you mean {hint}?"
            return ResolvedModel(
                self.unknown(ident), ident, _geo(ident), note, "account" if known else "catalog"
            ), ""
        lifecycle = self.lifecycle(info, available)
        if lifecycle == "eol":
            when = f" ({info.eol_date})" if info.eol_date else ""
            return None, f"{info.key}: past end of life on Bedrock{when}; skipped"
        if ident not in self.models and ident != info.base_id:
            # A profile id given explicitly: called as given.
            return ResolvedModel(info, ident, _geo(ident)), ""
        options = self.candidates(info, region)
        if available is not None:
            offered = [(mid, geo) for mid, geo in options if available.has(mid)]
            if not offered:
                if options:
                    return None, f"{info.key}: not available to this account in {region}; skipped"
                return None, f"{info.key}: not offered in {region}; skipped"
            model_id, geo = offered[0]
            return ResolvedModel(info, model_id, geo, "", "account"), ""
        if not options:
            return None, f"{info.key}: not offered in {region}; skipped"
        model_id, geo = options[0]
        note = f"no {region} profile; global" if geo == "global" and len(options) == 1 else ""
        return ResolvedModel(info, model_id, geo, note), ""

    def lifecycle(self, info: ModelInfo, available: Availability | None = None) -> str:
        if available is not None and info.base_id in available.lifecycle:
            listed = available.lifecycle[info.base_id].lower()
            if listed in LIFECYCLES:
                return listed
        return info.lifecycle

    def prices(self, model_id: str) -> tuple[float, float, float] | None:
        """USD per 1M input and output tokens for the id called (geo profiles cost more), and
        the model's cache-read price as a share of input."""
        info = self.find(model_id)
        if info is None:
            return None
        geo = _geo(model_id)
        factor = info.geo_premium if geo not in (None, "global") else 1.0
        return info.input_price * factor, info.output_price * factor, info.cache_read_factor

    def profile_for(self, base_id: str, region: str) -> str | None:
        """The profile id to use when Bedrock refuses ``base_id`` on demand."""
        info = self.find(base_id)
        if info is None:
            return None
        for candidate, geo in self.candidates(info, region):
            if geo is not None:
                return candidate
        return None

    def chain(
        self,
        region: str,
        idents: Iterable[str] | None = None,
        available: Availability | None = None,
    ) -> tuple[list[ResolvedModel], list[str]]:
        """Resolve a chain; returns the usable models and notes for the skipped ones."""
        resolved: list[ResolvedModel] = []
        notes: list[str] = []
        for ident in list(idents or ()) or list(self.default_chain):
            model, note = self.resolve(ident, region, available)
            if model is None:
                notes.append(note)
                continue
            if self.lifecycle(model.info, available) == "legacy" and model.info.known:
                when = f", end of life {model.info.eol_date}" if model.info.eol_date else ""
                notes.append(f"{model.key}: legacy on Bedrock{when}; plan to move off it")
            if all(m.model_id != model.model_id for m in resolved):
                resolved.append(model)
        return resolved, notes


def _geo(model_id: str) -> str | None:
    head, _, rest = model_id.partition(".")
    return head if head in GEO_PREFIXES and rest else None


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

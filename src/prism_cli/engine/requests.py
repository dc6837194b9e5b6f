"""Converse requests shaped by each model's rules, and adapted when Bedrock refuses a field.

A caller describes what it wants (:class:`Ask`: system prompt, messages, output tokens, an
optional output schema); :func:`build_request` turns it into the Converse body one model
accepts, following that model's :class:`~prism_cli.engine.catalog.ModelInfo` (thinking mode,
sampling, forced tool use, structured output, effort) and the :class:`Adaptations` learned
during the run. When Bedrock still refuses a field, :func:`adaptation_for` reads which one
from the error message, so the engine can change that model's requests once and retry:
next year's rule changes cost one refused call per model per run, not a failed review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from prism_cli.engine.catalog import EFFORT_LEVELS, ModelInfo

MIN_THINKING_BUDGET = 1024


class Adaptation(str, Enum):
    """One change to a model's requests, learned from a refusal."""

    NO_SAMPLING = "no_sampling"
    """Drop temperature / topP / topK."""
    ADAPTIVE_THINKING = "adaptive_thinking"
    """thinking.type enabled -> adaptive (+ effort)."""
    BUDGET_THINKING = "budget_thinking"
    """thinking.type adaptive -> enabled with a budget."""
    NO_THINKING_FIELD = "no_thinking_field"
    """Leave thinking out altogether (the model's default)."""
    NO_EFFORT = "no_effort"
    """Drop output_config.effort."""
    TOOL_AUTO = "tool_auto"
    """toolChoice {tool} -> {auto}."""
    NO_OUTPUT_CONFIG = "no_output_config"
    """Structured output through a tool instead of outputConfig."""

    @property
    def describe(self) -> str:
        return _DESCRIBE[self]


_DESCRIBE = {
    Adaptation.NO_SAMPLING: "refuses sampling parameters; sending none",
    Adaptation.ADAPTIVE_THINKING: "refuses budget thinking; using adaptive thinking",
    Adaptation.BUDGET_THINKING: "refuses adaptive thinking; using a thinking budget",
    Adaptation.NO_THINKING_FIELD: "refuses the thinking field; leaving it to the model",
    Adaptation.NO_EFFORT: "refuses output_config.effort; sending none",
    Adaptation.TOOL_AUTO: "refuses forced tool use; asking for the tool instead",
    Adaptation.NO_OUTPUT_CONFIG: "refuses outputConfig; using the findings tool instead",
}

# Bedrock's (and Anthropic's) wording for a refused field, most specific first. The message of a
# ValidationException is all there is to go on; these are matched case-insensitively.
_REFUSALS: list[tuple[re.Pattern[str], Adaptation]] = [
    (re.compile(r"thinking\.type\.?(enabled|disabled)|use thinking\.type\.adaptive|"
                r"manual (extended )?thinking", re.I), Adaptation.ADAPTIVE_THINKING),
    (re.compile(r"thinking\.type\.?adaptive|adaptive thinking is not supported|"
                r"tag 'adaptive'", re.I), Adaptation.BUDGET_THINKING),
    (re.compile(r"extraneous key \[?thinking\]?|thinking is not supported", re.I),
     Adaptation.NO_THINKING_FIELD),
    (re.compile(r"effort|output_config", re.I), Adaptation.NO_EFFORT),
    (re.compile(r"tool_?choice|forced tool|force[sd]? tool", re.I), Adaptation.TOOL_AUTO),
    (re.compile(r"outputconfig|output format|json_schema|structured output|textformat", re.I),
     Adaptation.NO_OUTPUT_CONFIG),
    (re.compile(r"temperature|top_?p\b|top_?k\b|sampling param", re.I), Adaptation.NO_SAMPLING),
]  # fmt: skip


def adaptation_for(message: str) -> Adaptation | None:
    """Which request field a ValidationException message refuses, if it names one."""
    for pattern, adaptation in _REFUSALS:
        if pattern.search(message):
            return adaptation
    return None


@dataclass(frozen=True)
class Thinking:
    """What the user asked for: ``--thinking``, ``--effort``, ``--thinking-budget``."""

    enabled: bool = False
    effort: str | None = None
    budget: int | None = None

    @property
    def budget_tokens(self) -> int:
        return max(MIN_THINKING_BUDGET, self.budget or 2048)


@dataclass(frozen=True)
class Ask:
    """What a caller wants from a model, whichever model answers.

    ``system`` is called with ``structured`` (True when the answer comes as outputConfig JSON,
    False when through the tool) so a prompt can say how to answer.
    """

    system: Callable[[bool], str]
    messages: list[dict[str, Any]]
    max_tokens: int
    schema: dict[str, Any] | None = None
    tool_name: str = "record_findings"
    tool_description: str = "Record the answer. Call it exactly once."
    temperature: float | None = None
    top_p: float | None = None
    cacheable: bool = True
    estimated_input_tokens: int = 0


@dataclass
class Built:
    """A request for one model, and how it was shaped (for the results and the quota)."""

    body: dict[str, Any]
    structured: bool
    thinking: str | None
    """``adaptive`` | ``budget`` | None: whether (and how) this model thinks on this call."""
    max_tokens: int
    notes: list[str] = field(default_factory=list)
    adapted: frozenset[Adaptation] = frozenset()


def _effort(info: ModelInfo, wanted: str | None, notes: list[str]) -> str | None:
    if wanted is None or not info.efforts:
        return None
    if wanted in info.efforts:
        return wanted
    rank = EFFORT_LEVELS.index(wanted)
    lower = [e for e in info.efforts if EFFORT_LEVELS.index(e) <= rank]
    chosen = lower[-1] if lower else info.efforts[0]
    notes.append(f"{info.key}: effort {wanted} not offered; using {chosen}")
    return chosen


def thinking_form(info: ModelInfo, thinking: Thinking, adapted: frozenset[Adaptation]) -> str:
    """``adaptive`` | ``budget`` | ``default`` (model decides, field left out) | ``off``."""
    mode = info.thinking
    if Adaptation.NO_THINKING_FIELD in adapted:
        return "default" if mode == "adaptive_only" or thinking.enabled else "off"
    if mode == "adaptive_only":
        # Thinking is always on; send the field only when asked, so effort rides with it.
        if not thinking.enabled and thinking.effort is None:
            return "default"
        return "budget" if Adaptation.BUDGET_THINKING in adapted else "adaptive"
    if not thinking.enabled or mode == "none":
        return "off"
    if Adaptation.ADAPTIVE_THINKING in adapted:
        return "adaptive"
    if Adaptation.BUDGET_THINKING in adapted:
        return "budget"
    return "adaptive" if mode == "adaptive" else "budget"


def build_request(
    ask: Ask,
    info: ModelInfo,
    thinking: Thinking,
    adapted: frozenset[Adaptation] = frozenset(),
) -> Built:
    notes: list[str] = []
    form = thinking_form(info, thinking, adapted)
    thinks = form in ("adaptive", "budget", "default") and (
        form != "default" or info.thinking == "adaptive_only" or not info.known
    )
    structured = (
        ask.schema is not None
        and info.structured_output
        and Adaptation.NO_OUTPUT_CONFIG not in adapted
    )
    system_text = ask.system(structured)
    system: list[dict[str, Any]] = [{"text": system_text}]
    estimate = ask.estimated_input_tokens or len(system_text) // 4
    if (
        ask.cacheable
        and info.cache_min_tokens is not None
        and estimate * info.tokenizer_factor >= info.cache_min_tokens
    ):
        system.append({"cachePoint": {"type": "default"}})
    max_tokens = min(ask.max_tokens, info.max_output)
    extra: dict[str, Any] = {}
    if form == "budget":
        budget = thinking.budget_tokens
        max_tokens = min(info.max_output, ask.max_tokens + budget)
        budget = min(budget, max_tokens - 1)
        extra["thinking"] = {"type": "enabled", "budget_tokens": budget}
    elif form == "adaptive":
        extra["thinking"] = {"type": "adaptive"}
        if thinking.enabled:
            # Adaptive thinking shares maxTokens with the answer: leave it room.
            max_tokens = min(info.max_output, ask.max_tokens + thinking.budget_tokens)
    if form in ("adaptive", "default") and Adaptation.NO_EFFORT not in adapted:
        effort = _effort(info, thinking.effort, notes)
        if effort is not None:
            extra["output_config"] = {"effort": effort}
    inference: dict[str, Any] = {"maxTokens": max_tokens}
    if (
        ask.temperature is not None
        and info.sampling
        and not thinks
        and Adaptation.NO_SAMPLING not in adapted
    ):
        inference["temperature"] = ask.temperature
    if (
        ask.top_p is not None
        and info.sampling
        and not thinks
        and Adaptation.NO_SAMPLING not in adapted
    ):
        if "temperature" in inference and not info.temperature_with_top_p:
            notes.append(f"{info.key}: temperature and top_p are refused together; top_p left out")
        else:
            inference["topP"] = ask.top_p
    body: dict[str, Any] = {
        "messages": ask.messages,
        "system": system,
        "inferenceConfig": inference,
    }
    if extra:
        body["additionalModelRequestFields"] = extra
    if ask.schema is not None and structured:
        body["outputConfig"] = {
            "textFormat": {
                "type": "json_schema",
                "structure": {
                    "jsonSchema": {
                        "schema": json.dumps(ask.schema),
                        "name": ask.tool_name,
                        "description": ask.tool_description,
                    }
                },
            }
        }
    elif ask.schema is not None:
        forced = info.forced_tool and not thinks and Adaptation.TOOL_AUTO not in adapted
        body["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": ask.tool_name,
                        "description": ask.tool_description,
                        "inputSchema": {"json": ask.schema},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": ask.tool_name}} if forced else {"auto": {}},
        }
    thought = None
    if thinks:
        thought = "budget" if form == "budget" else "adaptive"
    return Built(body, structured, thought, max_tokens, notes, adapted)

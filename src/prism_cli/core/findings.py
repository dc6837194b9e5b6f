"""Findings: the model's structured output, its validation, and the post-processing that
makes them worth reading (confidence filter, near-duplicate merge, sort, quote check)."""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prism_cli.errors import FindingsParseError

SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}
TYPE_ORDER = {"critical": 0, "important": 1, "suggestion": 2, "positive": 3}
DEFAULT_MIN_CONFIDENCE = 0.8
TOOL_NAME = "record_findings"


class Severity(str, Enum):
    high = "high"
    medium = "medium"
    low = "low"


class FindingIn(BaseModel):
    """One finding as the model must produce it (the schema sent to Bedrock)."""

    model_config = ConfigDict(extra="ignore")

    severity: Literal["high", "medium", "low"]
    type: Literal["critical", "important", "suggestion", "positive"]
    category: str = Field(max_length=80)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=4000)
    suggestion: str = Field(default="", max_length=4000)
    example: str = Field(default="", max_length=4000)
    questions: list[str] = Field(default_factory=list, max_length=2)
    framework_refs: list[str] = Field(default_factory=list)
    quote: str = Field(default="", max_length=2000)
    replacement: str = Field(default="", max_length=4000)
    confidence: float = Field(ge=0.0, le=1.0)

    @field_validator("questions")
    @classmethod
    def _questions_not_blank(cls, value: list[str]) -> list[str]:
        return [q for q in value if q.strip()]


class FindingsOut(BaseModel):
    model_config = ConfigDict(extra="ignore")

    findings: list[FindingIn]


class Finding(BaseModel):
    """A finding in a report (DESIGN.md schema)."""

    id: str
    section_id: str
    severity: Literal["high", "medium", "low"]
    type: Literal["critical", "important", "suggestion", "positive"]
    category: str
    title: str
    description: str
    suggestion: str = ""
    example: str = ""
    questions: list[str] = Field(default_factory=list)
    framework_refs: list[str] = Field(default_factory=list)
    quote: str = ""
    replacement: str = ""
    """The quote rewritten, when the fix is local wording (a suggested rewrite: ``-f docx
    --suggest`` writes it as a tracked change); "" otherwise."""
    confidence: float = 1.0
    source: Literal["model", "rules", "reviewer"] = "model"
    status: Literal["open", "accepted", "rejected"] = "open"
    rule: str | None = None
    model: str | None = None
    locator: int | None = None
    """Paragraph locator the finding is anchored on (its quote's paragraph, else the heading)."""


def finding_id(section_id: str, title: str, quote: str, taken: set[str] | None = None) -> str:
    """A model finding's id from what it says: the same in every output of every run
    (``s7-m3f9a2c``). ``taken`` holds the ids already given in this section; a finding that
    says the same thing twice gets ``-2``, ``-3``."""
    import hashlib

    basis = f"{_norm(title)}\x1f{_norm(quote)}"
    base = f"{section_id}-m{hashlib.sha256(basis.encode('utf-8')).hexdigest()[:6]}"
    if taken is None:
        return base
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    taken.add(candidate)
    return candidate


def findings_json_schema() -> dict[str, Any]:
    """JSON schema for structured output / the forced tool (no $refs: Bedrock wants it flat)."""
    item = {
        "type": "object",
        "properties": {
            "severity": {"type": "string", "enum": ["high", "medium", "low"]},
            "type": {"type": "string", "enum": ["critical", "important", "suggestion", "positive"]},
            "category": {"type": "string", "description": "short area, e.g. 'root cause'"},
            "title": {"type": "string", "description": "one line"},
            "description": {"type": "string"},
            "suggestion": {"type": "string", "description": "what to change"},
            "example": {"type": "string", "description": "example wording, may be empty"},
            "questions": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
            "framework_refs": {"type": "array", "items": {"type": "string"}},
            "quote": {
                "type": "string",
                "description": "exact text copied from the section that the finding is about",
            },
            "replacement": {
                "type": "string",
                "description": (
                    "only when the fix is local wording: the text to put in place of the "
                    "quote, as it should read in the document (same language, no "
                    "commentary); an empty string when the fix is not a rewrite of the quote "
                    "(something missing, a new section, a decision to take)"
                ),
            },
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        },
        "required": [
            "severity", "type", "category", "title", "description", "suggestion", "example",
            "questions", "framework_refs", "quote", "replacement", "confidence",
        ],
        "additionalProperties": False,
    }  # fmt: skip
    return {
        "type": "object",
        "properties": {"findings": {"type": "array", "items": item}},
        "required": ["findings"],
        "additionalProperties": False,
    }


def parse_findings(payload: str | dict[str, Any]) -> list[FindingIn]:
    """Validate model output (JSON text, or a tool's input object)."""
    if isinstance(payload, str):
        text = _strip_fences(payload)
        try:
            data: Any = json.loads(text)
        except json.JSONDecodeError as exc:
            raise FindingsParseError(f"output is not JSON: {exc}") from exc
    else:
        data = payload
    if isinstance(data, list):
        data = {"findings": data}
    try:
        return FindingsOut.model_validate(data).findings
    except ValidationError as exc:
        errors = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:8]
        )
        raise FindingsParseError(f"output does not match the findings schema: {errors}") from exc


def _strip_fences(text: str) -> str:
    text = text.strip()
    match = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.DOTALL)
    return match.group(1) if match else text


STRAIGHT_QUOTES = str.maketrans({"\u2019": "'", "\u201c": '"', "\u201d": '"'})
"""Curly quotes a model may straighten (or not) when it quotes the document."""


def normalize(text: str) -> str:
    """How quotes are matched: curly quotes straightened, whitespace collapsed, case folded."""
    return " ".join(text.translate(STRAIGHT_QUOTES).split()).casefold()


_norm = normalize


def collapse(text: str) -> str:
    """Curly quotes straightened, whitespace collapsed; case kept."""
    return " ".join(text.translate(STRAIGHT_QUOTES).split())


def wordish(char: str) -> bool:
    """A letter or digit of a script that separates words with spaces (CJK does not)."""
    return char.isalnum() and ord(char) < 0x2E80


def find_whole(text: str, quote: str) -> int:
    """Where ``quote`` first occurs in ``text`` as whole words (not inside another word: "IN"
    is not in "selling"), else -1. Both already collapsed (and folded alike, if at all). A
    quote of three words or more may start or end mid-word (a model cut it short): it cannot
    be mistaken for part of another word."""
    if not quote:
        return -1
    if quote.count(" ") >= 2:
        return text.find(quote)
    start = 0
    while (at := text.find(quote, start)) >= 0:
        end = at + len(quote)
        before = at == 0 or not (wordish(text[at - 1]) and wordish(quote[0]))
        after = end == len(text) or not (wordish(text[end]) and wordish(quote[-1]))
        if before and after:
            return at
        start = at + 1
    return -1


REPLACEMENT_SLACK = 200
"""Characters a replacement may add beyond three times its quote: a rewrite, not an essay."""


def checked_replacement(quote: str, replacement: str, text: str) -> str:
    """``replacement`` when it can stand in for ``quote`` in the section ``text``: the quote
    is there, the replacement is one line, says something else and is of a sane length
    (at most three times the quote and :data:`REPLACEMENT_SLACK`); "" otherwise."""
    new = " ".join(replacement.split())
    if not new or not quote.strip() or not quote_in_text(quote, text):
        return ""
    if normalize(new) == normalize(quote) or len(new) > 3 * len(quote) + REPLACEMENT_SLACK:
        return ""
    return new


def quote_in_text(quote: str, text: str) -> bool:
    """Whole words, the exact case first, then any case."""
    wanted, hay = collapse(quote), collapse(text)
    if not wanted:
        return False
    return find_whole(hay, wanted) >= 0 or find_whole(hay.casefold(), wanted.casefold()) >= 0


def locate_quote(quote: str, anchors: Sequence[tuple[int, str]]) -> int | None:
    """The locator of the paragraph that holds ``quote`` as whole words: the exact case in any
    paragraph first, then any case."""
    if not quote.strip():
        return None
    wanted = collapse(quote)
    for locator, text in anchors:
        if find_whole(collapse(text), wanted) >= 0:
            return locator
    folded = wanted.casefold()
    for locator, text in anchors:
        if find_whole(collapse(text).casefold(), folded) >= 0:
            return locator
    return None


class _Key:
    """What two findings are compared on, normalised once per finding."""

    __slots__ = ("_letters", "category", "finding", "quote", "title")

    def __init__(self, finding: Finding) -> None:
        self.finding = finding
        self.quote = _norm(finding.quote) if finding.quote else ""
        self.category = finding.category.casefold()
        self.title = _norm(finding.title)
        self._letters: Counter[str] | None = None

    @property
    def letters(self) -> Counter[str]:
        """The title's characters with their counts (built the first time it is compared)."""
        if self._letters is None:
            self._letters = Counter(self.title)
        return self._letters


def _similar(a: _Key, b: _Key) -> bool:
    if a.quote and b.quote:
        if a.quote != b.quote:
            return False  # the same remark about two different places is two findings
        if a.category == b.category:
            return True
    shorter, longer = sorted((len(a.title), len(b.title)))
    if 2 * shorter < 0.85 * (shorter + longer):
        return False  # the bound real_quick_ratio() gives, without building a matcher
    # quick_ratio()'s bound (the characters the titles share) from counts made once per
    # title, before a matcher is built: most titles of a section are not alike at all.
    shared = sum((a.letters & b.letters).values())
    if 2 * shared < 0.85 * (shorter + longer):
        return False
    return difflib.SequenceMatcher(None, a.title, b.title).ratio() >= 0.85


def merge_near_duplicates(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the stronger of two findings that say the same thing about the same section.

    Only findings of the same section are compared: the cost follows the findings of a
    section, not the square of the document's."""
    kept: list[_Key] = []
    by_section: dict[str, list[int]] = {}
    for finding in findings:
        key = _Key(finding)
        places = by_section.setdefault(finding.section_id, [])
        for i in places:
            if _similar(key, kept[i]):
                if _rank(finding) < _rank(kept[i].finding):
                    kept[i] = key
                break
        else:
            places.append(len(kept))
            kept.append(key)
    return [k.finding for k in kept]


def _rank(f: Finding) -> tuple[int, int, float]:
    return (SEVERITY_ORDER[f.severity], TYPE_ORDER[f.type], -f.confidence)


def sort_findings(findings: Iterable[Finding], section_order: dict[str, int]) -> list[Finding]:
    return sorted(
        findings, key=lambda f: (*_rank(f)[:2], section_order.get(f.section_id, 0), -f.confidence)
    )


def at_or_above(findings: Iterable[Finding], threshold: str) -> list[Finding]:
    if threshold == "never":
        return []
    limit = SEVERITY_ORDER[threshold]
    return [
        f
        for f in findings
        if f.status != "rejected" and f.type != "positive" and SEVERITY_ORDER[f.severity] <= limit
    ]


def in_reviewed_copy(status: str, only_accepted: bool) -> bool:
    """Whether a finding becomes a comment of the reviewed docx (rejected ones never do)."""
    return status == "accepted" or (status == "open" and not only_accepted)

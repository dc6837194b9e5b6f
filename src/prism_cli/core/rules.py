"""Built-in rules: findings that need no model (``--offline`` runs only these).

Each rule is a function of the document's sections (and the framework); its findings have
``source = "rules"`` and a ``rule`` name, and are anchored on the paragraph that triggered
them (or the section heading).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from prism_cli.core.document import Document, Section
from prism_cli.core.findings import Finding
from prism_cli.core.framework import Framework

PLACEHOLDER_RE = re.compile(
    r"\b(TBD|TBC|TODO|FIXME|XXX+|lorem ipsum)\b|\?\?\?+|\bXX-XXX-XXXX\b|\[(?:insert|name|date|owner)[^\]]*\]",
    re.IGNORECASE,
)
ACRONYM_RE = re.compile(r"(?<![\w-])([A-Z][A-Z0-9]{1,6}s?)(?![\w-])")
"""A capitalised word on its own: not part of a hyphenated word ("REs-Q")."""
BRACKETED_RE = re.compile(r"\[[^\]\n]{0,200}\]")
"""A template's placeholder ("[NAME of owning director]"): not prose to hold to the rules."""
ACTION_RE = re.compile(
    r"^\s*(?:[-•*]|\d+[.)])?\s*(?:action\b|to do\b|we will\b|will\b|"
    r"(?:add|remove|derive|complete|negotiate|update|implement|introduce|review|ensure|create|fix|deploy|train|document)\b)",
    re.IGNORECASE,
)
OWNER_RE = re.compile(
    r"\b(owner|owned by|responsible|assignee|assigned to|lead)\b|\([A-Z]\.\s?[A-Z][a-z]+\)|\b[A-Z]\.\s?[A-Z][a-z]+\b"
)
DATE_RE = re.compile(
    r"\b(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|due|by end of|deadline|Q[1-4]\b|"
    r"(?:\d{1,2}\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{2,4})",
    re.IGNORECASE,
)
SENTENCE_RE = re.compile(r"[^.!?]+[.!?]?")
COMMON_ACRONYMS = frozenset(
    [
        "ID",
        "OK",
        "UK",
        "US",
        "EU",
        "USA",
        "UN",
        "CEO",
        "CFO",
        "CTO",
        "COO",
        "IT",
        "HR",
        "PR",
        "QA",
        "FAQ",
        "PDF",
        "URL",
        "API",
        "UTC",
        "GMT",
        "AM",
        "PM",
        "EUR",
        "USD",
        "GBP",
        "SLA",
        "KPI",
        "ETA",
        "TBD",
        "TBC",
        "TODO",
        "NB",
        "PS",
        "VS",
        "AI",
        "ML",
        "UI",
        "UX",
        "CSV",
        "JSON",
        "XML",
        "HTML",
        "HTTP",
        "HTTPS",
        "SQL",
        "SMS",
        "ATM",
        "VAT",
        "GDPR",
        "ISO",
        "IP",
        "TV",
        "DNA",
        "NASA",
    ]
)
LONG_SENTENCE_WORDS = 40
NEAR_EMPTY_WORDS = 5


@dataclass
class _Ctx:
    document: Document
    sections: Sequence[Section]
    framework: Framework
    title: str | None = None
    """The document's title (not a section), which says what kind of document it is."""


def _finding(
    section: Section,
    rule: str,
    n: int,
    *,
    severity: str,
    type_: str,
    category: str,
    title: str,
    description: str,
    suggestion: str,
    quote: str = "",
    locator: int | None = None,
    refs: Sequence[str] = (),
) -> Finding:
    return Finding(
        id=f"{section.id}-r-{rule}-{n}", section_id=section.id, severity=severity, type=type_,
        category=category, title=title, description=description, suggestion=suggestion,
        quote=quote, confidence=1.0, source="rules", rule=rule, framework_refs=list(refs),
        locator=locator if locator is not None else section.anchor_locator,
    )  # fmt: skip


def _paragraphs(section: Section) -> Iterator[tuple[int, str]]:
    for block in section.blocks:
        yield from block.anchors()


def placeholders(ctx: _Ctx) -> Iterator[Finding]:
    for section in ctx.sections:
        n = 0
        for locator, text in _paragraphs(section):
            for match in PLACEHOLDER_RE.finditer(text):
                n += 1
                yield _finding(
                    section, "placeholder", n, severity="high", type_="critical", category="completeness",
                    title=f"Placeholder left in the text: {match.group(0)}",
                    description="The document still contains placeholder text, so a reader cannot rely on this part.",
                    suggestion="Replace the placeholder with the actual content, or remove it.",
                    quote=match.group(0), locator=locator, refs=("P13",),
                )  # fmt: skip


def empty_sections(ctx: _Ctx) -> Iterator[Finding]:
    parents = {s.parent_id for s in ctx.sections}
    for section in ctx.sections:
        if section.heading_locator is None:
            continue
        words = len(section.text.split())
        has_children = section.id in parents
        if words < NEAR_EMPTY_WORDS and not has_children and section.detected_by != "title":
            yield _finding(
                section, "empty-section", 1, severity="medium", type_="important", category="completeness",
                title=f'Section "{_short(section.heading)}" is empty' if words == 0 else f'Section "{_short(section.heading)}" is nearly empty',
                description=f"The section has {words} word(s) of content under its heading.",
                suggestion="Write the section or remove the heading.", refs=("P13",),
            )  # fmt: skip


def missing_sections(ctx: _Ctx) -> Iterator[Finding]:
    if not ctx.sections:
        return
    titles = " | ".join(
        [*(s.heading.casefold() for s in ctx.sections), (ctx.title or "").casefold()]
    )
    structured = sum(1 for s in ctx.sections if s.heading_locator is not None) >= 3
    if not structured:
        return  # a document without real sections cannot be said to lack one
    first = ctx.sections[0]
    kind = document_kind(ctx.sections, ctx.title)
    # The kinds a framework names (the default's: investigation, risk) are the documents it
    # knows what to expect of: one of another kind (a tender, a statement of work) is not
    # told it lacks a timeline. A framework that names none expects its sections of any.
    kinds = {k for c in ctx.framework.checkpoints for k in c.applies_to}
    if kinds and kind not in kinds:
        return
    n = 0
    for checkpoint in ctx.framework.checkpoints:
        if checkpoint.applies_to and kind not in checkpoint.applies_to:
            continue
        if checkpoint.expects_section and not any(k in titles for k in checkpoint.expects_section):
            n += 1
            yield _finding(
                first, "missing-section", n, severity="medium", type_="important", category="structure",
                title=f"No section for: {checkpoint.title}",
                description=f"The framework expects this ({checkpoint.id}: {checkpoint.description}) but no section heading covers it.",
                suggestion=f'Add a section such as "{checkpoint.expects_section[0].title()}".',
                refs=(checkpoint.id,),
            )  # fmt: skip


_INVESTIGATION = re.compile(
    r"incident|investigat|root[- ]cause|post[- ]?mortem|timeline|chronology|lessons learn"
    r"|corrective|after[- ]action|\brca\b|outage|problem report|what happened",
    re.IGNORECASE,
)


def document_kind(sections: Sequence[Section], title: str | None = None) -> str:
    """ "risk" for risk assessments, "investigation" for incident reports and investigations
    (what the default framework covers), by their headings; else "other": a tender, a
    statement of work or a manual is neither, and an expectation that holds for those kinds
    does not hold for it."""
    head = " ".join([title or "", *(s.heading for s in sections[:3])]).casefold()
    titles = " ".join([title or "", *(s.heading for s in sections)]).casefold()
    if "risk assessment" in head or "risk register" in titles or "risk analysis" in head:
        return "risk"
    if _INVESTIGATION.search(titles):
        return "investigation"
    return "other"


def actions_without_owner_or_date(ctx: _Ctx) -> Iterator[Finding]:
    for section in ctx.sections:
        if not re.search(
            r"action|recommendation|next step|remediation|preventive|preventative|corrective",
            section.heading,
            re.IGNORECASE,
        ):
            continue
        n = 0
        for block in section.blocks:
            for locator, text in block.anchors():
                if not text.strip() or not ACTION_RE.match(text):
                    continue
                missing = [
                    w
                    for w, rx in (("an owner", OWNER_RE), ("a date", DATE_RE))
                    if not rx.search(text)
                ]
                if missing:
                    n += 1
                    yield _finding(
                        section, "action-owner-date", n, severity="medium", type_="important", category="accountability",
                        title=f"Action without {' or '.join(missing)}",
                        description="An action item needs an owner and a due date to be tracked to completion.",
                        suggestion="Add the accountable person (or role) and a due date.",
                        quote=text.strip()[:200], locator=locator, refs=("P7", "P8"),
                    )  # fmt: skip


def undefined_acronyms(ctx: _Ctx) -> Iterator[Finding]:
    full = "\n".join(s.text for s in ctx.sections)
    seen: set[str] = set()
    for section in ctx.sections:
        n = 0
        for locator, text in _paragraphs(section):
            bracketed = [m.span() for m in BRACKETED_RE.finditer(text)]
            for match in ACRONYM_RE.finditer(text):
                if any(a <= match.start() < b for a, b in bracketed):
                    continue
                acronym = (
                    match.group(1).rstrip("s")
                    if match.group(1).endswith("s") and len(match.group(1)) > 2
                    else match.group(1)
                )
                if acronym in seen or acronym in COMMON_ACRONYMS or set(acronym) == {"X"}:
                    continue
                if (
                    text[match.end() : match.end() + 2][:1] == "-"
                    and text[match.end() + 1 : match.end() + 2].isdigit()
                ):
                    continue  # an identifier such as INV-2026-0142
                if any(ch.isdigit() for ch in acronym) and not any(
                    ch.isalpha() for ch in acronym[1:]
                ):
                    continue
                seen.add(acronym)
                if re.search(
                    rf"\({re.escape(acronym)}s?\)|{re.escape(acronym)}\s*\(|{re.escape(acronym)}\s*[:=–-]\s+[A-Z]",
                    full,
                ):
                    continue
                n += 1
                yield _finding(
                    section, "undefined-acronym", n, severity="low", type_="suggestion", category="clarity",
                    title=f"Acronym {acronym} is not defined",
                    description=f"{acronym} is used without being spelled out; not every reader will know it.",
                    suggestion=f"Spell it out at first use, e.g. 'Full Name ({acronym})'.",
                    quote=acronym, locator=locator, refs=("P11",),
                )  # fmt: skip


def long_sentences(ctx: _Ctx) -> Iterator[Finding]:
    for section in ctx.sections:
        n = 0
        for locator, text in _paragraphs(section):
            for sentence in SENTENCE_RE.findall(text):
                words = sentence.split()
                if len(words) > LONG_SENTENCE_WORDS:
                    n += 1
                    yield _finding(
                        section, "long-sentence", n, severity="low", type_="suggestion", category="clarity",
                        title=f"Very long sentence ({len(words)} words)",
                        description="Sentences over 40 words are hard to follow and easy to misread.",
                        suggestion="Split it into two or three sentences, one idea each.",
                        quote=" ".join(words[:12]), locator=locator, refs=("P11",),
                    )  # fmt: skip


def leftover_revisions(ctx: _Ctx) -> Iterator[Finding]:
    if not ctx.sections:
        return
    first = ctx.sections[0]
    if ctx.document.has_tracked_changes:
        yield _finding(
            first, "tracked-changes", 1, severity="medium", type_="important", category="hygiene",
            title="Unresolved tracked changes",
            description="The document still contains tracked insertions or deletions; prism read it as if they were accepted.",
            suggestion="Accept or reject all changes before circulating the document.",
        )  # fmt: skip
    if ctx.document.has_comments:
        yield _finding(
            first, "comments", 1, severity="low", type_="suggestion", category="hygiene",
            title="Reviewer comments left in the document",
            description="The document still carries Word comments from an earlier review.",
            suggestion="Resolve and delete the comments before circulating the document.",
        )  # fmt: skip


RULES: dict[str, Callable[[_Ctx], Iterator[Finding]]] = {
    "placeholder": placeholders,
    "empty-section": empty_sections,
    "missing-section": missing_sections,
    "action-owner-date": actions_without_owner_or_date,
    "undefined-acronym": undefined_acronyms,
    "long-sentence": long_sentences,
    "leftover-revisions": leftover_revisions,
}


def _short(text: str, limit: int = 60) -> str:
    """A heading as a finding's title quotes it: cut to a readable length."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def run_rules(
    document: Document,
    sections: Sequence[Section],
    framework: Framework,
    title: str | None = None,
) -> list[Finding]:
    ctx = _Ctx(document, sections, framework, title)
    out: list[Finding] = []
    for rule in RULES.values():
        out.extend(rule(ctx))
    return out

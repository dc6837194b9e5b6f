"""Versions of one document: which sections of a new version are the old ones (unchanged,
changed, renamed, moved, split, merged, added, removed), which findings persist, which are
new and which the author fixed, and which of the reviewer's decisions carry over.

Pure: sections and findings come in as plain values (a report's finding dicts), the
comparison goes out as a :class:`Comparison` whose :meth:`Comparison.record` is what the
reports show. The words of a finding's state are SARIF's ``baselineState``: ``new``,
``unchanged``, ``updated``, ``absent``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from typing import Any

from prism_cli.core.findings import normalize

SIMILAR = 0.6
"""Word-level similarity from which an unmatched section of the new version is taken for an
unmatched old one (renamed, or rewritten in part)."""
CONTAINED = 0.7
"""Share of a new section's words found in one old section from which it is a part of it
(a split); the same the other way round for a merge."""
SIMILAR_TITLE = 0.75
"""Similarity of two findings' titles from which one is the other, reworded (``updated``)."""
_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


class SectionState(str, Enum):
    UNCHANGED = "unchanged"
    CHANGED = "changed"
    ADDED = "added"
    REMOVED = "removed"


class FindingState(str, Enum):
    """SARIF's ``baselineState`` words."""

    NEW = "new"
    UNCHANGED = "unchanged"
    UPDATED = "updated"
    ABSENT = "absent"


@dataclass(frozen=True)
class SectionText:
    """One section of a version as matching sees it."""

    id: str
    index: int
    heading: str
    """The heading line as written (number and title); "" for a preamble."""
    title: str
    """The heading without its number: a section numbered anew is not renamed."""
    body: str
    """Its text without the heading line."""

    @cached_property
    def words(self) -> list[str]:
        return _words(self.body)

    @cached_property
    def bag(self) -> Counter[str]:
        return Counter(self.words)

    @cached_property
    def digest(self) -> str:
        """The body's words, as a digest: equal digests, the same text."""
        return hashlib.sha256(" ".join(self.words).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SectionChange:
    state: SectionState
    old: tuple[str, ...]
    """The old version's section ids (two or more: merged into this one)."""
    new: tuple[str, ...]
    """The new version's section ids (two or more: split from the old one)."""
    old_heading: str = ""
    new_heading: str = ""
    renamed: bool = False
    moved: bool = False
    summary: str = ""
    """A short word-level account of what changed: ``+12 −3 words: “30 days” → “45 days”``."""

    @property
    def kind(self) -> str:
        """``split``, ``merged`` or ""."""
        if len(self.new) > 1:
            return "split"
        if len(self.old) > 1:
            return "merged"
        return ""

    def record(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "state": self.state.value,
            "old": list(self.old),
            "new": list(self.new),
            "old_heading": self.old_heading,
            "new_heading": self.new_heading,
        }
        for name in ("renamed", "moved"):
            if getattr(self, name):
                out[name] = True
        if self.kind:
            out["kind"] = self.kind
        if self.summary:
            out["summary"] = self.summary
        return out


def _words(text: str) -> list[str]:
    return _WORD.findall(normalize(text))


LONG = 1500
"""Words past which two texts are compared as bags of words, not in order (a long section's
word-by-word match costs seconds)."""


def _similarity(a: Sequence[str], b: Sequence[str]) -> float:
    if not a and not b:
        return 1.0
    if len(a) > LONG or len(b) > LONG:
        return 2 * _shared(Counter(a), Counter(b)) / (len(a) + len(b))
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < SIMILAR or matcher.quick_ratio() < SIMILAR:
        return matcher.quick_ratio()
    return matcher.ratio()


def common_ends(a: Sequence[str], b: Sequence[str]) -> tuple[int, int]:
    """How many words ``a`` and ``b`` share at their start, and then at their end."""
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    return head, tail


def change_summary(old: str, new: str, *, limit: int = 3, width: int = 40) -> str:
    """What changed between two texts, word by word: counts and the first few changes."""
    a, b = old.split(), new.split()
    # An edit is most often in one place: the common start and end are set aside.
    head, tail = common_ends(a, b)
    a, b = a[head : len(a) - tail], b[head : len(b) - tail]
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=len(a) + len(b) > 2 * LONG)
    ops = [op for op in matcher.get_opcodes() if op[0] != "equal"]
    added = sum(j2 - j1 for _op, _i1, _i2, j1, j2 in ops)
    removed = sum(i2 - i1 for _op, i1, i2, _j1, _j2 in ops)

    def cut(words: Sequence[str]) -> str:
        text = " ".join(words)
        return text if len(text) <= width else text[: width - 1] + "…"

    shown = []
    for op, i1, i2, j1, j2 in ops[:limit]:
        if op == "replace":
            shown.append(f"“{cut(a[i1:i2])}” → “{cut(b[j1:j2])}”")
        elif op == "delete":
            shown.append(f"−“{cut(a[i1:i2])}”")
        else:
            shown.append(f"+“{cut(b[j1:j2])}”")
    if not added and not removed:
        return ""
    more = "; …" if len(ops) > limit else ""
    return f"+{added} −{removed} words: " + "; ".join(shown) + more


# -- sections ----------------------------------------------------------------------------------
def match_sections(old: Sequence[SectionText], new: Sequence[SectionText]) -> list[SectionChange]:
    """Each section of ``new`` against ``old``: same text (unchanged, perhaps moved or
    renamed), the same heading or most of the same words (changed), a part of one old section
    (split) or the sum of several (merged); what is left is added or removed. In the new
    version's order, removed ones after the section that preceded them."""
    old_left = {s.id: s for s in old}
    new_left = {s.id: s for s in new}
    pairs: list[tuple[SectionText, SectionText]] = []

    def pair(o: SectionText, n: SectionText) -> None:
        pairs.append((o, n))
        del old_left[o.id], new_left[n.id]

    # 1. The same title and body: unchanged (moved or numbered anew, perhaps).
    by_text: dict[tuple[str, str], list[SectionText]] = {}
    for s in old:
        by_text.setdefault((normalize(s.title), s.digest), []).append(s)
    for n in new:
        same = by_text.get((normalize(n.title), n.digest))
        if same:
            pair(same.pop(0), n)
    # 2. The same body under another heading: renamed.
    by_body: dict[str, list[SectionText]] = {}
    for s in old_left.values():
        if s.body.strip():
            by_body.setdefault(s.digest, []).append(s)
    for n in list(new_left.values()):
        same = by_body.get(n.digest) if n.body.strip() else None
        if same:
            pair(same.pop(0), n)
    # 3. The same title, its text edited.
    by_heading: dict[str, list[SectionText]] = {}
    for s in old_left.values():
        by_heading.setdefault(normalize(s.title), []).append(s)
    for n in list(new_left.values()):
        same = by_heading.get(normalize(n.title))
        if same:
            candidates = [o for o in same if o.id in old_left]
            if candidates:
                best = max(candidates, key=lambda o: _similarity(o.words, n.words))
                if _similarity(best.words, n.words) >= SIMILAR / 2 or len(candidates) == 1:
                    pair(best, n)
    # 4. Most of the same words: renamed and edited (each against the few old sections that
    # share most of its words: a document rewritten throughout stays quick).
    nearest = _Nearest(list(old_left.values()))
    scored = sorted(
        (
            (_similarity(o.words, n.words), o.index, n.index, o.id, n.id)
            for n in new_left.values()
            for o in nearest(n)
        ),
        reverse=True,
    )
    for score, _oi, _ni, oid, nid in scored:
        if score < SIMILAR:
            break
        if oid in old_left and nid in new_left:
            pair(old_left[oid], new_left[nid])

    changes: dict[str, SectionChange] = {}  # by the first new id
    old_order = {s.id: i for i, s in enumerate(old)}
    new_order = {s.id: i for i, s in enumerate(new)}
    by_new = sorted(pairs, key=lambda p: new_order[p[1].id])
    stayed = _in_order([old_order[o.id] for o, _n in by_new])
    for place, (o, n) in enumerate(by_new):
        renamed = normalize(o.title) != normalize(n.title)
        edited = o.digest != n.digest
        changes[n.id] = SectionChange(
            SectionState.CHANGED if renamed or edited else SectionState.UNCHANGED,
            (o.id,),
            (n.id,),
            o.heading,
            n.heading,
            renamed=renamed,
            moved=place not in stayed,
            summary=change_summary(o.body, n.body) if edited else "",
        )
    # 5. Splits and merges among what is left, against every old and new section.
    in_old, in_new = _Nearest(old), _Nearest(new)
    for n in sorted(new_left.values(), key=lambda s: new_order[s.id]):
        host = _best_container(n, in_old)
        if host is None:
            continue
        first = next((c for c in changes.values() if host.id in c.old), None)
        if first is not None and len(first.old) == 1:
            changes[first.new[0]] = _with(first, new=(*first.new, n.id), note=f"into “{n.heading}”")
        elif first is None and host.id in old_left:
            del old_left[host.id]
            changes[n.id] = SectionChange(
                SectionState.CHANGED, (host.id,), (n.id,), host.heading, n.heading,
                renamed=normalize(host.title) != normalize(n.title),
                summary=change_summary(host.body, n.body),
            )  # fmt: skip
        else:
            continue
        del new_left[n.id]
    for o in sorted(old_left.values(), key=lambda s: old_order[s.id]):
        host = _best_container(o, in_new)
        first = changes.get(host.id) if host is not None else None
        if first is not None and len(first.new) == 1:
            changes[first.new[0]] = _with(first, old=(*first.old, o.id), note=f"with “{o.heading}”")
            del old_left[o.id]
    for n in new_left.values():
        changes[n.id] = SectionChange(SectionState.ADDED, (), (n.id,), "", n.heading)
    ordered = sorted(changes.values(), key=lambda c: new_order[c.new[0]])
    # Removed sections go after the section that preceded them in the old version.
    out: list[SectionChange] = []
    removed = sorted(old_left.values(), key=lambda s: old_order[s.id])
    placed: dict[str, list[SectionChange]] = {}
    for o in removed:
        before = [p for p in old[: old_order[o.id]] if p.id not in old_left]
        anchor = before[-1].id if before else ""
        placed.setdefault(anchor, []).append(
            SectionChange(SectionState.REMOVED, (o.id,), (), o.heading, "")
        )
    out.extend(placed.pop("", []))
    for change in ordered:
        out.append(change)
        for oid in change.old:
            out.extend(placed.pop(oid, []))
    for rest in placed.values():
        out.extend(rest)
    return out


def _in_order(ranks: Sequence[int]) -> set[int]:
    """The places of a longest increasing run of ``ranks`` (not necessarily adjacent): the
    sections that kept their order; the others are the ones that moved."""
    import bisect

    tails: list[int] = []  # the rank ending the best run of each length
    ends: list[int] = []  # the place of that rank
    before: list[int] = [-1] * len(ranks)
    for place, rank in enumerate(ranks):
        at = bisect.bisect_left(tails, rank)
        if at == len(tails):
            tails.append(rank)
            ends.append(place)
        else:
            tails[at], ends[at] = rank, place
        before[place] = ends[at - 1] if at else -1
    out: set[int] = set()
    place = ends[-1] if ends else -1
    while place >= 0:
        out.add(place)
        place = before[place]
    return out


NEAREST = 4
"""Old sections a new one is weighed against word by word (those sharing most words)."""


def _shared(a: Counter[str], b: Counter[str]) -> int:
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    return sum(min(n, large[w]) for w, n in small.items() if w in large)


class _Nearest:
    """The few of some sections that share most of a text's rarer words (an index of the
    words in at most a fifth of them, or in at most 3), so a document rewritten throughout
    is not compared section by section with every other."""

    def __init__(self, wholes: Sequence[SectionText]) -> None:
        self.wholes = list(wholes)
        seen: dict[str, list[int]] = {}
        for i, whole in enumerate(self.wholes):
            for word in whole.bag:
                seen.setdefault(word, []).append(i)
        common = max(3, len(self.wholes) // 5)
        self.index = {w: ids for w, ids in seen.items() if len(ids) <= common}

    def __call__(self, part: SectionText) -> list[SectionText]:
        hits: Counter[int] = Counter()
        for word in part.bag:
            for i in self.index.get(word, ()):
                hits[i] += 1
        return [self.wholes[i] for i, _n in hits.most_common(NEAREST)]


def _best_container(part: SectionText, wholes: _Nearest) -> SectionText | None:
    """The one of ``wholes`` that holds most of ``part``'s words, when it holds most of them."""
    words = part.words
    if len(words) < 3:
        return None
    best = max(wholes(part) or wholes.wholes, key=lambda w: _shared(part.bag, w.bag), default=None)
    if best is None or _shared(part.bag, best.bag) / len(words) < CONTAINED:
        return None
    return best


def _with(
    change: SectionChange,
    *,
    old: tuple[str, ...] | None = None,
    new: tuple[str, ...] | None = None,
    note: str,
) -> SectionChange:
    return SectionChange(
        SectionState.CHANGED,
        old if old is not None else change.old,
        new if new is not None else change.new,
        change.old_heading,
        change.new_heading,
        renamed=change.renamed,
        moved=change.moved,
        summary="; ".join(part for part in (note, change.summary) if part),
    )


# -- findings ----------------------------------------------------------------------------------
@dataclass
class FindingMatch:
    state: FindingState
    new: dict[str, Any] | None
    old: dict[str, Any] | None


def _key(f: Mapping[str, Any]) -> tuple[str, str]:
    what = str(f.get("rule") or "") or normalize(str(f.get("title") or ""))
    return what, normalize(str(f.get("quote") or ""))


def match_findings(
    old: Sequence[Mapping[str, Any]],
    new: Sequence[Mapping[str, Any]],
    sections: Sequence[SectionChange],
) -> list[FindingMatch]:
    """Each finding of the new version against the old one's (reviewers' own left out: see
    :func:`carry`): the same content (rule or title, and quote) in the same section, or
    anywhere, is ``unchanged`` (``updated`` when its severity changed); the same quote, or a
    title reworded, in the matching section is ``updated``; the rest is ``new``. An old
    finding nothing matched is ``absent``: fixed, or gone with its section."""
    old_of: dict[str, set[str]] = {}
    for change in sections:
        for nid in change.new:
            old_of.setdefault(nid, set()).update(change.old)
    pool = [dict(f) for f in old if f.get("source") != "reviewer"]
    keys = [_key(g) for g in pool]
    by_key: dict[tuple[str, str], list[int]] = {}  # indexes, in order: the first one wins
    by_section: dict[str, list[int]] = {}
    for i, (g, key) in enumerate(zip(pool, keys, strict=True)):
        by_key.setdefault(key, []).append(i)
        by_section.setdefault(str(g.get("section_id")), []).append(i)
    taken: set[int] = set()
    out: list[FindingMatch] = []
    fresh = [dict(f) for f in new if f.get("source") != "reviewer"]

    def take(i: int, f: dict[str, Any], state: FindingState) -> None:
        taken.add(i)
        g = pool[i]
        if state is FindingState.UNCHANGED and g.get("severity") != f.get("severity"):
            state = FindingState.UPDATED
        out.append(FindingMatch(state, f, g))

    left: list[dict[str, Any]] = []
    for f in fresh:  # 1. the same content in a matching section
        home = old_of.get(str(f.get("section_id")), set())
        hit = next(
            (
                i
                for i in by_key.get(_key(f), ())
                if i not in taken and pool[i].get("section_id") in home
            ),
            None,
        )
        if hit is None:
            left.append(f)
        else:
            take(hit, f, FindingState.UNCHANGED)
    rest: list[dict[str, Any]] = []
    for f in left:  # 2. the same content anywhere (its section moved beyond matching)
        hit = next((i for i in by_key.get(_key(f), ()) if i not in taken), None)
        if hit is None:
            rest.append(f)
        else:
            take(hit, f, FindingState.UNCHANGED)
    for f in rest:  # 3. reworded, or its quote reworded, in the matching section
        home = old_of.get(str(f.get("section_id")), set())
        what, quote = _key(f)
        best, score = None, 0.0
        for i in sorted(i for sid in home for i in by_section.get(sid, ())):
            g = pool[i]
            if i in taken or bool(g.get("rule")) != bool(f.get("rule")):
                continue
            g_what, g_quote = keys[i]
            same_rule = bool(f.get("rule")) and g_what == what
            title = difflib.SequenceMatcher(None, g_what, what, autojunk=False).ratio()
            quoted = (
                bool(quote)
                and bool(g_quote)
                and (
                    quote == g_quote
                    or difflib.SequenceMatcher(None, g_quote, quote, autojunk=False).ratio() >= 0.8
                )
            )
            value = max(title if title >= SIMILAR_TITLE else 0.0, 1.0 if quoted else 0.0)
            if same_rule and quoted:
                value = 2.0
            if value > score:
                best, score = i, value
        if best is None:
            out.append(FindingMatch(FindingState.NEW, f, None))
        else:
            take(best, f, FindingState.UPDATED)
    for i, g in enumerate(pool):
        if i not in taken:
            out.append(FindingMatch(FindingState.ABSENT, None, g))
    return out


# -- the reviewer's decisions ------------------------------------------------------------------
@dataclass
class Carried:
    """What carries from the old version's decisions to the new one's."""

    decided: dict[str, dict[str, str]] = field(default_factory=dict)
    """New finding id -> {status, finding (its old id), session, version}: an accepted or
    rejected finding that persists keeps its decision, and says where it was made."""
    own: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(new section id, the old finding) of the reviewer's own findings placed again."""
    needs_look: list[dict[str, Any]] = field(default_factory=list)
    """The reviewer's own findings whose place is gone: listed, never dropped silently."""


def carry(
    matches: Iterable[FindingMatch],
    old_own: Sequence[Mapping[str, Any]],
    sections: Sequence[SectionChange],
    new_texts: Mapping[str, str],
    *,
    session: str,
    version: str,
) -> Carried:
    """Decisions to carry from the old version (``session``, reviewed on ``version``): the
    status of each persisting finding decided there (keeping where it was first decided),
    and the reviewer's own findings: to the matching section when its text still holds their
    quote (or, with no quote, when the section is unchanged); else "needs a look"."""
    out = Carried()
    for m in matches:
        if m.new is None or m.old is None:
            continue
        status = str(m.old.get("status") or "open")
        if status not in {"accepted", "rejected"}:
            continue
        origin = m.old.get("decided_on")
        out.decided[str(m.new["id"])] = (
            dict(origin)
            if isinstance(origin, dict)
            else {"status": status, "finding": str(m.old["id"]), "session": session,
                  "version": version}
        )  # fmt: skip
        out.decided[str(m.new["id"])]["status"] = status
    new_of: dict[str, SectionChange] = {}
    for each in sections:
        for oid in each.old:
            new_of[oid] = each
    for own in old_own:
        change = new_of.get(str(own.get("section_id")))
        quote = normalize(str(own.get("quote") or ""))
        target = None
        if change is not None and change.new:
            if quote:
                target = next(
                    (nid for nid in change.new if quote in normalize(new_texts.get(nid, ""))), None
                )
            elif change.state is SectionState.UNCHANGED:
                target = change.new[0]
        if target is None:
            out.needs_look.append(
                {**own, "why": _why_look(change, bool(quote)), "session": session,
                 "version": version}
            )  # fmt: skip
        else:
            out.own.append((target, dict(own)))
    return out


def _why_look(change: SectionChange | None, quoted: bool) -> str:
    if change is None or not change.new:
        return "its section is gone from this version"
    if quoted:
        return "its quote is no longer in the section"
    return "its section changed (it quotes nothing to find again)"


# -- the comparison ----------------------------------------------------------------------------
@dataclass
class Comparison:
    """One document's new version against its previous one."""

    previous: dict[str, str]
    """The previous version: session, sha256, path, date (when it was first reviewed)."""
    sections: list[SectionChange]
    findings: list[FindingMatch]
    carried: Carried = field(default_factory=Carried)

    def states(self) -> dict[str, str]:
        """New finding id -> its state."""
        return {str(m.new["id"]): m.state.value for m in self.findings if m.new is not None}

    def counts(self) -> dict[str, int]:
        sections = {s.value: 0 for s in SectionState}
        for change in self.sections:
            sections[change.state.value] += 1
        findings = {s.value: 0 for s in FindingState}
        for m in self.findings:
            findings[m.state.value] += 1
        return {
            **{f"sections_{k}": v for k, v in sections.items()},
            **findings,
            "fixed": len(self.fixed()),
        }

    def fixed(self) -> list[dict[str, Any]]:
        """Old findings gone from this version that the reviewer had not rejected."""
        return [
            m.old
            for m in self.findings
            if m.state is FindingState.ABSENT
            and m.old is not None
            and m.old.get("status") != "rejected"
        ]

    def record(self) -> dict[str, Any]:
        """What the JSON report says under a document's ``since``."""
        brief = ("id", "section_id", "severity", "title", "quote", "status")
        counts = self.counts()
        return {
            "previous": dict(self.previous),
            "headline": headline({"previous": self.previous, "counts": counts}),
            "counts": counts,
            "sections": [c.record() for c in self.sections if c.state is not SectionState.UNCHANGED
                         or c.moved],
            "fixed": [{k: f.get(k) for k in brief} for f in self.fixed()],
            "absent_rejected": [
                {k: m.old.get(k) for k in brief}
                for m in self.findings
                if m.state is FindingState.ABSENT and m.old and m.old.get("status") == "rejected"
            ],
            "carried": {k: dict(v) for k, v in sorted(self.carried.decided.items())},
            "needs_look": list(self.carried.needs_look),
        }  # fmt: skip


def headline(since: Mapping[str, Any]) -> str:
    """``Since the version of 2026-11-02: 3 new, 5 persisting, 4 fixed``."""
    counts = since.get("counts", {})
    date = str(since.get("previous", {}).get("date", ""))[:10] or "an earlier review"
    persisting = int(counts.get("unchanged", 0)) + int(counts.get("updated", 0))
    return (
        f"Since the version of {date}: {counts.get('new', 0)} new, {persisting} persisting, "
        f"{counts.get('fixed', 0)} fixed"
    )

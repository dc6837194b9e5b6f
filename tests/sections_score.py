"""Scoring a section split against the hand-labelled real documents (sections_labels.json):
macro-F1 of section titles over documents, and how many documents come out exactly right.
Shared by tests/test_sections_real.py and bench/sections.py."""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

LABELS = Path(__file__).with_name("sections_labels.json")
CORPUS = Path(
    os.environ.get("PRISM_CORPUS", str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
)

_EDGE = " \t:：.。;；,，-–—•▲►■*"
# A leading number, for the "numbers ignored on both sides" figure only.
_NUMBER = re.compile(
    r"^\s*(?:(?:chapter|section|article|artigo|art\.|appendix|annex|part|§)\s*)?"
    r"(?:\d+(?:[.\-]\d+)*|[ivxlcdm]+|[a-z])[.)、:]?\s+",
    re.IGNORECASE,
)


def normalize(title: str, *, drop_number: bool = False) -> str:
    text = unicodedata.normalize("NFKC", title).replace("\u200f", "").replace("\u200e", "")
    text = " ".join(text.split()).strip(_EDGE)
    if drop_number:
        text = _NUMBER.sub("", text, count=1).strip(_EDGE)
    return text.casefold()


def f1(predicted: Iterable[str], truth: Iterable[str]) -> float:
    got, want = Counter(predicted), Counter(truth)
    if not got and not want:
        return 1.0
    if not got or not want:
        return 0.0
    hit = sum((got & want).values())
    if hit == 0:
        return 0.0
    precision, recall = hit / sum(got.values()), hit / sum(want.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class DocumentScore:
    path: str
    f1: float
    f1_numbers_ignored: float
    missed: list[str]
    extra: list[str]


@dataclass
class Score:
    documents: list[DocumentScore]

    @property
    def macro_f1(self) -> float:
        return sum(d.f1 for d in self.documents) / len(self.documents)

    @property
    def macro_f1_numbers_ignored(self) -> float:
        return sum(d.f1_numbers_ignored for d in self.documents) / len(self.documents)

    @property
    def exact(self) -> int:
        return sum(1 for d in self.documents if d.f1 == 1.0)


def labels() -> dict[str, dict[str, object]]:
    data = json.loads(LABELS.read_text("utf-8"))
    documents: dict[str, dict[str, object]] = data["documents"]
    return documents


def score(split: Callable[[Path], list[str]]) -> Score:
    """``split`` gives the section titles a tool finds in a document (no document title, no
    preamble), in reading order."""
    out: list[DocumentScore] = []
    for path, label in labels().items():
        truth = [str(t) for t in label["headings"]]  # type: ignore[attr-defined]
        found = split(CORPUS / path)
        want, got = Counter(normalize(t) for t in truth), Counter(normalize(t) for t in found)
        out.append(
            DocumentScore(
                path,
                f1(got.elements(), want.elements()),
                f1(
                    (normalize(t, drop_number=True) for t in found),
                    (normalize(t, drop_number=True) for t in truth),
                ),
                sorted((want - got).elements()),
                sorted((got - want).elements()),
            )
        )
    return Score(out)


def prism_titles(path: Path) -> list[str]:
    from prism_cli.core.sections import split_sections
    from prism_cli.word.reader import read_document

    sections = split_sections(read_document(path).blocks)
    return [s.title for s in sections if s.detected_by not in {"preamble", "none"}]

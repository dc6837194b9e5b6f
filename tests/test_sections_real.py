"""Sections as a reader sees them: the hand-labelled real documents (sections_labels.json,
read from ../shared/corpus), documents generated in code with known headings in every habit
real documents have, and a session stored before numbers became a field of their own."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p, r, table
from fake_bedrock import FakeBedrock
from prism_cli.core.sections import analyse, split_document
from prism_cli.word.reader import read_document
from sections_score import CORPUS, f1, labels, normalize, prism_titles, score

DATA = Path(__file__).with_name("data")


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the corpus is not at {CORPUS} (PRISM_CORPUS)")
def test_labelled_real_documents(capsys: pytest.CaptureFixture[str]) -> None:
    result = score(prism_titles)
    with capsys.disabled():
        print(
            f"\nsections on {len(result.documents)} labelled real documents: "
            f"macro-F1 {result.macro_f1:.3f}, exact {result.exact}"
        )
    assert len(result.documents) >= 40
    assert result.macro_f1 >= 0.9, [(d.path, d.missed, d.extra) for d in result.documents]
    for path in labels():
        document = read_document(CORPUS / path)
        for i in analyse(document.blocks).headings:
            block = document.blocks[i]
            assert block.is_paragraph, f"{path}: a table taken as a heading"
            style = (block.style_names or ("",))[0].casefold()
            assert not (style.startswith("toc") and style[3:].strip()[:1].isdigit()), path
            assert "\t" not in block.text.rstrip() or not block.text.rstrip()[-1:].isdigit(), path


# -- generated documents: every habit, with known headings ----------------------------------
WORDS = [
    "scope",
    "budget",
    "risks",
    "controls",
    "findings",
    "background",
    "method",
    "staffing",
    "vendors",
    "audit",
    "timeline",
    "governance",
    "training",
    "security",
    "privacy",
    "records",
    "appendix",
    "results",
    "overview",
]
SENTENCES = [
    "The team reviewed every account opened during the quarter and found two gaps.",
    "Owners must confirm the dates with the vendor before the end of the month.",
    "This paragraph explains the situation in enough detail to be read as body text.",
    "Each request was logged, approved and closed within the agreed service window.",
]


def _title(rng: random.Random) -> str:
    return " ".join(rng.sample(WORDS, rng.randint(1, 4))).capitalize()


def _body(rng: random.Random) -> str:
    out = "".join(p(rng.choice(SENTENCES)) for _ in range(rng.randint(1, 3)))
    extra = rng.random()
    if extra < 0.2:
        out += (
            p("We are required to:") + p("keep the logs", num=(2, 0)) + p("review them", num=(2, 0))
        )
    elif extra < 0.35:
        out += table([["Owner", "Date"], ["Jane Doe", "12 May"]])
    elif extra < 0.5:
        out += p("Owner: Jane Doe, the finance lead") + p(rng.choice(SENTENCES))
    elif extra < 0.6:
        out += p(runs=r("Note: ", bold=True) + r(rng.choice(SENTENCES)))
    return out


CJK_TITLES = ["总则", "采购需求", "合同条款", "评审办法", "附件说明", "服务标准"]
CJK_NUMBERS = "一二三四五六七八九"
CJK_BODY = "本项目的服务期限为二年，以合同签订之日起计算，供应商应按要求提供服务。"


def _document(habit: str, rng: random.Random) -> tuple[str, list[str]]:
    """A document body in one habit, and the section titles a reader sees in it."""
    body, truth = "", []
    if rng.random() < 0.5:
        body += p("Annual Review of Controls", style="Title")
    for n in range(1, rng.randint(2, 7) + 1):
        title = _title(rng)
        if habit == "cjk":
            title = rng.choice(CJK_TITLES)
            body += p(f"第{CJK_NUMBERS[n - 1]}章 {title}", bold=True)
            sub = rng.choice(CJK_TITLES)
            body += p(CJK_BODY) + p(f"一、{sub}", bold=True) + p(CJK_BODY)
            truth += [title, sub]
            continue
        truth.append(title)
        if habit == "styles":
            body += p(title, style="Heading1") + _body(rng)
            if rng.random() < 0.5:
                sub = _title(rng)
                truth.append(sub)
                body += p(sub, style="Heading2") + _body(rng)
            if rng.random() < 0.3:
                body += p("Important", bold=True) + p(rng.choice(SENTENCES))
        elif habit == "outline":
            body += p(title, outline=0) + _body(rng)
        elif habit == "bold":
            body += p(title, bold=True) + _body(rng)
        elif habit == "numbered-bold":
            body += p(f"{n}. {title}", bold=True) + _body(rng)
            if rng.random() < 0.5:
                sub = _title(rng)
                truth.append(sub)
                body += p(f"{n}.1 {sub}", bold=True) + _body(rng)
        elif habit == "caps":
            body += p(title.upper()) + _body(rng)
            truth[-1] = title.upper()
        elif habit == "stray-outline":
            # Real headings are bold numbered lines; an outline level sits on a date line.
            if n == 1:
                body += p("12 March 2026", outline=0)
            body += p(f"{n}. {title}", bold=True) + _body(rng)
        elif habit == "word-numbered":
            body += p(f"Article {n} {title}", bold=True) + _body(rng)
    return body, truth


HABITS = (
    "styles",
    "outline",
    "bold",
    "numbered-bold",
    "caps",
    "stray-outline",
    "cjk",
    "word-numbered",
)


def test_generated_documents_in_every_habit(tmp_path: Path) -> None:
    rng = random.Random(22)
    scores: list[float] = []
    for n in range(96):
        habit = HABITS[n % len(HABITS)]
        body, truth = _document(habit, rng)
        document = read_document(make_docx(tmp_path / f"{n}.docx", body))
        split = split_document(document.blocks)
        found = [s.title for s in split.sections if s.detected_by not in {"preamble", "none"}]
        scores.append(f1(map(normalize, found), map(normalize, truth)))
        if "Annual Review of Controls" in body:
            assert split.title == "Annual Review of Controls", habit
    macro = sum(scores) / len(scores)
    assert macro >= 0.99, [(HABITS[n % len(HABITS)], s) for n, s in enumerate(scores) if s < 1]


# -- a session stored before numbers were a field of their own ------------------------------
def test_a_session_stored_before_numbers_were_split_is_reused_whole(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    fixture = json.loads((DATA / "session_before_22.json").read_text())
    from prism_cli.core.session import Sessions
    from prism_cli.stores.disk import DiskStore

    store = DiskStore(tmp_path / "xdg-data" / "prism" / "sessions")
    store.put_many({k: base64.b64decode(v) for k, v in fixture["store"].items()})
    # The document is the one the session keeps a copy of (the same bytes, so the same session).
    (sid,) = Sessions(store).ids()
    doc = tmp_path / "numbered.docx"
    copy = Sessions(store).get_document(sid)
    assert copy is not None
    doc.write_bytes(copy)
    result = run_prism("review", "--region", "us-east-1", str(doc), "-f", "json", "--no-rules")
    assert result.code == 0, result.stderr
    assert bedrock.requests == []  # nothing paid again
    (document,) = json.loads(result.stdout)["documents"]
    before = fixture["report"]
    assert sorted(f["id"] for f in document["findings"]) == before["finding_ids"]
    assert [s["id"] for s in document["sections"]] == [sid for sid, _ in before["sections"]]
    assert [f"{s['number']} {s['title']}".strip() for s in document["sections"]] == [
        heading for _, heading in before["sections"]
    ]
    assert {s["status"] for s in document["sections"]} == {"cached"}

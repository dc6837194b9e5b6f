"""Chunking: nothing lost, nothing duplicated, no chunk over budget, paragraph boundaries kept."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from prism_cli.core.chunking import CHARS_PER_TOKEN, chunk_paragraphs, estimate_tokens

paragraphs = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=400), max_size=40
)
budgets = st.integers(min_value=1, max_value=200)


@given(paragraphs, budgets)
def test_no_text_lost_or_duplicated(paras: list[str], budget: int) -> None:
    chunks = chunk_paragraphs(paras, budget)
    assert "".join("".join(c) for c in chunks) == "".join(paras)
    # Pieces of one paragraph stay in order; rebuilding paragraph by paragraph is exact.
    pieces = [piece for chunk in chunks for piece in chunk]
    rebuilt: list[str] = []
    i = 0
    for para in paras:
        acc = ""
        while i < len(pieces) and len(acc) < len(para):
            acc += pieces[i]
            i += 1
        if para == "":
            assert pieces[i] == ""
            i += 1
        rebuilt.append(acc)
    assert rebuilt == paras
    assert i == len(pieces)


@given(paragraphs, budgets)
def test_no_chunk_over_budget(paras: list[str], budget: int) -> None:
    for chunk in chunk_paragraphs(paras, budget):
        assert estimate_tokens("\n".join(chunk)) <= budget


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=20))
def test_small_paragraphs_are_never_split(paras: list[str]) -> None:
    chunks = chunk_paragraphs(paras, 10)
    assert [p for c in chunks for p in c] == paras


def test_splits_long_paragraph_at_whitespace() -> None:
    para = " ".join(["word"] * 100)
    chunks = chunk_paragraphs([para], 10)
    assert all(len("\n".join(c)) <= 10 * CHARS_PER_TOKEN for c in chunks)
    assert all(c[0].endswith(" ") for c in chunks[:-1])


def test_packs_paragraphs_greedily() -> None:
    assert chunk_paragraphs(["aaaa", "bbbb", "cccc"], 3) == [["aaaa", "bbbb"], ["cccc"]]

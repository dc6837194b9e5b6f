"""Properties over arbitrary input (hypothesis): the section splitter loses and duplicates
nothing whatever the blocks, and the findings parser either validates model output or says
why, never anything else."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from prism_cli.core.document import Block, BlockKind
from prism_cli.core.findings import FindingIn, parse_findings
from prism_cli.core.sections import analyse, split_sections
from prism_cli.errors import FindingsParseError

words = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)


@st.composite
def blocks(draw: st.DrawFn) -> list[Block]:
    out = []
    for locator in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from([BlockKind.PARAGRAPH] * 5 + [BlockKind.TABLE]))
        text = draw(words)
        if kind is BlockKind.TABLE:
            out.append(Block(kind, text, locator, paragraphs=((locator, text),)))
            continue
        out.append(
            Block(
                kind,
                text,
                locator,
                style_names=draw(st.sampled_from([(), ("Heading1", "heading 1"), ("Title",)])),
                outline_level=draw(st.sampled_from([None, None, 0, 1, 2, 9])),
                bold=draw(st.booleans()),
                list_marker=draw(st.sampled_from(["", "", "1.", "a)", "•"])),
            )
        )
    return out


@settings(max_examples=200, deadline=None)
@given(blocks())
def test_every_block_lands_in_one_section_in_reading_order(given_blocks: list[Block]) -> None:
    sections = split_sections(given_blocks)
    analysis = analyse(given_blocks)
    placed = [b.locator for s in sections for b in s.blocks]
    headings = [s.heading_locator for s in sections if s.heading_locator is not None]
    # Each block at most once, in reading order.
    assert len(placed) == len(set(placed))
    assert placed == sorted(placed)
    # Nothing with text is lost: in a section, a heading (with the title line it takes), or
    # the document's title.
    taken = {given_blocks[i].locator for h in analysis.headings.values() for i in h.consumed}
    title = {given_blocks[i].locator for i in analysis.title_blocks}
    if title & set(placed):  # nothing but the title: the title is the whole document
        assert [s.detected_by for s in sections] == ["none"]
        assert title == set(placed) & {b.locator for b in given_blocks if b.text.strip()}
    kept = set(placed) | set(headings) | taken | title
    assert all(b.locator in kept for b in given_blocks if b.text.strip())
    # Ids in order, parents before their children.
    assert [s.id for s in sections] == [f"s{n}" for n in range(1, len(sections) + 1)]
    seen: set[str] = set()
    for section in sections:
        assert section.parent_id is None or section.parent_id in seen
        seen.add(section.id)
    assert split_sections(given_blocks) == sections  # the same every time


finding = st.fixed_dictionaries(
    {
        "severity": st.sampled_from(["high", "medium", "low", "severe", ""]),
        "type": st.sampled_from(["critical", "important", "suggestion", "positive", "x"]),
        "category": words,
        "title": words,
        "description": words,
        "quote": words,
        "confidence": st.one_of(st.floats(-1, 2, allow_nan=False), st.text(max_size=3)),
    }
)
outputs = st.one_of(
    st.builds(lambda fs: json.dumps({"findings": fs}), st.lists(finding, max_size=4)),
    st.builds(lambda fs: f"```json\n{json.dumps({'findings': fs})}\n```", st.lists(finding)),
    st.builds(lambda fs: {"findings": fs}, st.lists(finding, max_size=4)),
    st.text(max_size=80),
)


@settings(max_examples=300, deadline=None)
@given(outputs)
def test_the_findings_parser_validates_or_says_why(output: str | dict[str, object]) -> None:
    try:
        parsed = parse_findings(output)  # type: ignore[arg-type]
    except FindingsParseError as exc:
        why = str(exc)
        parsed = []
    else:
        why = "parsed"
    assert why  # a refusal says why
    assert all(isinstance(f, FindingIn) for f in parsed)
    assert all(f.severity in ("high", "medium", "low") and 0 <= f.confidence <= 1 for f in parsed)

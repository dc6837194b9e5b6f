"""A section's result through a store and back (hypothesis): what is stored is what is reused,
and the one rule of reuse."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from prism_cli.core.findings import Finding
from prism_cli.core.ports import Usage
from prism_cli.core.results import REUSABLE, SectionResult, SectionStatus, StoredResult

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
findings = st.lists(
    st.builds(
        lambda title, quote, sev: Finding(
            id="",
            section_id="s1",
            severity=sev,
            type="important",
            category="c",
            title=title or "t",
            description="d",
            quote=quote,
            confidence=0.9,
        ),
        text,
        text,
        st.sampled_from(["high", "medium", "low"]),
    ),
    max_size=5,
)


@settings(max_examples=60, deadline=None)
@given(
    found=findings,
    status=st.sampled_from(list(SectionStatus)),
    calls=st.integers(0, 5),
    key=st.text(min_size=1, max_size=8),
    other=st.text(min_size=1, max_size=8),
)
def test_a_result_round_trips_through_its_stored_form(
    found: list[Finding], status: SectionStatus, calls: int, key: str, other: str
) -> None:
    # Ids as a run gives them: one per finding of the section.
    first = StoredResult.from_payload(
        StoredResult.payload_of(SectionResult("s1", status, findings=found), key, 1)
    ).to_result("s1")
    result = SectionResult(
        "s1", status, model="m", attempts=2, findings=first.findings,
        usage={"m": Usage(calls=calls, input_tokens=7)}, thinking="adaptive",
    )  # fmt: skip
    stored = StoredResult.from_payload(StoredResult.payload_of(result, key, 1))
    back = stored.to_result("s1")
    assert back == SectionResult(
        "s1", status, "m", 2, None, result.findings, result.usage, [], "adaptive"
    )
    assert stored.calls == calls
    assert stored.reusable_for(key) == (status in REUSABLE)
    assert not stored.reusable_for(key + other)
    # Reused for another section (the shared cache): the same findings under that section.
    moved = stored.to_result("s7")
    assert [(f.section_id, f.title, f.quote) for f in moved.findings] == [
        ("s7", f.title, f.quote) for f in result.findings
    ]
    assert len({f.id for f in moved.findings}) == len(moved.findings)
    assert all(f.id.startswith("s7-") for f in moved.findings)


def test_a_status_prism_did_not_write_is_never_reused() -> None:
    stored = StoredResult.from_payload({"section_id": "s1", "cache_key": "k", "status": "maybe"})
    assert stored.status == SectionStatus.FAILED
    assert not stored.reusable_for("k")

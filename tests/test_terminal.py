"""What a person sees: the findings table at any width, progress without a terminal, notes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console as RichConsole

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
from prism_cli.reports import table


def finding(fid: str, section: str, severity: str, title: str) -> dict[str, object]:
    return {
        "id": fid, "section_id": section, "severity": severity, "type": "important",
        "category": "c", "title": title, "description": "Why it matters, at some length " * 3,
        "suggestion": "What to do about it.", "example": "", "questions": [],
        "framework_refs": [], "quote": "the words", "confidence": 0.9, "source": "model",
        "status": "open", "rule": None, "model": None, "locator": 0,
    }  # fmt: skip


REPORT = {
    "documents": [
        {
            "path": "reports/quarterly-incident-review-with-a-long-name.docx",
            "session_id": "3f2a9c1d0b7e",
            "sections": [
                {"id": "s1", "title": "Summary", "status": "reviewed", "error": None},
                {
                    "id": "s2",
                    "title": "A rather long section title that wraps",
                    "status": "reviewed",
                    "error": None,
                },
            ],
            "findings": [
                finding("s1-m3f9a2c", "s1", "low", "A low one that comes last"),
                finding(
                    "s2-r-undefined-acronym-12",
                    "s2",
                    "high",
                    "Acronym XYZZY is not defined anywhere in the document, which is long to say",
                ),
                finding("s2-m0000a1", "s2", "medium", "Medium in the same section"),
            ],
        }
    ],
    "summary": {
        "documents": 1,
        "sections": 2,
        "reviewed": 2,
        "failed": 0,
        "findings_by_severity": {"high": 1, "medium": 1, "low": 1},
        "usage": {"calls": 2, "cost_usd": 0.0123},
    },
}


def rendered(width: int, verbose: bool = False) -> str:
    buffer = io.StringIO()
    console = RichConsole(file=buffer, width=width, no_color=True, force_terminal=False)
    for renderable in table.render(REPORT, verbose=verbose):
        console.print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("verbose", [False, True])
def test_ids_are_never_cut_and_sections_read_in_order(width: int, verbose: bool) -> None:
    out = rendered(width, verbose)
    lines = out.splitlines()
    assert all(len(line) <= width for line in lines)
    for fid in ("s1-m3f9a2c", "s2-r-undefined-acronym-12", "s2-m0000a1"):
        assert any(fid in line for line in lines), (fid, out)
    order = [out.index(x) for x in ("s1-m3f9a2c", "s2-r-undefined-acronym-12", "s2-m0000a1")]
    assert order == sorted(order)  # sections in reading order, by severity within one
    assert "session 3f2a9c1d0b7e" in out
    assert "prism feedback 3f2a9c1d0b7e accept|reject" in out
    assert ("Why it matters" in out) is verbose


def test_a_row_per_finding_when_not_verbose() -> None:
    out = rendered(100)
    row = next(line for line in out.splitlines() if "s2-m0000a1" in line)
    assert "medium" in row
    assert "Medium in the same section" in row


def test_without_a_terminal_progress_is_a_plain_line_every_interval(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    bedrock.latency = 0.4
    body = "".join(p(f"Part {i}", style="Heading1") + p(f"Body {i} is TBD.") for i in range(8))
    make_docx(tmp_path / "long.docx", body)
    result = run_prism(
        "review", "long.docx", "--region", "us-east-1", "-f", "json", "-o", "out.json",
        "--concurrency", "1", cwd=tmp_path, env={"PRISM_PROGRESS_INTERVAL": "0.5"},
    )  # fmt: skip
    assert result.code in (0, 1), result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("prism: ")]
    assert len(lines) >= 3
    assert "/8 sections, 0/1 documents," in lines[0]
    assert "\x1b" not in result.stderr  # plain text: no cursor movement, no colour

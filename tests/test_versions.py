"""Document versions: a new version of a reviewed document is compared with the previous one
(sections and findings), only its changed and added sections go to a model, and the
reviewer's decisions come along."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import FakeBedrock
from prism_cli.core.versions import (
    SectionState,
    SectionText,
    change_summary,
    match_findings,
    match_sections,
)


def sentence_findings(_model: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    """A finding for each sentence that says TBD or "should": the same text, the same finding."""
    out = []
    for sentence in re.findall(r"[^.\n]*(?:TBD|should)[^.\n]*\.", text):
        placeholder = "TBD" in sentence
        out.append(
            {
                "severity": "high" if placeholder else "medium",
                "type": "important",
                "category": "clarity",
                "title": "A placeholder is left" if placeholder else "A vague obligation",
                "description": "Say it.",
                "quote": sentence.strip(),
                "confidence": 0.95,
            }
        )
    return out


FILLER = {
    "scope": "This plan covers the billing service and the nightly export to the ledger. "
    "Vendors should confirm their invoices by the fifth working day.",
    "payment": "Invoices are paid within thirty days of receipt by bank transfer only. "
    "The treasury team approves each run before the cut-off at noon on Friday.",
    "late": "Late payments carry interest at two percent a month from the due date. "
    "Disputed amounts are held until the dispute is settled in writing by both.",
    "terms": "Either party may end this agreement with ninety days notice in writing. "
    "The owner of the renewal is TBD.",
    "contacts": "Finance desk on extension four two one, and the vendor manager on call.",
    "security": "Access to the export bucket is granted by the platform team. "
    "Keys should rotate every quarter.",
}


def version(path: Path, n: int) -> Path:
    h = lambda text: p(text, style="Heading1")  # noqa: E731
    if n == 1:
        body = (
            h("Summary") + p("The owner of the cut-over is TBD. Nothing else is open.")
            + h("Scope") + p(FILLER["scope"])
            + h("Payment") + p(FILLER["payment"]) + p(FILLER["late"])
            + h("Terms") + p(FILLER["terms"])
            + h("Contacts") + p(FILLER["contacts"])
        )  # fmt: skip
    elif n == 2:  # summary fixed, payment split, terms renamed, contacts gone, security new
        body = (
            h("Summary") + p("Dana Reyes owns the cut-over. Nothing else is open.")
            + h("Scope") + p(FILLER["scope"])
            + h("Payment") + p(FILLER["payment"])
            + h("Late payment") + p(FILLER["late"])
            + h("Conditions") + p(FILLER["terms"])
            + h("Security") + p(FILLER["security"])
        )  # fmt: skip
    else:  # the security sentence reworded, scope moved to the end
        body = (
            h("Summary") + p("Dana Reyes owns the cut-over. Nothing else is open.")
            + h("Payment") + p(FILLER["payment"])
            + h("Late payment") + p(FILLER["late"])
            + h("Conditions") + p(FILLER["terms"])
            + h("Security") + p(FILLER["security"].replace("every quarter", "every month"))
            + h("Scope") + p(FILLER["scope"])
        )  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_docx(path, body)


def review(doc: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_prism("review", str(doc), "-f", "json", "--no-rules", "--fail-on", "never", *args)
    assert result.code == 0, result.stderr
    return result.code, json.loads(result.stdout)["documents"][0], result.stderr


def by_title(document: dict[str, Any], title: str) -> list[dict[str, Any]]:
    sections = {s["id"]: s["title"] for s in document["sections"]}
    return [f for f in document["findings"] if sections.get(f["section_id"]) == title]


def test_three_versions_states_decisions_and_calls(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = sentence_findings
    doc = tmp_path / "plan.docx"
    _code, v1, _err = review(version(doc, 1))
    assert "since" not in v1  # a first version has nothing to compare with
    assert len(bedrock.calls()) == 5
    (scope,) = by_title(v1, "Scope")
    (terms,) = by_title(v1, "Terms")
    # The reviewer: rejects the scope finding, accepts the terms one, adds two of their own.
    assert run_prism("feedback", str(doc), "reject", scope["id"]).code == 0
    assert run_prism("feedback", str(doc), "accept", terms["id"]).code == 0
    added = run_prism(
        "feedback", str(doc), "add", "Thirty days is long for a vendor this size.",
        "--section", "Payment", "--quote", "within thirty days of receipt",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    gone = run_prism("feedback", str(doc), "add", "Add a phone number.", "--section", "Contacts")
    assert gone.code == 0, gone.stderr

    calls = len(bedrock.calls())
    _code, v2, _err = review(version(doc, 2))
    sent = [body for _m, body in bedrock.calls()[calls:]]
    # Only changed and added sections went to the model: Summary, Payment, Late payment (split
    # out of Payment) and Security. Scope is unchanged; Conditions is Terms renamed, its text
    # the same: both are reused.
    headings = sorted(
        re.findall(
            r'Review section \[s\d+\] "([^"]*)"',
            "\n".join(json.dumps(b, ensure_ascii=False) for b in sent).replace('\\"', '"'),
        )
    )
    assert headings == ["Late payment", "Payment", "Security", "Summary"]
    since = v2["since"]
    assert since["previous"]["linked_by"] == "path"
    states = {(c["old_heading"], c["new_heading"]): c for c in since["sections"]}
    assert states[("Summary", "Summary")]["state"] == "changed"
    assert states[("Payment", "Payment")]["new"] == ["s3", "s4"]  # split
    assert states[("Payment", "Payment")]["kind"] == "split"
    assert states[("Terms", "Conditions")]["renamed"] is True
    assert states[("Contacts", "")]["state"] == "removed"
    assert states[("", "Security")]["state"] == "added"
    assert ("Scope", "Scope") not in states  # unchanged sections are not listed
    assert since["counts"]["sections_unchanged"] == 1

    found = {f["title"] + "|" + f["quote"][:20]: f for f in v2["findings"]}
    by_state = {f["id"]: f["baseline_state"] for f in v2["findings"]}
    (scope2,) = by_title(v2, "Scope")
    assert (scope2["baseline_state"], scope2["status"]) == ("unchanged", "rejected")
    (cond,) = [f for f in by_title(v2, "Conditions") if f["source"] == "model"]
    assert (cond["baseline_state"], cond["status"]) == ("unchanged", "accepted")
    assert since["carried"][cond["id"]]["finding"] == terms["id"]
    (security,) = by_title(v2, "Security")
    assert (security["baseline_state"], security["status"]) == ("new", "open")
    # The summary's placeholder was fixed.
    assert [f["title"] for f in since["fixed"]] == ["A placeholder is left"]
    assert since["counts"]["fixed"] == 1
    assert since["counts"]["new"] == 1
    # The reviewer's own: the one whose quote is still in Payment comes along; the one on
    # Contacts (gone) needs a look.
    (own,) = [f for f in v2["findings"] if f["source"] == "reviewer"]
    assert own["quote"] == "within thirty days of receipt"
    assert by_state[own["id"]] == "unchanged"
    assert [n["description"] for n in since["needs_look"]] == ["Add a phone number."]
    assert since["headline"].startswith("Since the version of ")
    assert found  # every finding has a state
    assert set(by_state.values()) <= {"new", "unchanged", "updated"}

    # Version 3: the security sentence reworded (the same finding, updated), scope moved.
    calls = len(bedrock.calls())
    _code, v3, _err = review(version(doc, 3))
    assert len(bedrock.calls()) - calls == 1  # only Security changed; Scope moved, reused
    (security3,) = by_title(v3, "Security")
    assert security3["baseline_state"] == "updated"
    moved = [c for c in v3["since"]["sections"] if c.get("moved")]
    assert [c["new_heading"] for c in moved] == ["Scope"]
    (scope3,) = by_title(v3, "Scope")
    # The decision made on version 1 is still there, and says where it was made.
    assert scope3["status"] == "rejected"
    assert v3["since"]["carried"][scope3["id"]]["session"] == v1["session_id"]
    # Rerunning version 3 changes nothing and costs nothing.
    calls = len(bedrock.calls())
    _code, again, _err = review(doc)
    assert len(bedrock.calls()) == calls
    assert again["since"]["counts"] == v3["since"]["counts"]
    # The reviewer's own finding carried to version 2 still reads as persisting.
    states = {f["id"]: f["baseline_state"] for f in again["findings"]}
    assert [states[f["id"]] for f in again["findings"] if f["source"] == "reviewer"] == [
        "unchanged"
    ]


def test_since_names_a_renamed_document(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = sentence_findings
    old = version(tmp_path / "v1" / "plan.docx", 1)
    review(old)
    new = version(tmp_path / "elsewhere" / "plan-final.docx", 2)
    _code, v2, _err = review(new)
    assert "since" not in v2  # another path, no Word identity: a stranger
    _code, linked, _err = review(new, "--since", str(old))
    assert linked["since"]["previous"]["linked_by"] == "since"
    assert linked["since"]["counts"]["fixed"] == 1
    # Once linked, the session remembers its previous version.
    _code, again, _err = review(new)
    assert again["since"]["previous"]["linked_by"] == "session"


def test_since_an_unreviewed_version_is_one_line(bedrock: FakeBedrock, tmp_path: Path) -> None:
    old = version(tmp_path / "old.docx", 1)
    new = version(tmp_path / "new.docx", 2)
    result = run_prism("review", str(new), "--since", str(old), "-f", "json")
    assert result.code == 2
    assert "review that version first" in result.stderr
    assert "Traceback" not in result.stderr
    assert bedrock.calls() == []


def test_word_identity_links_a_moved_document(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = sentence_findings
    settings = (
        '<w:settings xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:w15="http://schemas.microsoft.com/office/word/2012/wordml">'
        '<w15:docId w15:val="{1B2C3D4E-0000-4000-8000-00000000AB01}"/></w:settings>'
    )
    old = version(tmp_path / "a" / "plan.docx", 1)
    new = version(tmp_path / "b" / "renamed.docx", 2)
    for path, n in ((old, 1), (new, 2)):
        version(path, n)
        make_docx_with(path, n, settings)
    review(old)
    _code, v2, _err = review(new)
    assert v2["since"]["previous"]["linked_by"] == "identity"


def make_docx_with(path: Path, n: int, settings: str) -> None:
    import zipfile

    version(path, n)
    data = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data[name] = zf.read(name)
    data["word/settings.xml"] = settings.encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, raw in data.items():
            zf.writestr(name, raw)


# -- the matching itself -----------------------------------------------------------------------
def text(i: int, heading: str, body: str) -> SectionText:
    return SectionText(f"s{i}", i, heading, heading.lstrip("0123456789. "), body)


def words(seed: str, n: int = 30) -> str:
    return " ".join(f"{seed}{k}" for k in range(n)) + "."


def test_sections_renumbered_are_unchanged_and_merges_are_seen() -> None:
    old = [text(1, "1 Intro", words("a")), text(2, "2 Scope", words("b")),
           text(3, "3 Fees", words("c")), text(4, "4 Extra fees", words("d"))]  # fmt: skip
    new = [text(1, "1 Preface", words("z")), text(2, "2 Intro", words("a")),
           text(3, "3 Scope", words("b")), text(4, "4 Fees", words("c") + " " + words("d"))]  # fmt: skip
    changes = match_sections(old, new)
    kinds = [(c.state, c.old, c.new, c.kind) for c in changes]
    assert (SectionState.ADDED, (), ("s1",), "") in kinds
    assert (SectionState.UNCHANGED, ("s1",), ("s2",), "") in kinds  # numbered anew
    assert (SectionState.UNCHANGED, ("s2",), ("s3",), "") in kinds
    assert (SectionState.CHANGED, ("s3", "s4"), ("s4",), "merged") in kinds


def test_a_rewritten_section_is_changed_not_removed_and_added() -> None:
    body = words("k", 60)
    old = [text(1, "Risks", body)]
    new = [text(1, "Known risks", body.replace("k5 k6 k7", "something else entirely"))]
    (change,) = match_sections(old, new)
    assert change.state is SectionState.CHANGED
    assert change.renamed
    assert "“k5 k6 k7” → “something else entirely”" in change.summary


def test_change_summary_counts_words() -> None:
    assert change_summary("pay within 30 days", "pay within 45 days") == (
        "+1 −1 words: “30” → “45”"
    )
    assert change_summary("same", "same") == ""


@pytest.mark.parametrize(
    ("old_title", "new_title", "old_quote", "new_quote", "state"),
    [
        ("A vague obligation", "A vague obligation", "Keys rotate.", "Keys rotate.", "unchanged"),
        ("A vague obligation", "An obligation left vague", "Keys rotate.", "Keys rotate.",
         "updated"),
        ("A vague obligation", "Vague obligations", "Keys rotate.", "Keys rotate monthly.",
         "updated"),
        ("A vague obligation", "Missing owner", "Keys rotate.", "Nobody owns it.", "new"),
    ],
)  # fmt: skip
def test_finding_states(
    old_title: str, new_title: str, old_quote: str, new_quote: str, state: str
) -> None:
    sections = match_sections([text(1, "Keys", "Keys rotate.")], [text(1, "Keys", "Keys rot.")])
    old = [{"id": "s1-a", "section_id": "s1", "title": old_title, "quote": old_quote,
            "severity": "medium", "source": "model"}]  # fmt: skip
    new = [{"id": "s1-b", "section_id": "s1", "title": new_title, "quote": new_quote,
            "severity": "medium", "source": "model"}]  # fmt: skip
    matches = match_findings(old, new, sections)
    assert matches[0].state.value == state
    if state == "new":
        assert [m.state.value for m in matches] == ["new", "absent"]


def test_a_pull_request_shows_what_it_changed_since_main(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """CI: main's version was reviewed (its session in the shared store); the pull request's
    run with --changed-since main compares with it, and --fail-on-new fails on new only."""
    import subprocess

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=repo, check=True, capture_output=True,
        )  # fmt: skip

    bedrock.findings = sentence_findings
    repo = tmp_path / "repo"
    git_dir = repo / "docs"
    git_dir.mkdir(parents=True)
    git("init", "-q", "-b", "main")
    version(git_dir / "plan.docx", 1)
    git("add", ".")
    git("commit", "-q", "-m", "v1")
    store = f"file://{tmp_path / 'shared-store'}"
    on_main = run_prism(
        "review", "docs/plan.docx", "--no-rules", "-f", "json", "--store", store,
        "--fail-on", "never", cwd=repo,
    )  # fmt: skip
    assert on_main.code == 0, on_main.stderr
    git("checkout", "-q", "-b", "feature")
    version(git_dir / "plan.docx", 2)
    git("commit", "-q", "-am", "v2")
    summary = tmp_path / "summary.md"
    pr = run_prism(
        "review", "--changed-since", "main", "--no-rules", "-f", "sarif", "--store", store,
        "--fail-on-new", "high", cwd=repo, env={"GITHUB_STEP_SUMMARY": str(summary)},
    )  # fmt: skip
    # The new finding is medium: --fail-on-new high passes, though a high one persists.
    assert pr.code == 0, pr.stderr
    sarif = json.loads(pr.stdout)
    states = sorted(r["baselineState"] for r in sarif["runs"][0]["results"])
    assert states == ["new", "unchanged", "unchanged"]
    page = summary.read_text()
    assert "1 new, 2 persisting, 1 fixed" in page
    assert "fixed: A placeholder is left" in page
    strict = run_prism(
        "review", "--changed-since", "main", "--no-rules", "-f", "json", "--store", store,
        "--fail-on-new", "medium", cwd=repo,
    )  # fmt: skip
    assert strict.code == 1
    assert "1 new finding at or above medium (--fail-on-new medium" in strict.stderr
    linked = json.loads(strict.stdout)["documents"][0]["since"]["previous"]
    assert linked["linked_by"] == "git"


def test_diff_and_history(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.findings = sentence_findings
    doc = tmp_path / "plan.docx"
    review(version(doc, 1))
    old = tmp_path / "old.docx"
    old.write_bytes(doc.read_bytes())
    review(version(doc, 2))
    calls = len(bedrock.calls())
    result = run_prism("diff", str(old), str(doc), "-f", "json")
    assert result.code == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["counts"]["added"] == 1
    assert diff["counts"]["removed"] == 1
    assert diff["counts"]["findings_new"] == 1
    assert diff["counts"]["findings_absent"] == 1
    text = run_prism("diff", str(old), str(doc), "-f", "markdown").stdout
    assert "- removed “Contacts”" in text
    assert "- split “Payment”: into “Late payment”" in text
    assert "fixed: [high] A placeholder is left" in text
    assert "Scope" not in text  # unchanged
    # Not reviewed: the sections still compare, with a note; never a model call.
    fresh = tmp_path / "draft.docx"
    version(fresh, 3)
    result = run_prism("diff", str(doc), str(fresh), "-f", "json")
    assert result.code == 0, result.stderr
    assert "findings" not in json.loads(result.stdout)
    assert "has not been reviewed" in result.stderr
    assert len(bedrock.calls()) == calls
    history = run_prism("sessions", "history", str(doc), "-f", "json")
    assert history.code == 0, history.stderr
    versions = json.loads(history.stdout)
    assert [v["fixed"] for v in versions] == [None, 1]
    assert [v["new"] for v in versions] == [None, 1]
    assert versions[1]["previous"] == versions[0]["session"]


def test_the_reviewed_copy_of_a_new_version_says_what_was_fixed(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    import zipfile

    bedrock.findings = sentence_findings
    doc = tmp_path / "plan.docx"
    _code, v1, _err = review(version(doc, 1))
    (scope,) = [f for f in v1["findings"] if f["section_id"] == "s2"]
    (v1_placeholder,) = [f["id"] for f in v1["findings"] if f["section_id"] == "s1"]
    assert run_prism("feedback", str(doc), "reject", scope["id"]).code == 0
    version(doc, 2)
    out = tmp_path / "copy.docx"
    result = run_prism("review", str(doc), "--no-rules", "-f", "docx", "-o", str(out))
    assert result.code == 1, result.stderr  # a high finding persists
    comments = zipfile.ZipFile(out).read("word/comments.xml").decode()
    texts = re.findall(r"<w:t[^>]*>([^<]*)</w:t>", comments)
    assert re.fullmatch(
        r"prism: Since the version of \d{4}-\d\d-\d\d: 1 new, 2 persisting, 1 fixed\.", texts[0]
    )
    fixed = f"- A placeholder is left (high, was {v1_placeholder})"
    assert texts[1:3] == ["Fixed since the previous version:", fixed]
    # The rejected persisting finding has no comment; the new and the open persisting do.
    assert "A vague obligation" in comments
    assert sum(1 for t in texts if t.startswith("[")) == 2


BUDGET = "tika/tika-grpc/src/test/resources/test-files/018367.docx"


def test_two_hand_edited_versions_of_a_real_document(bedrock: FakeBedrock, tmp_path: Path) -> None:
    """A DOJ budget submission from the corpus, edited by hand as an author would in Word:
    version 1 leaves a placeholder in "Funding History"; version 2 fixes it, adds a vague
    obligation to "Scientific Studies" and moves the GAO audit section after "Funding
    History". The report says exactly that."""
    from sections_score import CORPUS

    source = CORPUS / BUDGET
    if not source.is_file():
        pytest.skip(f"the corpus is not at {CORPUS} (PRISM_CORPUS)")
    import docx

    def after(d: Any, title: str) -> Any:
        heads = [i for i, q in enumerate(d.paragraphs) if q.text.strip() == title]
        return next(q for q in d.paragraphs[heads[0] + 1 :] if q.text.strip())

    bedrock.findings = sentence_findings
    doc = tmp_path / "budget.docx"
    v1 = docx.Document(str(source))
    after(v1, "Funding History").add_run(" The owner of the FY 2010 estimate is TBD.")
    v1.save(str(doc))
    _code, first, _err = review(doc)
    v2 = docx.Document(str(doc))
    for run in after(v2, "Funding History").runs:
        run.text = run.text.replace(" The owner of the FY 2010 estimate is TBD.", "")
    after(v2, "Scientific Studies").add_run(" New studies should be considered.")
    titles = [q.text.strip() for q in v2.paragraphs]
    start = titles.index("Government Accountability Office (GAO) Audit")
    moved = v2.paragraphs[start : titles.index("Funding History")]
    claims = v2.paragraphs[titles.index("Claim Statistics")]
    for q in moved:
        claims._p.addprevious(q._p)
    v2.save(str(doc))
    calls = len(bedrock.calls())
    _code, second, _err = review(doc)
    since = second["since"]
    assert len(bedrock.calls()) - calls == 2  # the two edited sections, nothing else
    assert since["counts"]["new"] == 1
    assert since["counts"]["fixed"] == 1
    assert since["counts"]["sections_changed"] == 2
    assert since["counts"]["sections_added"] == since["counts"]["sections_removed"] == 0
    (fixed,) = since["fixed"]
    assert fixed["quote"] == "The owner of the FY 2010 estimate is TBD."
    (new,) = [f for f in second["findings"] if f["baseline_state"] == "new"]
    assert new["quote"] == "New studies should be considered."
    assert any(c.get("moved") for c in since["sections"])  # the move is seen
    persisting = [f for f in second["findings"] if f["baseline_state"] == "unchanged"]
    assert len(persisting) == len(first["findings"]) - 1


def test_since_this_very_version_is_refused(bedrock: FakeBedrock, tmp_path: Path) -> None:
    doc = version(tmp_path / "plan.docx", 1)
    review(doc)
    again = run_prism("review", str(doc), "--since", str(doc), "-f", "json")
    assert again.code == 2
    assert "is this very version" in again.stderr


def test_versions_in_every_kind_of_store(
    bedrock: FakeBedrock, tmp_path: Path, store_url: str
) -> None:
    """The lineage, the comparison and the carried decisions live in the store: a shared
    Redis or S3 store works as the local disk does."""
    bedrock.findings = sentence_findings
    doc = tmp_path / "plan.docx"
    _code, v1, _err = review(version(doc, 1), "--store", store_url)
    (scope,) = by_title(v1, "Scope")
    decided = run_prism("feedback", str(doc), "reject", scope["id"], "--store", store_url)
    assert decided.code == 0, decided.stderr
    _code, v2, _err = review(version(doc, 2), "--store", store_url)
    assert v2["since"]["previous"]["session"] == v1["session_id"]
    assert v2["since"]["counts"]["fixed"] == 1
    (scope2,) = by_title(v2, "Scope")
    assert scope2["status"] == "rejected"
    history = run_prism("sessions", "history", str(doc), "-f", "json", "--store", store_url)
    assert [v["session"] for v in json.loads(history.stdout)] == [
        v1["session_id"],
        v2["session_id"],
    ]


def test_a_queued_review_of_a_new_version_compares_it(
    bedrock: FakeBedrock, tmp_path: Path, redis_url: str
) -> None:
    """Workers finish the session; the batch's report says what changed since version 1."""
    from test_queue import queue_url, worker

    bedrock.findings = sentence_findings
    queue = queue_url(redis_url)
    doc = tmp_path / "plan.docx"
    _code, v1, _err = review(version(doc, 1), "--store", redis_url)
    version(doc, 2)
    submitted = run_prism(
        "review", str(doc), "--store", redis_url, "--queue", queue, "--no-wait",
        "--region", "us-east-1", "--no-rules",
    )  # fmt: skip
    assert submitted.code == 0, submitted.stderr
    proc = worker(queue, "--burst")
    assert proc.wait(90) == 0, proc.stderr.read() if proc.stderr else ""
    waited = run_prism(
        "batch", "wait", submitted.stdout.strip(), "--queue", queue, "--store", redis_url,
        "-f", "json", "--fail-on", "never",
    )  # fmt: skip
    assert waited.code == 0, waited.stderr
    document = json.loads(waited.stdout)["documents"][0]
    assert document["since"]["previous"]["session"] == v1["session_id"]
    assert document["since"]["counts"]["fixed"] == 1
    (security,) = by_title(document, "Security")
    assert security["baseline_state"] == "new"


def test_the_exported_copy_of_a_new_version_says_what_was_fixed(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    import zipfile

    bedrock.findings = sentence_findings
    doc = tmp_path / "plan.docx"
    review(version(doc, 1))
    review(version(doc, 2))
    exported = run_prism("export", str(doc), "--to", str(tmp_path / "out"))
    assert exported.code == 0, exported.stderr
    (copy,) = (tmp_path / "out").glob("*/reviewed.docx")
    comments = zipfile.ZipFile(copy).read("word/comments.xml").decode()
    assert "1 new, 2 persisting, 1 fixed." in comments
    assert "Fixed since the previous version:" in comments

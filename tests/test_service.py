"""The review service and the pipeline in-process: a queued model port, an in-memory store,
the real engine, reviewer, sessions and service. No server, no subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from docbuilder import make_docx, p
from fakes import MemoryStore, QueuedPort, denied, finding, throttled
from prism_cli.app.run import Hooks, ReviewService, RunOutcome, RunSettings, assign_session_ids
from prism_cli.bedrock.catalog import load_catalog
from prism_cli.core.pipeline import Reviewer, ReviewSettings
from prism_cli.core.report import DocumentReview
from prism_cli.core.sections import split_sections
from prism_cli.core.session import Decision, Sessions
from prism_cli.engine.engine import ModelEngine
from prism_cli.engine.fallback import RetryPolicy
from prism_cli.errors import SessionBusy
from prism_cli.word.reader import read_document

FAST = RetryPolicy(base_delay=0.001, max_delay=0.005)
SECTIONS = 4


def document(path: Path, sections: int = SECTIONS, tag: str = "") -> Path:
    body = "".join(
        p(f"Part {i}", style="Heading1") + p(f"Paragraph {i}{tag}: the batch was sent twice.")
        for i in range(1, sections + 1)
    )
    return make_docx(path, body)


def reviews_of(*paths: Path) -> list[DocumentReview]:
    out = []
    for path in paths:
        doc = read_document(path)
        out.append(DocumentReview(doc, split_sections(doc.blocks)))
    assign_session_ids(out, None)
    return out


class Rig:
    """A service over one in-memory store and one queued port."""

    def __init__(self, port: QueuedPort | None = None) -> None:
        self.port = port or QueuedPort()
        self.store = MemoryStore()
        self.sessions = Sessions(self.store, who="test:1")
        self.catalog = load_catalog()

    def run(
        self,
        *paths: Path,
        models: tuple[str, ...] = ("claude-sonnet-5-5",),
        fresh: bool = False,
        offline: bool = False,
        thinking: bool = False,
    ) -> RunOutcome:
        from prism_cli.app.inputs import load_framework

        settings = RunSettings(load_framework(None), models=models, thinking=thinking)
        reviewer = None
        if not offline:
            chain, _ = self.catalog.chain("us-east-1", list(models))
            engine = ModelEngine(self.port, chain, policy=FAST)
            reviewer = Reviewer(engine, ReviewSettings(concurrency=2))
        service = ReviewService(
            self.sessions, settings, reviewer=reviewer, fresh=fresh, hooks=Hooks()
        )
        return service.run(reviews_of(*paths))


def ids(outcome: RunOutcome, doc: int = 0) -> list[str]:
    return [f.id for f in outcome.reviews[doc].findings]


def test_finding_ids_come_from_content_and_survive_a_filtered_finding(tmp_path: Path) -> None:
    port = QueuedPort({"findings": [finding("Maybe", confidence=0.2), finding("Kept")]})
    rig = Rig(port)
    doc = document(tmp_path / "a.docx")
    first = ids(rig.run(doc))
    assert len(first) == SECTIONS
    assert all("-m" in i for i in first)
    again = ids(rig.run(doc))  # from the session: no call
    assert again == first
    assert port.calls() == SECTIONS


def test_fresh_keeps_the_reviewers_decisions(tmp_path: Path) -> None:
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    outcome = rig.run(doc)
    sid = outcome.reviews[0].session_id
    found = ids(outcome)
    rig.sessions.decide(sid, Decision.ACCEPT, [found[0]])
    rig.sessions.add_finding(sid, "s2", "No owner for action 3", severity="high")
    outcome = rig.run(doc, fresh=True)
    assert rig.port.calls() == 2 * SECTIONS
    statuses = {f.id: f.status for f in outcome.reviews[0].findings}
    assert statuses[found[0]] == "accepted"
    assert "s2-c1" in statuses


def test_the_cache_answers_only_for_the_same_models_and_thinking(tmp_path: Path) -> None:
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    rig.run(doc)
    rig.run(doc, models=("claude-opus-5-5",))
    assert rig.port.calls() == 2 * SECTIONS
    rig.run(doc, models=("claude-opus-5-5",))
    rig.run(doc, thinking=True)
    assert rig.port.calls() == 3 * SECTIONS
    models_called = {m for m, _ in rig.port.requests}
    assert any("opus-5-5" in m for m in models_called)


def test_identical_sections_are_reviewed_once(tmp_path: Path) -> None:
    rig = Rig()
    (tmp_path / "b").mkdir()
    a = document(tmp_path / "a.docx")
    b = document(tmp_path / "b" / "a.docx")
    outcome = rig.run(a, b)
    assert rig.port.calls() == SECTIONS
    assert ids(outcome, 0) == ids(outcome, 1)
    assert {r.status for r in outcome.reviews[1].results.values()} <= {"reviewed", "cached"}


def test_session_usage_accumulates_over_runs(tmp_path: Path) -> None:
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    outcome = rig.run(doc)
    sid = outcome.reviews[0].session_id
    first = rig.sessions.report(sid)
    assert first is not None
    calls = first["summary"]["usage"]["calls"]
    assert calls == SECTIONS
    rig.run(doc)  # cached: this run costs nothing, the session's usage stays
    again = rig.sessions.report(sid)
    assert again is not None
    assert again["summary"]["usage"]["calls"] == calls


def test_offline_runs_keep_a_session_without_a_model(tmp_path: Path) -> None:
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    outcome = rig.run(doc, offline=True)
    sid = outcome.reviews[0].session_id
    assert rig.port.calls() == 0
    meta = rig.sessions.require(sid)
    assert meta.status.value == "offline"
    assert rig.sessions.report(sid) is not None
    rig.run(doc)  # an online run then reviews every section: offline stored no result
    assert rig.port.calls() == SECTIONS


def test_fallback_to_the_next_model_and_one_call_per_denied_model(tmp_path: Path) -> None:
    port = QueuedPort()
    chain = ("claude-sonnet-5-5", "claude-opus-5-5")
    sonnet = load_catalog().chain("us-east-1", [chain[0]])[0][0].model_id
    port.queue(*[denied()] * 10, model=sonnet)
    rig = Rig(port)
    outcome = rig.run(document(tmp_path / "a.docx"), models=chain)
    assert port.calls(sonnet) == 1
    assert all(r.status == "reviewed" for r in outcome.reviews[0].results.values())
    assert outcome.fallbacks


def test_a_throttle_is_retried_not_failed(tmp_path: Path) -> None:
    port = QueuedPort().queue(throttled(), throttled())
    rig = Rig(port)
    outcome = rig.run(document(tmp_path / "a.docx"))
    assert all(r.status == "reviewed" for r in outcome.reviews[0].results.values())
    assert port.calls() == SECTIONS + 2


def test_a_held_lease_refuses_a_second_run(tmp_path: Path) -> None:
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    sid = reviews_of(doc)[0].session_id
    assert rig.store.acquire(f"leases/{sid}", "elsewhere:1 abc", 30) is None
    with pytest.raises(SessionBusy, match="elsewhere:1"):
        rig.run(doc)


def test_a_worker_rebuilds_the_settings_from_the_store(tmp_path: Path) -> None:
    rig = Rig()
    outcome = rig.run(document(tmp_path / "a.docx"), thinking=True)
    meta = rig.sessions.require(outcome.reviews[0].session_id)
    rebuilt = RunSettings.from_record(meta.settings)
    assert rebuilt.thinking is True
    assert rebuilt.models == ("claude-sonnet-5-5",)
    assert rebuilt.framework.digest == meta.settings["framework_digest"]
    from prism_cli.app.inputs import load_framework

    # The same cache keys as the run that stored it: a worker finds what was reviewed.
    original = RunSettings(load_framework(None), models=("claude-sonnet-5-5",), thinking=True)
    assert rebuilt.key("some section") == original.key("some section")


def test_lookups_do_not_list_the_store(tmp_path: Path) -> None:
    """An unchanged rerun costs direct gets and one listing per session, whatever else the
    store holds."""
    rig = Rig()
    doc = document(tmp_path / "a.docx")
    rig.run(doc)
    for n in range(300):
        rig.store.put(f"sessions/other{n}/meta", b"x")
    rig.store.lists = 0
    rig.run(doc)
    assert rig.store.lists <= 3


def test_the_engine_streams_from_the_queued_port_and_falls_back_before_the_first_token() -> None:
    from prism_cli.core.ports import ModelChosen, TextDelta
    from prism_cli.engine.requests import Ask

    catalog = load_catalog()
    chain, _ = catalog.chain("us-east-1", ["claude-sonnet-5-5", "claude-opus-5-5"])
    port = QueuedPort({"text": "The root cause is in section 3."})
    port.queue(denied(), model=chain[0].model_id)
    engine = ModelEngine(port, chain, policy=FAST)
    ask = Ask(
        system=lambda _structured: "Answer briefly.",
        messages=[{"role": "user", "content": [{"text": "Why?"}]}],
        max_tokens=256,
    )
    events = list(engine.stream(ask))
    chosen = events[0]
    assert isinstance(chosen, ModelChosen)
    assert chosen.model_id == chain[1].model_id
    assert chain[0].model_id in chosen.passed_over
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "The root cause is in section 3."
    assert [m for m, _ in port.requests] == [chain[0].model_id, chain[1].model_id]

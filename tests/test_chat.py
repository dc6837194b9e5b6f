"""``prism chat`` as users run it: --ask, questions on stdin, JSON, a real terminal session
(pexpect), fallback before the first token, a broken-off answer, two terminals at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_prism
from docbuilder import make_docx, p
from fake_bedrock import Err, FakeBedrock

SONNET = "us.anthropic.claude-sonnet-5-5"
OPUS = "us.anthropic.claude-opus-5-5"


def doc(tmp_path: Path) -> Path:
    body = (
        p("Summary", style="Heading1") + p("Payments were sent twice on Monday.")
        + p("Root Cause", style="Heading1") + p("The legacy cron entry ran after the failover.")
        + p("Actions", style="Heading1") + p("Remove the cron entry. Owner TBD.")
    )  # fmt: skip
    return make_docx(tmp_path / "incident.docx", body)


def answer(text: str) -> dict[str, object]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 900, "outputTokens": 40, "totalTokens": 940},
    }


def chat(tmp_path: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = run_prism("chat", *args, "--region", "us-east-1", cwd=tmp_path, stdin=stdin)
    return result.code, result.stdout, result.stderr


def turns(tmp_path: Path) -> list[dict[str, object]]:
    from prism_cli.stores.service import open_sessions

    sessions = open_sessions(None)
    (sid,) = sessions.ids()
    return sessions.turns(sid, sessions.thread(sid))


def test_ask_answers_grounded_and_keeps_the_turn(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.queue(SONNET, answer("The cron entry ran twice [§2 Root Cause]."))
    code, out, err = chat(tmp_path, str(path), "--ask", "Which cron entry ran?")
    assert code == 0, err
    assert out.strip() == "The cron entry ran twice [§2 Root Cause]."
    _, operation, body = bedrock.requests[-1]
    assert operation == "converse_stream"
    sent = json.dumps(body)
    assert "legacy cron entry" in sent  # the relevant section went with the question
    assert "<document_section" in sent  # fenced as untrusted text
    (turn,) = turns(tmp_path)
    assert turn["question"] == "Which cron entry ran?"
    assert turn["sections_used"][0] == "s2"


def test_the_document_is_the_cached_prefix(bedrock: FakeBedrock, tmp_path: Path) -> None:
    body = p("Scope", style="Heading1") + p("The settlement batch runs nightly. " * 300)
    path = make_docx(tmp_path / "long.docx", body + p("Owners", style="Heading1") + p("Ops."))
    bedrock.queue(SONNET, answer("Nightly [§1 Scope]."), answer("Ops [§2 Owners]."))
    assert chat(tmp_path, str(path), "--ask", "When does it run?")[0] == 0
    assert chat(tmp_path, str(path), "--ask", "Who owns it?")[0] == 0
    systems = [body["system"] for _, _, body in bedrock.requests[-2:]]
    assert systems[0] == systems[1]  # the same prefix for both questions ...
    assert systems[0][-1] == {"cachePoint": {"type": "default"}}  # ... marked for the cache
    assert "settlement batch runs nightly" in systems[0][0]["text"]


def test_json_per_answer_and_citations_checked(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.queue(SONNET, answer("See [§2 Root Cause] and [§9 Appendix]."))
    code, out, err = chat(tmp_path, str(path), "--ask", "cause?", "-f", "json")
    assert code == 0, err
    record = json.loads(out)
    assert set(record) >= {"answer", "model", "sections_used", "usage", "cost_usd"}
    assert record["model"] == SONNET
    assert [(c["section_id"], c["valid"]) for c in record["citations"]] == [
        ("s2", True),
        (None, False),
    ]
    assert record["cost_usd"] > 0


def test_questions_on_stdin_are_answered_one_by_one(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.queue(SONNET, answer("First."), answer("Second."))
    code, out, err = chat(tmp_path, str(path), stdin="one?\n\ntwo?\n")
    assert code == 0, err
    # Each answer follows its question, so the transcript reads.
    assert out.splitlines() == ["› one?", "First.", "› two?", "Second."]
    assert [t["question"] for t in turns(tmp_path)] == ["one?", "two?"]
    # The next question carries the conversation so far.
    bedrock.queue(SONNET, answer("Third."))
    chat(tmp_path, "--ask", "three?")  # no argument: the most recent session
    messages = bedrock.requests[-1][2]["messages"]
    assert [m["content"][0]["text"] for m in messages[:4]] == ["one?", "First.", "two?", "Second."]


def test_piped_slash_commands_run_and_are_never_sent_to_the_model(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    path = doc(tmp_path)
    reviewed = run_prism("review", str(path), "--region", "us-east-1", "-f", "json", cwd=tmp_path)
    assert reviewed.code in (0, 1), reviewed.stderr
    calls = len(bedrock.calls("converse_stream"))
    bedrock.queue(SONNET, answer("It ran twice."))
    stdin = "What happened?\n/findings medium\n/help\n/bogus\n/section 2\n/exit\nnever asked\n"
    code, out, err = chat(tmp_path, str(path), stdin=stdin)
    assert len(bedrock.calls("converse_stream")) == calls + 1  # only the question
    assert [t["question"] for t in turns(tmp_path)] == ["What happened?"]
    lines = out.splitlines()
    assert lines[:2] == ["› What happened?", "It ran twice."]
    assert any(line.strip().startswith("medium") for line in lines)
    assert "  /findings [high|medium|low]: the review's findings" in lines
    assert any(line.startswith("focus: §2") for line in lines)
    assert "unknown command /bogus" in err
    assert code == 2
    assert "never asked" not in out


def test_chat_on_prism_s_word_copy_finds_the_review_s_session(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    import docx

    path = doc(tmp_path)
    reviewed = run_prism(
        "review", str(path), "--region", "us-east-1", "-f", "docx", "-o", "copy.docx", cwd=tmp_path
    )
    assert reviewed.code in (0, 1), reviewed.stderr
    # The analyst edits the copy in Word and saves it: its bytes change, the session does not.
    copy = docx.Document(str(tmp_path / "copy.docx"))
    copy.add_paragraph("A note the analyst added.")
    copy.save(str(tmp_path / "copy.docx"))
    bedrock.queue(SONNET, answer("Twice."))
    code, out, err = chat(tmp_path, "copy.docx", "--ask", "How often?", "--format", "json")
    assert code == 0, err
    from prism_cli.stores.service import open_sessions

    sessions = open_sessions(None)
    assert len(sessions.ids()) == 1  # no new, empty session for the copy
    assert json.loads(out)["question"] == "How often?"
    system = bedrock.requests[-1][2]["system"][0]["text"]
    assert "finding" in system.casefold()


def test_a_chat_only_session_is_not_left_running(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.queue(SONNET, answer("Hello."))
    code, _, err = chat(tmp_path, str(path), "--ask", "Hi?")
    assert code == 0, err
    listed = run_prism("sessions", "list", "-f", "json", cwd=tmp_path)
    (row,) = json.loads(listed.stdout)["sessions"]
    assert row["status"] == "unreviewed"


def test_the_chain_applies_before_the_first_token(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.access_denied.add(SONNET)
    bedrock.queue(OPUS, answer("From Opus."))
    code, out, err = chat(tmp_path, str(path), "--ask", "who?", "-f", "json")
    assert code == 0, err
    assert json.loads(out)["model"] == OPUS


def test_an_answer_broken_off_mid_stream_is_kept(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    bedrock.queue(
        SONNET, {"stream_error": ["modelStreamErrorException", "lost"], "text": "Half an"}
    )
    code, out, err = chat(tmp_path, str(path), "--ask", "what?")
    assert code == 3
    assert out.strip() == "Half an"
    assert "broke off" in err
    (turn,) = turns(tmp_path)
    assert (turn["answer"], turn["status"]) == ("Half an", "partial")


def test_two_terminals_on_one_session_lose_no_turn(bedrock: FakeBedrock, tmp_path: Path) -> None:
    path = doc(tmp_path)
    chat(tmp_path, str(path), "--ask", "first")  # creates the session
    env = dict(os.environ)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "prism_cli", "chat", "--region", "us-east-1"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    for n, proc in enumerate(procs):  # both ask at once ...
        assert proc.stdin is not None
        proc.stdin.write("\n".join(f"q{n}-{i}" for i in range(4)) + "\n")
        proc.stdin.close()
    for proc in procs:  # ... and every turn of both is kept
        assert proc.stdout is not None
        proc.stdout.read()
        assert proc.wait(timeout=120) == 0
    assert len(turns(tmp_path)) == 1 + 8


def test_a_real_terminal_session(bedrock: FakeBedrock, tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    path = doc(tmp_path)
    reviewed = run_prism("review", str(path), "--region", "us-east-1", "-f", "json", cwd=tmp_path)
    assert reviewed.code in (0, 1), reviewed.stderr
    bedrock.queue(SONNET, answer("It ran twice [§2 Root Cause]."), answer("An owner is missing."))
    env = {
        **os.environ,
        "COLUMNS": "100",
        "LINES": "30",
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }

    def spawn() -> object:
        return pexpect.spawn(
            sys.executable, ["-m", "prism_cli", "chat", str(path), "--region", "us-east-1"],
            cwd=str(tmp_path), env=env, encoding="utf-8", timeout=30, dimensions=(30, 100),
        )  # fmt: skip

    child = spawn()
    child.expect("incident.docx")
    child.expect("›")
    child.sendline("why twice?")
    child.expect("It ran twice")
    child.expect("cited:")
    child.expect("›")
    child.sendline("/model claude-opus-5-5")
    child.expect("models: us.anthropic.claude-opus-5-5")
    child.expect("›")
    bedrock.queue(OPUS, answer("Opus says hello."))
    child.sendline("hello?")
    child.expect("Opus says hello")
    child.expect("›")
    child.sendline("/model claude-sonnet-5-5")
    child.expect("›")
    child.sendline("/section 3")
    child.expect("focus: §3 Actions")
    child.expect("›")
    child.sendline("/review")
    child.expect("stored review reused")
    child.expect("s3-r-placeholder-1")
    child.expect("›")
    child.sendline("/accept s3-r-placeholder-1")
    child.expect("accepted 1 finding")
    child.expect("›")
    child.sendline("what is missing?")
    child.expect("An owner is missing")
    child.expect("›")
    # Ctrl-C while an answer streams cancels the answer, not the session.
    bedrock.stream_delay = 0.3
    bedrock.queue(SONNET, answer("A slow answer that streams in many small pieces " * 3))
    child.sendline("slow?")
    child.expect("A slow")
    child.sendintr()
    child.expect("cancelled: the answer so far is kept")
    child.expect("›")
    bedrock.stream_delay = 0.0
    # Waiting for the first word says so, and Ctrl-C there says what became of the question.
    bedrock.latency = 3.0  # (nothing queued: the cancelled call takes no answer of later ones)
    child.sendline("anyone there?")
    child.expect("waiting for claude-sonnet-5-5")
    child.expect("Ctrl-C cancels")
    child.sendintr()
    child.expect("cancelled before the first word")
    child.expect("›")
    bedrock.latency = 0.0
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    # Reopened, the conversation is there, and the decision is prism feedback's.
    child = spawn()
    child.expect("earlier in this thread")
    child.expect("what is missing")
    child.expect("›")
    child.sendline("/findings high")
    child.expect("accepted")
    child.expect("›")
    # Throttled: a countdown instead of silence, then the answer
    # (the first call of this process: the quota has learned nothing yet).
    bedrock.queue(
        SONNET, Err("ThrottlingException", 429, "Too many tokens"), answer("After a wait.")
    )
    child.sendline("busy?")
    child.expect("asking again in")
    child.expect("After a wait")
    child.expect("›")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    statuses = [t["status"] for t in turns(tmp_path)]
    assert statuses == ["complete", "complete", "complete", "partial", "complete"]


def test_the_review_s_findings_and_decisions_go_with_the_question(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    path = doc(tmp_path)
    assert run_prism("review", str(path), "--region", "us-east-1", "-f", "json", cwd=tmp_path).code
    assert run_prism("feedback", str(path), "accept", "s3-r-placeholder-1", cwd=tmp_path).code == 0
    code, _, err = chat(tmp_path, str(path), "--ask", "what is left open?")
    assert code == 0, err
    sent = json.dumps(bedrock.requests[-1][2])
    assert "s3-r-placeholder-1 [high, accepted]" in sent


def _chat_service(path: Path) -> object:
    from prism_cli.app.chat import ChatService
    from prism_cli.app.inputs import load_framework
    from prism_cli.app.run import RunSettings, make_reviewer
    from prism_cli.stores.service import open_sessions

    service = ChatService.open(open_sessions(None), str(path))
    service.reviewer_for = lambda settings: make_reviewer(
        settings, region="us-east-1", profile=None
    )
    service.default_settings = RunSettings(framework=load_framework(None))
    return service


def test_review_in_chat_reviews_the_section_in_focus_and_keeps_the_rest(
    bedrock: FakeBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = doc(tmp_path)
    assert run_prism("review", str(path), "--region", "us-east-1", cwd=tmp_path).code == 1
    calls = len(bedrock.requests)
    service = _chat_service(path)
    service.focus = "s2"
    done = service.review_focus()
    assert (done.status, len(bedrock.requests)) == ("cached", calls)  # no call paid twice
    done = service.review_focus(again=True)
    assert done.status == "reviewed"
    assert len(bedrock.requests) == calls + 1
    assert "legacy cron entry" in json.dumps(bedrock.requests[-1][2])
    report = service.sessions.report(service.session_id)
    statuses = [s["status"] for s in report["documents"][0]["sections"]]
    assert statuses == ["cached", "reviewed", "cached"]
    assert {f["section_id"] for f in report["documents"][0]["findings"]} >= {"s1", "s3"}
    assert service.sessions.require(service.session_id).status.value == "complete"


def test_review_in_chat_of_a_never_reviewed_document(
    bedrock: FakeBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = doc(tmp_path)
    service = _chat_service(path)
    assert service.findings() == []
    service.focus = "s3"
    done = service.review_focus()
    assert done.status == "reviewed"
    assert len(bedrock.requests) == 1
    assert done.findings
    assert all(f.section_id == "s3" for f in done.findings)
    assert {f["id"] for f in service.findings()} >= {f.id for f in done.findings}
    report = service.sessions.report(service.session_id)
    statuses = [s["status"] for s in report["documents"][0]["sections"]]
    assert statuses == ["skipped", "skipped", "reviewed"]
    assert service.sessions.require(service.session_id).status.value == "incomplete"
    # prism review then reviews the other two only.
    assert run_prism("review", str(path), "--region", "us-east-1", cwd=tmp_path).code == 1
    assert len(bedrock.requests) == 3


def test_a_bracketed_question_is_shown_literally_and_never_breaks_chat(
    bedrock: FakeBedrock, tmp_path: Path
) -> None:
    """#20 item 1: "[/bold]" in a stored question made every later `prism chat` on that
    document die with a MarkupError in the welcome screen (for a whole team on Redis/S3)."""
    pexpect = pytest.importorskip("pexpect")
    path = doc(tmp_path)
    question = "Is the term [/bold] used anywhere? [red]x[/red] \\[escaped]"
    bedrock.queue(SONNET, answer("Not [bold]here[/bold]: see [§2 Root Cause]."))
    code, _, err = chat(tmp_path, str(path), "--ask", question)
    assert code == 0, err
    env = {**os.environ, "COLUMNS": "100", "LINES": "30", "TERM": "xterm",
           "PROMPT_TOOLKIT_NO_CPR": "1"}  # fmt: skip
    child = pexpect.spawn(
        sys.executable, ["-m", "prism_cli", "chat", str(path), "--region", "us-east-1"],
        cwd=str(tmp_path), env=env, encoding="utf-8", timeout=30, dimensions=(30, 100),
    )  # fmt: skip
    child.expect("earlier in this thread")
    child.expect_exact("[/bold] used anywhere? [red]x[/red]")
    child.expect_exact("Not [bold]here[/bold]")
    child.expect("›")
    child.sendline("/help")
    child.expect_exact("[high|medium|low]: the review")
    child.expect_exact("[again]: review the section")
    child.expect("›")
    child.sendline("/history")
    child.expect_exact("Is the term [/bold] used anywhere?")
    child.expect("›")
    child.sendcontrol("d")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

"""How long a chat question takes to show its first character, against the model itself.

    python bench/chat.py [--questions 12] [--fast 0.05] [--slow 0.6] [--pages 300]

For a fast model (``--fast`` seconds to the first token) and a slow one (``--slow``), on a
6-section document and a ~``--pages``-page one (300 sections of three paragraphs), against the
fake Bedrock of tests/:

* chat: ``prism chat DOC`` on a real terminal (pexpect, 100 columns), a warm session (the
  session exists, the process is started and has answered once); the time from the Enter
  that submits a typed question to the first character of its answer on the screen, median
  of ``--questions``;
* direct: the same request (the body chat sent, read from the fake) sent with boto3's
  ``converse_stream``, timed to its first text delta, in the same run.

Prints both medians and their ratio (target <= 1.2 for the fast model). Then grounding alone,
in process: the first question of a chat (it indexes the document) and the median of later
ones, for each document (target: later questions cost the same on both documents).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SONNET = "us.anthropic.claude-sonnet-5-5"


def answer(text: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 900, "outputTokens": 40, "totalTokens": 940},
    }


def build(folder: Path, name: str, sections: int, paragraphs: int) -> Path:
    from docbuilder import make_docx, p

    body = "".join(
        p(f"Area {i}: controls and owners", style="Heading1")
        + "".join(
            p(
                f"Paragraph {i}.{k}: the owner of control {i} reviews access every quarter, "
                f"records the outcome in register {k} and escalates exceptions to the director "
                "before the change window opens; evidence is kept for seven years."
            )
            for k in range(paragraphs)
        )
        for i in range(1, sections + 1)
    )
    return make_docx(folder / name, body)


def chat_first_char(doc: Path, fake: Any, env: dict[str, str], questions: int) -> list[float]:
    import pexpect

    child = pexpect.spawn(
        sys.executable, ["-m", "prism_cli", "chat", str(doc), "--region", "us-east-1"],
        cwd=str(doc.parent), env=env, encoding="utf-8", timeout=60, dimensions=(40, 100),
    )  # fmt: skip
    child.delaybeforesend = None  # pexpect sleeps 50 ms before each send by default
    child.expect("›")
    fake.queue(SONNET, answer("Warm."))
    child.sendline("warm up?")
    child.expect("Warm")
    child.expect("›")
    times = []
    for n in range(questions):
        marker = f"Zx{n:03d}q"
        fake.queue(SONNET, answer(f"{marker} is the answer."))
        # Typed, then timed from Enter: a person types over seconds; the wait starts at Enter.
        question = f"which owner reviews control {n}?"
        child.send(question)
        child.expect_exact(question[-12:])
        time.sleep(0.05)  # the line editor has drawn what was typed
        start = time.perf_counter()
        child.send("\r")
        child.expect(marker)
        times.append(time.perf_counter() - start)
        child.expect("›")
    child.sendline("/exit")
    child.expect(pexpect.EOF)
    return times


def direct_first_char(fake: Any, body: dict[str, Any], questions: int) -> list[float]:
    from prism_cli.bedrock.client import make_boto_client

    client, _ = make_boto_client("us-east-1", None)
    request = {k: v for k, v in body.items() if k != "modelId"}
    times = []
    for n in range(questions):
        fake.queue(SONNET, answer(f"Direct {n} is the answer."))
        start = time.perf_counter()
        stream = client.converse_stream(modelId=SONNET, **request)["stream"]
        for event in stream:
            if "contentBlockDelta" in event:
                times.append(time.perf_counter() - start)
                break
        for _ in stream:
            pass
    return times


def grounding(doc: Path, questions: int) -> tuple[float, float]:
    """(first question's grounding, median of later ones) in seconds, in process."""
    from prism_cli.app.chat import ChatService
    from prism_cli.core.chat import ground
    from prism_cli.stores.service import open_sessions

    service = ChatService.open(open_sessions(None), str(doc))
    findings = service.findings()
    start = time.perf_counter()
    ground("who owns control 7?", service.index, findings, [], budget=service.budget)
    first = time.perf_counter() - start
    later = []
    for n in range(questions):
        start = time.perf_counter()
        ground(f"who reviews register {n}?", service.index, findings, [], budget=service.budget)
        later.append(time.perf_counter() - start)
    return first, statistics.median(later)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=12)
    parser.add_argument("--fast", type=float, default=0.05)
    parser.add_argument("--slow", type=float, default=0.6)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()

    from fake_bedrock import FakeBedrock

    work = Path(tempfile.mkdtemp(prefix="prism-chat-bench-"))
    fake = FakeBedrock().start()
    env = {
        **fake.prism_env(work),
        "TERM": "xterm",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "COLUMNS": "100",
        "LINES": "40",
    }
    os.environ.update({k: env[k] for k in env if k.startswith(("AWS_", "XDG_"))})
    docs = {
        "6 sections": build(work, "small.docx", 6, 2),
        f"{args.pages} pages": build(work, "large.docx", args.pages, 3),
    }
    print(f"first character of an answer, median of {args.questions} questions (warm session)")
    for model, latency in (("fast", args.fast), ("slow", args.slow)):
        fake.latency = latency
        for name, doc in docs.items():
            chat = chat_first_char(doc, fake, env, args.questions)
            body = next(b for _m, op, b in reversed(fake.requests) if op == "converse_stream")
            direct = direct_first_char(fake, body, args.questions)
            c, d = statistics.median(chat), statistics.median(direct)
            print(f"  {model} model ({latency * 1000:.0f} ms), {name:>10}: chat {c * 1000:7.1f} ms"
                  f"  direct {d * 1000:7.1f} ms  ratio {c / d:5.2f}x"
                  f"{'  (target <= 1.2)' if model == 'fast' else ''}")  # fmt: skip
    fake.latency = 0.0
    print("grounding a question (in process): the first indexes the document")
    for name, doc in docs.items():
        first, later = grounding(doc, args.questions)
        print(f"  {name:>10}: first {first * 1000:7.2f} ms, later (median) {later * 1000:6.2f} ms")
    fake.stop()


if __name__ == "__main__":
    main()

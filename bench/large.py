"""What a large document costs after the last model call: reports and the Word copy.

    python bench/large.py [--sections 1200] [--findings 11] [--paragraphs 4] [--repeat 3]

A generated policy of ``--sections`` sections (a heading and ``--paragraphs`` paragraphs each)
is reviewed once against the fake Bedrock of tests/ (every section answered with
``--findings`` findings, each quoting words of its section, so ~11 x 1,200 = 13,200 comments),
filling the result cache. Then, in the same run, each a real ``prism`` subprocess:

* ``prism sections FILE`` (the baseline: reading and splitting the document);
* the unchanged rerun ``prism review FILE -f json`` (0 calls);
* ``prism review FILE -f docx -o copy.docx`` (0 calls; the Word copy with every comment).

Prints seconds and the ratios the targets are about: Word copy / JSON report (target <= 3)
and unchanged rerun / ``prism sections`` (target <= 3), the peak memory (max RSS) of each
command and the comments in the copy.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

WORDS = [
    "The",
    "owner",
    "of",
    "each",
    "control",
    "reviews",
    "the",
    "access",
    "list",
    "every",
    "quarter",
    "and",
    "records",
    "the",
    "outcome",
    "in",
    "the",
    "register;",
    "exceptions",
    "are",
    "approved",
    "by",
    "the",
    "director",
    "before",
    "the",
    "change",
    "window",
    "opens",
]


def paragraph_text(section: int, index: int) -> str:
    # Words repeat across sections (as in a real policy), so a quote occurs many times in the
    # document; the section and paragraph numbers make each paragraph its own.
    start = (section * 7 + index * 3) % len(WORDS)
    words = [WORDS[(start + k) % len(WORDS)] for k in range(24)]
    return f"{section}.{index} " + " ".join(words) + "."


def build(path: Path, sections: int, paragraphs: int) -> Path:
    from docbuilder import make_docx, p

    body = "".join(
        p(f"Policy area {i}", style="Heading1")
        + "".join(p(paragraph_text(i, k)) for k in range(paragraphs))
        for i in range(1, sections + 1)
    )
    return make_docx(path, body)


TITLES = (
    ("Say who approves an exception", "ownership"),
    ("The review frequency is not measurable", "measurability"),
    ("Define the register before using it", "terminology"),
    ("Quarterly is ambiguous for a fiscal year", "clarity"),
    ("No evidence of the outcome is kept", "evidence"),
    ("The change window is not defined", "completeness"),
    ("Escalation path missing", "escalation"),
    ("Access list scope unclear", "scope"),
    ("Director approval has no deadline", "timeliness"),
    ("Records retention not stated", "retention"),
    ("Control owner may review their own access", "segregation of duties"),
)


def many_findings(count: int) -> Any:
    def findings(_model: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
        words = [w for w in text.split() if not w[0].isdigit()]
        out = []
        for n in range(count):
            at = (n * 7) % max(len(words) - 3, 1)
            quote = " ".join(words[at : at + (1 if n % 4 == 0 else 3)])
            out.append(
                {
                    "severity": ("high", "medium", "low")[n % 3],
                    "type": "important",
                    "category": TITLES[n % len(TITLES)][1],
                    "title": TITLES[n % len(TITLES)][0] + ("" if n < len(TITLES) else f" ({n})"),
                    "description": "The paragraph does not say who approves an exception.",
                    "suggestion": "Name the approver.",
                    "quote": quote,
                    "confidence": 0.8,
                }
            )
        return out

    return findings


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Seconds, max RSS (MB) and stdout of one prism subprocess."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "prism_cli", *cmd], stdout=out, stderr=err, env=env
        )
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(
                f"prism {' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()}"
            )
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", type=int, default=1200)
    parser.add_argument("--findings", type=int, default=11)
    parser.add_argument("--paragraphs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command (median)")
    args = parser.parse_args()

    from fake_bedrock import FakeBedrock

    work = Path(tempfile.mkdtemp(prefix="prism-large-"))
    fake = FakeBedrock().start()
    fake.findings = many_findings(args.findings)
    env = {**fake.prism_env(work), "NO_COLOR": "1"}
    doc = build(work / "policy.docx", args.sections, args.paragraphs)
    common = ["--region", "us-east-1", "--fail-on", "never"]
    print(f"{args.sections} sections x {args.paragraphs} paragraphs, {args.findings} findings "
          f"per section; filling the cache...", flush=True)  # fmt: skip
    first, _, _ = timed(["review", str(doc), "-f", "json", "--concurrency", "16", *common], env)
    calls = len(fake.requests)
    print(f"  first review: {first:.1f} s, {calls} calls")

    # Each command --repeat times, interleaved so machine noise hits all three; medians.
    copy = work / "copy.docx"
    runs: dict[str, list[tuple[float, float, str]]] = {"sections": [], "rerun": [], "word": []}
    for _ in range(args.repeat):
        runs["sections"].append(timed(["sections", str(doc)], env))
        runs["rerun"].append(timed(["review", str(doc), "-f", "json", *common], env))
        runs["word"].append(
            timed(["review", str(doc), "-f", "docx", "-o", str(copy), *common], env)
        )

    def median(name: str) -> tuple[float, float, str]:
        return sorted(runs[name], key=lambda r: r[0])[len(runs[name]) // 2]

    sections, sections_mb, _ = median("sections")
    rerun, rerun_mb, out = median("rerun")
    word, word_mb, _ = median("word")
    if len(fake.requests) != calls:
        raise SystemExit(f"the reruns called the model {len(fake.requests) - calls} times")
    fake.stop()
    with zipfile.ZipFile(copy) as z:
        comments = z.read("word/comments.xml").count(b"<w:comment ")
    print(f"  prism sections          {sections:7.2f} s   max RSS {sections_mb:6.0f} MB")
    print(f"  unchanged rerun -f json {rerun:7.2f} s   max RSS {rerun_mb:6.0f} MB   "
          f"({len(out) / 1e6:.1f} MB of JSON)")  # fmt: skip
    print(f"  Word copy -f docx       {word:7.2f} s   max RSS {word_mb:6.0f} MB   "
          f"({comments} comments, {copy.stat().st_size / 1e6:.1f} MB)")  # fmt: skip
    print(f"  Word copy / JSON report:        {word / rerun:5.2f}x  (target <= 3)")
    print(f"  unchanged rerun / sections:     {rerun / sections:5.2f}x  (target <= 3)")


if __name__ == "__main__":
    main()

"""The golden run: prism's JSON reports of the whole corpus against the fake Bedrock, to hold a
restructuring to "behaviour kept" (issue #21).

    python bench/golden.py --save before.json          # on the old commit (or --src OLD/src)
    python bench/golden.py --compare before.json       # on the new one: identical, or the diff

Every document of ``../shared/corpus`` (or ``--corpus DIR``) is reviewed in one ``prism review
DIR -f json`` run, then once more unchanged (the rerun must report the same), each section
answered by the fake with three findings quoting its words (two of them near-duplicates, so the
merge is exercised). What is compared: per document (by its path under the corpus) the session
id, the sections (id, title, level, status), the findings (id, section, severity, type,
category, title, quote, locator, source, rule, in report order) and the unreadable files.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def golden_findings(_model: str, _body: dict[str, Any], text: str) -> list[dict[str, Any]]:
    words = text.split()
    if not words:
        return []
    first = " ".join(words[:3])
    middle = " ".join(words[len(words) // 2 : len(words) // 2 + 2])
    return [
        {
            "severity": "medium",
            "type": "important",
            "category": "clarity",
            "title": "Say who does what by when",
            "description": "The section states facts but not the owner of the follow-up.",
            "suggestion": "Name an owner and a due date.",
            "quote": first,
            "confidence": 0.9,
        },
        {
            "severity": "high",
            "type": "critical",
            "category": "clarity",
            "title": "Say who does what, by when",  # a near-duplicate: merged, the high kept
            "description": "No owner.",
            "quote": first,
            "confidence": 0.85,
        },
        {
            "severity": "low",
            "type": "suggestion",
            "category": "wording",
            "title": "Tighten the wording",
            "description": "The sentence can be shorter.",
            "quote": middle,
            "confidence": 0.8,
        },
    ]


def normalise(report: dict[str, Any], corpus: Path) -> dict[str, Any]:
    def rel(path: str) -> str:
        try:
            return Path(path).resolve().relative_to(corpus.resolve()).as_posix()
        except ValueError:
            return path

    documents = {}
    for doc in report["documents"]:
        documents[rel(doc["path"])] = {
            "session_id": doc["session_id"],
            "sections": [[s["id"], s["title"], s["level"], s["status"]] for s in doc["sections"]],
            "findings": [
                [
                    f["id"],
                    f["section_id"],
                    f["severity"],
                    f["type"],
                    f["category"],
                    f["title"],
                    f["quote"],
                    f["locator"],
                    f["source"],
                    f["rule"],
                ]
                for f in doc["findings"]
            ],
        }
    unreadable = sorted(
        (rel(u["path"]), u["error"].replace(str(corpus.resolve()), "CORPUS"))
        for u in report.get("unreadable", [])
    )
    return {"documents": dict(sorted(documents.items())), "unreadable": unreadable}


def run(corpus: Path, src: Path | None) -> tuple[dict[str, Any], dict[str, Any]]:
    from fake_bedrock import FakeBedrock

    work = Path(tempfile.mkdtemp(prefix="prism-golden-"))
    fake = FakeBedrock().start()
    fake.findings = golden_findings
    env = {**fake.prism_env(work), "NO_COLOR": "1"}
    if src is not None:
        env["PYTHONPATH"] = str(src.resolve())
    args = [
        sys.executable, "-m", "prism_cli", "review", str(corpus), "-f", "json",
        "--region", "us-east-1", "--fail-on", "never", "--concurrency", "16",
    ]  # fmt: skip
    reports = []
    for _ in range(2):
        proc = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
        if not proc.stdout.strip():
            raise SystemExit(f"prism review failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
        reports.append(normalise(json.loads(proc.stdout), corpus))
    fake.stop()
    return reports[0], reports[1]


def diff(a: dict[str, Any], b: dict[str, Any], limit: int = 20) -> list[str]:
    out: list[str] = []
    if a["unreadable"] != b["unreadable"]:
        out.append(f"unreadable: {a['unreadable']} != {b['unreadable']}")
    for path in sorted(set(a["documents"]) | set(b["documents"])):
        x, y = a["documents"].get(path), b["documents"].get(path)
        if x == y:
            continue
        if x is None or y is None:
            out.append(f"{path}: only in {'the new' if x is None else 'the saved'} run")
            continue
        for part in ("session_id", "sections", "findings"):
            if x[part] != y[part]:
                left = (
                    [i for i in x[part] if i not in y[part]][:2]
                    if part != "session_id"
                    else x[part]
                )
                right = (
                    [i for i in y[part] if i not in x[part]][:2]
                    if part != "session_id"
                    else y[part]
                )
                out.append(f"{path}: {part} differ: {left} -> {right}")
        if len(out) >= limit:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--src", type=Path, help="run the prism_cli package of this folder")
    parser.add_argument("--save", type=Path)
    parser.add_argument("--compare", type=Path)
    args = parser.parse_args()
    first, rerun = run(args.corpus, args.src)
    documents = len(first["documents"])
    findings = sum(len(d["findings"]) for d in first["documents"].values())
    sections = sum(len(d["sections"]) for d in first["documents"].values())
    print(f"{documents} documents, {sections} sections, {findings} findings, "
          f"{len(first['unreadable'])} unreadable")  # fmt: skip
    # The statuses of a rerun are "cached": compare the rest.
    for doc in rerun["documents"].values():
        doc["sections"] = [s[:3] for s in doc["sections"]]
    plain = json.loads(json.dumps(first))
    for doc in plain["documents"].values():
        doc["sections"] = [s[:3] for s in doc["sections"]]
    problems = diff(plain, rerun)
    print("unchanged rerun: " + ("the same report" if not problems else "DIFFERS"))
    for line in problems:
        print("  " + line)
    if args.save:
        args.save.write_text(json.dumps(first, ensure_ascii=False, indent=1))
        print(f"saved {args.save}")
    if args.compare:
        saved = json.loads(args.compare.read_text())
        problems = diff(saved, first)
        print(f"against {args.compare}: " + ("identical" if not problems else "DIFFERENT"))
        for line in problems:
            print("  " + line)
        if problems:
            sys.exit(1)
    if os.environ.get("GOLDEN_STRICT") and problems:
        sys.exit(1)


if __name__ == "__main__":
    main()

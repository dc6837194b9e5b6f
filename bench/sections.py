"""Sections on real documents: prism's split against the hand-labelled corpus documents
(tests/sections_labels.json), with pandoc's and python-docx's heading styles beside it.

    python bench/sections.py [--detail] [--src OTHER/src]

Prints, per tool: macro-F1 of section titles over the documents, the same with numbers
ignored on both sides, and how many documents come out exactly right; ``--detail`` adds each
document's F1 and what prism missed or added. ``--src`` scores another prism tree (an older
checkout's ``src``) in place of this one, for a before/after. The corpus is read from
``../shared/corpus`` (or ``PRISM_CORPUS``); pandoc is skipped when it is not installed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from sections_score import CORPUS, Score, labels, prism_titles, score  # noqa: E402


def python_docx_titles(path: Path) -> list[str]:
    """What reading heading styles alone finds (python-docx, as most pipelines do)."""
    import docx

    out = []
    for paragraph in docx.Document(str(path)).paragraphs:
        name = (paragraph.style.name if paragraph.style is not None else "") or ""
        if name.lower().startswith("heading") and paragraph.text.strip():
            out.append(paragraph.text)
    return out


def _inline_text(inlines: list[dict[str, object]]) -> str:
    out: list[str] = []
    for node in inlines:
        kind = node.get("t")
        content = node.get("c")
        if kind == "Str":
            out.append(str(content))
        elif kind in {"Space", "SoftBreak", "LineBreak"}:
            out.append(" ")
        elif isinstance(content, list):
            nested = content[-1] if content and isinstance(content[-1], list) else content
            if kind in {"Link", "Image"} and len(content) >= 2:
                nested = content[1]
            if kind in {"Quoted", "Cite", "Span"} and len(content) >= 2:
                nested = content[1]
            if isinstance(nested, list) and all(isinstance(n, dict) for n in nested):
                out.append(_inline_text(nested))  # type: ignore[arg-type]
    return "".join(out)


def pandoc_titles(path: Path) -> list[str]:
    """pandoc's headers (``pandoc -f docx -t json``)."""
    done = subprocess.run(
        ["pandoc", "-f", "docx", "-t", "json", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        return []
    blocks = json.loads(done.stdout).get("blocks", [])
    out = []

    def walk(items: list[dict[str, object]]) -> None:
        for block in items:
            if block.get("t") == "Header":
                content = block["c"]
                assert isinstance(content, list)
                out.append(_inline_text(content[2]))
            elif isinstance(block.get("c"), list):
                for part in block["c"]:  # type: ignore[union-attr]
                    if isinstance(part, list) and part and isinstance(part[0], dict):
                        walk(part)

    walk(blocks)
    return out


def report(name: str, result: Score, took: float) -> None:
    print(
        f"{name:22} macro-F1 {result.macro_f1:.3f}   numbers ignored "
        f"{result.macro_f1_numbers_ignored:.3f}   exact {result.exact:2}/{len(result.documents)}"
        f"   ({took:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--detail", action="store_true", help="each document's F1 and errors")
    parser.add_argument("--src", type=Path, help="score the prism tree at this src instead")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        raise SystemExit(f"no corpus at {CORPUS} (set PRISM_CORPUS)")
    if args.src:
        sys.path.insert(0, str(args.src.resolve()))
        for name in [m for m in sys.modules if m.startswith("prism_cli")]:
            del sys.modules[name]
    print(f"{len(labels())} labelled documents from {CORPUS}")
    start = time.perf_counter()
    prism = score(prism_titles)
    report("prism" + (f" ({args.src})" if args.src else ""), prism, time.perf_counter() - start)
    start = time.perf_counter()
    report("python-docx (styles)", score(python_docx_titles), time.perf_counter() - start)
    if shutil.which("pandoc"):
        start = time.perf_counter()
        report("pandoc", score(pandoc_titles), time.perf_counter() - start)
    else:
        print("pandoc                 not installed (apt-get install pandoc)")
    if args.detail:
        for doc in sorted(prism.documents, key=lambda d: d.f1):
            if doc.f1 < 1:
                print(f"\n{doc.f1:.2f}  {doc.path}")
                print(f"      missed: {doc.missed}")
                print(f"      extra:  {doc.extra}")


if __name__ == "__main__":
    main()

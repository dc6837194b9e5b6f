"""Extraction speed and memory against python-docx's own bare load + paragraph loop.

    python bench/extract.py [--pages 500] [--repeat 5]

Builds a ~500-page document (headings, body paragraphs, lists, a table every few pages) once,
then, in fresh subprocesses so memory readings don't mix, times:

* baseline: ``docx.Document(path)`` and ``[p.text for p in doc.paragraphs]``;
* prism: ``read_document(path)`` + ``split_sections(...)`` (the whole of ``prism sections``
  minus printing).

Prints the best-of-N wall time of each, their ratio (target <= 1.5) and each process's peak
RSS (target < 300 MB for prism).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

WORDS = [
    "the",
    "settlement",
    "service",
    "submitted",
    "batch",
    "records",
    "to",
    "the",
    "acquiring",
    "bank",
    "while",
    "reconciliation",
    "flagged",
    "duplicate",
    "payouts",
    "across",
    "merchant",
    "accounts",
    "and",
    "the",
    "incident",
    "team",
    "reviewed",
    "evidence",
]

CHILD = r"""
import json, resource, sys, time
path, which = sys.argv[1], sys.argv[2]
start = time.perf_counter()
if which == "baseline":
    import docx
    doc = docx.Document(path)
    n = sum(len(p.text) for p in doc.paragraphs)
else:
    from pathlib import Path
    from prism_cli.core.sections import split_sections
    from prism_cli.word.reader import read_document
    d = read_document(Path(path))
    n = sum(len(s.text) for s in split_sections(d.blocks))
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "chars": n,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def build(path: Path, pages: int) -> None:
    import random

    import docx

    rng = random.Random(7)  # varied text compresses like real prose, not like a test pattern
    doc = docx.Document()
    for page in range(pages):
        if page % 10 == 0:
            doc.add_heading(f"Chapter {page // 10 + 1}", level=1)
        doc.add_heading(f"Section {page + 1}", level=2)
        for _para in range(7):
            words = [rng.choice(WORDS) for _ in range(60)]
            words[rng.randrange(60)] = str(rng.randrange(10_000))
            text = " ".join(words)
            doc.add_paragraph(text.capitalize() + ".")
        doc.add_paragraph("Follow up with the owner.", style="List Bullet")
        if page % 5 == 0:
            table = doc.add_table(rows=4, cols=3)
            for r, row in enumerate(table.rows):
                for c, cell in enumerate(row.cells):
                    cell.text = f"r{r}c{c} value"
    doc.save(str(path))


def run(path: Path, which: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), which], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.docx"
        build(path, args.pages)
        size_mb = path.stat().st_size / 1e6
        results: dict[str, list[dict[str, float]]] = {"baseline": [], "prism": []}
        for _ in range(args.repeat):
            for which in ("baseline", "prism"):  # interleaved: both see the same machine load
                results[which].append(run(path, which))
    best = {k: min(r["seconds"] for r in v) for k, v in results.items()}
    peak = {k: max(r["peak_mb"] for r in v) for k, v in results.items()}
    ratio = best["prism"] / best["baseline"]
    print(f"document: {args.pages} pages, {size_mb:.1f} MB on disk")
    print(f"python-docx load+iterate: {best['baseline']:.3f} s  peak RSS {peak['baseline']:.0f} MB")
    print(f"prism read+sections:      {best['prism']:.3f} s  peak RSS {peak['prism']:.0f} MB")
    print(f"ratio prism/python-docx:  {ratio:.2f}x  (target <= 1.5x)")
    print(f"prism peak memory:        {peak['prism']:.0f} MB  (target < 300 MB)")
    ok = ratio <= 1.5 and peak["prism"] < 300
    print("result:", "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()

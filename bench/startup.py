"""What prism's start-up costs, each against a baseline measured in the same run:

* ``prism --help``, ``prism --version`` and ``prism review --help`` against ``import typer``
  (target: at most 1.6x);
* ``prism sections BIG.docx`` (a generated 300-page document, ``--pages``) against
  ``docx.Document(BIG.docx)`` in a fresh interpreter (target: at most 1.2x).

    python bench/startup.py [--runs 15] [--pages 300]

Each command runs in a fresh interpreter, interleaved with the baseline so machine noise hits
both; medians are compared. prism's modules are byte-compiled first, as an install does for
python-docx: with ``PYTHONDONTWRITEBYTECODE`` set (this machine sets it) and an editable
install, every run would otherwise compile prism's sources again (1.51x instead of 1.26x).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    import tempfile
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import compileall

    from extract import build

    import prism_cli

    compileall.compile_dir(Path(prism_cli.__file__).parent, quiet=1)
    big = Path(tempfile.mkdtemp(prefix="prism-startup-")) / "big.docx"
    build(big, args.pages)
    prism = shutil.which("prism")
    entry = [prism] if prism else [sys.executable, "-m", "prism_cli"]
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "prism --help": [*entry, "--help"],
        "prism --version": [*entry, "--version"],
        "prism review --help": [*entry, "review", "--help"],
        "docx.Document(big)": [sys.executable, "-c", f"import docx; docx.Document({str(big)!r})"],
        "prism sections big": [*entry, "sections", str(big), "-f", "json"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd))
    base = statistics.median(times["import typer"])
    print(f"import typer: {base * 1000:.0f} ms (median of {args.runs})")
    for name in ("prism --help", "prism --version", "prism review --help"):
        median = statistics.median(times[name])
        print(f"{name}: {median * 1000:.0f} ms = {median / base:.2f}x  (target <= 1.6)")
    docx_base = statistics.median(times["docx.Document(big)"])
    sections = statistics.median(times["prism sections big"])
    print(f"docx.Document() of {args.pages} pages: {docx_base * 1000:.0f} ms")
    print(f"prism sections of it: {sections * 1000:.0f} ms = {sections / docx_base:.2f}x"
          "  (target <= 1.2)")  # fmt: skip


if __name__ == "__main__":
    main()

"""How long ``prism --help`` and ``prism --version`` take, against ``import typer`` measured in
the same run (target: at most 1.6x).

    python bench/startup.py [--runs 15]

Each command runs in a fresh interpreter, interleaved with the baseline so machine noise hits
both; medians are compared.
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
    args = parser.parse_args()
    prism = shutil.which("prism")
    entry = [prism] if prism else [sys.executable, "-m", "prism_cli"]
    commands = {
        "import typer": [sys.executable, "-c", "import typer"],
        "prism --help": [*entry, "--help"],
        "prism --version": [*entry, "--version"],
        "prism review --help": [*entry, "review", "--help"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            times[name].append(timed(cmd))
    base = statistics.median(times["import typer"])
    print(f"import typer: {base * 1000:.0f} ms (median of {args.runs})")
    for name in list(commands)[1:]:
        median = statistics.median(times[name])
        target = "  (target <= 1.6)" if name in ("prism --help", "prism --version") else ""
        print(f"{name}: {median * 1000:.0f} ms = {median / base:.2f}x{target}")


if __name__ == "__main__":
    main()

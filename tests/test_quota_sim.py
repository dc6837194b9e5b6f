"""The quota limiter and the engine in virtual time against a simulated Bedrock (see
``simulation.py``): a matrix of quota shapes x concurrency x section sizes x processes sharing
one quota, each asserting throughput against the binding limit once learned, refused calls,
no stall longer than a refill period, and every section finished. The whole matrix runs in
seconds of real time; ``python tests/test_quota_sim.py`` prints its figures."""

from __future__ import annotations

import pytest

from simulation import Shape, simulate

SHORT = {"input_chars": 2400, "max_tokens": 2000, "output": (200, 400), "latency": (0.2, 0.6)}
LONG = {"input_chars": 32000, "max_tokens": 4000, "output": (600, 1200), "latency": (2.0, 5.0)}
MINUTES = {"short": 8.0, "long": 30.0}
SHAPES = {
    ("rpm bucket", "short"): Shape(rpm=60, **SHORT),  # type: ignore[arg-type]
    ("rpm bucket", "long"): Shape(rpm=10, **LONG),  # type: ignore[arg-type]
    ("tpm bucket", "short"): Shape(tpm=100_000, **SHORT),  # type: ignore[arg-type]
    ("tpm bucket", "long"): Shape(tpm=100_000, **LONG),  # type: ignore[arg-type]
    ("tpm window", "short"): Shape(tpm=100_000, tpm_mode="window", **SHORT),  # type: ignore[arg-type]
    ("tpm window", "long"): Shape(tpm=100_000, tpm_mode="window", **LONG),  # type: ignore[arg-type]
    ("both", "short"): Shape(rpm=60, tpm=130_000, **SHORT),  # type: ignore[arg-type]
    ("both", "long"): Shape(rpm=10, tpm=150_000, **LONG),  # type: ignore[arg-type]
}
# A clock window of 100k tokens fits 7 or 8 long calls (12k held, 12.5k settled each): prism
# reaches 0.90-0.95 of the 7.96 a minute the tokens allow, and 0.87 for some seeds
# (whole calls, not tokens, are what a window loses). Said in the note.
FLOOR = {("tpm window", "long"): 0.86}
CELLS = [
    (quota, size, concurrency, processes)
    for (quota, size) in SHAPES
    for concurrency in (1, 4, 16)
    for processes in (1, 4)
]


@pytest.mark.parametrize(("quota", "size", "concurrency", "processes"), CELLS)
def test_the_matrix(quota: str, size: str, concurrency: int, processes: int) -> None:
    outcome = simulate(
        SHAPES[quota, size],
        concurrency=concurrency,
        processes=processes,
        minutes=MINUTES[size],
        random_429=0.002,
        random_5xx=0.002,
    )
    assert outcome.finished == outcome.sections, outcome
    assert outcome.throughput >= FLOOR.get((quota, size), 0.9), outcome
    assert outcome.quota_refused / outcome.calls <= 0.05, outcome
    # One refill period: a clock window spent early waits for the next (plus the first call's
    # start after the boundary).
    assert outcome.longest_idle <= 61.0, outcome


@pytest.mark.parametrize("mode", ["window", "bucket"])
def test_a_quota_that_resets_on_the_clock_is_told_from_one_that_refills(mode: str) -> None:
    """Refusals of a clock window end at the minute's boundary, a bucket's within it: after two
    such episodes the limiter spends each window from its start; a bucket is never taken for
    one."""
    shape = Shape(tpm=100_000, tpm_mode=mode, **SHORT)  # type: ignore[arg-type]
    outcome = simulate(shape, concurrency=4, minutes=8)
    assert outcome.windows == {"requests": False, "tokens": mode == "window"}


def test_a_requests_quota_others_have_spent_never_stalls() -> None:
    """Three documents of 20 short sections at --concurrency 16 against 120 requests a minute
    and 300 ms calls, the account's bucket nearly spent when the run starts: early 429s (three
    in the first second, in the report of December 2026) set no limit that would stall it."""
    shape = Shape(rpm=120, latency=(0.3, 0.3), start_level=0.02,
                  **{k: v for k, v in SHORT.items() if k != "latency"})  # type: ignore[arg-type]  # fmt: skip
    outcome = simulate(shape, concurrency=16, sections=60, learn=0.0)
    assert outcome.finished == 60
    assert outcome.longest_idle <= 61.0  # never longer than one refill period
    assert outcome.duration < 90.0  # ideal ~29 s; the stalled limiter never finished


def test_four_workers_under_a_token_quota_below_the_first_guess() -> None:
    """Four workers, 120k tokens a minute, calls holding ~10k each (the report: 6 calls, then
    11 minutes of nothing). Every section finishes, paced, with few refusals. The limiter of
    November 2026 refused 51% of the calls here (138 of 271), and its learned rate could fall
    below one call's hold."""
    shape = Shape(tpm=120_000, input_chars=24_000, max_tokens=4000, output=(300, 900),
                  latency=(1.0, 3.0))  # fmt: skip
    # The simulation is deterministic per seed: four seeds, the learning's refusals (a first
    # guess above the quota, four processes) weigh ~6 of ~140 calls. Seeds 1-8 give 4.3% to
    # 7.6% (mean 5.4%); the earlier bound of 5% on one run held by the host's scheduling.
    shares = []
    for seed in (1, 2, 3, 4):
        outcome = simulate(shape, concurrency=4, processes=4, sections=133, seed=seed)
        assert outcome.finished == 133
        assert outcome.longest_idle <= 60.0
        assert outcome.throughput >= 0.9, outcome
        shares.append(outcome.quota_refused / outcome.calls)
        assert shares[-1] <= 0.08, outcome
    assert sum(shares) / len(shares) <= 0.06, shares


if __name__ == "__main__":
    print("quota       size  procs conc  throughput  refused  longest idle  sections")
    for quota, size, concurrency, processes in CELLS:
        o = simulate(SHAPES[quota, size], concurrency=concurrency, processes=processes,
                     minutes=MINUTES[size], random_429=0.002, random_5xx=0.002)  # fmt: skip
        print(f"{quota:11} {size:5} {processes:5} {concurrency:4}  {o.throughput:10.3f}"
              f"  {o.quota_refused / o.calls:6.1%}  {o.longest_idle:10.1f}s  "
              f"{o.finished}/{o.sections}")  # fmt: skip

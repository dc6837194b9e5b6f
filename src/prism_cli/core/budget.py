"""A spending cap for one run (``--max-cost``): a section starts only when what the run has
spent, plus what the sections in flight are expected to cost, plus its own expected cost,
stays within the cap. What is in flight finishes; the rest waits for the next run.

Expected cost = input tokens (the request's size through the model's tokenizer, as the dry run
estimates it without CountTokens) at the input price, plus output tokens at the output price:
the average output of this run's calls so far, else ``first_output`` (a quarter of
``max_tokens``, as the dry run assumes). Pure: prices and estimates are given."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from prism_cli.core.ports import Usage
from prism_cli.core.report import PriceLookup, cost_usd


@dataclass
class Budget:
    limit: float
    prices: PriceLookup
    first_output: int
    """Output tokens a call is expected to write before this run has seen any."""
    spent: float = 0.0
    reserved: dict[str, float] = field(default_factory=dict)
    """Section key -> the cost it was expected to have when it started (in flight)."""
    reached: bool = False
    calls: int = 0
    output_tokens: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def expected(self, calls: list[tuple[str, int]]) -> float:
        """The cost of ``calls`` ((model, input tokens) each)."""
        with self._lock:
            output = self.output_tokens // self.calls if self.calls else self.first_output
        return sum(
            cost_usd({model: Usage(1, tokens, output)}, self.prices) for model, tokens in calls
        )

    def admit(self, key: str, estimate: Callable[[], list[tuple[str, int]]]) -> bool:
        """Whether the section ``key`` may start; once the cap is reached, nothing starts."""
        cost = self.expected(estimate())
        with self._lock:
            if self.reached:
                return False
            if self.spent + sum(self.reserved.values()) + cost > self.limit:
                self.reached = True
                return False
            self.reserved[key] = cost
            return True

    def settle(self, key: str, usage: dict[str, Usage]) -> None:
        """A section ended: what it cost replaces what it was expected to."""
        actual = cost_usd(usage, self.prices)
        with self._lock:
            self.reserved.pop(key, None)
            self.spent += actual
            for one in usage.values():
                self.calls += one.calls
                self.output_tokens += one.output_tokens

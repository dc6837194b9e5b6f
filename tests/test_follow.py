"""Following a queued batch through a queue that cannot be reached, in virtual time: the
follower waits as the workers do, says so once, and gives up only after OUTAGE."""

from __future__ import annotations

import pytest

from prism_cli.app import queued
from prism_cli.batch import model
from prism_cli.errors import QueueUnavailable


def test_the_follower_waits_for_the_queue_then_gives_up_in_virtual_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [0.0]
    said: list[str | None] = []

    def unreachable(*_args: object) -> model.Progress:
        raise QueueUnavailable("the queue's Redis cannot be reached (refused)")

    monkeypatch.setattr(model, "progress", unreachable)
    hooks = queued.FollowHooks(
        waiting=said.append,
        sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
        clock=lambda: now[0],
    )
    batch = model.Batch("b1", "redis://q/0", rules=False)
    with pytest.raises(QueueUnavailable):
        queued.follow(None, None, batch, lambda _m: None, hooks)  # type: ignore[arg-type]
    assert said == ["the queue's Redis cannot be reached (refused)"]  # said once, not per poll
    assert queued.OUTAGE <= now[0] <= queued.OUTAGE + 10  # waited the outage out, no longer


def test_the_follower_says_when_the_queue_is_back(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    said: list[str | None] = []
    polls = iter([False, False, True])

    def flaky(*_args: object) -> model.Progress:
        if not next(polls):
            raise QueueUnavailable("down")
        return model.Progress(0, 0, 0, {}, {})

    monkeypatch.setattr(model, "progress", flaky)
    monkeypatch.setattr(queued, "outcome_of", lambda *_a: "the outcome")
    hooks = queued.FollowHooks(
        waiting=said.append,
        sleep=lambda seconds: now.__setitem__(0, now[0] + seconds),
        clock=lambda: now[0],
    )
    batch = model.Batch("b1", "redis://q/0", rules=False)
    assert queued.follow(None, None, batch, lambda _m: None, hooks) == "the outcome"  # type: ignore[arg-type]
    assert said == ["down", None]

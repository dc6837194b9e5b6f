"""A run's progress on the terminal: a bar per document on a tty, a plain line every
interval without one; quota waits shown as they happen. Review and queued batches share it."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from prism_cli.console import Console

if TYPE_CHECKING:
    from redis import Redis
    from rich.progress import Progress as RichProgress
    from rich.progress import TaskID

    from prism_cli.app.review import ReviewHooks
    from prism_cli.app.run import RunOutcome
    from prism_cli.batch.model import Batch
    from prism_cli.cli.application import Application
    from prism_cli.core.report import PriceLookup
    from prism_cli.core.results import SectionResult
    from prism_cli.core.session import Sessions
    from prism_cli.engine.engine import EngineEvent
    from prism_cli.telemetry import Telemetry


def _one_line(text: str) -> str:
    """``text`` for one line of a display: line breaks and other blanks as single spaces."""
    return " ".join(text.split())


class Progress:
    """What a run shows while it works, on stderr.

    On a terminal: one overall bar (sections done of all, calls, elapsed) and a line per
    document in flight, which goes when the document is done; the names give way first on a
    narrow terminal, never the bar and count. Without a terminal (CI logs): a plain line every
    ``interval`` seconds, so a long run shows life and nothing else. Nothing with --quiet.
    """

    SHOWN = 4
    """Documents in flight shown below the overall bar."""

    def __init__(self, console: Console, *, interval: float = 30.0) -> None:
        self.console = console
        self.live = console.stderr_is_tty and not console.quiet
        self.plain = not console.stderr_is_tty and not console.quiet
        self.interval = interval
        self._lock = threading.RLock()  # advance() shows the wait text, which takes it too
        self._tasks: dict[str, TaskID] = {}
        self._left: dict[str, int] = {}
        self._names: dict[str, str] = {}
        self._totals: dict[str, int] = {}
        self._progress: RichProgress | None = None
        self._overall: TaskID | None = None
        self.done = self.total = self.calls = self.documents = self.finished = 0
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._started = time.monotonic()
        self._waits: dict[str, list[float]] = {}
        """Model -> when its announced quota waits end."""
        if self.live:
            from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress
            from rich.table import Column

            self._progress = RichProgress(
                TextColumn(
                    "{task.description}",  # a document's name, a model's: never markup
                    markup=False,
                    table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis", min_width=4),
                ),
                BarColumn(bar_width=16),
                TextColumn(
                    "{task.completed}/{task.total} sections", table_column=Column(no_wrap=True)
                ),
                TextColumn("{task.fields[calls]}", table_column=Column(no_wrap=True)),
                TimeElapsedColumn(table_column=Column(no_wrap=True)),
                # Two columns short of the terminal: the "^C" a terminal echoes on Ctrl-C then
                # stays on the bar's line, and the bar is erased cleanly when the run stops.
                console=console.rich_err(margin=2),
                transient=True,
                expand=True,
            )

    def __enter__(self) -> Progress:
        if self._progress is not None:
            self._progress.start()
            self._overall = self._progress.add_task("reviewing", total=0, calls="")
            self.console.live = self._progress.console
        if self._progress is not None or self.plain:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._progress is not None:
            self.console.live = None
            self._progress.stop()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval if self.plain else 1.0):
            if self.plain:
                self.console.info(self.line())
            else:
                self._show_wait()

    def waiting(self, model: str, seconds: float) -> None:
        """A call waits for ``model``'s quota (or backs off after a 429) for ``seconds``."""
        if seconds <= 0:
            return
        with self._lock:
            self._waits.setdefault(model, []).append(time.monotonic() + seconds)
        self._show_wait()

    def wait_text(self) -> str:
        """``wait 30 s: Bedrock quota on <model>`` (until the next call may go) while a
        wait of 2 s or more lasts; the seconds first: a narrow terminal cuts the name."""
        now = time.monotonic()
        with self._lock:
            nearest: dict[str, float] = {}
            for model, ends in list(self._waits.items()):
                ends[:] = [end for end in ends if end > now]
                if ends:
                    nearest[model] = min(ends)
                else:
                    del self._waits[model]
        if not nearest:
            return ""
        model, until = min(nearest.items(), key=lambda item: item[1])
        left = until - now
        return f"wait {left:.0f} s: Bedrock quota on {_one_line(model)}" if left >= 2 else ""

    def _show_wait(self) -> None:
        if self._progress is None or self._overall is None:
            return
        text = self.wait_text()
        with self._lock:
            docs = f"{self.finished}/{self.documents} docs" if self.documents else "reviewing"
            self._progress.update(self._overall, description=text or docs)

    def line(self) -> str:
        elapsed = int(time.monotonic() - self._started)
        waiting = self.wait_text()
        return (
            f"prism: {self.done}/{self.total} sections, "
            f"{self.finished}/{self.documents} documents, {self.calls} calls, "
            f"{elapsed // 60}m{elapsed % 60:02d}s" + (f"; {waiting}" if waiting else "")
        )

    def add(self, key: str, name: str, total: int) -> None:
        with self._lock:
            self.total += total
            self.documents += 1
            self._left[key] = total
            self._names[key] = _one_line(Path(name).name)  # a line of a bar: no line break
            self._totals[key] = total
            if self._progress is not None and self._overall is not None:
                self._progress.update(self._overall, total=self.total)
            if not total:
                self.finished += 1

    def advance(self, key: str, calls: int) -> None:
        with self._lock:
            self.done += 1
            self.calls += calls
            self._left[key] = self._left.get(key, 1) - 1
            if self._left[key] == 0:
                self.finished += 1
            if self._progress is None or self._overall is None:
                return
            self._progress.update(
                self._overall,
                advance=1,
                description=self.wait_text() or f"{self.finished}/{self.documents} docs",
                calls=f"{self.calls} calls",
            )
            # A document shows once its sections are coming back, until it is done; a few
            # at a time.
            task = self._tasks.get(key)
            if task is None and self._left[key] > 0 and len(self._tasks) < self.SHOWN:
                total = self._totals[key]
                task = self._progress.add_task(
                    f"  {self._names[key]}",
                    total=total,
                    completed=total - self._left[key] - 1,
                    calls="",
                )
                self._tasks[key] = task
            if task is not None:
                self._progress.update(task, advance=1)
                if self._left[key] == 0:
                    self._progress.remove_task(task)
                    del self._tasks[key]


def follow_batch(
    app: Application, connection: Redis, sessions: Sessions, batch: Batch, queue_url: str
) -> RunOutcome:
    """A queued review's progress (``review --queue``, ``batch wait``) until it is done;
    Ctrl-C stops following, not the jobs."""
    from prism_cli.app.queued import FollowHooks, follow
    from prism_cli.bedrock.catalog import load_catalog
    from prism_cli.errors import Interrupted
    from prism_cli.stores.masking import pasteable

    prices = load_catalog(app.catalog_overrides).prices
    failures: dict[str, list[str]] = {}

    def waiting(why: str | None) -> None:
        if why is None:
            app.console.info("the queue is back: following the batch again")
        else:
            app.console.warn(f"{why}: waiting for it (the workers wait too)")

    try:
        with Progress(app.console, interval=app.settings.progress_interval) as shown:
            hooks = FollowHooks(
                document=shown.add,
                section=shown.advance,
                failed=lambda where, why: failures.setdefault(why, []).append(where),
                waiting=waiting,
            )
            outcome = follow(sessions, connection, batch, prices, hooks)
    except KeyboardInterrupt:
        raise Interrupted(
            f"stopped following batch {batch.id}; its jobs go on: "
            f"prism batch wait {batch.id} --queue {pasteable(queue_url, 'PRISM_QUEUE')}"
        ) from None
    for why, where in failures.items():  # one line per reason, not one per section
        if len(where) == 1:
            app.console.warn(f"section {where[0]} not reviewed: {why}")
        else:
            some = ", ".join(where[:3]) + (f" and {len(where) - 3} more" if len(where) > 3 else "")
            app.console.warn(f"{len(where)} sections not reviewed: {why} ({some})")
    return outcome


def review_hooks(
    console: Console, progress: Progress, telemetry: Telemetry, prices: PriceLookup
) -> ReviewHooks:
    """What a review shows and records as it goes: the progress, warnings, the JSON log."""
    from contextlib import suppress

    from prism_cli.app.review import ReviewHooks

    def started(key: str, name: str, total: int, reused: int) -> None:
        telemetry.event("document", document=key, sections=total, reused=reused)
        progress.add(key, name, total)
        for _ in range(reused):
            progress.advance(key, 0)

    def section_done(key: str, result: SectionResult) -> None:
        telemetry.section_end(key, result, prices)
        progress.advance(key, sum(u.calls for u in result.usage.values()))
        if result.status == "failed" and not progress.live:
            console.warn(
                f"{Path(key).name}: section {result.section_id} not reviewed: {result.error}"
            )

    def engine_event(event: EngineEvent) -> None:
        if event.kind in ("adapt", "remap", "set_aside"):
            console.debug(f"{event.model}: {event.detail}")
        if event.kind == "wait" and event.model:
            with suppress(ValueError):
                progress.waiting(event.model, float(event.detail))
        telemetry.engine(event)

    def engine_opened(models: list[str], details: list[str]) -> None:
        for detail in details:
            console.debug(detail)
        telemetry.event("engine", models=models)

    return ReviewHooks(
        started=started,
        section_start=lambda key, section: (
            telemetry.section_start(key, section) if telemetry.active else None
        ),
        section_done=section_done,
        engine_event=engine_event,
        engine_opened=engine_opened,
        warn=console.warn,
        waiting=lambda sid, holder: console.info(
            f"waiting for session {sid} (being reviewed by {holder})"
        ),
    )

"""``prism batch``: follow or cancel a queued review (``prism review --queue --no-wait``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    SHORT,
    FailOn,
    QueueOption,
    ReviewFormat,
    StoreOption,
    application,
    command_app,
)
from prism_cli.errors import EXIT_OK

command = command_app(
    name="batch",
    help="Follow or cancel a queued review (`prism review --queue ... --no-wait`).",
    short_help=SHORT["batch"],
)
BatchId = Annotated[str, typer.Argument(metavar="ID")]


@command.command("status", cls=PanelCommand)
def batch_status(
    ctx: typer.Context, batch_id: BatchId, queue: QueueOption, store: StoreOption = None
) -> None:
    """Sections done, failed and left, per document."""
    raise typer.Exit(run_batch(application(ctx, store=store), "status", batch_id, queue))


@command.command("wait", cls=PanelCommand)
def batch_wait(
    ctx: typer.Context,
    batch_id: BatchId,
    queue: QueueOption,
    fmt: Annotated[
        ReviewFormat | None,
        typer.Option(
            "--format", "-f", metavar="FORMAT", help="The report's format, as for review."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="PATH", help="Write the report to a file."),
    ] = None,
    fail_on: Annotated[FailOn, typer.Option(metavar="LEVEL", help="As for review.")] = FailOn.high,
    store: StoreOption = None,
) -> None:
    """Wait until every section is done, then print the report as `prism review` does."""
    raise typer.Exit(
        run_batch(
            application(ctx, store=store),
            "wait",
            batch_id,
            queue,
            fmt=fmt.value if fmt else None,
            output=output,
            fail_on=fail_on.value,
        )
    )


@command.command("cancel", cls=PanelCommand)
def batch_cancel(
    ctx: typer.Context, batch_id: BatchId, queue: QueueOption, store: StoreOption = None
) -> None:
    """Cancel the sections not started yet (those running finish)."""
    raise typer.Exit(run_batch(application(ctx, store=store), "cancel", batch_id, queue))


def run_batch(
    app: Application,
    action: str,
    batch_id: str,
    queue_url: str,
    *,
    fmt: str | None = None,
    output: Path | None = None,
    fail_on: str = "high",
) -> int:
    from prism_cli.batch import model as batches
    from prism_cli.stores.service import open_sessions

    console = app.console
    # A format that contradicts -o fails before the wait, not after it.
    resolved = app.output_format(fmt, output) if action == "wait" else ""
    connection = batches.queue_connection(queue_url)
    batch = batches.Batch.load(connection, batch_id)
    from prism_cli.stores.masking import with_credentials

    # The batch names its store without credentials: this machine's store URL (--store,
    # PRISM_STORE) puts them back when it names the same store.
    sessions = open_sessions(
        with_credentials(batch.store, [app.store_url]), lease_ttl=app.settings.lease_ttl
    )
    if action == "cancel":
        count = batches.cancel(connection, batch, sessions)
        console.info(f"batch {batch.id}: {count} queued sections cancelled; running ones finish")
        console.info(batches.progress(sessions, connection, batch).line(batch.id))
        return EXIT_OK
    if action == "status":
        state = batches.progress(sessions, connection, batch)
        for doc in batch.documents:
            count, total = state.by_session[doc.session]
            console.write(f"{doc.path}  session {doc.session}  {count}/{total} sections")
        console.write(state.line(batch.id))
        return EXIT_OK
    from prism_cli.cli.options import ReviewOptions
    from prism_cli.cli.outcome import conclude
    from prism_cli.cli.progress import follow_batch

    outcome = follow_batch(app, connection, sessions, batch, queue_url)
    opts = ReviewOptions(paths=[], fmt=fmt, output=output, fail_on=fail_on, rules=batch.rules)
    if outcome.reviews:
        from prism_cli.app.run import RunSettings

        meta = sessions.require(outcome.reviews[0].session_id)
        opts.framework_record = RunSettings.from_record(meta.settings).framework.record()
    return conclude(app, opts, resolved, outcome, sessions, [EXIT_OK])

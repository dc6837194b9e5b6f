"""``prism worker``: run queued review jobs. The jobs, the shared quota and the process pool
are :mod:`prism_cli.batch.worker`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prism_cli.cli.application import Application
from prism_cli.cli.helpstyle import PanelCommand
from prism_cli.cli.options import (
    ENV_EPILOG,
    SHORT,
    ProfileOption,
    QueueOption,
    RegionOption,
    VerboseOption,
    application,
    command_app,
    opt,
)
from prism_cli.errors import EXIT_INTERRUPTED, EXIT_OK

command = command_app()


@command.command("worker", cls=PanelCommand, short_help=SHORT["worker"], epilog=ENV_EPILOG)
def worker(
    ctx: typer.Context,
    queue: QueueOption,
    burst: Annotated[
        bool, typer.Option("--burst", metavar="", help="Stop when the queue is empty.")
    ] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            metavar="N", min=1, max=64, help="Worker processes on this machine (one call each)."
        ),
    ] = 1,
    log_json: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Append one JSON object per event (calls, retries, fallbacks, sections).",
        ),
    ] = None,
    abandon_after: Annotated[
        int,
        typer.Option(
            metavar="SECONDS",
            min=3,
            max=600,
            help="A job whose worker sends no heartbeat this long goes to another worker.",
        ),
    ] = 12,
    store: Annotated[
        str | None,
        opt(
            "--store",
            metavar="URL",
            env="STORE",
            help="The session store with its credentials (a queue names its store without "
            "them: the worker puts these back for the store they name).",
        ),
    ] = None,
    region: RegionOption = None,
    profile: ProfileOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Run queued review jobs (from `prism review --queue`) until stopped.

    Workers on as many machines as you like share one Bedrock quota per model, kept in the
    queue's Redis. SIGTERM or Ctrl-C: the call in flight finishes, the rest stays queued.
    """
    app = application(ctx, store=store, verbose=verbose)
    raise typer.Exit(
        run_worker(app, queue, burst, concurrency, region, profile, log_json, abandon_after)
    )


def run_worker(
    app: Application,
    queue_url: str,
    burst: bool,
    concurrency: int,
    region: str | None,
    profile: str | None,
    log_json: Path | None = None,
    abandon_after: int = 12,
) -> int:
    from prism_cli.batch import model as batches
    from prism_cli.batch import worker as workers
    from prism_cli.bedrock.client import make_session
    from prism_cli.stores.masking import mask_url

    console = app.console
    batches.queue_connection(queue_url)  # reachable, or exit 4 now
    make_session(region, profile)  # credentials and region, or exit 4 now
    context = workers.WorkerContext(
        queue_url,
        region,
        profile,
        app.catalog_overrides,
        console.verbose,
        str(log_json.resolve()) if log_json else None,
        abandon_after=abandon_after,
        say=console.debug,
        quota_period=app.settings.quota_period,
        lease_ttl=app.settings.lease_ttl,
        stores=(app.store_url,) if app.store_url else (),
    )
    console.info(
        f"prism worker: {concurrency} process{'es' if concurrency > 1 else ''} on "
        f"{mask_url(queue_url)}{' until the queue is empty' if burst else ''}"
    )
    if concurrency == 1:
        workers.work(context, burst=burst)
        return EXIT_OK
    code = workers.work_many(context.settings(), concurrency, burst=burst)
    return EXIT_OK if code in (0, -15, -2) else EXIT_INTERRUPTED

"""``s2render dispatcher``: claim queued renderings from the database and run them on Dask."""

from __future__ import annotations

import os
import signal
import threading

import click

from s2render.cli.options import cluster_from, cluster_options


@click.command("dispatcher")
@cluster_options
@click.option(
    "--parent-pid",
    type=int,
    default=None,
    hidden=True,
    help="Stop when the process with this id (the `serve` that started it) is no longer the "
    "parent.",
)
def command(parent_pid: int | None, **cluster) -> None:
    """Run a dispatcher (alone, for scale-out: shared DATABASE_URL + DASK_SCHEDULER_ADDRESS)."""
    from s2render.web.bootstrap import setup_django

    setup_django()
    from django.conf import settings

    from s2render.execution.cluster import dask_client
    from s2render.web.jobs.dispatcher import DispatcherConfig, JobDispatcher

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if parent_pid is not None:
        # The parent's id comes from the parent itself: read here, os.getppid() would already
        # name init if the parent died while this process was starting.
        def watch() -> None:
            while os.getppid() == parent_pid and not stop.wait(1.0):
                pass
            stop.set()

        threading.Thread(target=watch, daemon=True).start()
    config = DispatcherConfig(
        output_root=settings.OUTPUT_DIR,
        poll=settings.S2RENDER["DISPATCHER_POLL"],
        capacity=settings.S2RENDER["DISPATCHER_CAPACITY"],
        stale=settings.S2RENDER["DISPATCHER_STALE"],
        max_attempts=settings.S2RENDER["MAX_ATTEMPTS"],
    )
    with dask_client(cluster_from(**cluster)) as client:
        click.echo(f"dispatcher {config.name} on {client.scheduler.address}", err=True)
        JobDispatcher(client, config).run(stop)

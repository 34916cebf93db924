"""Options shared by several commands (rasterio's ``rio/options.py`` habit)."""

from __future__ import annotations

import click

from s2render.config import load_settings
from s2render.execution.cluster import ClusterOptions


def cluster_options(f):
    """--scheduler/--workers/--threads/--processes, defaulting to the environment's settings."""
    f = click.option(
        "--processes/--no-processes",
        default=None,
        help="Run LocalCluster workers as processes (default: threads in this "
        "process; env S2RENDER_WORKER_PROCESSES).",
    )(f)
    f = click.option(
        "--threads",
        type=click.IntRange(min=1),
        default=None,
        help="Threads per LocalCluster worker (default: cores / workers).",
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        default=None,
        help="LocalCluster workers (default 1; env S2RENDER_WORKERS).",
    )(f)
    f = click.option(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (env DASK_SCHEDULER_ADDRESS); "
        "without it a LocalCluster runs for the command.",
    )(f)
    return f


def cluster_from(
    scheduler: str | None, workers: int | None, threads: int | None, processes: bool | None
) -> ClusterOptions:
    s = load_settings()
    return ClusterOptions(
        address=scheduler or s.scheduler_address,
        workers=workers or s.workers,
        threads=threads or s.threads,
        processes=s.processes if processes is None else processes,
    )

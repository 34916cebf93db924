"""Connecting to Dask: a scheduler address, or a LocalCluster started for the duration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from distributed import Client, LocalCluster


@dataclass(frozen=True)
class ClusterOptions:
    """Where work runs. ``address`` wins; otherwise a LocalCluster of this shape is started.

    The default LocalCluster is one worker with a thread per core in worker *processes* disabled:
    GDAL's JPEG 2000 decoding and numpy's lookups release the GIL, so threads use every core
    without paying for a second interpreter and for moving arrays between processes.
    """

    address: str | None = None
    workers: int = 1
    threads: int | None = None  # per worker; None = cores / workers
    processes: bool = False


@contextmanager
def dask_client(options: ClusterOptions | None = None) -> Iterator[Client]:
    """A Dask client for ``options``, closed (and its LocalCluster stopped) on exit."""
    options = options or ClusterOptions()
    if options.address:
        with Client(options.address, set_as_default=False) as client:
            yield client
        return
    threads = options.threads or max(1, (os.cpu_count() or 1) // max(1, options.workers))
    with (
        LocalCluster(
            n_workers=options.workers,
            threads_per_worker=threads,
            processes=options.processes,
            dashboard_address=":0",  # any free port: never collide with another cluster
            # In-process clusters talk over inproc://; worker processes over loopback only.
            **({"host": "127.0.0.1"} if options.processes else {}),
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client

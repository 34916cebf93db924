"""Decode alone: the floor under any renderer's time — read the band windows a batch needs, nothing
else, with every core busy.

A process pool of ``os.cpu_count()`` processes; each task opens one band file with rasterio/GDAL
and reads one window (``src.read(1, window=w)``). Run it as a command so that the benchmark can
measure it like the others::

    python -m s2render.benchmark.decode SPEC.json [--processes N] [--gdal-threads 1|ALL_CPUS]

``SPEC.json`` is a list of ``{"path": ..., "window": [col_off, row_off, width, height]}``; the
command prints one JSON record per window read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from rasterio.windows import Window

# GDAL threads per worker process. Measured on the 2-core benchmark machine (GDAL 3.10.3, OpenJPEG
# 2.5.4) with the full-size demo product, 3 interleaved rounds each: d_c (three whole 10 m bands on
# two processes) 38-44 s with 1 thread vs 29.5-37 s with ALL_CPUS, d_b (eight crop windows) 6.8-8.2
# s vs 6.0-6.5 s, at the same CPU time. With one thread per process the third 10 m band decodes on
# one core while the other idles; ALL_CPUS lets JP2OpenJPEG decode its tiles on both. Both
# settings stay selectable with --gdal-threads.
DEFAULT_GDAL_THREADS = "ALL_CPUS"
DECODE_THREADS_NOTE = "the faster of 1 and ALL_CPUS, measured"


@dataclass(frozen=True)
class WindowRead:
    """One band file and the window of it to decode (pixel offsets and size)."""

    path: str
    col_off: int
    row_off: int
    width: int
    height: int

    @property
    def window(self) -> Window:
        return Window(self.col_off, self.row_off, self.width, self.height)

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "window": [self.col_off, self.row_off, self.width, self.height]}

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> WindowRead:
        col_off, row_off, width, height = (int(v) for v in record["window"])
        return cls(str(record["path"]), col_off, row_off, width, height)


def read_window(
    task: WindowRead, gdal_threads: str = DEFAULT_GDAL_THREADS, checksum: bool = False
) -> dict[str, Any]:
    """Decode one window; return its shape and dtype (and a digest of the pixels if asked)."""
    with rasterio.Env(GDAL_NUM_THREADS=gdal_threads), rasterio.open(task.path) as src:
        data = src.read(1, window=task.window)
    result: dict[str, Any] = {**task.to_json(), "shape": list(data.shape), "dtype": str(data.dtype)}
    if checksum:  # tests only: hashing is not decoding and must not be timed
        result["sha256"] = hashlib.sha256(data.tobytes()).hexdigest()
    return result


def _read_star(args: tuple[WindowRead, str, bool]) -> dict[str, Any]:
    return read_window(*args)


def decode_windows(
    tasks: Sequence[WindowRead],
    *,
    processes: int | None = None,
    gdal_threads: str = DEFAULT_GDAL_THREADS,
    checksum: bool = False,
) -> list[dict[str, Any]]:
    """Decode every window on a pool of ``processes`` (default: all cores), in task order."""
    processes = processes or os.cpu_count() or 1
    # Largest first, so that a big window does not start last and leave the other cores idle.
    order = sorted(range(len(tasks)), key=lambda i: tasks[i].pixels, reverse=True)
    # fork: the cheapest start (no re-import of rasterio), as a hand-written tool would do.
    context = multiprocessing.get_context("fork")
    with context.Pool(min(processes, max(1, len(tasks)))) as pool:
        done = pool.map(_read_star, [(tasks[i], gdal_threads, checksum) for i in order], 1)
    results: list[dict[str, Any]] = [{}] * len(tasks)
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results


def write_spec(tasks: Iterable[WindowRead], path: Path) -> Path:
    """Write the windows as the JSON spec this module's command reads."""
    path.write_text(json.dumps([t.to_json() for t in tasks], indent=1))
    return path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m s2render.benchmark.decode", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("spec", type=Path, help="JSON list of {path, window}")
    parser.add_argument("--processes", type=int, default=None, help="default: all cores")
    parser.add_argument(
        "--gdal-threads",
        default=DEFAULT_GDAL_THREADS,
        help=f"GDAL_NUM_THREADS per process (default {DEFAULT_GDAL_THREADS})",
    )
    parser.add_argument("--checksum", action="store_true", help="add a SHA-256 of each window")
    args = parser.parse_args(argv)
    tasks = [WindowRead.from_json(r) for r in json.loads(args.spec.read_text())]
    results = decode_windows(
        tasks, processes=args.processes, gdal_threads=args.gdal_threads, checksum=args.checksum
    )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Options shared by several commands (rasterio's ``rio/options.py`` habit)."""

from __future__ import annotations

from pathlib import Path

import click

from s2render.config import load_settings
from s2render.core.area import parse_geometry, to_crs
from s2render.core.errors import SpecError
from s2render.core.spec import MAX_PIXELS
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


def area_options(f):
    """--geometry/--crs/--max-size/--width/--height: the area polygon, output CRS and size."""
    f = click.option(
        "--height",
        type=click.IntRange(1, MAX_PIXELS),
        default=None,
        help="Output height in pixels (alone: the width follows the area's aspect ratio).",
    )(f)
    f = click.option(
        "--width",
        type=click.IntRange(1, MAX_PIXELS),
        default=None,
        help="Output width in pixels (alone: the height follows the area's aspect ratio).",
    )(f)
    f = click.option(
        "--max-size",
        type=click.IntRange(1, MAX_PIXELS),
        default=None,
        help="Cap on the longest output side in pixels, for previews: decoded from the "
        "JPEG 2000 reduced-resolution levels, never enlarged.",
    )(f)
    f = click.option(
        "--crs",
        "out_crs",
        metavar="CRS",
        default=None,
        help="Output CRS, e.g. EPSG:4326 or EPSG:3857 (default: the product's).",
    )(f)
    f = click.option(
        "--geometry",
        metavar="FILE.geojson|JSON",
        default=None,
        help="Render only this GeoJSON Polygon/MultiPolygon (a Feature or FeatureCollection "
        "too), in --bbox-crs; pixels outside it are transparent.",
    )(f)
    return f


def area_from(
    geometry: str | None,
    out_crs: str | None,
    max_size: int | None,
    width: int | None,
    height: int | None,
    bbox_crs: str,
) -> dict:
    """RenderSpec fields of the area options, checked (a bad value is a usage error)."""
    if max_size is not None and (width is not None or height is not None):
        raise click.UsageError("--max-size caps the size, --width/--height set it: choose one")
    options: dict = {"crs": out_crs, "max_size": max_size, "width": width, "height": height}
    try:
        if out_crs is not None:
            to_crs(out_crs, "crs")
        if geometry is not None:
            geographic = (
                bbox_crs.lower() != "product" and to_crs(bbox_crs, "bbox_crs").is_geographic
            )
            options["geometry"] = parse_geometry(_geometry_text(geometry), geographic=geographic)
    except SpecError as exc:
        hint = {"crs": "--crs", "bbox_crs": "--bbox-crs"}.get(exc.field or "", "--geometry")
        raise click.BadParameter(str(exc), param_hint=hint) from exc
    return options


def _geometry_text(value: str) -> str:
    """Inline GeoJSON, or the text of the file it names."""
    if value.lstrip().startswith("{"):
        return value
    try:
        return Path(value).read_text()
    except OSError as exc:
        raise click.BadParameter(
            f"{value!r} is neither GeoJSON text nor a readable file ({exc.strerror})",
            param_hint="--geometry",
        ) from exc

"""Rendering specs as stored in the database (plain JSON) and their checks against a product.

A spec is ``{"resolution", "bands", "bbox", "bbox_crs", "stretch", "gamma", "format"}``; it is
validated against the product's real bands when a job is created, and turned into a core
:class:`RenderSpec` when the dispatcher submits it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from s2render.core.area import bbox_in_crs, parse_bbox, window_for_bounds
from s2render.core.bands import check_band
from s2render.core.encode import OutputFormat
from s2render.core.errors import S2RenderError, SpecError
from s2render.core.product import Product, open_product
from s2render.core.render import RenderSpec
from s2render.core.stretch import parse_stretch
from s2render.web.errors import FieldError


@lru_cache(maxsize=64)
def _open_cached(path: str, mtime: float) -> Product:
    return open_product(path)


def open_registered(location: str) -> Product:
    """The core product at ``location`` (parsed once per modification time)."""
    try:
        return _open_cached(location, os.stat(location).st_mtime)
    except FileNotFoundError:
        raise FieldError("product", f"the product's files are gone from {location}") from None


def normalize_spec(raw: dict[str, Any], product_location: str, *, prefix: str = "") -> dict:
    """Check ``raw`` against the product; return the spec to store, or raise FieldError."""
    product = open_registered(product_location)

    def fail(field: str, message: str) -> FieldError:
        return FieldError(f"{prefix}{field}", message)

    resolution = raw.get("resolution", 10)
    if isinstance(resolution, str):
        try:
            resolution = float(resolution)
        except ValueError:
            raise fail("resolution", f"{resolution!r} is not a number of metres") from None
    if not isinstance(resolution, int | float) or isinstance(resolution, bool) or resolution <= 0:
        raise fail("resolution", f"{resolution!r} must be a positive number of metres (10, 20, 60)")
    if resolution < 1 or resolution > 10000:
        raise fail("resolution", f"{resolution:g} m is out of range: use 1 to 10000 (10, 20, 60)")
    resolution = int(resolution) if float(resolution).is_integer() else float(resolution)

    bands = raw.get("bands")
    if not isinstance(bands, list | tuple) or len(bands) != 3:
        raise fail("bands", f"{bands!r}: give three band names for red, green and blue")
    checked = []
    for band in bands:
        if not isinstance(band, str):
            raise fail("bands", f"{band!r} is not a band name such as B04")
        try:
            name = check_band(band, product.level)
            product.band_file(name, resolution)
        except S2RenderError as exc:
            raise fail("bands", str(exc)) from None
        checked.append(name)

    bbox = raw.get("bbox")
    if bbox is not None:
        try:
            text = bbox if isinstance(bbox, str) else ",".join(str(float(v)) for v in bbox)
            bbox = list(parse_bbox(text))
        except (SpecError, TypeError, ValueError) as exc:
            raise fail("bbox", str(exc)) from None
    bbox_crs = raw.get("bbox_crs") or "EPSG:4326"

    stretch = raw.get("stretch")
    if isinstance(stretch, list):  # [MIN, MAX] or [[MIN, MAX]] * 3
        if all(isinstance(r, list) for r in stretch):
            stretch = ";".join(",".join(str(v) for v in r) for r in stretch)
        else:
            stretch = ",".join(str(v) for v in stretch)
    gamma = raw.get("gamma")
    try:
        parse_stretch(stretch, gamma=gamma)
    except SpecError as exc:
        raise fail("gamma" if exc.field == "gamma" else "stretch", str(exc)) from None
    except TypeError:
        raise fail("stretch", f"{stretch!r}: give MIN,MAX reflectance, e.g. 0,0.3") from None

    fmt = raw.get("format", "jpeg")
    try:
        fmt_name = OutputFormat.parse(str(fmt)).name.lower()
    except S2RenderError as exc:
        raise fail("format", str(exc)) from None
    except ValueError:
        raise fail("format", f"{fmt!r}: use jpeg, png, webp or geotiff") from None

    spec = {
        "resolution": resolution,
        "bands": checked,
        "bbox": bbox,
        "bbox_crs": bbox_crs,
        "stretch": stretch,
        "gamma": gamma,
        "format": fmt_name,
    }
    try:
        to_render_spec(spec, product_location, name="check")
        if bbox is not None:
            check_area(product, bbox, bbox_crs, resolution)
    except SpecError as exc:
        raise fail(exc.field or "spec", str(exc)) from None
    return spec


def check_area(product: Product, bbox: list[float], bbox_crs: str, resolution: float) -> None:
    """AreaError unless ``bbox`` (in ``bbox_crs``, or "product") overlaps the product."""
    crs = product.crs if bbox_crs.lower() == "product" else bbox_crs
    grid = product.grid(resolution)
    native = bbox_in_crs(tuple(bbox), crs, product.crs)  # type: ignore[arg-type]
    window_for_bounds(native, grid.bounds, grid.resolution, grid.width, grid.height)


def to_render_spec(spec: dict, product_location: str, *, name: str | None) -> RenderSpec:
    """The core RenderSpec of a stored spec."""
    bbox = spec.get("bbox")
    return RenderSpec(
        product=product_location,
        bands=tuple(spec["bands"]),  # type: ignore[arg-type]
        resolution=spec["resolution"],
        bbox=tuple(bbox) if bbox else None,  # type: ignore[arg-type]
        bbox_crs=spec.get("bbox_crs") or "EPSG:4326",
        stretch=parse_stretch(spec.get("stretch"), gamma=spec.get("gamma")),
        format=OutputFormat[spec.get("format", "jpeg").upper()],
        name=name,
    )


def output_name(index: int, spec: dict) -> str:
    """The image's file stem: index first so a job's files sort in request order."""
    res = f"{spec['resolution']:g}"
    return f"{index:03d}_R{res}m_{'_'.join(spec['bands'])}"


def job_output_dir(output_root: str | Path, job_uuid: str) -> Path:
    return Path(output_root) / "jobs" / str(job_uuid)

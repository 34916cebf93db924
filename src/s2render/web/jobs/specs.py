"""Rendering specs as stored in the database (plain JSON) and their checks against a product.

A spec is ``{"resolution", "bands", "bbox", "bbox_crs", "stretch", "gamma", "format"}``, with
``bands`` or instead ``preset``, ``expressions`` or ``expression`` (+ ``colormap``,
``value_range``), and optionally ``stretch_scope``, ``cloud_mask``, ``cloud_dilation``,
``geometry``, ``crs``, ``max_size``, ``width``, ``height``. It is validated against the product
when a job is created (core.render.check_rendering), and turned into a core
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
from s2render.core.masks import parse_scl_classes
from s2render.core.presets import get_preset
from s2render.core.product import Product, open_product
from s2render.core.render import RenderSpec, check_rendering
from s2render.core.spec import spec_from_request
from s2render.core.stretch import SCOPES, parse_stretch
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


def standin_product(row) -> Product:
    """What a remote product not fetched yet will hold, from its level and name: the ESA layout
    of its level (L2A folders per PSD, L1C bands at native resolution) on its MGRS tile's UTM
    zone, over its footprint. Job specs are checked against it; the real product is checked
    again when the rendering runs."""
    from rasterio.crs import CRS
    from rasterio.warp import transform_bounds

    from s2render.core.bands import BANDS, RESOLUTIONS, l2a_native_bands
    from s2render.core.product import BandFile

    files: dict[tuple[str, int], BandFile] = {}
    for res in RESOLUTIONS:
        if row.level == "L2A":
            names = l2a_native_bands(res, row.baseline or None)
        else:
            names = tuple(
                b.name for b in BANDS.values() if b.spectral and b.native_resolution == res
            )
        for name in names:
            files[(name, res)] = BandFile(name, res, f"/remote/{row.name}/{name}_{res}m")
    zone = int(row.tile[:2]) if row.tile[:2].isdigit() else 33
    north = not row.tile or row.tile[2:3].upper() >= "N"
    crs = CRS.from_epsg((32600 if north else 32700) + zone)
    if row.west is not None:
        bounds = transform_bounds("EPSG:4326", crs, row.west, row.south, row.east, row.north)
    else:  # no footprint: a whole MGRS tile's size (109.8 km) at an arbitrary place
        bounds = (300000.0, 4890240.0, 409800.0, 5000040.0)
    return Product(
        path=row.location,
        kind="remote",
        level=row.level,
        product_id=row.name,
        mission=row.mission or None,
        tile=row.tile or None,
        sensing_time=row.sensed_at,
        baseline=row.baseline or None,
        cloud_cover=row.cloud_cover,
        footprint=row.footprint,
        crs=crs,
        bounds=tuple(bounds),
        files=files,
    )


def normalize_spec(
    raw: dict[str, Any],
    product_location: str,
    *,
    prefix: str = "",
    product: Product | None = None,
) -> dict:
    """Check ``raw`` against the product; return the spec to store, or raise FieldError.

    The stored spec keeps the seed's keys (resolution, bands, bbox, bbox_crs, stretch, gamma,
    format) and adds the others only when given, so it reads back as it was asked.
    """
    product = product or open_registered(product_location)

    def fail(field: str, message: str) -> FieldError:
        return FieldError(f"{prefix}{field}", message)

    resolution = _resolution(raw.get("resolution", 10), fail)
    spec: dict[str, Any] = {"resolution": resolution}
    spec.update(_content(raw, product, resolution, fail))
    spec["bbox"] = _bbox(raw.get("bbox"), fail)
    spec["bbox_crs"] = raw.get("bbox_crs") or "EPSG:4326"
    spec["stretch"], spec["gamma"] = _stretch(raw, fail)
    spec["format"] = _format(raw.get("format", "jpeg"), fail)
    spec.update(_options(raw, fail))
    try:
        render = to_render_spec(spec, product_location, name="check")
        if spec["bbox"] is not None:
            check_area(product, spec["bbox"], spec["bbox_crs"], resolution)
        # The core's own checks: bands of expressions and presets, level, area, size, SCL.
        check_rendering(render, product)
    except S2RenderError as exc:
        raise fail(_field_of(getattr(exc, "field", None), spec), str(exc)) from None
    return spec


CONTENT = ("preset", "bands", "expressions", "expression")
OPTIONS = (
    "stretch_scope",
    "colormap",
    "value_range",
    "cloud_mask",
    "cloud_dilation",
    "geometry",
    "crs",
    "max_size",
    "width",
    "height",
)


def _resolution(resolution: Any, fail) -> int | float:
    if isinstance(resolution, str):
        try:
            resolution = float(resolution)
        except ValueError:
            raise fail("resolution", f"{resolution!r} is not a number of metres") from None
    if not isinstance(resolution, int | float) or isinstance(resolution, bool) or resolution <= 0:
        raise fail("resolution", f"{resolution!r} must be a positive number of metres (10, 20, 60)")
    if resolution < 1 or resolution > 10000:
        raise fail("resolution", f"{resolution:g} m is out of range: use 1 to 10000 (10, 20, 60)")
    return int(resolution) if float(resolution).is_integer() else float(resolution)


def _content(raw: dict, product: Product, resolution: float, fail) -> dict:
    """What the rendering shows: a preset, three bands, three expressions or one expression."""
    given = [key for key in CONTENT if raw.get(key) not in (None, "", [])]
    if not given:
        raise fail(
            "bands",
            "give three band names, a preset (GET /api/v1/presets/), three "
            "expressions or one expression",
        )
    if len(given) > 1:
        raise fail(given[1], f"give only one of {' / '.join(given)}")
    key, value = given[0], raw[given[0]]
    if key == "preset":
        if not isinstance(value, str):
            raise fail("preset", f"{value!r} is not a preset id (GET /api/v1/presets/)")
        try:
            return {"preset": get_preset(value).id}
        except SpecError as exc:
            raise fail("preset", str(exc)) from None
    if key == "expression":
        if not isinstance(value, str):
            raise fail("expression", f"{value!r}: give the expression as a string")
        return {"expression": value}
    if key == "expressions":
        if not (isinstance(value, list | tuple) and len(value) == 3):
            raise fail("expressions", f"{value!r}: give three expressions (red, green, blue)")
        if not all(isinstance(v, str) for v in value):
            raise fail("expressions", f"{value!r}: each expression is a string")
        return {"expressions": list(value)}
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise fail("bands", f"{value!r}: give three band names for red, green and blue")
    checked = []
    for band in value:
        if not isinstance(band, str):
            raise fail("bands", f"{band!r} is not a band name such as B04")
        try:
            name = check_band(band, product.level)
            product.band_file(name, resolution)
        except S2RenderError as exc:
            raise fail("bands", str(exc)) from None
        checked.append(name)
    return {"bands": checked}


def _bbox(bbox: Any, fail) -> list[float] | None:
    if bbox is None:
        return None
    try:
        text = bbox if isinstance(bbox, str) else ",".join(str(float(v)) for v in bbox)
        return list(parse_bbox(text))
    except (SpecError, TypeError, ValueError) as exc:
        raise fail("bbox", str(exc)) from None


def _stretch(raw: dict, fail) -> tuple[str | None, Any]:
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
    return stretch, gamma


def _format(fmt: Any, fail) -> str:
    try:
        return OutputFormat.parse(str(fmt)).name.lower()
    except S2RenderError as exc:
        raise fail("format", str(exc)) from None
    except ValueError:
        raise fail("format", f"{fmt!r}: use jpeg, png, webp or geotiff") from None


def _options(raw: dict, fail) -> dict:
    """The optional keys that were given, in JSON-ready shapes (the core checks their values)."""
    options = {key: raw[key] for key in OPTIONS if raw.get(key) is not None}
    scope = options.get("stretch_scope")
    if scope is not None and scope not in SCOPES:
        raise fail("stretch_scope", f"{scope!r}: use {' or '.join(SCOPES)}")
    for key in ("colormap", "crs"):
        if key in options and not isinstance(options[key], str):
            raise fail(
                key,
                f"{options[key]!r}: give a name such as "
                f"{'rdylgn' if key == 'colormap' else 'EPSG:4326'}",
            )
    if "value_range" in options:
        options["value_range"] = _pair(options["value_range"], fail)
    if "cloud_mask" in options:
        try:
            options["cloud_mask"] = list(parse_scl_classes(options["cloud_mask"]))
        except (SpecError, TypeError) as exc:
            raise fail("cloud_mask", str(exc)) from None
    if "geometry" in options and not isinstance(options["geometry"], dict):
        raise fail("geometry", "give a GeoJSON Polygon or MultiPolygon (or a Feature of one)")
    return options


def _pair(value: Any, fail) -> list[float]:
    """``[-1, 1]`` or ``"-1,1"`` -> [-1.0, 1.0]."""
    parts = value.split(",") if isinstance(value, str) else value
    try:
        if isinstance(parts, bool) or len(parts) != 2:
            raise ValueError
        return [float(parts[0]), float(parts[1])]
    except (TypeError, ValueError):
        raise fail(
            "value_range", f"{value!r}: give MIN,MAX, the values the colours span, e.g. [-1, 1]"
        ) from None


def _field_of(field: str | None, spec: dict) -> str:
    """The request key a core error is about."""
    if "preset" in spec and field in ("bands", "expression", "expressions", "tonemap", "preset"):
        return "preset"
    if field == "tonemap":
        return "preset"
    if field == "expression" and "expressions" in spec:
        return "expressions"
    return field or "spec"


def check_area(product: Product, bbox: list[float], bbox_crs: str, resolution: float) -> None:
    """AreaError unless ``bbox`` (in ``bbox_crs``, or "product") overlaps the product."""
    crs = product.crs if bbox_crs.lower() == "product" else bbox_crs
    grid = product.grid(resolution)
    native = bbox_in_crs(tuple(bbox), crs, product.crs)  # type: ignore[arg-type]
    window_for_bounds(native, grid.bounds, grid.resolution, grid.width, grid.height)


def to_render_spec(spec: dict, product_location: str, *, name: str | None) -> RenderSpec:
    """The core RenderSpec of a stored spec."""
    bbox = spec.get("bbox")
    value_range = spec.get("value_range")
    content = {key: spec[key] for key in CONTENT if spec.get(key)}
    for key in ("bands", "expressions"):
        if key in content:
            content[key] = tuple(content[key])
    if spec.get("cloud_mask") is not None:
        content["cloud_mask"] = tuple(spec["cloud_mask"])
    options = {
        key: spec[key]
        for key in ("cloud_dilation", "geometry", "crs", "max_size", "width", "height")
        if spec.get(key) is not None
    }
    stretch = spec.get("stretch")
    scope = spec.get("stretch_scope") or "rendering"
    return spec_from_request(
        product_location,
        stretch=parse_stretch(stretch, gamma=spec.get("gamma"), scope=scope)
        if stretch or "preset" not in spec
        else None,
        gamma=spec.get("gamma"),
        colormap=spec.get("colormap"),
        value_range=tuple(value_range) if value_range else None,  # type: ignore[arg-type]
        resolution=spec["resolution"],
        bbox=tuple(bbox) if bbox else None,
        bbox_crs=spec.get("bbox_crs") or "EPSG:4326",
        format=OutputFormat[spec.get("format", "jpeg").upper()],
        name=name,
        **content,
        **options,
    )


def output_name(index: int, spec: dict) -> str:
    """The image's file stem: index first so a job's files sort in request order."""
    res = f"{spec['resolution']:g}"
    if spec.get("bands"):
        label = "_".join(spec["bands"])
    else:
        label = spec.get("preset") or ("index" if spec.get("expression") else "expressions")
    return f"{index:03d}_R{res}m_{label}"


def job_output_dir(output_root: str | Path, job_uuid: str) -> Path:
    return Path(output_root) / "jobs" / str(job_uuid)

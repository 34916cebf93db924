"""One rendering: product + resolution + content (bands, expressions, colour map) + area +
stretch + format.

A rendering runs in steps that an executor can spread over workers:

1. :func:`plan_rendering` (cheap, anywhere): validate, choose files, the output grid, and the
   strips (row bands aligned to the source tiles) to process; returns a picklable
   :class:`RenderPlan` whose :meth:`RenderPlan.reads` name every (band file, window) read.
2. Only for a percentile stretch: :func:`strip_statistics` per strip, then
   :func:`reduce_histograms` over the rendering's (or the job's) strips gives the ranges.
3. :func:`compose_strip` per strip: band windows -> RGBA, written into the rendering's raw canvas
   file at the strip's rows; returns counts. Plain band composites go through one lookup table
   per channel; band maths, colour maps and the optimized tone curve through float32
   reflectance (:mod:`s2render.core.compose`).
4. :func:`finalize_rendering`: encode the canvas into the output format atomically, write the
   JSON sidecar, remove the canvas; returns a small :class:`RenderResult`.

:func:`render` runs the steps in-process, one after the other.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from s2render.core.bands import BANDS, check_band
from s2render.core.compose import (
    compose_values_strip,
    hidden_pixels,
    split_arrays,
    store_strip,
    strip_statistics,
)
from s2render.core.encode import CANVAS_BANDS, OutputFormat
from s2render.core.errors import RenderError, SpecError
from s2render.core.jpeg import segment_rows
from s2render.core.layout import layout_strips, name_suffix, plan_layout
from s2render.core.masks import scl_files
from s2render.core.output import encode_jpeg_segment, finalize_rendering
from s2render.core.plan import ReadRequest, RenderPlan, RenderResult, StripResult
from s2render.core.presets import CATALOGUE_VERSION, get_preset, list_presets
from s2render.core.product import BandFile, Product, open_product
from s2render.core.reader import choose_source, describe_reads, read_env, read_request
from s2render.core.spec import RenderSpec, spec_from_preset
from s2render.core.statistics import PercentileRanges, reduce_histograms
from s2render.core.stretch import build_lut
from s2render.core.tonemap import OPTIMIZED_CURVES

__all__ = [
    "ReadRequest",
    "RenderPlan",
    "RenderResult",
    "RenderSpec",
    "StripResult",
    "compose_strip",
    "encode_jpeg_segment",
    "finalize_rendering",
    "plan_rendering",
    "reduce_histograms",
    "render",
    "spec_from_preset",
    "strip_statistics",
]

# Strips target this many output pixels (about 48 MB of RGBA) when the source tiles are small.
STRIP_PIXELS = 12_000_000
# Strips of a resized or reprojected output no longer follow tile edges; each then spans a few
# tile rows, so that the tile rows decoded twice at strip edges stay a small share (a whole-tile
# preview: two strips per band, about 10 % decoded twice, still two reads to run side by side).
TILES_PER_STRIP = 5


def default_name(product: Product, spec: RenderSpec, bands: tuple[str, ...]) -> str:
    stem = product.product_id
    if product.tile and product.sensing_time:
        stem = f"T{product.tile}_{product.sensing_time:%Y%m%d}_{product.level}"
    res = f"{spec.resolution:g}m"
    if spec.preset:
        content = spec.preset
    elif spec.kind in ("bands", "optimized"):
        content = "-".join(bands) + ("_optimized" if spec.kind == "optimized" else "")
    else:
        what = (spec.expressions, spec.expression, spec.colormap, spec.value_range)
        content = "expr-" + hashlib.sha1(repr(what).encode()).hexdigest()[:8]
    name = f"{stem}_{res}_{content}"
    if spec.bbox is not None:
        digest = hashlib.sha1(repr((spec.bbox, spec.bbox_crs)).encode()).hexdigest()[:8]
        name += f"_{digest}"
    return name + name_suffix(spec)


def check_preset_level(spec: RenderSpec, product: Product) -> None:
    """SpecError unless the spec's preset (if any) applies to the product's level."""
    if not spec.preset:
        return
    preset = get_preset(spec.preset)
    if product.level in preset.levels:
        return
    fitting = [p.id for p in list_presets() if product.level in p.levels]
    needs = " or ".join(sorted(preset.levels))
    raise SpecError(
        f"preset {preset.id!r} needs an {needs} product; {product.product_id} is "
        f"{product.level}: use the {needs} product of the same scene, or a preset made for "
        f"{product.level} ({', '.join(fitting)})",
        field="preset",
    )


def _content(spec: RenderSpec, product: Product) -> tuple[tuple[str, ...], dict]:
    """The bands to read (checked against the product) and the plan fields of the content."""
    if spec.kind in ("bands", "optimized"):
        bands = tuple(check_band(b, product.level) for b in spec.bands)
        for b in bands:
            if not BANDS[b].spectral and (b != "SCL" or spec.kind == "optimized"):
                raise SpecError(
                    f"{b} is not a reflectance band; composites take B01-B12 or B8A",
                    field="bands",
                )
        if spec.kind == "optimized":
            return bands, {"tone_curve": OPTIMIZED_CURVES[product.level]}
        return bands, {}
    channels = spec.parsed()
    order = list(BANDS)
    needed = sorted({b for e in channels for b in e.bands}, key=order.index)
    if not needed:
        texts = [e.text for e in channels]
        raise SpecError(
            f"expression(s) {texts} use no band: there is nothing to read; "
            "write the maths over band names, e.g. (B08 - B04) / (B08 + B04)",
            field="expression" if spec.expression else "expressions",
        )
    bands = tuple(check_band(b, product.level) for b in needed)
    return bands, {"channels": channels, "color_table": spec.color_table()}


def check_rendering(spec: RenderSpec, product: Product) -> None:
    """SpecError unless ``spec`` can be rendered from ``product``: the checks of
    :func:`plan_rendering` that open no band file (level, bands, area and size, SCL), cheap
    enough to run on every rendering of a request."""
    check_preset_level(spec, product)
    _content(spec, product)
    layout = plan_layout(spec, product, count_pixels=False)
    scl_files(product, layout.resolution, spec.cloud_mask)


def plan_rendering(
    spec: RenderSpec, out_dir: str | Path, *, product: Product | None = None
) -> RenderPlan:
    """Validate ``spec`` against the product and plan its reads and strips."""
    product = product or open_product(spec.product)
    check_preset_level(spec, product)
    bands, content = _content(spec, product)
    layout = plan_layout(spec, product)
    sources = tuple(choose_source(product, b, layout.resolution) for b in bands)
    band_files = tuple(s.band_file for s in sources)
    mask_file, cover_file = scl_files(product, layout.resolution, spec.cloud_mask)
    grid, window = layout.grid, layout.window
    if layout.on_product_grid:
        strips = _strips(window, band_files, grid.resolution)
    else:
        tile_m = _tile_height(band_files[0]) * band_files[0].resolution
        strips = layout_strips(layout, tile_m, STRIP_PIXELS, TILES_PER_STRIP)
    segments: tuple[tuple[int, int], ...] = ()
    if spec.format is OutputFormat.JPEG:
        cuts = [int(w.row_off - window.row_off) for w in strips]
        segments = tuple(segment_rows(int(window.height), cuts))

    offsets = tuple(product.band_offset(b) for b in bands)
    quant = tuple(product.band_quantification(b) for b in bands)
    luts: tuple[np.ndarray, ...] = ()
    if spec.kind == "bands" and not spec.stretch.is_percentile:
        ranges = tuple(spec.stretch.channel_range(c) for c in range(3))
        luts = _luts(offsets, quant, ranges, spec.stretch.gamma)
    out = Path(out_dir)
    name = spec.name or default_name(product, spec, bands)
    output = out / f"{name}.{spec.format.info.extension}"
    canvas = out / f".{name}.{os.getpid()}-{time.monotonic_ns()}.canvas"
    record = {
        "product": {
            "id": product.product_id,
            "path": product.path,
            "level": product.level,
            "mission": product.mission,
            "tile": product.tile,
            "sensing_time": product.sensing_time.isoformat() if product.sensing_time else None,
            "processing_baseline": product.baseline,
        },
        **_content_record(spec, bands, content),
        "resolution": spec.resolution,
        "sources": [
            {
                "band": bf.band,
                "file": bf.path,
                "native_resolution": bf.resolution,
                "resampled": bf.resolution != layout.resolution,
            }
            for bf in band_files
        ],
        "area": layout.area,
        "output": layout.output,
        "cloud_mask": None
        if mask_file is None
        else {
            "classes": list(spec.cloud_mask or ()),
            "dilation_pixels": spec.cloud_dilation,
            "file": mask_file.path,
            "native_resolution": mask_file.resolution,
        },
    }
    plan = RenderPlan(
        spec,
        product.product_id,
        product.path,
        product.level,
        bands,
        band_files,
        grid,
        window,
        strips,
        segments,
        luts,
        offsets,
        quant,
        output,
        canvas,
        record,
        kind=spec.kind,
        mask_file=mask_file,
        cover_file=cover_file,
        layout=layout,
        levels=tuple((s.band_file.path, s.level) for s in sources),
        offset_source=product.offset_source,
        **content,
    )
    record["reads"] = describe_reads(plan, sources)
    return plan


def _content_record(spec: RenderSpec, bands: tuple[str, ...], content: dict) -> dict:
    """What the sidecar says about the content: kind, preset, bands, formulas, colours."""
    preset = None
    if spec.preset:
        p = get_preset(spec.preset)
        preset = {"id": p.id, "title": p.title, "source": p.source}
        preset["catalogue_version"] = CATALOGUE_VERSION
    record: dict = {"kind": spec.kind, "preset": preset, "bands": list(bands)}
    if spec.kind == "expressions":
        record["expressions"] = [e.text for e in content["channels"]]
    if spec.kind == "colormap":
        record["expression"] = content["channels"][0].text
        record["colormap"] = content["color_table"].to_dict()
    return record


def _luts(
    offsets: tuple[int, ...],
    quant: tuple[float, ...],
    ranges: tuple[tuple[float, float], ...],
    gamma: float,
) -> tuple[np.ndarray, ...]:
    return tuple(
        build_lut(offset=offsets[c], quantification=quant[c], low=lo, high=hi, gamma=gamma)
        for c, (lo, hi) in enumerate(ranges)
    )


def _strips(
    window: Window, band_files: tuple[BandFile, ...], resolution: float
) -> tuple[Window, ...]:
    """Cut ``window`` into row bands aligned to the first band file's internal tile rows, so each
    source tile is decoded by one strip only."""
    tile_rows = _tile_height(band_files[0])
    rows = max(1, round(tile_rows * band_files[0].resolution / resolution))
    max_rows = max(1, STRIP_PIXELS // max(1, int(window.width)))
    if rows > max_rows:
        rows = max(1, max_rows // rows * rows) or max_rows
    row0, row1 = int(window.row_off), int(window.row_off + window.height)
    cuts = [row0]
    boundary = (row0 // rows + 1) * rows
    while boundary < row1:
        cuts.append(boundary)
        boundary += rows
    cuts.append(row1)
    return tuple(
        Window(window.col_off, a, window.width, b - a) for a, b in itertools.pairwise(cuts)
    )


def _tile_height(band_file: BandFile) -> int:
    with read_env(band_file.path), rasterio.open(band_file.path) as src:
        return int(src.block_shapes[0][0])


def compose_strip(
    plan: RenderPlan,
    strip: int,
    *arrays: np.ndarray,
    ranges: PercentileRanges | None = None,
) -> StripResult:
    """Map the strip's band windows to RGBA and write them into the canvas.

    A plain band composite maps DN through the plan's lookup tables (or, for a percentile
    stretch, tables built from ``ranges``); the other kinds go through float reflectance.
    """
    if plan.kind != "bands":
        return compose_values_strip(plan, strip, *arrays, ranges=ranges)
    start = time.perf_counter()
    luts = plan.luts
    if ranges is not None:
        luts = _luts(plan.offsets, plan.quantification, ranges.ranges, plan.spec.stretch.gamma)
    elif not luts:
        raise RenderError(f"{plan.output.name}: percentile stretch without its statistics")
    w = plan.strips[strip]
    rows, cols = int(w.height), int(w.width)
    rgba = np.empty((rows, cols, CANVAS_BANDS), dtype=np.uint8)
    valid = np.ones((rows, cols), dtype=bool)
    bands, scl = split_arrays(plan, strip, arrays)
    if len(bands) != 3:
        raise RenderError(f"strip {strip}: a composite takes three band windows, got {len(bands)}")
    for c, dn in enumerate(bands):
        if dn.shape != (rows, cols):
            raise RenderError(f"strip {strip}: band window {dn.shape} != {(rows, cols)}")
        np.take(luts[c], dn, out=rgba[..., c])
        valid &= dn != 0
    hidden = hidden_pixels(plan, bands, scl, valid)
    if hidden.pixels is not None:
        valid &= ~hidden.pixels
    n_valid = int(np.count_nonzero(valid))
    invalid = rows * cols - n_valid
    if invalid:  # a pixel is no data when any of its bands is
        rgba[~valid, :3] = 0
    rgba[..., 3] = valid
    rgba[..., 3] *= 255
    # Share of valid pixels at either end of the 8-bit range (no-data pixels are all 0).
    low = tuple(int(np.count_nonzero(rgba[..., c] == 0)) - invalid for c in range(3))
    high = tuple(int(np.count_nonzero(rgba[..., c] == 255)) for c in range(3))
    return store_strip(plan, strip, rgba, n_valid, low, high, hidden, start)


def render(
    spec: RenderSpec, out_dir: str | Path, *, product: Product | None = None, index: int = 0
) -> RenderResult:
    """Plan, compose and encode one rendering in this process, one strip at a time.

    A percentile stretch makes two passes over the strips, statistics then composition, reading
    each strip twice rather than holding the whole rendering in memory. Job scope means nothing
    for a single rendering: the ranges are the rendering's own.
    """
    started = time.perf_counter()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    plan = plan_rendering(spec, out_dir, product=product)

    def read(strip: int) -> list[np.ndarray]:
        arrays: dict[str, np.ndarray] = {}  # the SCL preset and its cloud mask: one read
        for r in plan.reads(strip):
            if r.token() not in arrays:
                arrays[r.token()] = read_request(r)
        return [arrays[r.token()] for r in plan.reads(strip)]

    try:
        ranges = None
        if plan.needs_statistics:
            histograms = [strip_statistics(plan, i, *read(i)) for i in range(len(plan.strips))]
            ranges = reduce_histograms(plan.spec.stretch, 1, *histograms)
        results = [compose_strip(plan, i, *read(i), ranges=ranges) for i in range(len(plan.strips))]
        segments = [encode_jpeg_segment(plan, i) for i in range(len(plan.segments))]
    except BaseException:
        plan.canvas.unlink(missing_ok=True)
        raise
    return finalize_rendering(
        plan, results, segments or None, index=index, started=started, ranges=ranges
    )

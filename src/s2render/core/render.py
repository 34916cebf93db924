"""One rendering: product + resolution + three bands + area + stretch + format.

A rendering runs in three steps that an executor can spread over workers:

1. :func:`plan_rendering` (cheap, anywhere): validate, choose files, the output grid, and the
   strips (row bands aligned to the source tiles) to process; returns a picklable
   :class:`RenderPlan` whose :meth:`RenderPlan.reads` name every (band file, window) read.
2. :func:`compose_strip` per strip: the three band windows -> RGBA through one lookup table per
   channel, written into the rendering's raw canvas file at the strip's rows; returns counts.
3. :func:`finalize_rendering`: encode the canvas into the output format atomically, write the
   JSON sidecar, remove the canvas; returns a small :class:`RenderResult`.

:func:`render` runs the three steps in-process, one after the other.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from s2render import __version__
from s2render.core.area import Bounds, bbox_in_crs, window_for_bounds
from s2render.core.bands import BANDS, check_band
from s2render.core.encode import (
    CANVAS_BANDS,
    OutputFormat,
    atomic_path,
    encode_canvas,
    write_json_atomic,
)
from s2render.core.errors import RenderError, SpecError
from s2render.core.jpeg import encode_segment, segment_rows, stitch_segments
from s2render.core.product import BandFile, Grid, Product, open_product
from s2render.core.reader import read_window
from s2render.core.stretch import Stretch, build_lut

# Strips target this many output pixels (about 48 MB of RGBA) when the source tiles are small.
STRIP_PIXELS = 12_000_000


@dataclass(frozen=True)
class RenderSpec:
    """What to render. Everything but product and bands has a default."""

    product: str
    bands: tuple[str, str, str]
    resolution: float = 10
    bbox: Bounds | None = None
    bbox_crs: str = "EPSG:4326"  # or "product" for the product's own CRS
    stretch: Stretch = field(default_factory=Stretch)
    format: OutputFormat = OutputFormat.JPEG
    name: str | None = None  # output file stem; derived from product and bands when None

    def __post_init__(self) -> None:
        if len(self.bands) != 3:
            raise SpecError(
                f"a composite needs three bands (R, G, B), got {list(self.bands)}", field="bands"
            )
        if not (isinstance(self.resolution, int | float) and 0 < self.resolution <= 10000):
            raise SpecError(
                f"resolution {self.resolution!r} must be a positive number of metres",
                field="resolution",
            )


@dataclass(frozen=True)
class ReadRequest:
    """One band window read; equal requests are the same read (an executor shares them)."""

    band_file: BandFile
    grid: Grid
    window: Window

    def token(self) -> str:
        key = (
            self.band_file.path,
            self.band_file.band,
            self.grid.resolution,
            tuple(self.grid.transform),
            self.window.flatten(),
        )
        return hashlib.sha1(repr(key).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderPlan:
    spec: RenderSpec
    product_id: str
    product_path: str
    level: str
    bands: tuple[str, ...]  # R, G, B
    band_files: tuple[BandFile, ...]
    grid: Grid  # the product grid at the output resolution
    window: Window  # the rendered part of that grid
    strips: tuple[Window, ...]  # row bands of ``window``, in grid coordinates
    segments: tuple[tuple[int, int], ...]  # JPEG: row ranges encoded apart (relative to window)
    luts: tuple[np.ndarray, ...]
    offsets: tuple[int, ...]
    quantification: tuple[float, ...]
    output: Path
    canvas: Path
    record: dict  # product and request facts for the sidecar

    @property
    def width(self) -> int:
        return int(self.window.width)

    @property
    def height(self) -> int:
        return int(self.window.height)

    @property
    def transform(self):
        return rasterio.windows.transform(self.window, self.grid.transform)

    def strips_of_segment(self, segment: int) -> list[int]:
        """The strips whose rows a JPEG segment needs."""
        a, b = self.segments[segment]
        top = int(self.window.row_off)
        return [
            i
            for i, w in enumerate(self.strips)
            if int(w.row_off) - top < b and int(w.row_off + w.height) - top > a
        ]

    def reads(self, strip: int) -> tuple[ReadRequest, ReadRequest, ReadRequest]:
        w = self.strips[strip]
        return tuple(ReadRequest(bf, self.grid, w) for bf in self.band_files)  # type: ignore[return-value]


@dataclass(frozen=True)
class StripResult:
    rows: int
    valid: int
    clipped_low: tuple[int, int, int]
    clipped_high: tuple[int, int, int]
    seconds: float


@dataclass
class RenderResult:
    """The small record a rendering ends with."""

    index: int
    status: str  # "done" | "error"
    path: str | None = None
    sidecar: str | None = None
    error: str | None = None
    name: str | None = None
    width: int | None = None
    height: int | None = None
    valid_percent: float | None = None
    seconds: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def default_name(product: Product, spec: RenderSpec, bands: tuple[str, str, str]) -> str:
    stem = product.product_id
    if product.tile and product.sensing_time:
        stem = f"T{product.tile}_{product.sensing_time:%Y%m%d}_{product.level}"
    res = f"{spec.resolution:g}m"
    name = f"{stem}_{res}_{'-'.join(bands)}"
    if spec.bbox is not None:
        digest = hashlib.sha1(repr((spec.bbox, spec.bbox_crs)).encode()).hexdigest()[:8]
        name += f"_{digest}"
    return name


def plan_rendering(
    spec: RenderSpec, out_dir: str | Path, *, product: Product | None = None
) -> RenderPlan:
    """Validate ``spec`` against the product and plan its reads and strips."""
    product = product or open_product(spec.product)
    bands = tuple(check_band(b, product.level) for b in spec.bands)
    for b in bands:
        if not BANDS[b].spectral and b != "SCL":
            raise SpecError(
                f"{b} is not a reflectance band; composites take B01-B12 or B8A", field="bands"
            )
    band_files = tuple(product.band_file(b, spec.resolution) for b in bands)
    grid = product.grid(spec.resolution)
    if spec.bbox is None:
        window = Window(0, 0, grid.width, grid.height)
        area = None
    else:
        crs = product.crs if spec.bbox_crs.lower() == "product" else spec.bbox_crs
        native_bbox = bbox_in_crs(spec.bbox, crs, product.crs)
        window = window_for_bounds(
            native_bbox, grid.bounds, grid.resolution, grid.width, grid.height
        )
        area = {"bbox": list(spec.bbox), "bbox_crs": spec.bbox_crs}
    strips = _strips(window, band_files, grid.resolution)
    segments: tuple[tuple[int, int], ...] = ()
    if spec.format is OutputFormat.JPEG:
        cuts = [int(w.row_off - window.row_off) for w in strips]
        segments = tuple(segment_rows(int(window.height), cuts))

    offsets = tuple(product.band_offset(b) for b in bands)
    quant = tuple(product.band_quantification(b) for b in bands)
    luts = tuple(
        build_lut(
            offset=offsets[c], quantification=quant[c], low=lo, high=hi, gamma=spec.stretch.gamma
        )
        for c, (lo, hi) in enumerate(spec.stretch.channel_range(c) for c in range(3))
    )
    out = Path(out_dir)
    name = spec.name or default_name(product, spec, bands)  # type: ignore[arg-type]
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
        "bands": list(bands),
        "resolution": spec.resolution,
        "sources": [
            {
                "band": bf.band,
                "file": bf.path,
                "native_resolution": bf.resolution,
                "resampled": bf.resolution != spec.resolution,
            }
            for bf in band_files
        ],
        "area": area,
    }
    return RenderPlan(
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
    with rasterio.open(band_file.path) as src:
        return int(src.block_shapes[0][0])


def compose_strip(
    plan: RenderPlan, strip: int, red: np.ndarray, green: np.ndarray, blue: np.ndarray
) -> StripResult:
    """Map three DN windows to RGBA through the plan's tables; write them into the canvas."""
    start = time.perf_counter()
    w = plan.strips[strip]
    rows, cols = int(w.height), int(w.width)
    rgba = np.empty((rows, cols, CANVAS_BANDS), dtype=np.uint8)
    valid = np.ones((rows, cols), dtype=bool)
    for c, dn in enumerate((red, green, blue)):
        if dn.shape != (rows, cols):
            raise RenderError(f"strip {strip}: band window {dn.shape} != {(rows, cols)}")
        np.take(plan.luts[c], dn, out=rgba[..., c])
        valid &= dn != 0
    n_valid = int(np.count_nonzero(valid))
    invalid = rows * cols - n_valid
    if invalid:  # a pixel is no data when any of its bands is
        rgba[~valid, :3] = 0
    rgba[..., 3] = valid
    rgba[..., 3] *= 255
    # Share of valid pixels at either end of the 8-bit range (no-data pixels are all 0).
    low = tuple(int(np.count_nonzero(rgba[..., c] == 0)) - invalid for c in range(3))
    high = tuple(int(np.count_nonzero(rgba[..., c] == 255)) for c in range(3))
    row_bytes = cols * CANVAS_BANDS
    offset = (int(w.row_off) - int(plan.window.row_off)) * row_bytes
    fd = os.open(plan.canvas, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        _pwrite_all(fd, rgba.data.cast("B"), offset)
    finally:
        os.close(fd)
    return StripResult(rows, n_valid, low, high, time.perf_counter() - start)  # type: ignore[arg-type]


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        n = os.pwrite(fd, data, offset)
        data, offset = data[n:], offset + n


def encode_jpeg_segment(plan: RenderPlan, segment: int, *_strips_done: StripResult) -> bytes:
    """JPEG-encode one segment's rows from the canvas (call once its strips are composed)."""
    a, b = plan.segments[segment]
    row_bytes = plan.width * CANVAS_BANDS
    with open(plan.canvas, "rb") as f:
        f.seek(a * row_bytes)
        raw = f.read((b - a) * row_bytes)
    if len(raw) != (b - a) * row_bytes:
        raise RenderError(f"canvas {plan.canvas} is short: segment {segment} rows {a}-{b}")
    rgba = np.frombuffer(raw, dtype=np.uint8).reshape(b - a, plan.width, CANVAS_BANDS)
    return encode_segment(np.ascontiguousarray(rgba[..., :3]))


def finalize_rendering(
    plan: RenderPlan,
    strips: list[StripResult],
    segments: list[bytes] | None = None,
    *,
    index: int = 0,
    started: float | None = None,
) -> RenderResult:
    """Encode the canvas into the output file and write the sidecar; remove the canvas."""
    t0 = time.perf_counter()
    try:
        if plan.segments:
            if segments is None or len(segments) != len(plan.segments):
                raise RenderError(f"{plan.output.name}: JPEG segments missing")
            with atomic_path(plan.output) as tmp, open(tmp, "wb") as out:
                stitch_segments(segments, plan.height, out)
        else:
            expected = plan.width * plan.height * CANVAS_BANDS
            if not plan.canvas.exists() or plan.canvas.stat().st_size != expected:
                raise RenderError(f"canvas {plan.canvas} is incomplete; a strip failed to write")
            encode_canvas(
                plan.canvas,
                plan.output,
                plan.spec.format,
                width=plan.width,
                height=plan.height,
                crs=plan.grid.crs,
                transform=plan.transform,
            )
    finally:
        plan.canvas.unlink(missing_ok=True)
    total = plan.width * plan.height
    valid = sum(s.valid for s in strips)
    valid_pct = round(100.0 * valid / total, 3) if total else 0.0
    sidecar = plan.output.with_suffix(plan.output.suffix + ".json")
    bounds = rasterio.windows.bounds(plan.window, plan.grid.transform)
    document = {
        "s2render": __version__,
        "file": plan.output.name,
        "format": plan.spec.format.name.lower(),
        "media_type": plan.spec.format.info.media_type,
        **plan.record,
        "width": plan.width,
        "height": plan.height,
        "crs": plan.grid.crs.to_string(),
        "transform": list(plan.transform)[:6],
        "bounds": list(bounds),
        "radiometry": {
            "formula": "reflectance = (DN + offset) / quantification; DN 0 = no data",
            "offsets": dict(zip(plan.bands, plan.offsets, strict=True)),
            "quantification": dict(zip(plan.bands, plan.quantification, strict=True)),
        },
        "stretch": plan.spec.stretch.describe(),
        "figures": {
            "valid_percent": valid_pct,
            "clipped_low_percent": [
                round(100.0 * sum(s.clipped_low[c] for s in strips) / max(valid, 1), 3)
                for c in range(3)
            ],
            "clipped_high_percent": [
                round(100.0 * sum(s.clipped_high[c] for s in strips) / max(valid, 1), 3)
                for c in range(3)
            ],
        },
        "timings": {
            "compose_seconds": round(sum(s.seconds for s in strips), 3),
            "encode_seconds": round(time.perf_counter() - t0, 3),
        },
    }
    write_json_atomic(sidecar, document)
    return RenderResult(
        index=index,
        status="done",
        path=str(plan.output),
        sidecar=str(sidecar),
        name=plan.output.name,
        width=plan.width,
        height=plan.height,
        valid_percent=valid_pct,
        seconds=round(time.perf_counter() - (started if started is not None else t0), 3),
    )


def render(
    spec: RenderSpec, out_dir: str | Path, *, product: Product | None = None, index: int = 0
) -> RenderResult:
    """Plan, compose and encode one rendering in this process, one strip at a time."""
    started = time.perf_counter()
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    plan = plan_rendering(spec, out_dir, product=product)
    try:
        results = []
        for i in range(len(plan.strips)):
            arrays = [read_window(r.band_file, r.grid, r.window) for r in plan.reads(i)]
            results.append(compose_strip(plan, i, *arrays))
        segments = [encode_jpeg_segment(plan, i) for i in range(len(plan.segments))]
    except BaseException:
        plan.canvas.unlink(missing_ok=True)
        raise
    return finalize_rendering(plan, results, segments or None, index=index, started=started)

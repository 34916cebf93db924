"""The small, picklable records a rendering passes between its steps (and between Dask workers):
the reads it needs, its plan, what each strip reports, and the result it ends with."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.windows import Window

from s2render.core.colormap import ClassTable, Colormap
from s2render.core.expression import Expression
from s2render.core.layout import Layout, warp_read
from s2render.core.product import BandFile, Grid
from s2render.core.spec import RenderKind, RenderSpec
from s2render.core.tonemap import ToneCurve


@dataclass(frozen=True)
class ReadRequest:
    """One band window read; equal requests are the same read (an executor shares them)."""

    band_file: BandFile
    grid: Grid
    window: Window
    level: int = 0  # the file's resolution level decoded (0 = full; see core.reader)
    target: Grid | None = None  # warp the window onto this grid (an output in another CRS)
    geometry: dict | None = None  # area polygon on the output grid: pixels outside read as 0

    def token(self) -> str:
        key: tuple = (
            self.band_file.path,
            self.band_file.band,
            self.grid.resolution,
            tuple(self.grid.transform),
            self.window.flatten(),
        )
        if self.level or self.target is not None or self.geometry is not None:
            target = self.target
            warp = None if target is None else (target.crs.to_wkt(), tuple(target.transform))
            key += (self.level, warp, target and (target.width, target.height), self.geometry)
        return hashlib.sha1(repr(key).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RenderPlan:
    """Everything the strip and finalize steps need, decided once by ``plan_rendering``.

    ``bands`` are the bands read, in the order of ``band_files`` and of the arrays each strip
    step receives: R, G, B for the ``bands`` and ``optimized`` kinds, every band the expressions
    use (ESA order) otherwise. ``luts`` is filled for the ``bands`` kind with a fixed stretch.

    With a cloud mask, each strip also reads ``mask_file`` (SCL, nearest) with a margin of
    ``spec.cloud_dilation`` pixels on every side; its array comes after the bands'. Without one,
    ``cover_file`` (SCL at 60 m, L2A only) gives the cloud figure at the end.
    """

    spec: RenderSpec
    product_id: str
    product_path: str
    level: str
    bands: tuple[str, ...]
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
    kind: RenderKind = "bands"
    channels: tuple[Expression, ...] = ()  # expressions: R, G, B; colormap: the one expression
    color_table: Colormap | ClassTable | None = None
    tone_curve: ToneCurve | None = None
    mask_file: BandFile | None = None  # SCL read per strip for the cloud mask
    cover_file: BandFile | None = None  # SCL read once for the cloud figure (no mask asked)
    layout: Layout | None = None  # output CRS, size and area polygon (core.layout)
    levels: tuple[tuple[str, int], ...] = ()  # (band file path, resolution level decoded)
    offset_source: str = "metadata"  # which rule set ``offsets`` (Product.offset_source)

    @property
    def width(self) -> int:
        return int(self.window.width)

    @property
    def height(self) -> int:
        return int(self.window.height)

    @property
    def area_pixels(self) -> int:
        """The output pixels the figures are shares of: those inside the area polygon, or all."""
        inside = self.layout.area_pixels if self.layout is not None else None
        return self.width * self.height if inside is None else inside

    @property
    def transform(self) -> Affine:
        return rasterio.windows.transform(self.window, self.grid.transform)

    @property
    def needs_statistics(self) -> bool:
        """A percentile stretch: strip histograms must be reduced before any strip is mapped."""
        return self.spec.stretch.is_percentile and self.kind in ("bands", "expressions")

    def strips_of_segment(self, segment: int) -> list[int]:
        """The strips whose rows a JPEG segment needs."""
        a, b = self.segments[segment]
        top = int(self.window.row_off)
        return [
            i
            for i, w in enumerate(self.strips)
            if int(w.row_off) - top < b and int(w.row_off + w.height) - top > a
        ]

    def reads(self, strip: int) -> tuple[ReadRequest, ...]:
        w = self.strips[strip]
        reads = tuple(self.request(bf, w) for bf in self.band_files)
        if self.mask_file is None:
            return reads
        d = self.spec.cloud_dilation
        margin = Window(w.col_off - d, w.row_off - d, w.width + 2 * d, w.height + 2 * d)
        return (*reads, self.request(self.mask_file, margin))

    def request(self, band_file: BandFile, window: Window) -> ReadRequest:
        """The read of ``band_file`` over ``window`` of the output grid: at the resolution level
        planned for the file, warped when the output is in another CRS, masked by the area."""
        level = dict(self.levels).get(band_file.path, 0)
        layout = self.layout
        if layout is None:
            return ReadRequest(band_file, self.grid, window, level)
        if layout.source_grid is None:
            return ReadRequest(band_file, self.grid, window, level, geometry=layout.geometry)
        source_window, target = warp_read(layout.source_grid, self.grid, window)
        return ReadRequest(
            band_file, layout.source_grid, source_window, level, target, layout.geometry
        )


@dataclass(frozen=True)
class StripResult:
    """What one strip counted. ``valid`` pixels are opaque. Of the ``data`` pixels (data in
    every band read) the masks hid ``saturated`` (DN 65535 in a band) and ``masked`` (cloud
    mask, not saturated); ``cloudy`` are of SCL class 8, 9 or 10, counted only when a cloud
    mask is read (-1 otherwise)."""

    rows: int
    valid: int
    clipped_low: tuple[int, ...]  # per channel (one for a colour ramp, none for classes)
    clipped_high: tuple[int, ...]
    seconds: float
    saturated: int = 0
    masked: int = 0
    cloudy: int = -1
    data: int = 0


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
    cloud_percent: float | None = None  # L2A only
    saturated_percent: float | None = None
    figures: dict | None = None  # every QA figure, as in the sidecar
    offsets: dict | None = None  # radiometric offset applied per band
    thumbnail: str | None = None
    stac_item: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)

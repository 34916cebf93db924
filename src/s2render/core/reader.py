"""Reading a band window on a target grid: which file and resolution level to decode, the read
itself (resampling by georeferenced bounds), and warping onto a grid in another CRS.

The target grid (the rendering's) and the band file's own grid need not coincide: ESA's
resolutions share a tile origin, but third-party crops do not (see shared/data SOURCES.md 1b).
The target window's bounds are mapped into the file's pixel space, the part of it that the file
covers is read, and the rest stays 0, the Sentinel-2 no-data value.

When coarsening, a read decodes a reduced-resolution level of the JPEG 2000 codestream (GDAL
exposes them as overviews; a GeoTIFF's overviews likewise) chosen by :func:`choose_source` and
opened explicitly — never left to GDAL's implicit overview choice — so what is decoded is known
(:func:`decoded_pixels`) and a preview of a whole product decodes a few megapixels, not 360.
An output in another CRS reads each strip through a GDAL warped VRT over the chosen level.

DN 0 (no data) and DN 65535 (saturated) never enter an average (:func:`average_source`): a
coarse pixel is the average of its valid inputs, and a coarse pixel with no valid input is
saturated (65535) if one of its inputs is, no data (0) otherwise. That is GDAL's own rule for
no data ("average: computes the weighted average of all non-NODATA contributing pixels",
gdalwarp and RasterIO resampling honour the band's mask), which rio-tiler relies on (its masks
come from GDAL's, so a pixel is masked only when none of its inputs is valid); saturation gets
the same rule because "any saturated input makes the coarse pixel saturated" would grow each
saturated 10 m speck to the whole coarse pixel (36 times its area at 60 m), so the picture
and the saturated figure would depend on the resolution asked. GDAL takes one no-data value
per band, so each coarsening read goes through a small VRT over the file
(:func:`average_source`) that turns 65535 into its no-data value 0; only where no valid input
was left, its second band, which keeps nothing but the 65535s, tells saturated from no data.

Reduced levels of a JPEG 2000 codestream are a limit of this: their pixels are the codec's
wavelet low-pass of the full resolution, computed when the file was written, so a saturated
or no-data pixel is already blended into a level's pixel before it is read; only a
full-resolution decode could separate it (ESA's band files have no mask to tell).
"""

from __future__ import annotations

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np
import rasterio
from affine import Affine
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.vrt import WarpedVRT
from rasterio.windows import Window

from s2render.core.bands import BANDS
from s2render.core.errors import RenderError
from s2render.core.masks import NO_DATA_DN, SATURATED_DN
from s2render.core.product import BandFile, Grid, Product

if TYPE_CHECKING:
    from s2render.core.plan import ReadRequest, RenderPlan

# Sub-pixel tolerance when deciding that two grids are aligned.
_EPS = 1e-6

# GDAL 3.10's JP2OpenJPEG driver swallows decoding errors when it decodes tiles on several
# threads (a truncated codestream reads as zeros or garbage instead of failing), so each read
# decodes on one thread; parallelism comes from running reads side by side.
_READ_OPTIONS = {"GDAL_NUM_THREADS": "1"}

# Band files reached over the network (/vsicurl/ for http(s), /vsis3/...): no directory listing
# or sidecar probing on open, neighbouring ranges merged and fetched in one request, a block
# cache per file, and retries of transient HTTP errors (GDAL "Configuration options", section
# "Networking options"; GDAL COG driver docs, "Reading COGs over HTTP").
REMOTE_PREFIXES = ("/vsicurl", "/vsis3/", "/vsigs/", "/vsiaz/", "/vsiadls/", "/vsioss/")
_REMOTE_OPTIONS = {
    "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
    "GDAL_HTTP_MULTIRANGE": "YES",
    "VSI_CACHE": "TRUE",
    "GDAL_HTTP_MAX_RETRY": "3",
    "GDAL_HTTP_RETRY_DELAY": "1",
}


def read_env(path: str) -> rasterio.Env:
    """The GDAL environment to open band file ``path`` in: one decoding thread, plus the
    networking options when the file is remote. A ``/vsicurl?list_dir=no&url=...`` path
    carries its own listing choice: sidecar files (``.aux.xml``) are looked up for it, for the
    files whose georeferencing lives there (see core.stac_product)."""
    if path.startswith("/vsicurl?"):
        options = {k: v for k, v in _REMOTE_OPTIONS.items() if k != "GDAL_DISABLE_READDIR_ON_OPEN"}
        return rasterio.Env(**_READ_OPTIONS, **options)
    if path.startswith(REMOTE_PREFIXES):
        return rasterio.Env(**_READ_OPTIONS, **_REMOTE_OPTIONS)
    return rasterio.Env(**_READ_OPTIONS)


# A reduced level serves a read when its pixels are at most 1 % coarser than the target's: GDAL's
# own slack for non-nearest resampling (GDALBandGetBestOverviewLevel2, threshold 1.0 + 1e-2).
LEVEL_TOLERANCE = 1.01


@dataclass(frozen=True)
class SourceLevel:
    """A band file at one of its resolution levels: what reads of a band decode."""

    band_file: BandFile
    level: int  # 0: full resolution; k >= 1: the k-th reduced level (GDAL overview k - 1)
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    def describe(self) -> dict:
        return {
            "band": self.band_file.band,
            "file": self.band_file.path,
            "level": self.level,
            "level_resolution": round(self.resolution, 6),
            "level_size": [self.width, self.height],
        }


def open_level(path: str, level: int):
    """Open ``path`` at exactly ``level``: GDAL may not pick another overview behind our back."""
    return rasterio.open(path, OVERVIEW_LEVEL="NONE" if level == 0 else f"{level - 1}only")


def source_level(band_file: BandFile, level: int = 0) -> SourceLevel:
    with read_env(band_file.path), open_level(band_file.path, level) as src:
        return SourceLevel(band_file, level, src.transform, src.width, src.height)


def choose_source(product: Product, band: str, resolution: float) -> SourceLevel:
    """The file and level to decode ``band`` from for a target of ``resolution`` metres.

    The coarsest level, over every file of the band, whose pixels are not coarser than the
    target's; a tie goes to the coarser file (ESA's own downsampled files). Refining reads the
    finest file. Categorical bands (SCL) read full-resolution levels only: a wavelet low-pass
    of class numbers is not a class.
    """
    default = product.band_file(band, resolution)  # checks the band; the refining choice
    categorical = BANDS[default.band].categorical if default.band in BANDS else False
    limit = resolution * LEVEL_TOLERANCE
    best: tuple[float, float, BandFile, int] | None = None
    for (name, native), band_file in sorted(product.files.items()):
        if name != default.band or native > limit:
            continue
        with read_env(band_file.path), rasterio.open(band_file.path) as src:
            res = float(src.transform.a)
            factors = [] if categorical else src.overviews(1)
        for level, factor in enumerate([1, *factors]):
            candidate = (res * factor, res, band_file, level)
            if candidate[0] <= limit and (best is None or candidate[:2] > best[:2]):
                best = candidate
    if best is None:
        return source_level(default)
    return source_level(best[2], best[3])


def source_window(
    src_transform: Affine, src_width: int, src_height: int, grid: Grid, window: Window
) -> tuple[Window, tuple[int, int, int, int]] | None:
    """The (fractional) window of a file level that ``window`` of ``grid`` covers, and the target
    rows and columns ``(r0, r1, c0, c1)`` it fills; None when the file does not cover it."""
    out_h, out_w = int(window.height), int(window.width)
    res_x, res_y = grid.transform.a, -grid.transform.e
    left = grid.transform.c + window.col_off * res_x
    top = grid.transform.f - window.row_off * res_y
    src_res_x, src_res_y = src_transform.a, -src_transform.e
    # Target window edges in the file's (fractional) pixel coordinates.
    fx0 = (left - src_transform.c) / src_res_x
    fy0 = (src_transform.f - top) / src_res_y
    scale_x, scale_y = res_x / src_res_x, res_y / src_res_y
    # Target columns/rows whose footprint lies inside the file.
    c0 = max(0, math.ceil(-fx0 / scale_x - _EPS))
    r0 = max(0, math.ceil(-fy0 / scale_y - _EPS))
    c1 = min(out_w, math.floor((src_width - fx0) / scale_x + _EPS))
    r1 = min(out_h, math.floor((src_height - fy0) / scale_y + _EPS))
    if c1 <= c0 or r1 <= r0:
        return None
    src_window = Window(
        fx0 + c0 * scale_x, fy0 + r0 * scale_y, (c1 - c0) * scale_x, (r1 - r0) * scale_y
    )
    return src_window, (r0, r1, c0, c1)


def decoded_pixels(source: SourceLevel, grid: Grid, window: Window) -> int:
    """Pixels of ``source``'s level that reading ``window`` of ``grid`` decodes."""
    found = source_window(source.transform, source.width, source.height, grid, window)
    if found is None:
        return 0
    w = found[0]
    cols = math.ceil(w.col_off + w.width - _EPS) - math.floor(w.col_off + _EPS)
    rows = math.ceil(w.row_off + w.height - _EPS) - math.floor(w.row_off + _EPS)
    return cols * rows


def resampling_for(band: str, source_res: float, target_res: float) -> Resampling:
    """Average when coarsening, bilinear when refining, nearest for classes or same grid."""
    info = BANDS.get(band)
    if (info is not None and info.categorical) or math.isclose(source_res, target_res):
        return Resampling.nearest
    return Resampling.average if source_res < target_res else Resampling.bilinear


def read_window(band_file: BandFile, grid: Grid, window: Window, *, level: int = 0) -> np.ndarray:
    """Read ``band_file`` (at resolution ``level``) over ``window`` of ``grid``; pixels the file
    does not cover are 0."""
    out_h, out_w = int(window.height), int(window.width)
    try:
        with read_env(band_file.path), open_level(band_file.path, level) as src:
            if src.crs is not None and src.crs != grid.crs:
                raise RenderError(
                    f"{band_file.path} is in {src.crs}, the product grid in {grid.crs}; "
                    "mixed projections in one product are not supported"
                )
            out = np.zeros((out_h, out_w), dtype=src.dtypes[0])
            found = source_window(src.transform, src.width, src.height, grid, window)
            if found is None:
                return out
            src_window, (r0, r1, c0, c1) = found
            resampling = resampling_for(band_file.band, src.transform.a, grid.transform.a)
            aligned = all(abs(v - round(v)) < _EPS for v in src_window.flatten())
            size = (round(src_window.width), round(src_window.height))
            shape = (r1 - r0, c1 - c0)
            if aligned and size == (shape[1], shape[0]):
                src_window = Window(*(round(v) for v in src_window.flatten()))
                data = src.read(1, window=src_window)
            elif resampling is Resampling.average and src.dtypes[0] == "uint16":
                data = _read_average(band_file.path, level, src, src_window, shape)
            else:
                data = src.read(1, window=src_window, out_shape=shape, resampling=resampling)
            out[r0:r1, c0:c1] = data
            return out
    except rasterio.errors.RasterioIOError as exc:
        raise RenderError(f"cannot read {band_file.band} from {band_file.path}: {exc}") from exc


def read_warped(
    band_file: BandFile, level: int, target: Grid, read_resolution: float
) -> np.ndarray:
    """``band_file`` at ``level`` warped onto ``target`` (a grid in another CRS) through a GDAL
    warped VRT: only the source tiles under the target are decoded, and no in-memory raster is
    created (rasterio's, for arrays, trips on warning filters shared between threads). 0 = no
    data on both sides. Resampling as for a read at ``read_resolution`` metres."""
    try:
        with read_env(band_file.path), open_level(band_file.path, level) as src:
            resampling = resampling_for(band_file.band, src.transform.a, read_resolution)
            if resampling is not Resampling.average or src.dtypes[0] != "uint16":
                with _warp(src, target, resampling) as vrt:
                    return vrt.read(1)
            # Each band's own no-data mask: GDAL's default for several bands masks a pixel
            # only where every band is no data.
            with (
                average_source(band_file.path, level, src) as source,
                _warp(source, target, resampling, UNIFIED_SRC_NODATA="NO") as vrt,
            ):
                data = vrt.read(1)
                if not data.all():  # pixels without a valid input: saturated or no data?
                    _mark_saturated(data, vrt.read(2))
                return data
    except rasterio.errors.RasterioIOError as exc:
        raise RenderError(f"cannot read {band_file.band} from {band_file.path}: {exc}") from exc


def _warp(src, target: Grid, resampling: Resampling, **options: str) -> WarpedVRT:
    return WarpedVRT(
        src,
        crs=target.crs,
        transform=target.transform,
        width=target.width,
        height=target.height,
        resampling=resampling,
        src_nodata=NO_DATA_DN,
        nodata=NO_DATA_DN,
        **options,
    )


def _read_average(path: str, level: int, src, window: Window, shape: tuple[int, int]) -> np.ndarray:
    """Average-resample ``window`` of ``src`` to ``shape``, DN 0 and 65535 left out of every
    average (see the module docstring)."""
    with average_source(path, level, src) as vrt:
        data = vrt.read(1, window=window, out_shape=shape, resampling=Resampling.average)
        if not data.all():  # pixels without a valid input: saturated or no data?
            # Only over the box that holds them (a swath edge is a sliver of a preview): the
            # same output pixels of the same fractional window, so the same averages.
            rows, cols = np.nonzero(data == NO_DATA_DN)
            r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
            sy, sx = window.height / shape[0], window.width / shape[1]
            box = Window(
                window.col_off + c0 * sx, window.row_off + r0 * sy, (c1 - c0) * sx, (r1 - r0) * sy
            )
            hits = vrt.read(
                2, window=box, out_shape=(r1 - r0, c1 - c0), resampling=Resampling.average
            )
            _mark_saturated(data[r0:r1, c0:c1], hits)
        return data


def _mark_saturated(data: np.ndarray, saturated: np.ndarray) -> None:
    """Pixels of ``data`` left without a valid input become saturated where an input was."""
    data[(data == NO_DATA_DN) & (saturated == SATURATED_DN)] = SATURATED_DN


# VRT ComplexSource transfers (GDAL VRT format doc) onto a band with no-data value 0: the band
# with DN 65535 made no data too (``NODATA``: source pixels of that value are not written), and
# the band's 65535s alone (a ``LUT`` sending every other DN to 0), whose average is 65535
# where any input is.
_VALID_ONLY = f"<NODATA>{SATURATED_DN}</NODATA>"
_SATURATED_ONLY = f"<LUT>0:0,{SATURATED_DN - 1}:0,{SATURATED_DN}:{SATURATED_DN}</LUT>"


@contextmanager
def average_source(path: str, level: int, src):
    """A VRT over band file ``path`` at ``level`` (``src``, open at it) whose two bands have the
    no-data value 0, so that GDAL's average leaves those pixels out: band 1 holds the valid DNs,
    band 2 the 65535s alone. Both read the same file, so band 2 is served from the tiles band 1
    decoded (GDAL's block cache): telling saturated from no data costs no second decode."""
    bands = "".join(
        _vrt_band(path, level, src, band, transfer)
        for band, transfer in ((1, _VALID_ONLY), (2, _SATURATED_ONLY))
    )
    srs = f"<SRS>{escape(src.crs.to_wkt())}</SRS>" if src.crs is not None else ""
    transform = ", ".join(repr(v) for v in src.transform.to_gdal())
    with rasterio.open(
        f'<VRTDataset rasterXSize="{src.width}" rasterYSize="{src.height}">{srs}'
        f"<GeoTransform>{transform}</GeoTransform>{bands}</VRTDataset>"
    ) as vrt:
        yield vrt


def _vrt_band(path: str, level: int, src, band: int, transfer: str) -> str:
    """A VRT band over band 1 of ``path`` opened at ``level``, so the VRT has no overviews:
    GDAL then resamples from the source pixels, honouring the VRT's no-data value."""
    overview = "NONE" if level == 0 else f"{level - 1}only"
    rect = f'xOff="0" yOff="0" xSize="{src.width}" ySize="{src.height}"'
    block_y, block_x = src.block_shapes[0]  # blocks as the file's tiles
    return (
        f'<VRTRasterBand dataType="UInt16" band="{band}" blockXSize="{block_x}" '
        f'blockYSize="{block_y}">'
        f"<NoDataValue>{NO_DATA_DN}</NoDataValue><ComplexSource>"
        f'<SourceFilename relativeToVRT="0">{escape(path)}</SourceFilename>'
        f'<OpenOptions><OOI key="OVERVIEW_LEVEL">{overview}</OOI></OpenOptions>'
        f"<SourceBand>1</SourceBand>{transfer}<SrcRect {rect}/><DstRect {rect}/>"
        "</ComplexSource></VRTRasterBand>"
    )


def read_request(request: ReadRequest) -> np.ndarray:
    """One planned read: the band window at its level, warped onto the output grid when that
    is in another CRS, and 0 (no data) outside the area polygon."""
    if request.target is None:
        data = read_window(request.band_file, request.grid, request.window, level=request.level)
        grid, window = request.grid, request.window
    else:
        target = request.target
        data = read_warped(request.band_file, request.level, target, request.grid.resolution)
        grid, window = target, Window(0, 0, target.width, target.height)
    if request.geometry is not None:
        inside = inside_mask(
            request.geometry, data.shape, rasterio.windows.transform(window, grid.transform)
        )
        data[~inside] = 0
    return data


# rasterio builds an in-memory raster for rasterize (and for reprojecting arrays) inside
# ``warnings.catch_warnings()``, which is not thread-safe: two threads doing it at once can
# restore each other's filters and turn its transient NotGeoreferencedWarning into an error.
_MEMORY_RASTER_LOCK = threading.Lock()


def inside_mask(geometry: dict, shape: tuple[int, int], transform: Affine) -> np.ndarray:
    """True where a pixel's centre is inside ``geometry`` (GDAL's rasterize rule)."""
    with _MEMORY_RASTER_LOCK:
        return geometry_mask([geometry], out_shape=shape, transform=transform, invert=True)


def describe_reads(plan: RenderPlan, sources: tuple[SourceLevel, ...]) -> dict:
    """What the plan's band reads decode, for the sidecar: per band the file, its resolution
    level and the pixels decoded over every strip (a preview decodes a few megapixels)."""
    by_path = {s.band_file.path: s for s in sources}
    decoded = dict.fromkeys(by_path, 0)
    for strip in range(len(plan.strips)):
        requests = {r.token(): r for r in plan.reads(strip)}  # equal reads are one read
        for request in requests.values():
            source = by_path.get(request.band_file.path)
            if source is not None and request.level == source.level:
                decoded[source.band_file.path] += decoded_pixels(
                    source, request.grid, request.window
                )
    bands = [{**s.describe(), "decoded_pixels": decoded[path]} for path, s in by_path.items()]
    return {"bands": bands, "decoded_pixels": sum(decoded.values())}

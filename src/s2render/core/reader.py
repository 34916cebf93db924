"""Reading a band window on a target grid, resampling by georeferenced bounds.

The target grid (the rendering's) and the band file's own grid need not coincide: ESA's
resolutions share a tile origin, but third-party crops do not (see shared/data SOURCES.md 1b).
The target window's bounds are mapped into the file's pixel space, the part of it that the file
covers is read — GDAL picks a reduced-resolution level of the JPEG 2000 codestream (or a GeoTIFF
overview) when coarsening — and the rest stays 0, the Sentinel-2 no-data value.
"""

from __future__ import annotations

import math

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.windows import Window

from s2render.core.bands import BANDS
from s2render.core.errors import RenderError
from s2render.core.product import BandFile, Grid

# Sub-pixel tolerance when deciding that two grids are aligned.
_EPS = 1e-6

# GDAL 3.10's JP2OpenJPEG driver swallows decoding errors when it decodes tiles on several
# threads (a truncated codestream reads as zeros or garbage instead of failing), so each read
# decodes on one thread; parallelism comes from running reads side by side.
_READ_OPTIONS = {"GDAL_NUM_THREADS": "1"}


def resampling_for(band: str, source_res: float, target_res: float) -> Resampling:
    """Average when coarsening, bilinear when refining, nearest for classes or same grid."""
    info = BANDS.get(band)
    if (info is not None and info.categorical) or math.isclose(source_res, target_res):
        return Resampling.nearest
    return Resampling.average if source_res < target_res else Resampling.bilinear


def read_window(band_file: BandFile, grid: Grid, window: Window) -> np.ndarray:
    """Read ``band_file`` over ``window`` of ``grid``; pixels the file does not cover are 0."""
    out_h, out_w = int(window.height), int(window.width)
    try:
        with rasterio.Env(**_READ_OPTIONS), rasterio.open(band_file.path) as src:
            if src.crs is not None and src.crs != grid.crs:
                raise RenderError(
                    f"{band_file.path} is in {src.crs}, the product grid in {grid.crs}; "
                    "mixed projections in one product are not supported"
                )
            dtype = src.dtypes[0]
            out = np.zeros((out_h, out_w), dtype=dtype)
            target_res = grid.resolution
            left = grid.transform.c + window.col_off * target_res
            top = grid.transform.f - window.row_off * target_res
            src_res_x, src_res_y = src.transform.a, -src.transform.e
            # Target window edges in the file's (fractional) pixel coordinates.
            fx0 = (left - src.transform.c) / src_res_x
            fy0 = (src.transform.f - top) / src_res_y
            scale_x, scale_y = target_res / src_res_x, target_res / src_res_y
            # Target columns/rows whose footprint lies inside the file.
            c0 = max(0, math.ceil(-fx0 / scale_x - _EPS))
            r0 = max(0, math.ceil(-fy0 / scale_y - _EPS))
            c1 = min(out_w, math.floor((src.width - fx0) / scale_x + _EPS))
            r1 = min(out_h, math.floor((src.height - fy0) / scale_y + _EPS))
            if c1 <= c0 or r1 <= r0:
                return out
            src_window = Window(
                fx0 + c0 * scale_x, fy0 + r0 * scale_y, (c1 - c0) * scale_x, (r1 - r0) * scale_y
            )
            resampling = resampling_for(band_file.band, src_res_x, target_res)
            aligned = all(
                abs(v - round(v)) < _EPS
                for v in (
                    src_window.col_off,
                    src_window.row_off,
                    src_window.width,
                    src_window.height,
                )
            )
            if aligned and math.isclose(scale_x, 1.0) and math.isclose(scale_y, 1.0):
                src_window = Window(*(round(v) for v in src_window.flatten()))
                data = src.read(1, window=src_window)
            else:
                data = src.read(
                    1, window=src_window, out_shape=(r1 - r0, c1 - c0), resampling=resampling
                )
            out[r0:r1, c0:c1] = data
            return out
    except rasterio.errors.RasterioIOError as exc:
        raise RenderError(f"cannot read {band_file.band} from {band_file.path}: {exc}") from exc

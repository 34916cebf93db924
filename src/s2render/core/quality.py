"""A rendering's quality figures: valid, saturated, cloudy and cloud-masked pixels, and the share
of valid pixels the stretch clipped at either end, summed from its strips' counts.

The cloud figure is Sen2Cor's cloudy share (SCL classes 8, 9, 10; :mod:`s2render.core.masks`)
of the pixels with data. With a cloud mask it is counted on the mask's SCL read, at the output
resolution; without one, on the 60 m SCL over the rendering's area (one small read), so every
L2A rendering reports it without adding work to the strips.

The valid and saturated figures count output pixels as they are shown. When bands are coarsened,
DN 0 and 65535 are left out of every average (:mod:`s2render.core.reader`): an output pixel is
saturated only when none of its inputs was valid and one was saturated, so
``saturated_percent`` is the share of the output hidden as saturated (at a coarser resolution, a
lower bound of the saturated area: partly saturated pixels show the average of their valid
inputs), and ``valid_percent`` + ``saturated_percent`` + the no-data share + the cloud-masked
share make 100.
"""

from __future__ import annotations

import math

import numpy as np
import rasterio.windows
from affine import Affine
from rasterio.warp import transform_bounds

from s2render.core.masks import CLOUD_CLASSES, COVER_RESOLUTION, classes_in
from s2render.core.plan import RenderPlan, StripResult
from s2render.core.product import BandFile, Grid
from s2render.core.reader import read_env, read_window


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 3) if whole else 0.0


def cloud_cover(scl: BandFile, plan: RenderPlan) -> tuple[float, int]:
    """Cloudy share (%) of the SCL pixels with data over the rendering's area, read at 60 m
    (nearest), and the number of those pixels."""
    bounds = rasterio.windows.bounds(plan.window, plan.grid.transform)
    with read_env(scl.path), rasterio.open(scl.path) as src:
        crs = src.crs or plan.grid.crs
    if crs != plan.grid.crs:  # an output in another CRS: its area in the product's
        bounds = transform_bounds(plan.grid.crs, crs, *bounds, densify_pts=21)
    left, bottom, right, top = bounds
    res = float(COVER_RESOLUTION)
    width = max(1, math.ceil((right - left) / res - 1e-6))
    height = max(1, math.ceil((top - bottom) / res - 1e-6))
    grid = Grid(crs, Affine(res, 0, left, 0, -res, top), width, height)
    classes = read_window(scl, grid, rasterio.windows.Window(0, 0, width, height))
    with_data = int(np.count_nonzero(classes))
    cloudy = int(np.count_nonzero(classes_in(classes, CLOUD_CLASSES)))
    return percent(cloudy, with_data), with_data


def quality_figures(plan: RenderPlan, strips: list[StripResult]) -> dict:
    """The figures of the sidecar and the RenderResult."""
    total = plan.area_pixels  # inside the area polygon, if there is one
    valid = sum(s.valid for s in strips)
    channels = len(strips[0].clipped_low) if strips else 0
    figures: dict = {
        "valid_percent": percent(valid, total),
        "saturated_percent": percent(sum(s.saturated for s in strips), total),
        "cloud_percent": None,
        "cloud_masked_percent": None,
        "clipped_low_percent": [
            percent(sum(s.clipped_low[c] for s in strips), valid) for c in range(channels)
        ],
        "clipped_high_percent": [
            percent(sum(s.clipped_high[c] for s in strips), valid) for c in range(channels)
        ],
        "cloud_source": None,
    }
    source = {"band": "SCL", "classes": list(CLOUD_CLASSES)}
    if plan.mask_file is not None:
        data = sum(s.data for s in strips)
        figures["cloud_percent"] = percent(sum(max(s.cloudy, 0) for s in strips), data)
        figures["cloud_masked_percent"] = percent(sum(s.masked for s in strips), total)
        figures["cloud_source"] = {
            **source,
            "resolution": plan.grid.resolution,
            "over": "the rendering's pixels with data",
        }
    elif plan.cover_file is not None:
        figures["cloud_percent"], _ = cloud_cover(plan.cover_file, plan)
        figures["cloud_source"] = {
            **source,
            "resolution": COVER_RESOLUTION,
            "over": "the SCL pixels with data in the rendering's area",
        }
    return figures

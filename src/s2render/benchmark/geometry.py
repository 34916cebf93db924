"""The seed's centre crop, as a pixel box and as a georeferenced box, and the windows it needs.

The seed cropped every rendering with ``img.crop((w/4, 2h/7, 3w/4, 5h/7))``; Pillow rounds each
edge with Python's ``round`` (half to even) before cropping (``PIL.Image.Image._crop``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from rasterio.transform import Affine
from rasterio.windows import Window, from_bounds


@dataclass(frozen=True)
class Bounds:
    """A box in the product's CRS, in metres: west, south, east, north."""

    xmin: float
    ymin: float
    xmax: float
    ymax: float

    def as_option(self) -> str:
        """The ``--bbox XMIN,YMIN,XMAX,YMAX`` text, exact (``repr`` round-trips floats)."""
        return ",".join(repr(float(v)) for v in (self.xmin, self.ymin, self.xmax, self.ymax))


def seed_crop_box(width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel box (left, upper, right, lower) the seed's crop keeps of a width x height image."""
    box = (width * 1 / 4, height * 2 / 7, width * 3 / 4, height * 5 / 7)
    left, upper, right, lower = (round(v) for v in box)
    return left, upper, right, lower


def seed_crop_size(width: int, height: int) -> tuple[int, int]:
    """(width, height) of the seed's crop of a width x height image."""
    left, upper, right, lower = seed_crop_box(width, height)
    return right - left, lower - upper


def seed_crop_bounds(tile: Bounds) -> Bounds:
    """The seed's centre crop of a tile extent, in its CRS: x W/4..3W/4, y 2H/7..5H/7 down."""
    width = tile.xmax - tile.xmin
    height = tile.ymax - tile.ymin
    return Bounds(
        xmin=tile.xmin + width / 4,
        ymin=tile.ymax - 5 * height / 7,
        xmax=tile.xmin + 3 * width / 4,
        ymax=tile.ymax - 2 * height / 7,
    )


def covering_window(bounds: Bounds, transform: Affine, width: int, height: int) -> Window:
    """The smallest whole-pixel window of a raster that covers ``bounds``, clipped to the raster."""
    exact = from_bounds(bounds.xmin, bounds.ymin, bounds.xmax, bounds.ymax, transform)
    # A tolerance keeps float noise (1372.0000000001) from adding a whole column.
    eps = 1e-6
    col0 = max(0, math.floor(exact.col_off + eps))
    row0 = max(0, math.floor(exact.row_off + eps))
    col1 = min(width, math.ceil(exact.col_off + exact.width - eps))
    row1 = min(height, math.ceil(exact.row_off + exact.height - eps))
    return Window(col0, row0, col1 - col0, row1 - row0)

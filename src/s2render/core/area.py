"""Areas of interest: a bbox in lon/lat or in the product's CRS, snapped to a product grid."""

from __future__ import annotations

import math

from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from s2render.core.errors import AreaError

Bounds = tuple[float, float, float, float]


def parse_bbox(text: str) -> Bounds:
    """``"xmin,ymin,xmax,ymax"`` -> four floats, checked for order."""
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise AreaError(f"bbox {text!r} must be four numbers: xmin,ymin,xmax,ymax", field="bbox")
    xmin, ymin, xmax, ymax = values
    if xmin >= xmax or ymin >= ymax:
        raise AreaError(
            f"bbox {text!r} is empty: xmin must be < xmax and ymin < ymax (xmin,ymin,xmax,ymax)",
            field="bbox",
        )
    return values


def bbox_in_crs(bbox: Bounds, bbox_crs: str | CRS, target_crs: CRS) -> Bounds:
    """Bounds of ``bbox`` (given in ``bbox_crs``) in ``target_crs``, densified along the edges."""
    try:
        src_crs = bbox_crs if isinstance(bbox_crs, CRS) else CRS.from_user_input(bbox_crs)
    except CRSError as exc:
        raise AreaError(f"bbox CRS {bbox_crs!r} is not a CRS: {exc}", field="bbox_crs") from exc
    if src_crs.is_geographic:
        lon0, lat0, lon1, lat1 = bbox
        if not (
            -180 <= lon0 <= 180 and -180 <= lon1 <= 180 and -90 <= lat0 <= 90 and -90 <= lat1 <= 90
        ):
            raise AreaError(
                f"bbox {list(bbox)} is not lon/lat in degrees; give --bbox-crs product (or an EPSG "
                "code) for projected coordinates",
                field="bbox",
            )
    if src_crs == target_crs:
        return bbox
    return transform_bounds(src_crs, target_crs, *bbox, densify_pts=21)


def window_for_bounds(
    bounds: Bounds, grid_bounds: Bounds, resolution: float, width: int, height: int
) -> Window:
    """The integer window of a grid (top-left at ``grid_bounds``) covering ``bounds``, snapped
    outwards to whole pixels and clipped to the grid."""
    left, _, _, top = grid_bounds
    col0 = math.floor((bounds[0] - left) / resolution + 1e-9)
    col1 = math.ceil((bounds[2] - left) / resolution - 1e-9)
    row0 = math.floor((top - bounds[3]) / resolution + 1e-9)
    row1 = math.ceil((top - bounds[1]) / resolution - 1e-9)
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, width), min(row1, height)
    if col1 <= col0 or row1 <= row0:
        raise AreaError(
            f"the area {[round(v, 6) for v in bounds]} does not intersect the product "
            f"(product bounds {[round(v, 2) for v in grid_bounds]} in its CRS)",
            field="bbox",
        )
    return Window(col0, row0, col1 - col0, row1 - row0)

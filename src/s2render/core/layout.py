"""Where a rendering lands and how big it is: the output grid (CRS, bounds, pixel size), the
grid its bands are read on, and the area polygon that masks it (issue #4 part 5).

- Default: the product grid at the requested resolution, cropped to the area (a bbox, or a
  polygon's bounds) — the strips then follow the JPEG 2000 tile rows exactly.
- A size (``max_size`` caps the longest side, ``width``/``height`` set it): the same area on a
  coarser (or exact-size) grid in the product CRS. Bands are read at that coarser resolution,
  so :func:`s2render.core.reader.choose_source` picks reduced-resolution levels of the
  JPEG 2000 codestream: a preview decodes about the pixels it shows, never the full product.
- Another CRS: the area's bounds in that CRS, on a grid of the pixel size GDAL suggests for the
  warp (``rasterio.warp.calculate_default_transform``, gdalwarp's default), sized as above.
  Each strip is read on a product-CRS grid covering its footprint and reprojected
  (:func:`s2render.core.reader.read_request`), so memory stays one strip's worth.

Pixels outside an area polygon are no data: reads set them to 0 (:func:`read_request`), so they
are transparent and left out of every figure and of the percentile statistics.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from dataclasses import dataclass

import numpy as np
import rasterio.windows
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import calculate_default_transform, transform_bounds
from rasterio.windows import Window

from s2render.core.area import (
    Bounds,
    bbox_in_crs,
    geometry_bounds,
    geometry_in_crs,
    to_crs,
    window_for_bounds,
)
from s2render.core.product import Grid, Product
from s2render.core.reader import inside_mask
from s2render.core.spec import RenderSpec

# Source pixels read beyond a warped strip's footprint on each side: bilinear's 2x2 kernel and
# the rounding of the footprint.
WARP_MARGIN = 2
# Output rows rasterised at once when counting the pixels inside an area polygon.
_COUNT_ROWS = 4096


@dataclass(frozen=True)
class Layout:
    """The output grid of a rendering and how its bands are read onto it."""

    grid: Grid  # the output grid, in the output CRS
    window: Window  # the rendered part of ``grid``
    resolution: float  # metres per pixel the bands are read at (picks files and levels)
    area: dict | None  # the sidecar's "area": bbox or polygon asked, None for the whole product
    output: dict  # the sidecar's "output": CRS, size asked, pixel size
    on_product_grid: bool  # ``grid`` is the product grid: strips follow its tiles
    source_grid: Grid | None = None  # product-CRS grid read before warping; None: no warping
    geometry: dict | None = None  # the area polygon in the output CRS
    area_pixels: int | None = None  # output pixels inside the polygon


def plan_layout(spec: RenderSpec, product: Product, *, count_pixels: bool = True) -> Layout:
    """The output grid of ``spec`` over ``product``. ``count_pixels=False`` leaves out counting
    the pixels inside an area polygon (a rasterisation of the whole output: checks skip it)."""
    grid = product.grid(spec.resolution)
    by_product = spec.bbox_crs.lower() == "product"
    area_crs = product.crs if by_product else to_crs(spec.bbox_crs, "bbox_crs")
    out_crs = product.crs if spec.crs is None else to_crs(spec.crs, "crs")
    window = _area_window(spec, product, grid, area_crs)
    area = _area_record(spec)
    if out_crs == product.crs:
        bounds = rasterio.windows.bounds(window, grid.transform)
        natural = (int(window.width), int(window.height))
        size = output_size(spec, natural, bounds)
        if size == natural:
            return _finish(
                spec,
                area,
                grid,
                window,
                spec.resolution,
                area_crs,
                count_pixels=count_pixels,
                on_product_grid=True,
            )
        out = _grid_over(product.crs, bounds, size)
        resolution = min(out.transform.a, -out.transform.e)
        return _finish(
            spec, area, out, _whole(out), resolution, area_crs, count_pixels=count_pixels
        )
    # Another CRS: GDAL's suggested pixel size for the product window, over the area's bounds.
    source_bounds = rasterio.windows.bounds(window, grid.transform)
    suggested, _, _ = calculate_default_transform(
        product.crs, out_crs, int(window.width), int(window.height), *source_bounds
    )
    bounds = _output_bounds(spec, product, area_crs, out_crs, source_bounds)
    res_x, res_y = suggested.a, -suggested.e
    natural = (
        max(1, round((bounds[2] - bounds[0]) / res_x)),
        max(1, round((bounds[3] - bounds[1]) / res_y)),
    )
    out = _grid_over(out_crs, bounds, output_size(spec, natural, bounds))
    # Read on the product's CRS as much coarser (or finer) as the output is than suggested.
    ratio = min(out.transform.a / res_x, -out.transform.e / res_y)
    resolution = spec.resolution * ratio
    return _finish(
        spec,
        area,
        out,
        _whole(out),
        resolution,
        area_crs,
        count_pixels=count_pixels,
        source_grid=product.grid(resolution),
    )


def output_size(spec: RenderSpec, natural: tuple[int, int], bounds: Bounds) -> tuple[int, int]:
    """Output (width, height): exact ``width``/``height`` (one alone keeps the aspect ratio),
    or the natural size capped at ``max_size`` on its longest side (never enlarged)."""
    ext_w, ext_h = bounds[2] - bounds[0], bounds[3] - bounds[1]
    if spec.width is not None and spec.height is not None:
        return spec.width, spec.height
    if spec.width is not None:
        return spec.width, max(1, round(spec.width * ext_h / ext_w))
    if spec.height is not None:
        return max(1, round(spec.height * ext_w / ext_h)), spec.height
    if spec.max_size is not None and max(natural) > spec.max_size:
        if natural[0] >= natural[1]:
            return spec.max_size, max(1, round(spec.max_size * ext_h / ext_w))
        return max(1, round(spec.max_size * ext_w / ext_h)), spec.max_size
    return natural


def _area_window(spec: RenderSpec, product: Product, grid: Grid, area_crs: CRS) -> Window:
    """The window of the product grid covering the area (the whole grid without one)."""
    if spec.geometry is not None:
        native = geometry_bounds(geometry_in_crs(spec.geometry, area_crs, product.crs))
        field = "geometry"
    elif spec.bbox is not None:
        native = bbox_in_crs(spec.bbox, area_crs, product.crs)
        field = "bbox"
    else:
        return _whole(grid)
    return window_for_bounds(
        native, grid.bounds, grid.resolution, grid.width, grid.height, field=field
    )


def _output_bounds(
    spec: RenderSpec, product: Product, area_crs: CRS, out_crs: CRS, source_bounds: Bounds
) -> Bounds:
    """The area's bounds in the output CRS, within the product's."""
    if spec.geometry is not None:
        bounds = geometry_bounds(geometry_in_crs(spec.geometry, area_crs, out_crs))
    elif spec.bbox is not None:
        bounds = bbox_in_crs(spec.bbox, area_crs, out_crs)
    else:
        bounds = transform_bounds(product.crs, out_crs, *source_bounds, densify_pts=21)
    limit = transform_bounds(product.crs, out_crs, *product.bounds, densify_pts=21)
    return (
        max(bounds[0], limit[0]),
        max(bounds[1], limit[1]),
        min(bounds[2], limit[2]),
        min(bounds[3], limit[3]),
    )


def _grid_over(crs: CRS, bounds: Bounds, size: tuple[int, int]) -> Grid:
    left, bottom, right, top = bounds
    width, height = size
    transform = Affine((right - left) / width, 0, left, 0, -(top - bottom) / height, top)
    return Grid(crs, transform, width, height)


def _whole(grid: Grid) -> Window:
    return Window(0, 0, grid.width, grid.height)


def _finish(
    spec: RenderSpec,
    area: dict | None,
    grid: Grid,
    window: Window,
    resolution: float,
    area_crs: CRS,
    *,
    count_pixels: bool,
    on_product_grid: bool = False,
    source_grid: Grid | None = None,
) -> Layout:
    geometry = None
    inside = None
    if spec.geometry is not None:
        geometry = geometry_in_crs(spec.geometry, area_crs, grid.crs)
        if count_pixels:
            inside = count_inside(geometry, grid, window)
            assert area is not None
            area["pixels_inside"] = inside
    output = {
        "crs": grid.crs.to_string(),
        "max_size": spec.max_size,
        "width": spec.width,
        "height": spec.height,
        "pixel_size": [grid.transform.a, -grid.transform.e],
        "read_resolution_m": resolution,
        "warped": source_grid is not None,
    }
    return Layout(
        grid,
        window,
        resolution,
        area,
        output,
        on_product_grid=on_product_grid,
        source_grid=source_grid,
        geometry=geometry,
        area_pixels=inside,
    )


def _area_record(spec: RenderSpec) -> dict | None:
    if spec.geometry is not None:
        return {"geometry": spec.geometry, "bbox_crs": spec.bbox_crs}
    if spec.bbox is not None:
        return {"bbox": list(spec.bbox), "bbox_crs": spec.bbox_crs}
    return None


def count_inside(geometry: dict, grid: Grid, window: Window) -> int:
    """Pixels of ``window`` of ``grid`` whose centre is inside ``geometry`` (GDAL's rule)."""
    total = 0
    top, bottom = int(window.row_off), int(window.row_off + window.height)
    for row in range(top, bottom, _COUNT_ROWS):
        part = Window(window.col_off, row, window.width, min(_COUNT_ROWS, bottom - row))
        inside = inside_mask(
            geometry,
            (int(part.height), int(part.width)),
            rasterio.windows.transform(part, grid.transform),
        )
        total += int(np.count_nonzero(inside))
    return total


def warp_read(source: Grid, grid: Grid, window: Window) -> tuple[Window, Grid]:
    """For ``window`` of the output ``grid``: the window of the product-CRS ``source`` grid
    covering its footprint (plus a margin), and the window as a grid of its own (the warp's
    target)."""
    transform = rasterio.windows.transform(window, grid.transform)
    target = Grid(grid.crs, transform, int(window.width), int(window.height))
    left, bottom, right, top = transform_bounds(
        grid.crs, source.crs, *target.bounds, densify_pts=21
    )
    res_x, res_y = source.transform.a, -source.transform.e
    col0 = math.floor((left - source.transform.c) / res_x) - WARP_MARGIN
    col1 = math.ceil((right - source.transform.c) / res_x) + WARP_MARGIN
    row0 = math.floor((source.transform.f - top) / res_y) - WARP_MARGIN
    row1 = math.ceil((source.transform.f - bottom) / res_y) + WARP_MARGIN
    return Window(col0, row0, col1 - col0, row1 - row0), target


def layout_strips(
    layout: Layout, tile_height_m: float, max_pixels: int, tiles_per_strip: int
) -> tuple[Window, ...]:
    """Row bands of a layout that is not the product grid, of even height, each at most about
    ``tiles_per_strip`` source tile rows high: output rows no longer fall on tile edges, so each
    strip boundary decodes one tile row twice, and fewer, taller strips decode less twice."""
    window = layout.window
    top, total = int(window.row_off), int(window.height)
    rows = max(1, round(tile_height_m / layout.resolution * tiles_per_strip))
    rows = min(rows, max(1, max_pixels // max(1, int(window.width))))
    count = math.ceil(total / rows)
    cuts = [top + round(i * total / count) for i in range(count + 1)]
    return tuple(
        Window(window.col_off, a, window.width, b - a) for a, b in itertools.pairwise(cuts)
    )


def name_suffix(spec: RenderSpec) -> str:
    """What the default output name adds for a polygon, an output CRS or a size."""
    suffix = ""
    if spec.geometry is not None:
        key = repr((spec.geometry, spec.bbox_crs)).encode()
        suffix += "_area-" + hashlib.sha1(key).hexdigest()[:8]
    if spec.crs is not None:
        suffix += "_" + "".join(c for c in to_crs(spec.crs, "crs").to_string() if c.isalnum())[:24]
    if spec.max_size is not None:
        suffix += f"_max{spec.max_size}"
    elif spec.width is not None or spec.height is not None:
        suffix += f"_{spec.width or ''}x{spec.height or ''}"
    return suffix

"""Areas of interest: a bbox or a GeoJSON polygon, in lon/lat or in another CRS, and the window
of a product grid that covers them."""

from __future__ import annotations

import itertools
import json
import math

from rasterio.crs import CRS
from rasterio.errors import CRSError
from rasterio.warp import transform_bounds, transform_geom
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
    bounds: Bounds,
    grid_bounds: Bounds,
    resolution: float,
    width: int,
    height: int,
    *,
    field: str = "bbox",
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
            field=field,
        )
    return Window(col0, row0, col1 - col0, row1 - row0)


# GeoJSON (RFC 7946) areas: a Polygon or MultiPolygon, bare or in a Feature / FeatureCollection.
AREA_TYPES = ("Polygon", "MultiPolygon")


def parse_geometry(value: object, *, geographic: bool = True) -> dict:
    """A GeoJSON area as ``{"type": "Polygon"|"MultiPolygon", "coordinates": ...}`` of floats.

    Takes a geometry, a Feature, or a FeatureCollection of polygons (merged into one
    MultiPolygon), as a dict or JSON text. Rings must be closed and have an area (RFC 7946
    section 3.1.6); with ``geographic`` the positions must be longitude/latitude in degrees.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise _geometry_error(f"is not JSON ({exc.msg} at character {exc.pos})") from exc
    if not isinstance(value, dict):
        raise _geometry_error(f"must be a GeoJSON object, got {type(value).__name__}")
    kind = value.get("type")
    if kind == "Feature":
        return parse_geometry(value.get("geometry"), geographic=geographic)
    if kind == "FeatureCollection":
        features = value.get("features")
        if not isinstance(features, list) or not features:
            raise _geometry_error("is a FeatureCollection without features")
        polygons: list = []
        for feature in features:
            part = parse_geometry(feature, geographic=geographic)
            coords = part["coordinates"]
            polygons += [coords] if part["type"] == "Polygon" else coords
        return {"type": "MultiPolygon", "coordinates": polygons}
    if kind not in AREA_TYPES:
        raise _geometry_error(
            f"has type {kind!r}; an area is a Polygon or MultiPolygon (or a Feature of one)"
        )
    coords = value.get("coordinates")
    if kind == "Polygon":
        return {"type": kind, "coordinates": _polygon(coords, "polygon", geographic)}
    if not isinstance(coords, list) or not coords:
        raise _geometry_error("is a MultiPolygon without polygons")
    return {
        "type": kind,
        "coordinates": [_polygon(p, f"polygon {i}", geographic) for i, p in enumerate(coords)],
    }


def _polygon(rings: object, where: str, geographic: bool) -> list:
    if not isinstance(rings, list) or not rings:
        raise _geometry_error(f"{where} has no rings: coordinates must be a list of rings")
    return [_ring(ring, f"ring {i} of {where}", geographic) for i, ring in enumerate(rings)]


def _ring(ring: object, where: str, geographic: bool) -> list:
    if not isinstance(ring, list) or len(ring) < 4:
        raise _geometry_error(f"{where} needs at least 4 positions (the last repeats the first)")
    points = []
    for position in ring:
        if (
            not isinstance(position, list | tuple)
            or len(position) < 2
            or not all(_is_number(v) for v in position[:2])
        ):
            raise _geometry_error(f"{where} has {position!r}, not an [x, y] position")
        x, y = float(position[0]), float(position[1])
        if geographic and not (-180 <= x <= 180 and -90 <= y <= 90):
            raise _geometry_error(
                f"{where} has [{x:g}, {y:g}], not longitude/latitude in degrees; give its CRS "
                "as bbox_crs (--bbox-crs product, or an EPSG code) for projected coordinates"
            )
        points.append([x, y])
    if points[0] != points[-1]:
        raise _geometry_error(
            f"{where} is not closed: its last position {points[-1]} must repeat the first "
            f"{points[0]}"
        )
    twice_area = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(points))
    if twice_area == 0:
        raise _geometry_error(f"{where} has no area: its positions are on one line")
    return points


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _geometry_error(problem: str) -> AreaError:
    return AreaError(f"geometry {problem}", field="geometry")


def geometry_bounds(geometry: dict) -> Bounds:
    """The bounds (xmin, ymin, xmax, ymax) of a parsed area."""
    polygons = (
        [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
    )
    xs = [x for polygon in polygons for x, _ in polygon[0]]  # exterior rings hold the holes
    ys = [y for polygon in polygons for _, y in polygon[0]]
    return min(xs), min(ys), max(xs), max(ys)


def geometry_in_crs(geometry: dict, src_crs: CRS, dst_crs: CRS) -> dict:
    """A parsed area moved into ``dst_crs`` (its vertices: edges stay straight in ``dst_crs``)."""
    if src_crs == dst_crs:
        return geometry
    moved = transform_geom(src_crs, dst_crs, geometry)
    return {"type": moved["type"], "coordinates": _lists(moved["coordinates"])}


def _lists(coords):
    return [_lists(c) for c in coords] if isinstance(coords[0], list | tuple) else list(coords)


def to_crs(value: str | CRS, field: str) -> CRS:
    """A CRS from user input (``EPSG:3857``, WKT, PROJ); SpecError naming ``field`` if not."""
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        raise AreaError(
            f"{field} {value!r} is not a CRS ({exc}); give an EPSG code such as EPSG:4326 or "
            "EPSG:3857",
            field=field,
        ) from exc

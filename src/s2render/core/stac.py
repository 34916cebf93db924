"""A STAC Item per rendering, written beside it: the image, its thumbnail and its processing
record as assets (hrefs relative to the item), the footprint in lon/lat, the product's sensing
time, and the processing record as ``s2render:*`` properties.

Only STAC core fields and our own prefixed properties are used (no extension schemas), so an item
validates against the core schemas that pystac ships, without network.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pystac
from rasterio.crs import CRS
from rasterio.warp import transform_bounds, transform_geom

from s2render.core.encode import atomic_path

# Product name mission -> STAC ``platform`` (STAC best practice: lower case, as in the EO
# extension's Sentinel-2 examples).
PLATFORMS = {"S2A": "sentinel-2a", "S2B": "sentinel-2b", "S2C": "sentinel-2c", "S2D": "sentinel-2d"}
_EDGE_POINTS = 3  # corners and edge midpoints: a UTM rectangle is slightly curved in lon/lat
# WGS 84 ellipsoid (NIMA TR8350.2): semi-major axis (m) and first eccentricity squared.
_WGS84_A = 6378137.0
_WGS84_E2 = 6.69437999014e-3


def pixel_size_m(crs: str, transform: list[float], bounds: list[float]) -> tuple[float, float]:
    """The (x, y) size in metres of an output pixel of ``transform`` in ``crs``.

    A projected CRS: the pixel size in its linear unit, converted to metres (map metres: in Web
    Mercator they are longer than ground metres away from the equator, by 1 / cos(latitude)).
    A geographic CRS: degrees converted to metres at the latitude of the centre of ``bounds``,
    along the parallel (prime-vertical radius of curvature N * cos(lat)) and the meridian
    (meridional radius M) of the WGS 84 ellipsoid (Snyder, Map Projections: A Working Manual,
    USGS PP 1395, eqs. 4-18 and 4-20).
    """
    ref = CRS.from_user_input(crs)
    x, y = abs(transform[0]), abs(transform[4])
    if not ref.is_geographic:
        factor = ref.linear_units_factor[1]
        return x * factor, y * factor
    _, south, _, north = transform_bounds(ref, "EPSG:4326", *bounds)
    lat = math.radians((south + north) / 2)
    w = 1 - _WGS84_E2 * math.sin(lat) ** 2
    n = _WGS84_A / math.sqrt(w)  # prime vertical
    m = _WGS84_A * (1 - _WGS84_E2) / w**1.5  # meridian
    per_degree = math.pi / 180
    return x * per_degree * n * math.cos(lat), y * per_degree * m


def footprint(bounds: list[float], crs: str) -> tuple[dict, list[float]]:
    """The GeoJSON polygon and the [west, south, east, north] bbox of ``bounds`` in lon/lat."""
    left, bottom, right, top = bounds
    n = _EDGE_POINTS - 1
    ring = (
        [(left + (right - left) * i / n, bottom) for i in range(n)]
        + [(right, bottom + (top - bottom) * i / n) for i in range(n)]
        + [(right - (right - left) * i / n, top) for i in range(n)]
        + [(left, top - (top - bottom) * i / n) for i in range(n)]
    )
    ring.append(ring[0])
    polygon = {"type": "Polygon", "coordinates": [ring]}
    geometry = transform_geom(crs, "EPSG:4326", polygon, precision=7)
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    return dict(geometry), [round(v, 7) for v in (west, south, east, north)]


def output_gsd(document: dict) -> float:
    """The ``gsd`` of a rendering from its sidecar ``document``: its output pixel size in metres
    (a resized or reprojected output is not at the resolution asked), as the side of a square
    of the same area (:func:`pixel_size_m`)."""
    size_x, size_y = pixel_size_m(document["crs"], document["transform"], document["bounds"])
    return round(math.sqrt(size_x * size_y), 3)


def rendering_item(
    document: dict, *, image: str, thumbnail: str | None, sidecar: str
) -> pystac.Item:
    """The Item of a rendering from its sidecar ``document``; asset hrefs are file names
    relative to the item, which sits in the same folder."""
    product = document["product"]
    geometry, bbox = footprint(document["bounds"], document["crs"])
    sensed = product.get("sensing_time")
    created = datetime.now(UTC)
    figures = document.get("figures", {})
    size_x, size_y = pixel_size_m(document["crs"], document["transform"], document["bounds"])
    properties = {
        "title": Path(image).stem,
        "created": created.isoformat(),
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "gsd": output_gsd(document),
        "platform": PLATFORMS.get(product.get("mission") or ""),
        "s2render:version": document.get("s2render"),
        "s2render:product": product.get("id"),
        "s2render:level": product.get("level"),
        "s2render:tile": product.get("tile"),
        "s2render:baseline": product.get("processing_baseline"),
        "s2render:datetime": "sensing" if sensed else "processing (sensing time unknown)",
        "s2render:kind": document.get("kind"),
        "s2render:preset": (document.get("preset") or {}).get("id"),
        "s2render:bands": document.get("bands"),
        "s2render:expressions": document.get("expressions"),
        "s2render:expression": document.get("expression"),
        "s2render:resolution": document["resolution"],
        "s2render:pixel_size_m": [round(size_x, 3), round(size_y, 3)],
        "s2render:area": document.get("area"),
        "s2render:cloud_mask": document.get("cloud_mask"),
        "s2render:format": document.get("format"),
        "s2render:stretch": document.get("stretch"),
        "s2render:offsets": document.get("radiometry", {}).get("offsets"),
        "s2render:offset_source": document.get("radiometry", {}).get("offset_source"),
        "s2render:quantification": document.get("radiometry", {}).get("quantification"),
        "s2render:figures": figures,
        "s2render:crs": document["crs"],
        "s2render:transform": document.get("transform"),
        "s2render:shape": [document.get("height"), document.get("width")],
    }
    item = pystac.Item(
        id=Path(image).stem,
        geometry=geometry,
        bbox=bbox,
        datetime=datetime.fromisoformat(sensed) if sensed else created,
        properties={k: v for k, v in properties.items() if v is not None},
    )
    item.add_asset(
        "image",
        pystac.Asset(
            href=image,
            media_type=document.get("media_type"),
            roles=["data"],
            title=document.get("file"),
        ),
    )
    if thumbnail:
        item.add_asset(
            "thumbnail",
            pystac.Asset(href=thumbnail, media_type=pystac.MediaType.PNG, roles=["thumbnail"]),
        )
    item.add_asset(
        "metadata",
        pystac.Asset(
            href=sidecar,
            media_type=pystac.MediaType.JSON,
            roles=["metadata"],
            title="s2render processing record",
        ),
    )
    return item


def write_stac_item(item: pystac.Item, dest: Path) -> Path:
    """Write ``item`` as JSON at ``dest`` (relative hrefs kept, no self link), atomically."""
    document = item.to_dict(include_self_link=False, transform_hrefs=False)
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(document, indent=2) + "\n")
    return dest

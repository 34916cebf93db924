"""A job's results as a STAC ItemCollection (openEO's batch-job results are STAC too).

One Item per finished rendering: its footprint in lon/lat from the sidecar's bounds and CRS,
its time the product's sensing time, the processing record as ``s2render:*`` properties, and
three assets — the image (download URL), the sidecar and the thumbnail. Only STAC core fields
and our own prefixed properties are used, so items validate against the core schema alone
(offline).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

import pystac
from rasterio.warp import transform_bounds

from s2render.core.stac import output_gsd
from s2render.web.jobs.models import Job, Rendering, Status
from s2render.web.jobs.selectors import rendering_sidecar

PLATFORMS = {"S2A": "sentinel-2a", "S2B": "sentinel-2b", "S2C": "sentinel-2c", "S2D": "sentinel-2d"}

UrlFor = Callable[[Rendering, str], str]  # (rendering, "download" | "sidecar") -> absolute URL


def lonlat_bbox(bounds: list[float], crs: str) -> list[float]:
    """Bounds in ``crs`` -> [west, south, east, north] in degrees (edges densified)."""
    west, south, east, north = transform_bounds(crs, "EPSG:4326", *bounds, densify_pts=21)
    return [round(v, 7) for v in (west, south, east, north)]


def bbox_polygon(bbox: list[float]) -> dict:
    west, south, east, north = bbox
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def rendering_item(job: Job, rendering: Rendering, sidecar: dict, url_for: UrlFor) -> pystac.Item:
    product = rendering.product
    bbox = lonlat_bbox(sidecar["bounds"], sidecar["crs"])
    when: datetime = product.sensed_at or rendering.finished_at  # type: ignore[assignment]
    spec = rendering.spec
    figures = sidecar.get("figures", {})
    content = (
        spec.get("preset")
        or spec.get("expression")
        or "/".join(spec.get("bands") or spec.get("expressions") or sidecar.get("bands") or [])
    )
    properties = {
        "title": f"{job.title or 'job'} #{rendering.index}: {content} at {spec['resolution']:g} m",
        "created": rendering.finished_at.isoformat() if rendering.finished_at else None,
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "gsd": output_gsd(sidecar),  # the output's pixel size, not the resolution asked
        "s2render:job": str(job.uuid),
        "s2render:index": rendering.index,
        "s2render:product": product.name,
        "s2render:level": product.level,
        "s2render:tile": product.tile,
        "s2render:baseline": product.baseline,
        "s2render:bands": sidecar.get("bands") or spec.get("bands"),
        "s2render:preset": spec.get("preset"),
        "s2render:expressions": spec.get("expressions")
        or ([spec["expression"]] if spec.get("expression") else None),
        "s2render:resolution": spec["resolution"],
        "s2render:area": sidecar.get("area"),
        "s2render:format": spec["format"],
        "s2render:stretch": sidecar.get("stretch"),
        "s2render:offsets": sidecar.get("radiometry", {}).get("offsets"),
        "s2render:valid_percent": figures.get("valid_percent"),
        "s2render:clipped_low_percent": figures.get("clipped_low_percent"),
        "s2render:clipped_high_percent": figures.get("clipped_high_percent"),
        "s2render:crs": sidecar["crs"],
        "s2render:transform": sidecar.get("transform"),
        "s2render:shape": [sidecar.get("height"), sidecar.get("width")],
    }
    platform = PLATFORMS.get(product.mission)
    if platform:
        properties["platform"] = platform
    item = pystac.Item(
        id=f"{job.uuid}-{rendering.index}",
        geometry=bbox_polygon(bbox),
        bbox=bbox,
        datetime=when,
        properties={k: v for k, v in properties.items() if v is not None},
    )
    item.add_asset(
        "image",
        pystac.Asset(
            href=url_for(rendering, "download"),
            media_type=rendering.media_type,
            roles=["data"],
            title=sidecar.get("file"),
        ),
    )
    item.add_asset(
        "metadata",
        pystac.Asset(
            href=url_for(rendering, "sidecar"),
            media_type=pystac.MediaType.JSON,
            roles=["metadata"],
            title="s2render processing record",
        ),
    )
    item.add_asset(
        "thumbnail",
        pystac.Asset(
            href=url_for(rendering, "thumbnail"),
            media_type=pystac.MediaType.PNG,
            roles=["thumbnail"],
            title="RGBA thumbnail, at most 256 px",
        ),
    )
    return item


def job_item_collection(
    job: Job, renderings: Iterable[Rendering], url_for: UrlFor, *, self_url: str
) -> dict:
    """The ItemCollection of the job's finished renderings, as a JSON document."""
    items = []
    for rendering in renderings:
        sidecar = rendering_sidecar(rendering) if rendering.status == Status.FINISHED else {}
        if sidecar.get("bounds") and sidecar.get("crs"):
            items.append(rendering_item(job, rendering, sidecar, url_for))
    collection = pystac.ItemCollection(
        items,
        extra_fields={"links": [{"rel": "self", "href": self_url, "type": "application/geo+json"}]},
    )
    return collection.to_dict(transform_hrefs=False)

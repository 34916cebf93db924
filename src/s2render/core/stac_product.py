"""Open a STAC Item whose assets are Sentinel-2 band files (COGs or JPEG 2000) as a
:class:`~s2render.core.product.Product` read over HTTP range requests.

Each band asset (core.stac_item) becomes a :class:`BandFile` whose path is a GDAL path
(``/vsicurl/https://...``, ``/vsis3/bucket/key``, or a local file), so reading, rendering,
previews and batches work on it unchanged.
Grids come from the files, never from the item: a GeoTIFF/JP2 header costs one or two range
requests, and items lie (the 29RKH COGs of SOURCES 2a are decimated to 100 m while the item
says ``gsd`` 10 and ``proj:shape`` 10980). Files are opened by content, whatever the extension.

The radiometric offset follows the item's claims (:func:`decide_offset`), checked one way
against the data (:func:`check_offset`), and an explicit override wins; ``offset_source``
records which rule decided.

:func:`resolve_item` caches what was learnt (per asset: band, resolution, CRS, transform,
shape; per item: offsets and their source) in ``s2render:`` fields, so that opening a resolved
item needs no network at all.

Planetary Computer keeps its files in Azure Blob storage behind SAS tokens (core.signing).
Unsigned blob hrefs are marked when the item is resolved (``s2render:sign`` on the asset,
``s2render:signing`` on the item: kind, token endpoint, collection) and signed with a cached
token each time the item is opened; the stored hrefs stay unsigned, as tokens expire. An href
signed already keeps its query string in the ``/vsicurl/`` path and is left alone.
``s3://`` hrefs are read through ``/vsis3/``, which needs GDAL's own AWS settings (for example
``AWS_NO_SIGN_REQUEST=YES`` for public buckets) in the process environment.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pystac
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from s2render.core.bands import BANDS
from s2render.core.errors import ProductError
from s2render.core.product import BandFile, Product
from s2render.core.reader import read_env
from s2render.core.signing import PC_SAS_URL, SIGNING_KIND, needs_signing, signed_href
from s2render.core.stac_item import StacSource, band_assets, gdal_path, item_identity, load_item
from s2render.core.stac_offsets import (
    VISIBLE_BANDS,
    OffsetDecision,
    check_offset,
    claimed_offset,
    median_dn,
)

HEADER_THREADS = 8  # header reads are network waits, not CPU work

PREFIX = "s2render:"

CACHE_VERSION = 1


def resolve_item(
    source: StacSource, *, offset_override: int | None = None, sas_url: str | None = None
) -> dict:
    """The item as a dict with what opening it needs cached in ``s2render:`` fields: per band
    asset its band, resolution, CRS, transform and shape (read from the file headers), and the
    offsets with their source. An already resolved item is returned without network access.

    Planetary Computer assets are read with tokens from ``sas_url`` (default: the public
    endpoint), which is recorded for later opens; the returned hrefs carry no token."""
    item = load_item(source)
    _resolve(item, offset_override, sas_url)
    if item.get_self_href() is not None:  # the resolved item works wherever it is stored
        item.make_asset_hrefs_absolute()
    # transform_hrefs=False: pystac would otherwise fetch the root catalog to rewrite links.
    return item.to_dict(include_self_link=item.get_self_href() is not None, transform_hrefs=False)


def open_stac_item(
    source: StacSource, *, offset_override: int | None = None, sas_url: str | None = None
) -> Product:
    """A Product over the item's band assets; resolves the item first unless it is resolved.

    Planetary Computer band paths are signed with a cached token from ``sas_url``, else from
    the endpoint the resolved item records, else from the public endpoint."""
    item = load_item(source)
    _resolve(item, offset_override, sas_url)
    return _product(item, _label(source, item))


def is_resolved(item: pystac.Item) -> bool:
    return item.properties.get(f"{PREFIX}version") == CACHE_VERSION


def _resolve(item: pystac.Item, offset_override: int | None, sas_url: str | None) -> None:
    if not is_resolved(item):
        _mark_signing(item, sas_url or PC_SAS_URL)
        _resolve_assets(item)
        decision = None if offset_override is not None else _decide_item_offset(item)
        _store_offsets(item, decision)
        item.properties[f"{PREFIX}version"] = CACHE_VERSION
    elif sas_url and f"{PREFIX}signing" in item.properties:
        item.properties[f"{PREFIX}signing"] = {
            **item.properties[f"{PREFIX}signing"],
            "endpoint": sas_url,
        }
    if offset_override is not None:
        _store_offsets(item, OffsetDecision(int(offset_override), "override"))


def _mark_signing(item: pystac.Item, sas_url: str) -> None:
    """Mark the band assets read with Planetary Computer tokens, and record where tokens come
    from; hrefs signed already (a query string) are left as they are."""
    keys = [k for k in band_assets(item) if needs_signing(item.assets[k].get_absolute_href() or "")]
    if not keys:
        return
    for key in keys:
        item.assets[key].extra_fields[f"{PREFIX}sign"] = True
    item.properties[f"{PREFIX}signing"] = {
        "kind": SIGNING_KIND,
        "endpoint": sas_url,
        "collection": item.collection_id,
    }


def _resolve_assets(item: pystac.Item) -> None:
    bands = band_assets(item)
    paths = {key: _asset_path(item, key) for key in bands}
    with ThreadPoolExecutor(max_workers=HEADER_THREADS) as pool:
        headers = dict(zip(paths, pool.map(_read_header, paths.values()), strict=True))
    for key, band in bands.items():
        item.assets[key].extra_fields.update({f"{PREFIX}band": band, **headers[key]})


def _read_header(path: str) -> dict:
    """Resolution, CRS, transform and shape of a band file. Read without sidecar files first
    (one or two range requests); a file georeferenced only by a ``.aux.xml`` beside it (the
    JPEG 2000 ``.tif`` files of SOURCES.md 2b) is reopened with sidecar lookup, and marked."""
    header = _georeferencing(path)
    if header is None and path.startswith("/vsicurl/"):
        header = _georeferencing(with_sidecars(path))
        if header is not None:
            header[f"{PREFIX}sidecars"] = True
    if header is None:
        raise ProductError(
            f"{path} has no georeferencing (no CRS or geotransform in the file or a .aux.xml "
            "beside it); the band cannot be placed on the tile"
        )
    return header


def _georeferencing(path: str) -> dict | None:
    try:
        with read_env(path), rasterio.open(path) as src:
            if src.crs is None or src.transform == Affine.identity():
                return None
            epsg = src.crs.to_epsg()
            return {
                f"{PREFIX}resolution": round(src.res[0]),
                f"{PREFIX}crs": f"EPSG:{epsg}" if epsg else src.crs.to_wkt(),
                f"{PREFIX}transform": list(src.transform)[:6],
                f"{PREFIX}shape": [src.height, src.width],
            }
    except NotGeoreferencedWarning:  # raised when warnings are errors (as under pytest)
        return None
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(
            f"cannot read the header of {path}: {exc}. Planetary Computer items must be signed "
            "(SAS token) first; s3:// assets need GDAL's AWS settings"
        ) from exc


def with_sidecars(path: str) -> str:
    """``/vsicurl/<url>`` as ``/vsicurl?list_dir=no&url=<url>``: GDAL then looks for sidecar
    files one by one instead of assuming none (GDAL /vsicurl/ docs, "list_dir" option)."""
    url = path.removeprefix("/vsicurl/")
    return f"/vsicurl?list_dir=no&url={quote(url, safe=':/')}"


def _asset_path(item: pystac.Item, key: str) -> str:
    asset = item.assets[key]
    href = asset.get_absolute_href()
    if href is None:
        raise ProductError(
            f"asset {key!r} of item {item.id} has the relative href {asset.href!r} and the item "
            "no self link to resolve it against; open the item from its file or URL"
        )
    if asset.extra_fields.get(f"{PREFIX}sign"):
        signing = item.properties.get(f"{PREFIX}signing") or {}
        href = signed_href(
            href,
            endpoint=str(signing.get("endpoint") or PC_SAS_URL),
            collection=signing.get("collection"),
        )
    path = gdal_path(href)
    return with_sidecars(path) if asset.extra_fields.get(f"{PREFIX}sidecars") else path


def _decide_item_offset(item: pystac.Item) -> OffsetDecision:
    """The item's claim, checked against the smallest overview of a visible band."""
    decision = claimed_offset(item)
    if decision.offset >= 0:
        return decision
    bands = band_assets(item)
    for band in VISIBLE_BANDS:
        keys = [k for k, b in bands.items() if b == band]
        if keys:  # the coarsest file of the band: its smallest overview is the cheapest read
            coarsest = max(keys, key=lambda k: item.assets[k].extra_fields[f"{PREFIX}resolution"])
            band_file = BandFile(band, 0, _asset_path(item, coarsest))
            return check_offset(decision, band, median_dn(band_file))
    return decision


def _store_offsets(item: pystac.Item, decision: OffsetDecision | None) -> None:
    if decision is None:
        return
    item.properties[f"{PREFIX}offsets"] = {
        b.name: decision.offset for b in BANDS.values() if b.spectral
    }
    item.properties[f"{PREFIX}offset_source"] = decision.source


def _product(item: pystac.Item, label: str) -> Product:
    files: dict[tuple[str, int], BandFile] = {}
    grids: dict[tuple[str, int], tuple[CRS, Affine, int, int]] = {}
    for key in sorted(item.assets, key=lambda k: k.lower().endswith("-jp2")):  # COGs first
        fields = item.assets[key].extra_fields
        band = fields.get(f"{PREFIX}band")
        if band is None:
            continue
        res = int(fields[f"{PREFIX}resolution"])
        if (band, res) in files:
            continue
        files[(band, res)] = BandFile(band, res, _asset_path(item, key))
        height, width = fields[f"{PREFIX}shape"]
        grids[(band, res)] = (
            CRS.from_user_input(fields[f"{PREFIX}crs"]),
            Affine(*fields[f"{PREFIX}transform"]),
            int(width),
            int(height),
        )
    if not files:
        raise ProductError(
            f"STAC item {item.id} has no band assets (keys: {', '.join(item.assets)}); "
            "expected Sentinel-2 bands such as B04/red or SCL"
        )
    crss = {g[0] for g in grids.values()}
    if len(crss) > 1:
        raise ProductError(
            f"STAC item {item.id} mixes projections ({', '.join(map(str, crss))}) across "
            "its band files; one product must be in one CRS"
        )
    # The finest spectral file spans the tile, as for a bare folder (product._grid_from_files).
    spectral = [k for k in files if BANDS[k[0]].spectral] or list(files)
    crs, transform, width, height = grids[min(spectral, key=lambda k: (k[1], _order(k[0])))]
    bounds = (
        transform.c,
        transform.f + transform.e * height,
        transform.c + transform.a * width,
        transform.f,
    )
    props = item.properties
    identity = item_identity(item)
    cloud = props.get("eo:cloud_cover")
    return Product(
        path=label,
        kind="stac",
        level=identity["level"] or ("L2A" if any(b == "SCL" for b, _ in files) else "L1C"),
        product_id=identity["product_id"],
        mission=identity["mission"],
        tile=identity["tile"],
        sensing_time=item.datetime,
        baseline=identity["baseline"],
        cloud_cover=float(cloud) if cloud is not None else None,
        footprint=item.geometry,
        crs=crs,
        bounds=bounds,
        files=files,
        offsets=dict(props.get(f"{PREFIX}offsets") or {}),
        offset_source=str(props.get(f"{PREFIX}offset_source") or "item"),
    )


def _order(band: str) -> int:
    return list(BANDS).index(band) if band in BANDS else len(BANDS)


def _label(source: StacSource, item: pystac.Item) -> str:
    if isinstance(source, str | Path):
        return str(source)
    return item.get_self_href() or item.id

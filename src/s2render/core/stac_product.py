"""Open a STAC Item whose assets are Sentinel-2 band files (COGs or JPEG 2000) as a
:class:`~s2render.core.product.Product` read over HTTP range requests.

Each band asset becomes a :class:`BandFile` whose path is a GDAL path (``/vsicurl/https://...``,
``/vsis3/bucket/key``, or a local file), so reading, rendering, previews and batches work on it
unchanged. Families understood (real items in shared/data, SOURCES.md sections 2 and 5):
earth-search v1 (asset keys ``red``, ``nir``, ``nir08``, ``scl``... plus ``*-jp2`` duplicates, of
which the COGs are used), earth-search v0 (keys ``B04``...), Planetary Computer (keys ``B04``,
hrefs into a ``.SAFE`` tree), the sentinel-s2-l2a JP2 items (``red``, ``red_20m``, ``red_60m``),
and the mapchete static catalogues (relative hrefs, STAC 0.8 band indices).

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

import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

import numpy as np
import pystac
import rasterio
import requests
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import NotGeoreferencedWarning

from s2render.core.bands import BANDS, baseline_number, normalize_band
from s2render.core.errors import ProductError
from s2render.core.product import BandFile, Product
from s2render.core.reader import open_level, read_env
from s2render.core.signing import PC_SAS_URL, SIGNING_KIND, needs_signing, signed_href

StacSource = str | Path | Mapping[str, Any] | pystac.Item

HTTP_TIMEOUT = 30.0  # seconds, to fetch an item document
HEADER_THREADS = 8  # header reads are network waits, not CPU work
PREFIX = "s2render:"
CACHE_VERSION = 1

# ESA's BOA_ADD_OFFSET / RADIO_ADD_OFFSET from processing baseline 04.00 (DESIGN.md section 5).
ESA_OFFSET = -1000
QUANTIFICATION = 10000
# A band whose median valid DN is below -offset would have a negative median reflectance: the
# offset must already have been removed from these DNs (SOURCES.md 2b, the 33TWL COGs).
VISIBLE_BANDS = ("B02", "B03", "B04")

# STAC EO extension common band names (stac-extensions/eo, "Common Band Names") for Sentinel-2,
# plus earth-search v1's asset keys for the red-edge bands (rededge1..3).
COMMON_NAMES = {
    "coastal": "B01",
    "blue": "B02",
    "green": "B03",
    "red": "B04",
    "rededge1": "B05",
    "rededge2": "B06",
    "rededge3": "B07",
    "nir": "B08",
    "nir08": "B8A",
    "nir09": "B09",
    "cirrus": "B10",
    "swir16": "B11",
    "swir22": "B12",
}
# S2A and S2B centre wavelengths differ by up to ~17 nm (B12: 2202 / 2186 nm); neighbouring
# bands are at least 32 nm apart (B08 833 nm, B8A 865 nm).
WAVELENGTH_TOLERANCE_NM = 20.0
# Identity fields of each family: earth-search v1 and Planetary Computer (s2:), earth-search v0
# (sentinel:), the older sentinel-s2-l2a-stac items (sentinel2:), STAC 0.8 (eo:productType).
PRODUCT_ID_FIELDS = (
    "s2:product_uri",
    "sentinel:product_id",
    "s2:product_title",
    "sentinel2:product_title",
)
BASELINE_FIELDS = (
    "s2:processing_baseline",
    "sentinel:processing_baseline",
    "sentinel2:processing_baseline",
)
PRODUCT_TYPE_FIELDS = ("s2:product_type", "sentinel2:product_type", "eo:productType")
_SKIPPED_ROLES = {"thumbnail", "overview", "metadata", "visual", "tiles"}
_KEY_SUFFIX_RE = re.compile(r"(?:-jp2|_(?:10|20|60)m)$", re.IGNORECASE)
_PRODUCT_BASELINE_RE = re.compile(r"_N(\d{2})(\d{2})_")
_LEVEL_RE = re.compile(r"MSIL(1C|2A)|(?:^|_)L(1C|2A)(?:_|$)", re.IGNORECASE)
_TILE_RE = re.compile(r"(?:^|_)T?(\d{1,2}[C-X][A-Z]{2})(?:_|$)")


# --- loading -----------------------------------------------------------------------------------


def load_item(source: StacSource) -> pystac.Item:
    """A STAC Item from a local JSON path, an http(s) URL or a dict, its self href set to where
    it was read from so that relative asset hrefs resolve (SOURCES.md 2b uses them)."""
    if isinstance(source, pystac.Item):
        return source.clone()  # resolving adds fields: leave the caller's item as it was
    location: str | None = None
    if isinstance(source, Mapping):
        data = dict(source)
    else:
        location = str(source)
        data = _read_document(location)
    if data.get("type") != "Feature":
        kind = data.get("type") or "document without a type"
        raise ProductError(
            f"{location or 'the given dict'} is a {kind}, not a STAC Item (a GeoJSON Feature); "
            "give one item of the catalog or search result"
        )
    if location is not None:  # where it was read from beats a stale self link
        data["links"] = [link for link in data.get("links", []) if link.get("rel") != "self"]
    try:
        item = pystac.Item.from_dict(data, migrate=True)
    except (KeyError, TypeError, ValueError, pystac.STACError) as exc:
        raise ProductError(
            f"{location or 'the given dict'} is not a valid STAC Item: {exc}"
        ) from exc
    if location is not None:
        item.set_self_href(location if _is_url(location) else str(Path(location).resolve()))
    return item


def is_stac_source(source: str | Path) -> bool:
    """Whether :func:`open_product` should open ``source`` as a STAC Item: an http(s) URL, or a
    ``.json`` file holding a GeoJSON Feature."""
    text = str(source)
    if _is_url(text):
        return True
    path = Path(text)
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("type") == "Feature"


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://"))


def _read_document(location: str) -> dict:
    try:
        if _is_url(location):
            response = requests.get(location, timeout=HTTP_TIMEOUT)
            response.raise_for_status()
            data = response.json()
        else:
            data = json.loads(Path(location).read_text(encoding="utf-8"))
    except requests.RequestException as exc:
        raise ProductError(f"cannot fetch STAC item {location}: {exc}") from exc
    except OSError as exc:
        raise ProductError(f"cannot read STAC item {location}: {exc}") from exc
    except ValueError as exc:  # json.JSONDecodeError and requests' JSON errors
        raise ProductError(f"{location} is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ProductError(f"{location} holds a JSON {type(data).__name__}, not a STAC Item")
    return data


def gdal_path(href: str) -> str:
    """The GDAL path of an absolute asset href: http(s) through ``/vsicurl/`` (query string, e.g.
    a SAS token, kept), ``s3://`` through ``/vsis3/``, local paths and GDAL paths as they are."""
    if _is_url(href):
        return f"/vsicurl/{href}"
    if href.startswith("s3://"):
        return f"/vsis3/{href[len('s3://') :]}"
    if href.startswith("file://"):
        return unquote(urlparse(href).path)
    return href


# --- asset to band -----------------------------------------------------------------------------


def asset_band(key: str, asset: Mapping[str, Any]) -> str | None:
    """The band an asset holds (``B04``, ``B8A``, ``SCL``...), or None for anything else
    (thumbnails, metadata, true-colour images, multi-band files).

    Band names and asset keys that are band names decide first (``B8A``, ``SCL``, ``scl_60m``);
    otherwise the centre wavelength picks the nearest band of the catalogue (so ``nir`` at
    0.842 um is B08 and ``nir08`` at 0.865 um is B8A); otherwise the STAC common name or key.
    """
    roles = {str(r).lower() for r in asset.get("roles") or ()}
    media = str(asset.get("type") or "")
    if roles & _SKIPPED_ROLES or (media and not media.startswith("image/")):
        return None
    eo_bands = asset.get("eo:bands") or []
    if len(eo_bands) > 1 or (eo_bands and not isinstance(eo_bands[0], Mapping)):
        return None
    eo = eo_bands[0] if eo_bands else {}
    stem = _KEY_SUFFIX_RE.sub("", key)
    for name in (eo.get("name"), stem):
        if name and normalize_band(str(name)) in BANDS:
            return normalize_band(str(name))
    wavelength = eo.get("center_wavelength")
    if wavelength:
        return band_at_wavelength(float(wavelength) * 1000.0)
    for name in (eo.get("common_name"), eo.get("name"), stem):
        if name and str(name).lower() in COMMON_NAMES:
            return COMMON_NAMES[str(name).lower()]
    return None


def band_at_wavelength(nm: float) -> str | None:
    """The spectral band whose centre wavelength (bands.BANDS) is nearest ``nm``, if close."""
    spectral = [b for b in BANDS.values() if b.wavelength_nm is not None]
    nearest = min(spectral, key=lambda b: abs(float(b.wavelength_nm or 0.0) - nm))
    if abs(float(nearest.wavelength_nm or 0.0) - nm) > WAVELENGTH_TOLERANCE_NM:
        return None
    return nearest.name


def band_assets(item: pystac.Item) -> dict[str, str]:
    """Asset key -> band for every band asset, earth-search's ``*-jp2`` duplicates of a COG
    left out (the COG has internal overviews and is cheaper to read)."""
    mapped = {
        key: band
        for key, asset in item.assets.items()
        if (band := asset_band(key, asset.to_dict())) is not None
    }
    return {
        key: band
        for key, band in mapped.items()
        if not (key.lower().endswith("-jp2") and mapped.get(key[: -len("-jp2")]) == band)
    }


# --- radiometric offset -----------------------------------------------------------------------


@dataclass(frozen=True)
class OffsetDecision:
    """The DN offset (reflectance = (DN + offset) / 10000) and the rule that decided it."""

    offset: int
    source: str


def decide_offset(
    baseline: str | None, boa_offset_applied: bool | None, raster_offset: float | None
) -> OffsetDecision:
    """The offset an item claims for its DNs.

    Processing baseline < 04.00: none (DESIGN.md section 5). From 04.00 ESA's files carry
    BOA_ADD_OFFSET -1000, which earth-search v1 says it removed with
    ``earthsearch:boa_offset_applied: true`` (Element 84's flag; items of the same weeks differ,
    see the sertit/eoreader discussion #120); that flag wins over a contradicting
    ``raster:bands`` offset of -0.1 (SOURCES.md 2b: the 33TWL COGs are offset-free yet declare
    -0.1). Flag false or absent: the ``raster:bands`` offset x 10000 if given, else -1000.
    ``raster_offset`` is in reflectance units, as in the raster extension.
    """
    declared = None if raster_offset is None else round(raster_offset * QUANTIFICATION)
    flag = {True: "true", False: "false", None: "absent"}[boa_offset_applied]
    if baseline is None or baseline_number(baseline) < 0:
        if boa_offset_applied:
            return OffsetDecision(0, "item: earthsearch:boa_offset_applied=true")
        if declared is not None:
            return OffsetDecision(
                declared, f"item: raster:bands offset {raster_offset:g} (no processing baseline)"
            )
        return OffsetDecision(0, "item: no processing baseline, no offset declared")
    if baseline_number(baseline) < 4.0:
        return OffsetDecision(0, f"item: processing baseline {baseline} < 04.00, no offset")
    if boa_offset_applied:
        ignored = f" (raster:bands offset {raster_offset:g} ignored)" if declared else ""
        return OffsetDecision(0, f"item: earthsearch:boa_offset_applied=true{ignored}")
    if declared is not None:
        return OffsetDecision(
            declared,
            f"item: processing baseline {baseline} >= 04.00, earthsearch:boa_offset_applied="
            f"{flag}, raster:bands offset {raster_offset:g}",
        )
    return OffsetDecision(
        ESA_OFFSET,
        f"item: processing baseline {baseline} >= 04.00, earthsearch:boa_offset_applied={flag}, "
        f"ESA BOA_ADD_OFFSET {ESA_OFFSET}",
    )


def check_offset(decision: OffsetDecision, band: str, median_dn: float | None) -> OffsetDecision:
    """Correct a negative offset the data contradicts: if the median valid DN of a visible band
    is below -offset, the median reflectance would be negative, so the offset was already
    removed. One way only: a high median proves nothing (bright desert, snow, cloud)."""
    if decision.offset >= 0 or median_dn is None:
        return decision
    if median_dn < -decision.offset:
        return OffsetDecision(
            0,
            f"data: median {band} DN {median_dn:.0f} < {-decision.offset}, offset already "
            "removed despite the item",
        )
    return OffsetDecision(
        decision.offset,
        f"{decision.source}; data: median {band} DN {median_dn:.0f} >= {-decision.offset} agrees",
    )


def median_dn(band_file: BandFile) -> float | None:
    """Median of the valid (non-zero) DNs of ``band_file``'s smallest overview."""
    path = band_file.path
    try:
        with read_env(path), rasterio.open(path) as src:
            levels = len(src.overviews(1))
        with read_env(path), open_level(path, levels) as src:
            data = src.read(1)
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(
            f"cannot read {band_file.band} from {path} to check its offset: {exc}"
        ) from exc
    valid = data[data != 0]
    return float(np.median(valid)) if valid.size else None


# --- resolving and opening ---------------------------------------------------------------------


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


def claimed_offset(item: pystac.Item) -> OffsetDecision:
    """What the item claims (:func:`decide_offset` over its baseline, its earth-search flag and
    the ``raster:bands`` offset of a visible band); reads nothing."""
    applied = item.properties.get("earthsearch:boa_offset_applied")
    reference = _reference_asset(item, band_assets(item))
    raster: Mapping[str, Any] = {}
    if reference is not None:
        raster_bands = item.assets[reference].extra_fields.get("raster:bands") or [{}]
        raster = raster_bands[0] if isinstance(raster_bands[0], Mapping) else {}
    return decide_offset(
        item_identity(item)["baseline"],
        applied if isinstance(applied, bool) else None,
        raster.get("offset"),
    )


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


def _reference_asset(item: pystac.Item, bands: dict[str, str]) -> str | None:
    """The asset whose raster:bands offset speaks for the item: a visible band, else any."""
    order = [*VISIBLE_BANDS, *(b.name for b in BANDS.values() if b.spectral)]
    spectral = [k for k, b in bands.items() if BANDS[b].spectral]
    return min(spectral, key=lambda k: order.index(bands[k]), default=None)


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


# --- identity ------------------------------------------------------------------------------


def item_identity(item: pystac.Item) -> dict[str, Any]:
    """Product id, level, mission, tile and processing baseline, from whichever fields the
    item's family uses (``s2:*`` in earth-search v1 and Planetary Computer, ``sentinel:*`` in
    earth-search v0, ``mgrs:*``, STAC 0.8 ``eo:productType``/``s2:tile``), else its id."""
    product_id = _product_id(item)
    return {
        "product_id": product_id,
        "level": _level(item, product_id),
        "mission": _mission(item, product_id),
        "tile": _tile(item, product_id),
        "baseline": _baseline(item),
    }


def _product_id(item: pystac.Item) -> str:
    props = item.properties
    for field in PRODUCT_ID_FIELDS:
        value = props.get(field)
        if value:
            return str(value).removesuffix(".SAFE")
    return item.id


def _baseline(item: pystac.Item) -> str | None:
    props = item.properties
    for field in BASELINE_FIELDS:
        if props.get(field):
            return str(props[field])
    for name in (_product_id(item), item.id):
        m = _PRODUCT_BASELINE_RE.search(name)
        if m:
            return f"{m.group(1)}.{m.group(2)}"
    return None


def _level(item: pystac.Item, product_id: str) -> str | None:
    props = item.properties
    product_type = next((str(props[f]) for f in PRODUCT_TYPE_FIELDS if props.get(f)), "")
    if product_type.upper() in ("S2MSI1C", "S2MSI2A"):  # ESA product types
        return f"L{product_type[-2:].upper()}"
    for text in (product_id, item.id):
        m = _LEVEL_RE.search(text)
        if m:
            return f"L{(m.group(1) or m.group(2)).upper()}"
    return None


def _tile(item: pystac.Item, product_id: str) -> str | None:
    props = item.properties
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"]).upper().removeprefix("T")
    for prefix in ("mgrs:", "sentinel:"):
        parts = [props.get(f"{prefix}{f}") for f in ("utm_zone", "latitude_band", "grid_square")]
        if all(p is not None for p in parts):
            return f"{int(parts[0]):02d}{parts[1]}{parts[2]}"  # type: ignore[arg-type]
    if props.get("s2:tile"):
        return str(props["s2:tile"]).upper().removeprefix("T")
    for name in (product_id, item.id):
        m = _TILE_RE.search(name)
        if m:
            return m.group(1).zfill(5)
    return None


def _mission(item: pystac.Item, product_id: str) -> str | None:
    platform = str(item.properties.get("platform") or "").lower()
    if re.fullmatch(r"sentinel-2[a-d]", platform):
        return f"S2{platform[-1].upper()}"
    m = re.match(r"^(S2[A-D])_", product_id) or re.match(r"^(S2[A-D])_", item.id)
    return m.group(1) if m else None

"""Reading STAC Items of Sentinel-2 products: loading one (path, URL, dict), mapping its assets
to bands, its identity (product id, level, tile, baseline), and the GDAL path of an href.

Families understood (real items in shared/data, SOURCES.md sections 2 and 5): earth-search v1
(asset keys ``red``, ``nir``, ``nir08``, ``scl``... plus ``*-jp2`` duplicates, of which the COGs
are used), earth-search v0 (keys ``B04``...), Planetary Computer (keys ``B04``, hrefs into a
``.SAFE`` tree), the sentinel-s2-l2a JP2 items (``red``, ``red_20m``, ``red_60m``), and the
mapchete static catalogues (relative hrefs, STAC 0.8 band indices). Nothing here reads a raster.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import pystac
import requests

from s2render.core.bands import BANDS, normalize_band
from s2render.core.errors import ProductError

StacSource = str | Path | Mapping[str, Any] | pystac.Item

HTTP_TIMEOUT = 30.0  # seconds, to fetch an item document

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

"""Read Sentinel-2 product metadata (MTD_MSIL1C.xml, MTD_MSIL2A.xml) and tile metadata (MTD_TL.xml).

Every processing baseline is handled by matching elements on their local names: the namespaces
change between baselines and files (PSD 14.x, AWS-bucket ``metadata.xml``). Element names and
meanings follow the Sentinel-2 Products Specification Document (S2-PDGS-TAS-DI-PSD v14.9):
``Spectral_Information_List`` (bandId -> physicalBand), ``QUANTIFICATION_VALUE`` (L1C) and
``QUANTIFICATION_VALUES_LIST`` (L2A), ``Special_Values``, ``Global_Footprint/EXT_POS_LIST``
("lat lon" pairs), ``Tile_Geocoding``. The radiometric offsets ``RADIO_ADD_OFFSET`` (L1C) and
``BOA_ADD_OFFSET`` (L2A) exist from processing baseline 04.00 on (ESA, "Sentinel-2 L1C and L2A
products: processing baseline 04.00", January 2022); they are read from the document, never
guessed from a date or a baseline.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from s2render.core.bands import normalize_band
from s2render.core.errors import MetadataError

XmlSource = bytes | str | Path

# Spectral_Information bandId 0..12 -> band (PSD v14.9 section 5.2); used when the list is absent.
STANDARD_BAND_ORDER: tuple[str, ...] = (
    "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12",
)  # fmt: skip
# Special_Values of every baseline so far (PSD v14.9); used only when a document omits them.
DEFAULT_NODATA = 0
DEFAULT_SATURATED = 65535

_ROOT_RE = re.compile(r"^Level-(1C|2A)p?_(User_Product|Tile_ID)$")
_TILE_RE = re.compile(r"(?:^|[_/])T(\d{2}[A-Z]{3})_")
_PRODUCT_BASELINE_RE = re.compile(r"_N(\d{2})(\d{2})_")
_TILE_BASELINE_RE = re.compile(r"_N(\d{2}\.\d{2})$")
_MISSION_RE = re.compile(r"Sentinel-?2([A-D])", re.IGNORECASE)
_EPSG_RE = re.compile(r"EPSG:\s*(\d+)$", re.IGNORECASE)
_TIME_RE = re.compile(r"^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:?\d{2})?$")
_OFFSET_ELEMENT = {"L1C": "RADIO_ADD_OFFSET", "L2A": "BOA_ADD_OFFSET"}


@dataclass(frozen=True)
class ProductMetadata:
    """What MTD_MSIL1C.xml / MTD_MSIL2A.xml say about a product."""

    product_id: str | None  # PRODUCT_URI without ".SAFE"
    mission: str | None  # "S2A", "S2B", "S2C"
    level: str  # "L1C" | "L2A"
    tile: str | None  # "01WCP"
    sensing_time: datetime | None  # PRODUCT_START_TIME, UTC
    baseline: str | None  # PROCESSING_BASELINE, "05.09"
    quantification: dict[str, float]  # band -> QUANTIFICATION_VALUE; L2A adds "AOT", "WVP"
    offsets: dict[str, int]  # band -> RADIO/BOA_ADD_OFFSET; all 0 when the document has none
    nodata: int
    saturated: int
    cloud_cover: float | None  # Cloud_Coverage_Assessment, percent
    footprint: dict[str, Any] | None  # GeoJSON Polygon, [lon, lat], closed ring
    image_files: tuple[str, ...]  # IMAGE_FILE entries as written: SAFE-relative, no extension
    image_format: str | None  # Granule/@imageFormat: "JPEG2000" or "GeoTIFF"


@dataclass(frozen=True)
class Geoposition:
    """The pixel grid of one resolution of a tile (Tile_Geocoding Size + Geoposition)."""

    ulx: float
    uly: float
    xdim: float
    ydim: float  # negative: rows go south
    nrows: int | None
    ncols: int | None

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(left, bottom, right, top) in the tile CRS, or None without a Size."""
        if self.nrows is None or self.ncols is None:
            return None
        xs = (self.ulx, self.ulx + self.ncols * self.xdim)
        ys = (self.uly, self.uly + self.nrows * self.ydim)
        return (min(xs), min(ys), max(xs), max(ys))


@dataclass(frozen=True)
class TileMetadata:
    """What MTD_TL.xml (or the AWS-bucket metadata.xml, the same document) says about a tile."""

    tile_id: str | None  # TILE_ID
    tile: str | None  # "01WCP"
    level: str | None  # "L1C" | "L2A", from the root element
    sensing_time: datetime | None  # SENSING_TIME, UTC
    epsg: int | None  # HORIZONTAL_CS_CODE
    geoposition: dict[int, Geoposition]  # resolution in m -> grid
    cloud_cover: float | None  # CLOUDY_PIXEL_PERCENTAGE
    baseline: str | None = None  # the "_Nxx.yy" suffix of TILE_ID

    def bounds(self) -> tuple[float, float, float, float] | None:
        """(left, bottom, right, top) of the finest resolution grid that has a size."""
        for resolution in sorted(self.geoposition):
            box = self.geoposition[resolution].bounds()
            if box is not None:
                return box
        return None


def parse_product_metadata(xml: XmlSource) -> ProductMetadata:
    """Parse MTD_MSIL1C.xml / MTD_MSIL2A.xml given as a path, bytes or XML text."""
    doc = _Document.load(xml)
    kind, level = doc.classify()
    if kind != "product":
        raise MetadataError(
            f"{doc.label}: <{doc.root_name}> is tile metadata (MTD_TL.xml); "
            "use parse_tile_metadata, or pass MTD_MSIL1C.xml / MTD_MSIL2A.xml"
        )
    return _read_product(doc, level)


def parse_tile_metadata(xml: XmlSource) -> TileMetadata:
    """Parse GRANULE/*/MTD_TL.xml (or an AWS-bucket metadata.xml) given as path, bytes or text."""
    doc = _Document.load(xml)
    kind, level = doc.classify()
    if kind != "tile":
        raise MetadataError(
            f"{doc.label}: <{doc.root_name}> is product metadata (MTD_MSIL*.xml); "
            "use parse_product_metadata, or pass GRANULE/*/MTD_TL.xml"
        )
    return _read_tile(doc, level)


def parse_metadata(xml: XmlSource) -> ProductMetadata | TileMetadata:
    """Parse product or tile metadata, whichever the root element says the document is."""
    doc = _Document.load(xml)
    kind, level = doc.classify()
    return _read_product(doc, level) if kind == "product" else _read_tile(doc, level)


# --- document access -------------------------------------------------------------------------


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class _Document:
    """A parsed document whose elements are looked up by local name, in document order."""

    def __init__(self, root: ET.Element, label: str) -> None:
        self.root = root
        self.label = label
        self.root_name = _local(root.tag)
        self._by_name: dict[str, list[ET.Element]] = defaultdict(list)
        for element in root.iter():
            if isinstance(element.tag, str):
                self._by_name[_local(element.tag)].append(element)

    @classmethod
    def load(cls, xml: XmlSource) -> _Document:
        data: bytes | str
        if isinstance(xml, bytes | bytearray):
            data, label = bytes(xml), "metadata XML (bytes)"
        elif isinstance(xml, str) and xml.lstrip().startswith("<"):
            data, label = xml, "metadata XML (text)"
        elif isinstance(xml, str | Path):
            path = Path(xml)
            label = str(path)
            try:
                data = path.read_bytes()
            except OSError as exc:
                raise MetadataError(f"cannot read metadata file {path}: {exc}") from exc
        else:
            raise TypeError(f"expected bytes, XML text or a path, got {type(xml).__name__}")
        try:
            root = ET.fromstring(data)
        except ET.ParseError as exc:
            raise MetadataError(
                f"{label} is not well-formed XML ({exc}); expected a Sentinel-2 "
                "MTD_MSIL1C.xml, MTD_MSIL2A.xml or MTD_TL.xml document"
            ) from exc
        return cls(root, label)

    def classify(self) -> tuple[str, str]:
        """("product" | "tile", "L1C" | "L2A") from the root element, or MetadataError."""
        match = _ROOT_RE.match(self.root_name)
        if match is None:
            raise MetadataError(
                f"{self.label}: root element <{self.root_name}> is not Sentinel-2 metadata; "
                "expected Level-1C_User_Product, Level-2A_User_Product (MTD_MSIL*.xml), "
                "Level-1C_Tile_ID or Level-2A_Tile_ID (MTD_TL.xml)"
            )
        kind = "product" if match.group(2) == "User_Product" else "tile"
        return kind, f"L{match.group(1)}"

    def all(self, name: str) -> list[ET.Element]:
        return self._by_name.get(name, [])

    def first(self, *names: str) -> ET.Element | None:
        """The first element with text among ``names``, tried in order."""
        for name in names:
            for element in self.all(name):
                if _text(element) is not None:
                    return element
        return None

    def text(self, *names: str) -> str | None:
        element = self.first(*names)
        return None if element is None else _text(element)

    def number(self, *names: str) -> float | None:
        element = self.first(*names)
        return None if element is None else self.element_number(element)

    def element_number(self, element: ET.Element) -> float:
        text = _text(element) or ""
        try:
            return float(text)
        except ValueError:
            raise MetadataError(
                f"{self.label}: <{_local(element.tag)}> is {text!r}; expected a number"
            ) from None

    def element_int(self, element: ET.Element) -> int:
        value = self.element_number(element)
        if not value.is_integer():
            raise MetadataError(
                f"{self.label}: <{_local(element.tag)}> is {value}; expected an integer"
            )
        return int(value)

    def time(self, *names: str) -> datetime | None:
        element = self.first(*names)
        if element is None:
            return None
        return _parse_time(_text(element) or "", f"{self.label}: <{_local(element.tag)}>")


def _text(element: ET.Element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def _parse_time(text: str, where: str) -> datetime:
    """ISO 8601 with any number of fractional digits ("...57.2462Z" occurs); naive means UTC."""
    match = _TIME_RE.match(text)
    try:
        if match is None:
            raise ValueError(text)
        base, fraction, zone = match.groups()
        micros = (fraction or "")[:6].ljust(6, "0")
        zone = "+00:00" if zone in (None, "Z") else zone
        return datetime.fromisoformat(f"{base}.{micros}{zone}").astimezone(UTC)
    except ValueError:
        raise MetadataError(
            f"{where} is {text!r}; expected an ISO 8601 time such as 2023-06-25T23:46:21.024Z"
        ) from None


# --- product metadata ------------------------------------------------------------------------


def _read_product(doc: _Document, level: str) -> ProductMetadata:
    uri = doc.text("PRODUCT_URI")
    product_id = uri.removesuffix(".SAFE") if uri else None
    granules = [g for g in doc.all("Granule") + doc.all("Granules") if g.attrib]
    granule_ids = [g.get("granuleIdentifier", "") for g in granules]
    image_files = tuple(t for e in doc.all("IMAGE_FILE") if (t := _text(e)) is not None)
    band_ids = _band_ids(doc)
    special = _special_values(doc)
    formats = [f for g in granules if (f := g.get("imageFormat"))]
    return ProductMetadata(
        product_id=product_id,
        mission=_mission(doc.text("SPACECRAFT_NAME"), [product_id or "", *granule_ids]),
        level=level,
        tile=_product_tile(product_id, granule_ids, image_files),
        sensing_time=doc.time("PRODUCT_START_TIME", "DATATAKE_SENSING_START"),
        baseline=doc.text("PROCESSING_BASELINE") or _baseline_from_product_id(product_id),
        quantification=_quantification(doc, level, band_ids),
        offsets=_offsets(doc, level, band_ids),
        nodata=special.get("NODATA", DEFAULT_NODATA),
        saturated=special.get("SATURATED", DEFAULT_SATURATED),
        cloud_cover=doc.number("Cloud_Coverage_Assessment", "CLOUD_COVERAGE_ASSESSMENT"),
        footprint=_footprint(doc),
        image_files=image_files,
        image_format=formats[0] if formats else None,
    )


def _band_ids(doc: _Document) -> dict[int, str]:
    """bandId -> band from Spectral_Information_List, else the standard order (PSD v14.9)."""
    mapping: dict[int, str] = {}
    for element in doc.all("Spectral_Information"):
        band_id, physical = element.get("bandId"), element.get("physicalBand")
        if band_id is None or physical is None:
            continue
        band = normalize_band(physical)
        if not band_id.strip().isdigit() or band not in STANDARD_BAND_ORDER:
            raise MetadataError(
                f"{doc.label}: <Spectral_Information bandId={band_id!r} "
                f"physicalBand={physical!r}> is not a Sentinel-2 band; expected bandId 0-12 "
                "and physicalBand B1..B12 or B8A"
            )
        mapping[int(band_id)] = band
    return dict(sorted(mapping.items())) if mapping else dict(enumerate(STANDARD_BAND_ORDER))


def _band_of(doc: _Document, element: ET.Element, band_ids: dict[int, str]) -> str:
    raw = element.get("band_id", element.get("bandId"))
    if raw is not None and raw.strip().isdigit() and int(raw) in band_ids:
        return band_ids[int(raw)]
    raise MetadataError(
        f"{doc.label}: <{_local(element.tag)} band_id={raw!r}> names no band of the "
        f"Spectral_Information_List; expected band_id in {sorted(band_ids)}"
    )


def _quantification(doc: _Document, level: str, band_ids: dict[int, str]) -> dict[str, float]:
    """Band -> quantification value; empty when the document states none."""
    result: dict[str, float] = {}
    # L2A: QUANTIFICATION_VALUES_LIST/BOA_QUANTIFICATION_VALUE (L2A_ prefix in Sen2Cor < 2.4);
    # L1C: QUANTIFICATION_VALUE. One value applies to every spectral band.
    names = ("BOA_QUANTIFICATION_VALUE", "L2A_BOA_QUANTIFICATION_VALUE", "QUANTIFICATION_VALUE")
    reflectance = doc.number(*names)
    if reflectance is not None:
        result.update(dict.fromkeys(band_ids.values(), reflectance))
    if level == "L2A":
        for layer in ("AOT", "WVP"):
            value = doc.number(f"{layer}_QUANTIFICATION_VALUE", f"L2A_{layer}_QUANTIFICATION_VALUE")
            if value is not None:
                result[layer] = value
    return result


def _offsets(doc: _Document, level: str, band_ids: dict[int, str]) -> dict[str, int]:
    """Band -> additive DN offset as listed; every band 0 when the document lists none."""
    elements = doc.all(_OFFSET_ELEMENT[level])
    if not elements:  # before baseline 04.00 there is no offset list and no offset
        return dict.fromkeys(band_ids.values(), 0)
    return {_band_of(doc, e, band_ids): doc.element_int(e) for e in elements}


def _special_values(doc: _Document) -> dict[str, int]:
    values: dict[str, int] = {}
    for group in doc.all("Special_Values"):
        children = {_local(c.tag): c for c in group}
        name, index = children.get("SPECIAL_VALUE_TEXT"), children.get("SPECIAL_VALUE_INDEX")
        if name is not None and index is not None and (key := _text(name)) is not None:
            values[key.upper()] = doc.element_int(index)
    return values


def _footprint(doc: _Document) -> dict[str, Any] | None:
    """GeoJSON Polygon from EXT_POS_LIST, which lists "lat lon" pairs; values kept as written."""
    text = doc.text("EXT_POS_LIST")
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split()]
    except ValueError:
        raise MetadataError(
            f"{doc.label}: <EXT_POS_LIST> holds a non-number; expected 'lat lon lat lon ...'"
        ) from None
    if len(values) % 2 or len(values) < 6:
        raise MetadataError(
            f"{doc.label}: <EXT_POS_LIST> has {len(values)} numbers; expected "
            "latitude/longitude pairs of at least 3 points"
        )
    ring = [[lon, lat] for lat, lon in zip(values[0::2], values[1::2], strict=True)]
    if ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    # Antimeridian tiles (T01...) list 180 and -179 side by side; splitting is the caller's job.
    return {"type": "Polygon", "coordinates": [ring]}


def _mission(spacecraft: str | None, identifiers: list[str]) -> str | None:
    match = _MISSION_RE.search(spacecraft or "")
    if match:
        return f"S2{match.group(1).upper()}"
    for identifier in identifiers:
        if re.match(r"S2[A-D]_", identifier):
            return identifier[:3]
    return None


def _tiles_in(texts: list[str] | tuple[str, ...]) -> set[str]:
    return {m.group(1) for t in texts for m in _TILE_RE.finditer(t)}


def _product_tile(
    product_id: str | None, granule_ids: list[str], image_files: tuple[str, ...]
) -> str | None:
    """The tile of the product id, else the single tile its granules or image files name."""
    for texts in ([product_id or ""], granule_ids, image_files):
        tiles = _tiles_in(texts)
        if tiles:  # several tiles: an old multi-tile product, which has no single tile
            return tiles.pop() if len(tiles) == 1 else None
    return None


def _baseline_from_product_id(product_id: str | None) -> str | None:
    match = _PRODUCT_BASELINE_RE.search(product_id or "")
    return f"{match.group(1)}.{match.group(2)}" if match else None


# --- tile metadata ---------------------------------------------------------------------------


def _read_tile(doc: _Document, level: str) -> TileMetadata:
    tile_id = doc.text("TILE_ID")
    tiles = _tiles_in([tile_id or ""])
    baseline = _TILE_BASELINE_RE.search(tile_id or "")
    return TileMetadata(
        tile_id=tile_id,
        tile=tiles.pop() if len(tiles) == 1 else None,
        level=level,
        sensing_time=doc.time("SENSING_TIME"),
        epsg=_epsg(doc),
        geoposition=_geopositions(doc),
        cloud_cover=doc.number("CLOUDY_PIXEL_PERCENTAGE"),
        baseline=baseline.group(1) if baseline else None,
    )


def _epsg(doc: _Document) -> int | None:
    code = doc.text("HORIZONTAL_CS_CODE")
    if code is None:
        return None
    match = _EPSG_RE.match(code)
    if match is None:
        raise MetadataError(f"{doc.label}: <HORIZONTAL_CS_CODE> is {code!r}; expected 'EPSG:<n>'")
    return int(match.group(1))


def _resolution(doc: _Document, element: ET.Element) -> int:
    raw = element.get("resolution", "")
    if not raw.strip().isdigit():
        raise MetadataError(
            f"{doc.label}: <{_local(element.tag)} resolution={raw!r}>; expected 10, 20 or 60"
        )
    return int(raw)


def _children(doc: _Document, element: ET.Element, names: tuple[str, ...]) -> list[ET.Element]:
    children = {_local(c.tag): c for c in element}
    missing = [n for n in names if n not in children]
    if missing:
        raise MetadataError(
            f"{doc.label}: <{_local(element.tag)} resolution={element.get('resolution')!r}> "
            f"lacks {', '.join(missing)}; expected {', '.join(names)}"
        )
    return [children[n] for n in names]


def _geopositions(doc: _Document) -> dict[int, Geoposition]:
    """Resolution -> grid from Tile_Geocoding's Size and Geoposition elements."""
    sizes: dict[int, tuple[int | None, int | None]] = {}
    for size in doc.all("Size"):
        nrows, ncols = _children(doc, size, ("NROWS", "NCOLS"))
        sizes[_resolution(doc, size)] = (doc.element_int(nrows), doc.element_int(ncols))
    grids: dict[int, Geoposition] = {}
    for position in doc.all("Geoposition"):
        resolution = _resolution(doc, position)
        ulx, uly, xdim, ydim = (
            doc.element_number(e) for e in _children(doc, position, ("ULX", "ULY", "XDIM", "YDIM"))
        )
        rows, cols = sizes.get(resolution, (None, None))
        grids[resolution] = Geoposition(ulx, uly, xdim, ydim, rows, cols)
    return dict(sorted(grids.items()))

"""Open a Sentinel-2 product — SAFE folder, SAFE zip, or a bare folder of band files — and say
what it holds: identity, radiometry, grid, and which band files exist at which resolution.

Band files are located through the ``IMAGE_FILE`` entries of ``MTD_MSIL*.xml`` first (they carry
no extension) and by the ESA file-name pattern otherwise. Files are opened by content through
GDAL, whatever their extension says.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

import rasterio
from affine import Affine
from rasterio.crs import CRS

from s2render.core.bands import BANDS, RESOLUTIONS, check_band, normalize_band
from s2render.core.errors import BandError, MetadataError, ProductError
from s2render.core.metadata import (
    ProductMetadata,
    TileMetadata,
    parse_product_metadata,
    parse_tile_metadata,
)

# Radiometric defaults when a product carries no metadata (ESA PSD: DN = reflectance * 10000).
DEFAULT_QUANTIFICATION = 10000.0
L2A_LAYER_QUANTIFICATION = {"AOT": 1000.0, "WVP": 1000.0}

BAND_FILE_RE = re.compile(
    r"(?:^|_)(?P<band>B0[1-9]|B1[0-2]|B8A|SCL|AOT|WVP|TCI)(?:_(?P<res>10|20|60)m)?$",
    re.IGNORECASE,
)
RASTER_SUFFIXES = (".jp2", ".tif", ".tiff", ".j2k", ".jpx")
PRODUCT_NAME_RE = re.compile(
    r"^(?P<mission>S2[ABCD])_MSI(?P<level>L1C|L2A)_(?P<sensing>\d{8}T\d{6})_"
    r"(?:N(?P<baseline>\d{4})_)?R\d{3}_T(?P<tile>\d{2}[A-Z]{3})_"
)
TILE_FILE_RE = re.compile(r"^T(?P<tile>\d{2}[A-Z]{3})_(?P<sensing>\d{8}T\d{6})_")


@dataclass(frozen=True)
class BandFile:
    """One band file: the band it holds, its native resolution and how GDAL reaches it."""

    band: str
    resolution: int
    path: str


@dataclass(frozen=True)
class Grid:
    """A north-up pixel grid in the product's CRS."""

    crs: CRS
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        left, top = self.transform.c, self.transform.f
        return (
            left,
            top + self.transform.e * self.height,
            left + self.transform.a * self.width,
            top,
        )


@dataclass
class Product:
    """What one Sentinel-2 product holds. Build it with :func:`open_product`."""

    path: str
    kind: str  # "safe" | "zip" | "folder" | "stac"
    level: str
    product_id: str
    mission: str | None
    tile: str | None
    sensing_time: datetime | None
    baseline: str | None
    cloud_cover: float | None
    footprint: dict | None
    crs: CRS
    bounds: tuple[float, float, float, float]
    files: dict[tuple[str, int], BandFile]
    offsets: dict[str, int] = field(default_factory=dict)
    quantification: dict[str, float] = field(default_factory=dict)
    offset_source: str = "metadata"
    metadata: ProductMetadata | None = None
    tile_metadata: TileMetadata | None = None

    def native_bands(self) -> dict[int, list[str]]:
        """For each resolution, the bands the product holds natively (a file exists)."""
        by_res: dict[int, list[str]] = {r: [] for r in RESOLUTIONS}
        for band, res in sorted(self.files, key=lambda k: (k[1], _band_order(k[0]))):
            by_res.setdefault(res, []).append(band)
        return by_res

    def bands(self) -> list[str]:
        """Every band the product can render (at any resolution)."""
        return sorted({b for b, _ in self.files if b != "TCI"}, key=_band_order)

    def band_offset(self, band: str) -> int:
        return int(self.offsets.get(band, 0))

    def band_quantification(self, band: str) -> float:
        default = L2A_LAYER_QUANTIFICATION.get(band, DEFAULT_QUANTIFICATION)
        return float(self.quantification.get(band, default))

    def grid(self, resolution: float) -> Grid:
        """The product's pixel grid at ``resolution`` metres, anchored at its top-left corner."""
        if resolution <= 0:
            raise ValueError(f"resolution must be positive, got {resolution}")
        left, bottom, right, top = self.bounds
        width = max(1, round((right - left) / resolution))
        height = max(1, round((top - bottom) / resolution))
        return Grid(self.crs, Affine(resolution, 0, left, 0, -resolution, top), width, height)

    def band_file(self, band: str, resolution: float) -> BandFile:
        """The file to read ``band`` from when rendering at ``resolution``.

        The native file at that resolution when there is one; otherwise, when coarsening, the
        finest file not finer than needed (ESA's own downsampled files are cheaper to decode),
        and when refining, the finest file available.
        """
        name = check_band(band, self.level)
        candidates = sorted(res for b, res in self.files if b == name)
        if not candidates:
            have = ", ".join(self.bands())
            raise BandError(f"{name} is not in product {self.product_id}; it holds {have}")
        exact = [r for r in candidates if r == resolution]
        if exact:
            return self.files[(name, exact[0])]
        finer = [r for r in candidates if r < resolution]
        chosen = max(finer) if finer else min(candidates)
        return self.files[(name, chosen)]

    def is_native(self, band: str, resolution: float) -> bool:
        return (normalize_band(band), resolution) in self.files

    def describe(self) -> dict:
        """A JSON-serialisable summary (what ``s2render info`` prints)."""
        return {
            "product_id": self.product_id,
            "path": self.path,
            "kind": self.kind,
            "mission": self.mission,
            "level": self.level,
            "tile": self.tile,
            "sensing_time": self.sensing_time.isoformat() if self.sensing_time else None,
            "processing_baseline": self.baseline,
            "cloud_cover": self.cloud_cover,
            "crs": self.crs.to_string(),
            "bounds": list(self.bounds),
            "footprint": self.footprint,
            "offsets": {b: self.band_offset(b) for b in self.bands() if BANDS[b].spectral},
            "offset_source": self.offset_source,
            "quantification": {b: self.band_quantification(b) for b in self.bands()},
            "bands": {f"{r}m": bands for r, bands in self.native_bands().items() if bands},
        }


def _band_order(band: str) -> int:
    names = [*BANDS, "TCI"]
    return names.index(band) if band in names else len(names)


def open_product(path: str | Path, *, offset: int | None = None) -> Product:
    """Open a product: a SAFE folder, a zip holding one, its MTD XML, a bare band folder, or a
    STAC Item (an http(s) URL or a ``.json`` Feature; see core.stac_product).

    ``offset`` overrides the radiometric offset of every spectral band (for products without
    metadata, whose convention the caller knows).
    """
    from s2render.core.stac_item import is_stac_source
    from s2render.core.stac_product import open_stac_item  # imports reader

    if is_stac_source(path):
        return open_stac_item(str(path), offset_override=offset)
    p = Path(path)
    if not p.exists():
        raise ProductError(f"product path {str(path)!r} does not exist")
    if p.is_file() and p.name.upper().startswith("MTD_MSIL") and p.suffix.lower() == ".xml":
        p = p.parent
    if p.is_file():
        if not zipfile.is_zipfile(p):
            raise ProductError(
                f"{p} is neither a folder nor a zip file; give a .SAFE folder, its .zip, "
                "or a folder of band files"
            )
        product = _open_zip(p)
    elif _find_product_mtd(p) is not None:
        product = _open_safe(p)
    else:
        product = _open_folder(p)
    if offset is not None:
        product.offsets = {b.name: int(offset) for b in BANDS.values() if b.spectral}
        product.offset_source = "override"
    return product


# --- SAFE folder and zip -------------------------------------------------------------------


class _Tree:
    """Uniform read access to the files of a folder or of a zip archive."""

    def __init__(self, root: Path, zip_file: Path | None = None, prefix: str = "") -> None:
        self.root = root
        self.zip_file = zip_file
        self.prefix = prefix  # SAFE root inside the zip, with trailing slash, or ""
        self._names: list[str] | None = None

    def names(self) -> list[str]:
        """Every file path relative to the product root (posix separators)."""
        if self._names is None:
            if self.zip_file is not None:
                with zipfile.ZipFile(self.zip_file) as zf:
                    self._names = [
                        n[len(self.prefix) :]
                        for n in zf.namelist()
                        if n.startswith(self.prefix) and not n.endswith("/")
                    ]
            else:
                self._names = [
                    f.relative_to(self.root).as_posix() for f in self.root.rglob("*") if f.is_file()
                ]
        return self._names

    def read(self, relative: str) -> bytes:
        if self.zip_file is not None:
            with zipfile.ZipFile(self.zip_file) as zf:
                return zf.read(self.prefix + relative)
        return (self.root / relative).read_bytes()

    def gdal_path(self, relative: str) -> str:
        if self.zip_file is not None:
            return f"/vsizip/{self.zip_file.resolve()}/{self.prefix}{relative}"
        return str((self.root / relative).resolve())


def _find_product_mtd(folder: Path) -> Path | None:
    for name in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml"):
        if (folder / name).is_file():
            return folder / name
    return None


def _open_safe(folder: Path) -> Product:
    return _open_tree(_Tree(folder), str(folder.resolve()), "safe", folder.name)


def _open_zip(path: Path) -> Product:
    with zipfile.ZipFile(path) as zf:
        mtds = [
            n
            for n in zf.namelist()
            if PurePosixPath(n).name in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml")
        ]
    if not mtds:
        raise ProductError(f"{path} holds no MTD_MSIL2A.xml or MTD_MSIL1C.xml: not a SAFE zip")
    mtd = min(mtds, key=len)
    prefix = mtd[: -len(PurePosixPath(mtd).name)]
    name = PurePosixPath(prefix).name or path.stem
    return _open_tree(_Tree(path.parent, path, prefix), str(path.resolve()), "zip", name)


def _open_tree(tree: _Tree, location: str, kind: str, name: str) -> Product:
    names = tree.names()
    mtd_name = next((n for n in ("MTD_MSIL2A.xml", "MTD_MSIL1C.xml") if n in names), None)
    if mtd_name is None:
        raise ProductError(f"{location}: no MTD_MSIL2A.xml or MTD_MSIL1C.xml at the SAFE root")
    try:
        meta = parse_product_metadata(tree.read(mtd_name))
    except MetadataError as exc:
        raise ProductError(f"{location}: {exc}") from exc
    tile_meta = None
    tl_names = sorted(n for n in names if re.fullmatch(r"GRANULE/[^/]+/MTD_TL\.xml", n))
    if tl_names:
        try:
            tile_meta = parse_tile_metadata(tree.read(tl_names[0]))
        except MetadataError as exc:
            raise ProductError(f"{location}: {exc}") from exc

    files = _files_from_image_entries(tree, meta.image_files, names)
    if not files:  # metadata without usable IMAGE_FILE entries: fall back to the folder pattern
        rasters = [n for n in names if "/IMG_DATA/" in f"/{n}" and _is_raster_name(n)]
        files = _files_from_names(tree, rasters)
    if not files:
        raise ProductError(f"{location}: no band files found under GRANULE/*/IMG_DATA")

    crs, bounds = _grid_from_metadata(tile_meta)
    if crs is None or bounds is None:
        crs, bounds = _grid_from_files(files.values())
    level = meta.level
    return Product(
        path=location,
        kind=kind,
        level=level,
        product_id=meta.product_id or name.removesuffix(".SAFE").removesuffix(".zip"),
        mission=meta.mission,
        tile=meta.tile or (tile_meta.tile if tile_meta else None),
        sensing_time=meta.sensing_time or (tile_meta.sensing_time if tile_meta else None),
        baseline=meta.baseline,
        cloud_cover=meta.cloud_cover
        if meta.cloud_cover is not None
        else (tile_meta.cloud_cover if tile_meta else None),
        footprint=meta.footprint,
        crs=crs,
        bounds=bounds,
        files=files,
        offsets=dict(meta.offsets),
        quantification=dict(meta.quantification),
        offset_source="metadata",
        metadata=meta,
        tile_metadata=tile_meta,
    )


def _is_raster_name(name: str) -> bool:
    return PurePosixPath(name).suffix.lower() in RASTER_SUFFIXES


def _files_from_image_entries(
    tree: _Tree, entries: Iterable[str], names: list[str]
) -> dict[tuple[str, int], BandFile]:
    """Resolve extension-less IMAGE_FILE entries against the files that really exist."""
    by_stem: dict[str, str] = {}
    for n in names:
        if _is_raster_name(n):
            by_stem.setdefault(n.rsplit(".", 1)[0], n)
    found = [by_stem[e.strip().lstrip("/")] for e in entries if e.strip().lstrip("/") in by_stem]
    return _files_from_names(tree, found)


def _files_from_names(tree: _Tree, names: Iterable[str]) -> dict[tuple[str, int], BandFile]:
    files: dict[tuple[str, int], BandFile] = {}
    for n in names:
        stem = PurePosixPath(n).name.rsplit(".", 1)[0]
        m = BAND_FILE_RE.search(stem)
        # Quality masks (QI_DATA/MSK_DETFOO_B01.jp2, MSK_QUALIT_B04...) end in a band name too,
        # but hold flags, not the band (L2A PSD, QI_DATA folder).
        if not m or stem.upper().startswith("MSK_") or "QI_DATA" in PurePosixPath(n).parts:
            continue
        band = normalize_band(m.group("band"))
        gdal_path = tree.gdal_path(n)
        res = int(m.group("res")) if m.group("res") else _file_resolution(gdal_path)
        files.setdefault((band, res), BandFile(band, res, gdal_path))
    return files


def _file_resolution(gdal_path: str) -> int:
    try:
        with rasterio.open(gdal_path) as src:
            return round(src.res[0])
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(f"cannot open band file {gdal_path}: {exc}") from exc


def _grid_from_metadata(
    tile_meta: TileMetadata | None,
) -> tuple[CRS | None, tuple[float, float, float, float] | None]:
    if tile_meta is None or tile_meta.epsg is None:
        return None, None
    bounds = tile_meta.bounds()
    if bounds is None:
        return None, None
    return CRS.from_epsg(tile_meta.epsg), bounds


def _grid_from_files(files: Iterable[BandFile]) -> tuple[CRS, tuple[float, float, float, float]]:
    """CRS and bounds of the finest band file (10 m bands span the whole tile)."""
    spectral = [f for f in files if f.band != "TCI"] or list(files)
    finest = min(spectral, key=lambda f: (f.resolution, _band_order(f.band)))
    with rasterio.open(finest.path) as src:
        if src.crs is None:
            raise ProductError(f"{finest.path} has no coordinate reference system")
        return src.crs, tuple(src.bounds)


# --- bare folder of band files ---------------------------------------------------------------


def _open_folder(folder: Path) -> Product:
    rasters = sorted(
        f for f in folder.rglob("*") if f.is_file() and f.suffix.lower() in RASTER_SUFFIXES
    )
    tree = _Tree(folder)
    files = _files_from_names(tree, [f.relative_to(folder).as_posix() for f in rasters])
    if not files:
        raise ProductError(
            f"{folder} holds no band files named the ESA way (e.g. T33UUU_20170216T102101_B04.jp2 "
            "or T33UUU_20170216T102101_B04_10m.jp2) and no MTD_MSIL2A.xml/MTD_MSIL1C.xml"
        )
    has_l2a_layers = any(b in ("SCL", "AOT", "WVP") for b, _ in files)
    has_res_suffix = any(re.search(r"_(10|20|60)m\.", f.name) for f in rasters)
    level = "L2A" if (has_l2a_layers or has_res_suffix) and ("B10", 60) not in files else "L1C"
    if level == "L2A":
        files = {k: v for k, v in files.items() if k[0] != "B10"}
    tile = sensing = None
    for f in rasters:
        m = TILE_FILE_RE.match(f.name)
        if m:
            tile = m.group("tile")
            sensing = datetime.strptime(m.group("sensing"), "%Y%m%dT%H%M%S")
            break
    name_match = PRODUCT_NAME_RE.match(folder.name)
    crs, bounds = _grid_from_files(files.values())
    product_id = folder.name
    if tile and sensing:
        product_id = f"T{tile}_{sensing:%Y%m%dT%H%M%S}_{level}"
    return Product(
        path=str(folder.resolve()),
        kind="folder",
        level=level,
        product_id=product_id,
        mission=name_match.group("mission") if name_match else None,
        tile=tile,
        sensing_time=sensing.replace(tzinfo=UTC) if sensing else None,
        baseline=name_match.group("baseline")
        if name_match and name_match.group("baseline")
        else None,
        cloud_cover=None,
        footprint=None,
        crs=crs,
        bounds=bounds,
        files=files,
        offsets={b.name: 0 for b in BANDS.values() if b.spectral},
        quantification={},
        offset_source="none: no metadata, DN taken as reflectance x 10000",
    )

"""Product (MTD_MSIL*.xml) and tile (MTD_TL.xml) metadata of every baseline in shared/data.

Expected values were read from the XML files themselves (see shared/data/SOURCES.md section 4).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from s2render.core.errors import MetadataError, ProductError
from s2render.core.metadata import (
    STANDARD_BAND_ORDER,
    Geoposition,
    ProductMetadata,
    TileMetadata,
    parse_metadata,
    parse_product_metadata,
    parse_tile_metadata,
)

# The shared data sits beside the repository: <repo>/../shared/data.
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EARTHSEARCH = SHARED / "s2_l2a_earthsearch_120m_mapchete_eo"

PRODUCT_XMLS = sorted(SHARED.glob("safe_metadata_*/*/MTD_MSIL*.xml"))
TILE_XMLS = sorted(
    {
        *SHARED.glob("safe_metadata_*/*/GRANULE/*/MTD_TL.xml"),
        *SHARED.glob("safe_metadata_stactools/*/metadata.xml"),
        *EARTHSEARCH.rglob("metadata.xml"),
        *EARTHSEARCH.rglob("granule_metadata.xml"),
        *(SHARED / "stac_items" / "mapchete-eo").rglob("granule_metadata.xml"),
    }
)


class ProductCase(NamedTuple):
    path: str  # relative to SHARED
    product_id: str
    mission: str
    level: str
    tile: str
    baseline: str
    sensing_time: str  # PRODUCT_START_TIME as written
    offset: int  # the same for all 13 bands in every real file
    cloud_cover: float
    image_format: str
    image_file_count: int
    first_image_file: str
    first_vertex: tuple[float, float]  # [lon, lat] of the first EXT_POS_LIST pair
    lat_range: tuple[float, float]
    abs_lon_range: tuple[float, float]  # abs() so that antimeridian tiles fit one range


PRODUCTS = [
    ProductCase(
        "safe_metadata_gdal_l1c_n0509/S2B_MSIL1C_20230823T095559_N0509_R122_T34UCF_20230823T120234"
        ".SAFE/MTD_MSIL1C.xml",
        "S2B_MSIL1C_20230823T095559_N0509_R122_T34UCF_20230823T120234",
        "S2B", "L1C", "34UCF", "05.09", "2023-08-23T09:55:59.024Z", -1000,
        3.34127623995939, "JPEG2000", 14,
        "GRANULE/L1C_T34UCF_A033753_20230823T095553/IMG_DATA/T34UCF_20230823T095559_B01",
        (17.87240396241576, 55.00678356187177), (54.0, 55.1), (17.8, 19.7),
    ),
    ProductCase(
        "safe_metadata_stactools/S2A_MSIL1C_20200717T221941_R029_T01LAC_20200717T234135.SAFE"
        "/MTD_MSIL1C.xml",
        # The folder was renamed by stactools (no _N0209_); PRODUCT_URI keeps the real name.
        "S2A_MSIL1C_20200717T221941_N0209_R029_T01LAC_20200717T234135",
        "S2A", "L1C", "01LAC", "02.09", "2020-07-17T22:19:41.024Z", 0,
        5.4828, "JPEG2000", 14,
        "GRANULE/L1C_T01LAC_A026481_20200717T221944/IMG_DATA/T01LAC_20200717T221941_B01",
        (180.0, -15.35591136701329), (-16.4, -15.3), (179.2, 180.0),
    ),
    ProductCase(
        "safe_metadata_stactools/S2A_MSIL1C_20210908T042701_N0301_R133_T46RER_20210908T070248.SAFE"
        "/MTD_MSIL1C.xml",
        "S2A_MSIL1C_20210908T042701_N0301_R133_T46RER_20210908T070248",
        "S2A", "L1C", "46RER", "03.01", "2021-09-08T04:27:01.024Z", 0,
        88.2972, "JPEG2000", 14,
        "GRANULE/L1C_T46RER_A032448_20210908T043714/IMG_DATA/T46RER_20210908T042701_B01",
        (93.43341763893636, 28.023673957735582), (27.0, 28.1), (92.9, 93.5),
    ),
    ProductCase(
        "safe_metadata_stactools/S2A_MSIL2A_20190212T192651_N0212_R013_T07HFE_20201007T160857.SAFE"
        "/MTD_MSIL2A.xml",
        "S2A_MSIL2A_20190212T192651_N0212_R013_T07HFE_20201007T160857",
        "S2A", "L2A", "07HFE", "02.12", "2019-02-12T19:26:51.024Z", 0,
        51.580326, "GeoTIFF", 35,
        # COG repackage: R20m is listed first, unlike ESA's R10m-first order.
        "GRANULE/L2A_T07HFE_A019029_20190212T192646/IMG_DATA/R20m/T07HFE_20190212T192651_B02_20m",
        (-139.57542, -31.625916962952243), (-31.8, -31.6), (139.5, 140.0),
    ),
    ProductCase(
        "safe_metadata_stactools/S2A_MSIL2A_20230625T234621_N0509_R073_T01WCP_20230626T022157.SAFE"
        "/MTD_MSIL2A.xml",
        "S2A_MSIL2A_20230625T234621_N0509_R073_T01WCP_20230626T022157",
        "S2A", "L2A", "01WCP", "05.09", "2023-06-25T23:46:21.024Z", -1000,
        15.047897000000003, "JPEG2000", 36,
        "GRANULE/L2A_T01WCP_A041826_20230625T234624/IMG_DATA/R10m/T01WCP_20230625T234621_B02_10m",
        (180.0, 65.69971321830725), (65.6, 66.8), (178.4, 180.0),
    ),
    ProductCase(
        "safe_metadata_stactools/S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD_20210122T155500.SAFE"
        "/MTD_MSIL2A.xml",
        "S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD_20210122T155500",
        "S2B", "L2A", "22HBD", "02.14", "2021-01-22T13:32:29.024Z", 0,
        0.447807, "JPEG2000", 35,
        "GRANULE/L2A_T22HBD_A020270_20210122T133224/IMG_DATA/R10m/T22HBD_20210122T133229_B02_10m",
        (-54.140594, -37.992633567956354), (-38.1, -36.9), (53.1, 54.5),
    ),
    ProductCase(
        "safe_metadata_stactools/S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126.SAFE"
        "/MTD_MSIL2A.xml",
        "S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126",
        "S2B", "L2A", "33XWJ", "04.00", "2022-04-13T15:07:59.024Z", -1000,
        98.944211, "GeoTIFF", 36,
        "GRANULE/L2A_T33XWJ_A026649_20220413T150756/IMG_DATA/R20m/T33XWJ_20220413T150759_B01_20m",
        (17.7331712786673, 80.14220060199362), (80.1, 80.2), (14.9, 17.8),
    ),
]  # fmt: skip


class TileCase(NamedTuple):
    path: str  # relative to SHARED
    tile: str
    level: str
    baseline: str
    sensing_time: str  # SENSING_TIME as written
    epsg: int
    ulx: float  # the same at 10, 20 and 60 m in every real file
    uly: float
    cloud_cover: float


_SAFE = "safe_metadata_stactools"
_CATALOG = "s2_l2a_earthsearch_120m_mapchete_eo/static_catalog_33TWL_33TWM_2023-08/sentinel-2-l2a"
TILES = [
    TileCase(
        f"{_SAFE}/S2A_MSIL1C_20200717T221941_R029_T01LAC_20200717T234135.SAFE/GRANULE/"
        "L1C_T01LAC_A026481_20200717T221944/MTD_TL.xml",
        "01LAC", "L1C", "02.09", "2020-07-17T22:20:29.740125Z", 32701, 99960, 8300020, 5.4828,
    ),
    TileCase(
        f"{_SAFE}/S2A_MSIL1C_20210908T042701_N0301_R133_T46RER_20210908T070248.SAFE/GRANULE/"
        "L1C_T46RER_A032448_20210908T043714/MTD_TL.xml",
        "46RER", "L1C", "03.01", "2021-09-08T04:40:48.758475Z", 32646, 499980, 3100020, 88.2972,
    ),
    TileCase(
        f"{_SAFE}/S2A_MSIL2A_20190212T192651_N0212_R013_T07HFE_20201007T160857.SAFE/GRANULE/"
        "L2A_T07HFE_A019029_20190212T192646/MTD_TL.xml",
        "07HFE", "L2A", "02.12", "2019-02-12T19:33:32.161Z", 32707, 600000, 6500020, 51.580326,
    ),
    TileCase(
        f"{_SAFE}/S2A_MSIL2A_20230625T234621_N0509_R073_T01WCP_20230626T022157.SAFE/GRANULE/"
        "L2A_T01WCP_A041826_20230625T234624/MTD_TL.xml",
        "01WCP", "L2A", "05.09", "2023-06-25T23:47:55.578328Z", 32601, 300000, 7400040, 15.047897,
    ),
    TileCase(
        f"{_SAFE}/S2B_MSIL2A_20210122T133229_N0214_R081_T22HBD_20210122T155500.SAFE/GRANULE/"
        "L2A_T22HBD_A020270_20210122T133224/MTD_TL.xml",
        "22HBD", "L2A", "02.14", "2021-01-22T13:42:49.838906Z", 32722, 199980, 5900020, 0.447807,
    ),
    TileCase(
        f"{_SAFE}/S2B_MSIL2A_20220413T150759_N0400_R025_T33XWJ_20220414T082126.SAFE/GRANULE/"
        "L2A_T33XWJ_A026649_20220413T150756/MTD_TL.xml",
        "33XWJ", "L2A", "04.00", "2022-04-13T15:08:07.846358Z", 32633, 499980, 8900040, 98.944211,
    ),
    TileCase(
        f"{_SAFE}/S2A_OPER_MSI_L1C_TL_SGS__20181231T203637_A018414_T10SDG/metadata.xml",
        "10SDG", "L1C", "02.07", "2018-12-31T19:04:06.567Z", 32610, 399960, 4200000, 0.0138,
    ),
    TileCase(
        f"{_SAFE}/S2B_MSIL2A_20200914T231559_N0500_R087_T01VCG_20230315T224658/metadata.xml",
        "01VCG", "L2A", "05.00", "2020-09-14T23:19:31.559091Z", 32601, 300000, 6700020, 0.832636,
    ),
    TileCase(
        "safe_metadata_gdal_l1c_n0509/S2B_MSIL1C_20230823T095559_N0509_R122_T34UCF_20230823T120234"
        ".SAFE/GRANULE/L1C_T34UCF_A033753_20230823T095553/MTD_TL.xml",
        "34UCF", "L1C", "05.09", "2023-08-23T10:05:35.271949Z", 32634, 300000, 6100020,
        3.34127623995939,
    ),
    # Stored upstream as MTD_MSIL2A.xml but a Level-2A_Tile_ID (SOURCES.md 4c).
    TileCase(
        "safe_metadata_mapchete_eo/S2A_MSIL2A_20181229T095411_N0211_R079_T33SVB_20181229T112231"
        ".SAFE/GRANULE/L2A_T33SVB_A018380_20181229T095413/MTD_TL.xml",
        "33SVB", "L2A", "02.11", "2018-12-29T10:00:13.310Z", 32633, 399960, 4200000, 4.202743,
    ),
    TileCase(
        "s2_l2a_earthsearch_120m_mapchete_eo/antimeridian_sentinel-s2-l2a_jp2/"
        "S2B_OPER_MSI_L2A_TL_2BPS_20230604T002457_A032603_T01WCR/metadata.xml",
        "01WCR", "L2A", "05.09", "2023-06-03T23:57:27.374452Z", 32601, 300000, 7600020, 29.888469,
    ),
    TileCase(
        f"{_CATALOG}/S2A_33TWL_20230815_0_L2A/granule_metadata.xml",
        "33TWL", "L2A", "05.09", "2023-08-15T09:58:11.662849Z", 32633, 499980, 5100000, 0.203990,
    ),
    TileCase(
        f"{_CATALOG}/S2A_33TWL_20230818_0_L2A/granule_metadata.xml",
        "33TWL", "L2A", "05.09", "2023-08-18T10:08:08.248993Z", 32633, 499980, 5100000, 45.745239,
    ),
    TileCase(  # SENSING_TIME has 4 fractional digits in this file
        f"{_CATALOG}/S2A_33TWM_20230815_0_L2A/granule_metadata.xml",
        "33TWM", "L2A", "05.09", "2023-08-15T09:57:57.2462Z", 32633, 499980, 5200020, 0.207328,
    ),
    TileCase(
        f"{_CATALOG}/S2A_33TWM_20230818_0_L2A/granule_metadata.xml",
        "33TWM", "L2A", "05.09", "2023-08-18T10:07:54.167502Z", 32633, 499980, 5200020, 43.856794,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWL_20230810_0_L2A/granule_metadata.xml",
        "33TWL", "L2A", "05.09", "2023-08-10T09:58:11.590246Z", 32633, 499980, 5100000, 69.286209,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWL_20230813_0_L2A/granule_metadata.xml",
        "33TWL", "L2A", "05.09", "2023-08-13T10:08:07.856527Z", 32633, 499980, 5100000, 1.702489,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWL_20230820_0_L2A/granule_metadata.xml",
        "33TWL", "L2A", "05.09", "2023-08-20T09:58:11.072618Z", 32633, 499980, 5100000, 8.066346,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWM_20230810_0_L2A/granule_metadata.xml",
        "33TWM", "L2A", "05.09", "2023-08-10T09:57:57.166961Z", 32633, 499980, 5200020, 70.626998,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWM_20230813_0_L2A/granule_metadata.xml",
        "33TWM", "L2A", "05.09", "2023-08-13T10:07:53.782107Z", 32633, 499980, 5200020, 1.112399,
    ),
    TileCase(
        f"{_CATALOG}/S2B_33TWM_20230820_0_L2A/granule_metadata.xml",
        "33TWM", "L2A", "05.09", "2023-08-20T09:57:56.646637Z", 32633, 499980, 5200020, 1.336750,
    ),
    TileCase(
        "stac_items/mapchete-eo/S2A_12RWT_20240106_0_L2A/granule_metadata.xml",
        "12RWT", "L2A", "05.10", "2024-01-06T18:06:01.022523Z", 32612, 499980, 3300000, 1.051041,
    ),
]  # fmt: skip

# Every real tile is a full 109.8 km MGRS tile: resolution -> rows = cols.
TILE_SIZES = {10: 10980, 20: 5490, 60: 1830}


def _product_id(case: ProductCase) -> str:
    return f"{case.level}-{case.tile}-PB{case.baseline}"


def _tile_id(case: TileCase) -> str:
    return f"{case.level}-{case.tile}-{case.sensing_time[:10]}"


def _read_product(case: ProductCase) -> ProductMetadata:
    return parse_product_metadata(SHARED / case.path)


def _read_tile(case: TileCase) -> TileMetadata:
    return parse_tile_metadata(SHARED / case.path)


# --- the real files ----------------------------------------------------------------------------


def test_shared_data_holds_the_metadata_files():
    assert len(PRODUCT_XMLS) >= 7, f"no product metadata found under {SHARED}"
    assert len(TILE_XMLS) >= 22, f"no tile metadata found under {SHARED}"


def test_every_metadata_file_has_a_row_of_expected_values():
    found = {p.relative_to(SHARED).as_posix() for p in PRODUCT_XMLS + TILE_XMLS}
    tabled = {c.path for c in PRODUCTS} | {c.path for c in TILES}
    assert found == tabled


@pytest.mark.parametrize("path", PRODUCT_XMLS, ids=lambda p: p.parent.name[:60])
def test_every_product_metadata_file_parses(path: Path):
    assert isinstance(parse_metadata(path), ProductMetadata)


@pytest.mark.parametrize("path", TILE_XMLS, ids=lambda p: p.parent.name[:60])
def test_every_tile_metadata_file_parses(path: Path):
    assert isinstance(parse_metadata(path), TileMetadata)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_identity(case: ProductCase):
    meta = _read_product(case)
    assert (meta.product_id, meta.mission, meta.level, meta.tile, meta.baseline) == (
        case.product_id,
        case.mission,
        case.level,
        case.tile,
        case.baseline,
    )
    assert meta.sensing_time == datetime.fromisoformat(case.sensing_time)
    assert meta.sensing_time is not None and meta.sensing_time.tzinfo is not None


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_offsets_cover_all_13_bands(case: ProductCase):
    offsets = _read_product(case).offsets
    assert offsets == dict.fromkeys(STANDARD_BAND_ORDER, case.offset)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_quantification(case: ProductCase):
    expected = dict.fromkeys(STANDARD_BAND_ORDER, 10000.0)
    if case.level == "L2A":
        expected |= {"AOT": 1000.0, "WVP": 1000.0}
    assert _read_product(case).quantification == expected


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_special_values(case: ProductCase):
    meta = _read_product(case)
    assert (meta.nodata, meta.saturated) == (0, 65535)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_cloud_cover(case: ProductCase):
    assert _read_product(case).cloud_cover == pytest.approx(case.cloud_cover)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_image_files_are_listed_as_written(case: ProductCase):
    meta = _read_product(case)
    assert meta.image_format == case.image_format
    assert len(meta.image_files) == case.image_file_count
    assert meta.image_files[0] == case.first_image_file
    assert not any(f.endswith((".jp2", ".tif")) for f in meta.image_files)
    assert all(f"T{case.tile}_" in f for f in meta.image_files)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_footprint_is_a_closed_lon_lat_ring(case: ProductCase):
    footprint = _read_product(case).footprint
    assert footprint is not None and footprint["type"] == "Polygon"
    (ring,) = footprint["coordinates"]
    assert ring[0] == ring[-1]
    assert tuple(ring[0]) == case.first_vertex
    lats = [lat for _, lat in ring]
    abs_lons = [abs(lon) for lon, _ in ring]
    assert case.lat_range[0] <= min(lats) and max(lats) <= case.lat_range[1]
    assert case.abs_lon_range[0] <= min(abs_lons) and max(abs_lons) <= case.abs_lon_range[1]


def test_antimeridian_footprint_keeps_longitudes_as_written():
    case = next(c for c in PRODUCTS if c.tile == "01WCP")
    footprint = _read_product(case).footprint
    assert footprint is not None
    lons = {lon for lon, _ in footprint["coordinates"][0]}
    assert 180.0 in lons and any(lon < -178 for lon in lons)


@pytest.mark.parametrize("case", TILES, ids=_tile_id)
def test_tile_identity(case: TileCase):
    meta = _read_tile(case)
    assert (meta.tile, meta.level, meta.baseline, meta.epsg) == (
        case.tile,
        case.level,
        case.baseline,
        case.epsg,
    )
    assert meta.tile_id is not None and meta.tile_id.endswith(f"_T{case.tile}_N{case.baseline}")
    assert meta.sensing_time == datetime.fromisoformat(case.sensing_time)


@pytest.mark.parametrize("case", TILES, ids=_tile_id)
def test_tile_geoposition_at_every_resolution(case: TileCase):
    expected = {
        res: Geoposition(case.ulx, case.uly, res, -res, size, size)
        for res, size in TILE_SIZES.items()
    }
    assert _read_tile(case).geoposition == expected


@pytest.mark.parametrize("case", TILES, ids=_tile_id)
def test_tile_bounds_span_109800_m(case: TileCase):
    assert _read_tile(case).bounds() == (
        case.ulx,
        case.uly - 109800,
        case.ulx + 109800,
        case.uly,
    )


@pytest.mark.parametrize("case", TILES, ids=_tile_id)
def test_tile_cloud_cover(case: TileCase):
    assert _read_tile(case).cloud_cover == pytest.approx(case.cloud_cover)


@pytest.mark.parametrize("case", PRODUCTS, ids=_product_id)
def test_product_and_its_granule_agree(case: ProductCase):
    product = _read_product(case)
    (granule_xml,) = (SHARED / case.path).parent.glob("GRANULE/*/MTD_TL.xml")
    tile = parse_tile_metadata(granule_xml)
    assert (tile.tile, tile.level, tile.baseline) == (product.tile, product.level, product.baseline)
    assert tile.cloud_cover == pytest.approx(product.cloud_cover)


# --- inputs and dispatch -----------------------------------------------------------------------

WCP = next(c for c in PRODUCTS if c.tile == "01WCP")


@pytest.mark.parametrize("form", ["path", "str", "bytes", "text"])
def test_accepts_path_bytes_or_text(form: str):
    path = SHARED / WCP.path
    source = {
        "path": path,
        "str": str(path),
        "bytes": path.read_bytes(),
        "text": path.read_text(encoding="utf-8"),
    }[form]
    assert parse_product_metadata(source) == parse_product_metadata(path)


def test_product_parser_rejects_tile_metadata():
    with pytest.raises(MetadataError, match="parse_tile_metadata"):
        parse_product_metadata(SHARED / TILES[0].path)


def test_tile_parser_rejects_product_metadata():
    with pytest.raises(MetadataError, match="parse_product_metadata"):
        parse_tile_metadata(SHARED / WCP.path)


def test_unknown_root_names_the_root_found():
    # A real ESA document that is not product or tile metadata.
    (qi,) = SHARED.glob("safe_metadata_stactools/*T01LAC*/DATASTRIP/*/QI_DATA/GENERAL_QUALITY.xml")
    with pytest.raises(MetadataError, match="Earth_Explorer_File"):
        parse_metadata(qi)


def test_malformed_xml_raises_metadata_error():
    with pytest.raises(MetadataError, match="not well-formed"):
        parse_metadata(b"<Level-2A_User_Product><unclosed></Level-2A_User_Product>")


def test_metadata_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_metadata(b"<rss/>")
    assert issubclass(MetadataError, ProductError)


def test_missing_file_raises_metadata_error(tmp_path: Path):
    with pytest.raises(MetadataError, match=r"MTD_MSIL2A\.xml"):
        parse_metadata(tmp_path / "MTD_MSIL2A.xml")


# --- synthetic documents -----------------------------------------------------------------------


def product_xml(body: str = "", root: str = "Level-2A_User_Product", ns: str = "urn:any") -> str:
    return f'<n1:{root} xmlns:n1="{ns}"><n1:General_Info>{body}</n1:General_Info></n1:{root}>'


def test_product_without_optional_elements_gives_none():
    meta = parse_product_metadata(product_xml())
    assert meta.level == "L2A"
    absent = (meta.product_id, meta.mission, meta.tile, meta.sensing_time, meta.baseline)
    assert absent == (None, None, None, None, None)
    assert (meta.cloud_cover, meta.footprint, meta.image_format) == (None, None, None)
    assert meta.image_files == ()
    assert meta.quantification == {}


def test_product_without_offset_list_has_zero_offsets():
    meta = parse_product_metadata(product_xml(root="Level-1C_User_Product"))
    assert meta.offsets == dict.fromkeys(STANDARD_BAND_ORDER, 0)


def test_product_without_special_values_uses_psd_defaults():
    meta = parse_product_metadata(product_xml())
    assert (meta.nodata, meta.saturated) == (0, 65535)


def test_tile_without_optional_elements_gives_none():
    meta = parse_tile_metadata('<n1:Level-1C_Tile_ID xmlns:n1="urn:x"/>')
    assert meta == TileMetadata(None, None, "L1C", None, None, {}, None, None)
    assert meta.bounds() is None


def test_elements_are_matched_whatever_their_namespace():
    body = (
        "<Product_Info><PRODUCT_URI>S2C_MSIL2A_20250101T000000_N0511_R001_T31UFU_20250101T010101"
        ".SAFE</PRODUCT_URI></Product_Info>"
        '<x:Cloud_Coverage_Assessment xmlns:x="urn:other">12.5</x:Cloud_Coverage_Assessment>'
    )
    meta = parse_product_metadata(product_xml(body, ns="https://psd-99.example/x.xsd"))
    assert (meta.mission, meta.tile, meta.baseline, meta.cloud_cover) == (
        "S2C",
        "31UFU",
        "05.11",
        12.5,
    )


def test_offsets_follow_the_spectral_information_list():
    body = (
        '<Spectral_Information_List><Spectral_Information bandId="0" physicalBand="B8A"/>'
        '<Spectral_Information bandId="1" physicalBand="B2"/></Spectral_Information_List>'
        '<BOA_ADD_OFFSET_VALUES_LIST><BOA_ADD_OFFSET band_id="0">-1000</BOA_ADD_OFFSET>'
        '<BOA_ADD_OFFSET band_id="1">-500</BOA_ADD_OFFSET></BOA_ADD_OFFSET_VALUES_LIST>'
    )
    assert parse_product_metadata(product_xml(body)).offsets == {"B8A": -1000, "B02": -500}


def test_offset_of_an_unknown_band_id_is_an_error():
    body = '<Radiometric_Offset_List><RADIO_ADD_OFFSET band_id="13">-1000</RADIO_ADD_OFFSET>'
    body += "</Radiometric_Offset_List>"
    with pytest.raises(MetadataError, match=r"RADIO_ADD_OFFSET band_id='13'"):
        parse_product_metadata(product_xml(body, root="Level-1C_User_Product"))


def test_l2a_reads_the_old_l2a_prefixed_quantification_names():
    body = (
        "<L2A_QUANTIFICATION_VALUES_LIST><L2A_BOA_QUANTIFICATION_VALUE>10000"
        "</L2A_BOA_QUANTIFICATION_VALUE><L2A_AOT_QUANTIFICATION_VALUE>1000.0"
        "</L2A_AOT_QUANTIFICATION_VALUE></L2A_QUANTIFICATION_VALUES_LIST>"
    )
    quantification = parse_product_metadata(product_xml(body)).quantification
    assert quantification["B04"] == 10000.0 and quantification["AOT"] == 1000.0
    assert "WVP" not in quantification


def test_unclosed_footprint_ring_is_closed():
    body = "<Global_Footprint><EXT_POS_LIST>10 20 11 20 11 21</EXT_POS_LIST></Global_Footprint>"
    footprint = parse_product_metadata(product_xml(body)).footprint
    assert footprint == {
        "type": "Polygon",
        "coordinates": [[[20.0, 10.0], [20.0, 11.0], [21.0, 11.0], [20.0, 10.0]]],
    }


@given(
    st.lists(
        st.tuples(
            st.floats(-90, 90, allow_nan=False),
            st.floats(-180, 180, allow_nan=False),
        ),
        min_size=3,
        max_size=12,
    )
)
def test_footprint_swaps_every_lat_lon_pair(points: list[tuple[float, float]]):
    text = " ".join(f"{lat!r} {lon!r}" for lat, lon in points)
    body = f"<Global_Footprint><EXT_POS_LIST>{text}</EXT_POS_LIST></Global_Footprint>"
    footprint = parse_product_metadata(product_xml(body)).footprint
    assert footprint is not None
    ring = footprint["coordinates"][0]
    expected = [[lon, lat] for lat, lon in points]
    assert ring[: len(points)] == expected
    assert ring[-1] == ring[0]
    assert len(ring) == len(points) + (points[0] != points[-1])


@pytest.mark.parametrize(
    ("body", "element"),
    [
        ("<EXT_POS_LIST>10 20 11</EXT_POS_LIST>", "EXT_POS_LIST"),
        ("<EXT_POS_LIST>10 20 11 north 12 20</EXT_POS_LIST>", "EXT_POS_LIST"),
        ("<Cloud_Coverage_Assessment>n/a</Cloud_Coverage_Assessment>", "Cloud_Coverage_Assessment"),
        ("<PRODUCT_START_TIME>yesterday</PRODUCT_START_TIME>", "PRODUCT_START_TIME"),
        ("<BOA_ADD_OFFSET band_id='0'>-1000.5</BOA_ADD_OFFSET>", "BOA_ADD_OFFSET"),
        ("<Spectral_Information bandId='0' physicalBand='B13'/>", "Spectral_Information"),
    ],
)
def test_malformed_values_name_the_element(body: str, element: str):
    with pytest.raises(MetadataError, match=element):
        parse_product_metadata(product_xml(body))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-15T09:57:57.2462Z", datetime(2023, 8, 15, 9, 57, 57, 246200, tzinfo=UTC)),
        ("2023-08-15T09:57:57.123456789Z", datetime(2023, 8, 15, 9, 57, 57, 123456, tzinfo=UTC)),
        ("2023-08-15T09:57:57", datetime(2023, 8, 15, 9, 57, 57, tzinfo=UTC)),
        ("2023-08-15T11:57:57.5+02:00", datetime(2023, 8, 15, 9, 57, 57, 500000, tzinfo=UTC)),
    ],
)
def test_sensing_time_is_utc_whatever_the_precision(text: str, expected: datetime):
    meta = parse_tile_metadata(
        f"<Level-2A_Tile_ID><SENSING_TIME>{text}</SENSING_TIME></Level-2A_Tile_ID>"
    )
    assert meta.sensing_time == expected
    assert meta.sensing_time is not None and meta.sensing_time.utcoffset().total_seconds() == 0


def test_tile_geoposition_without_size_has_no_bounds():
    xml = (
        "<Level-2A_Tile_ID><Tile_Geocoding><HORIZONTAL_CS_CODE>EPSG:32633</HORIZONTAL_CS_CODE>"
        '<Geoposition resolution="20"><ULX>1</ULX><ULY>2</ULY><XDIM>20</XDIM><YDIM>-20</YDIM>'
        "</Geoposition></Tile_Geocoding></Level-2A_Tile_ID>"
    )
    meta = parse_tile_metadata(xml)
    assert meta.epsg == 32633
    assert meta.geoposition == {20: Geoposition(1, 2, 20, -20, None, None)}
    assert meta.bounds() is None


def test_tile_geoposition_missing_a_coordinate_is_an_error():
    xml = (
        '<Level-2A_Tile_ID><Geoposition resolution="10"><ULX>1</ULX><XDIM>10</XDIM>'
        "<YDIM>-10</YDIM></Geoposition></Level-2A_Tile_ID>"
    )
    with pytest.raises(MetadataError, match="lacks ULY"):
        parse_tile_metadata(xml)

"""STAC items with COG/JP2 assets opened as core Products and read over HTTP range requests.

Real items from ../shared/data (SOURCES.md 2a, 2b, 5). Tests that read rasters write a tmp copy
of the item whose hrefs point at a 127.0.0.1 Range server (assets with no local file are
dropped, so nothing ever leaves the machine); the served folder links to the real files.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2render.core.encode import OutputFormat
from s2render.core.errors import ProductError
from s2render.core.product import open_product
from s2render.core.render import RenderSpec, render
from s2render.core.spec import spec_from_preset
from s2render.core.stac_item import (
    asset_band,
    band_assets,
    gdal_path,
    is_stac_source,
    item_identity,
    load_item,
)
from s2render.core.stac_offsets import (
    ESA_OFFSET,
    OffsetDecision,
    check_offset,
    claimed_offset,
    decide_offset,
)
from s2render.core.stac_product import open_stac_item, resolve_item
from s2render.core.stretch import Stretch
from tests.conftest import SHARED, decode
from tests.support.range_server import RangeServer, serve_directory
from tests.support.range_server_process import RemoteRangeServer, serve_directory_in_process

RKH = SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_29RKH_20200219_0_L2A"
RKH_ITEM = RKH / "S2A_29RKH_20200219_0_L2A.json"
NBJ_ITEM = SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_31NBJ_20190524_0_L2A.stac-item.json"
ODC = SHARED / "stac_items/odc-stac"
PC_ITEM = ODC / "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
PC_RASTER_ITEM = ODC / "S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531_raster_ext.json"
QCH_ITEM = ODC / "S2A_28QCH_20200714_0_L2A.json"
MEO = SHARED / "stac_items/mapchete-eo"
SVB_ITEM = MEO / "S2A_MSIL2A_20181229T095411_N0211_R079_T33SVB_20181229T112231.json"
CATALOG = SHARED / "s2_l2a_earthsearch_120m_mapchete_eo/static_catalog_33TWL_33TWM_2023-08"
TWL = CATALOG / "sentinel-2-l2a/S2A_33TWL_20230815_0_L2A"
WCR = (
    SHARED / "s2_l2a_earthsearch_120m_mapchete_eo/antimeridian_sentinel-s2-l2a_jp2"
    "/S2B_OPER_MSI_L2A_TL_2BPS_20230604T002457_A032603_T01WCR"
)

SPECTRAL_12 = [f"B{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 8)] + ["B8A", "B09", "B11", "B12"]
ES_V1 = {
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
    "swir16": "B11",
    "swir22": "B12",
    "scl": "SCL",
    "aot": "AOT",
    "wvp": "WVP",
}
BY_NAME = {b: b for b in [*SPECTRAL_12, "SCL", "AOT", "WVP"]}


# --- helpers -----------------------------------------------------------------------------------


def local_item(item_file: Path, folder: Path, base_url: str | None) -> dict:
    """A copy of a real item whose band assets point at ``folder``'s files: relative hrefs of
    files beside the item kept, absolute ones rewritten to ``base_url`` (when given) if the file
    is in ``folder``; every other asset dropped, so nothing is fetched from the internet."""
    data = json.loads(item_file.read_text())
    for key, asset in list(data["assets"].items()):
        href = asset["href"]
        name = href.rsplit("/", 1)[-1]
        if "://" not in href and (folder / href).is_file():
            continue
        if "://" in href and base_url is not None and (folder / name).is_file():
            asset["href"] = f"{base_url}/{name}"
        else:
            del data["assets"][key]
    data["links"] = [link for link in data["links"] if link["rel"] != "self"]
    return data


@contextmanager
def served_item(
    item_file: Path, folder: Path, tmp_path: Path, *, relative: bool = False, **properties
) -> Iterator[tuple[RangeServer | RemoteRangeServer, str]]:
    """Serve ``folder``'s files (linked, not copied) and a copy of ``item_file`` beside them;
    yield the server and the item's URL. ``relative``: hrefs relative to the item.

    Folders whose files are georeferenced by ``.aux.xml`` sidecars (SOURCES.md 2b) are served
    from a child process: GDAL fetches sidecars while rasterio holds the GIL."""
    root = tmp_path / "served"
    root.mkdir()
    for f in folder.iterdir():
        if f.is_file() and f.suffix in (".tif", ".jp2", ".xml"):
            (root / f.name).symlink_to(f)
    sidecars = any(f.name.endswith(".aux.xml") for f in folder.iterdir())
    serve = serve_directory_in_process if sidecars else serve_directory
    with serve(root) as server:
        data = local_item(item_file, folder, None if relative else server.base_url)
        data["properties"].update(properties)
        (root / "item.json").write_text(json.dumps(data))
        yield server, server.url("item.json")


def file_sizes(folder: Path, names: list[str]) -> int:
    return sum((folder / n).stat().st_size for n in names)


# --- asset keys to bands (no rasters) ----------------------------------------------------------


@pytest.mark.parametrize(
    ("item_file", "expected"),
    [
        (RKH_ITEM, ES_V1),
        (MEO / "S2B_33TWN_20220226_0_L2A.json", ES_V1),
        (TWL / "S2A_33TWL_20230815_0_L2A.json", ES_V1),
        (MEO / "S2A_12RWT_20240106_0_L2A/S2A_12RWT_20240106_0_L2A.json", ES_V1),
        (NBJ_ITEM, BY_NAME),
        (QCH_ITEM, BY_NAME),
        (PC_ITEM, BY_NAME),
        (PC_RASTER_ITEM, BY_NAME),
        (SVB_ITEM, BY_NAME),
    ],
    ids=[
        "earthsearch-v1-29RKH",
        "earthsearch-v1-33TWN",
        "static-catalog-33TWL",
        "earthsearch-v1-12RWT-relative",
        "earthsearch-v0-31NBJ",
        "earthsearch-v0-28QCH-no-roles",
        "planetary-computer",
        "planetary-computer-raster-ext",
        "stac-0.8-band-indices",
    ],
)
def test_band_assets_of_every_item_family(item_file, expected):
    assert band_assets(load_item(item_file)) == expected


def test_jp2_bucket_items_give_every_resolution_of_a_band():
    mapped = band_assets(load_item(WCR / f"{WCR.name}.json"))
    assert {k for k, b in mapped.items() if b == "B04"} == {"red", "red_20m", "red_60m"}
    assert {k for k, b in mapped.items() if b == "B08"} == {"nir", "nir_20m", "nir_60m"}
    assert {k for k, b in mapped.items() if b == "SCL"} == {"scl", "scl_60m"}
    assert {k for k, b in mapped.items() if b == "B8A"} == {"nir08", "nir08_60m"}
    assert not any(k.startswith(("visual", "thumbnail")) or "metadata" in k for k in mapped)
    assert len(mapped) == 34


@pytest.mark.parametrize(
    ("key", "asset", "band"),
    [
        ("nir", {"eo:bands": [{"name": "nir", "center_wavelength": 0.842}]}, "B08"),
        ("nir08", {"eo:bands": [{"name": "nir08", "center_wavelength": 0.865}]}, "B8A"),
        ("nir", {"eo:bands": [{"name": "nir", "center_wavelength": 0.8329}]}, "B08"),  # S2B
        ("swir22", {"eo:bands": [{"common_name": "swir22", "center_wavelength": 2.1857}]}, "B12"),
        ("rededge", {"eo:bands": [{"common_name": "rededge", "center_wavelength": 0.74}]}, "B06"),
        ("B8A", {"eo:bands": [{"name": "B8A", "common_name": "rededge"}]}, "B8A"),  # PC's label
        ("nir", {}, "B08"),  # key as common name
        ("rededge2", {}, "B06"),
        ("scl_60m", {}, "SCL"),
        ("cirrus", {"eo:bands": [{"name": "cirrus", "center_wavelength": 1.3735}]}, "B10"),
        ("odd", {"eo:bands": [{"name": "odd", "center_wavelength": 1.0}]}, None),
        ("visual", {"eo:bands": [{"name": "B04"}, {"name": "B03"}, {"name": "B02"}]}, None),
        ("preview", {"roles": ["thumbnail"], "type": "image/tiff"}, None),
        ("B04", {"roles": ["overview"]}, None),
        ("granule_metadata", {"type": "application/xml"}, None),
        ("TCI", {}, None),
    ],
)
def test_asset_band_by_name_wavelength_or_key(key, asset, band):
    assert asset_band(key, {"href": "x.tif", **asset}) == band


@pytest.mark.parametrize(
    ("href", "path"),
    [
        ("https://a.b/c/B04.tif", "/vsicurl/https://a.b/c/B04.tif"),
        ("https://x.blob.core.windows.net/B04.tif?st=1&sig=a%3D", None),
        (
            "s3://sentinel-s2-l2a/tiles/1/W/CR/B04.jp2",
            "/vsis3/sentinel-s2-l2a/tiles/1/W/CR/B04.jp2",
        ),
        ("file:///data/B04.tif", "/data/B04.tif"),
        ("/data/B04.tif", "/data/B04.tif"),
    ],
)
def test_hrefs_become_gdal_paths(href, path):
    assert gdal_path(href) == (path or f"/vsicurl/{href}")


@pytest.mark.parametrize(
    ("item_file", "identity"),
    [
        (
            RKH_ITEM,
            (
                "S2A_MSIL2A_20200219T112111_N0214_R037_T29RKH_20200219T123947",
                "L2A",
                "S2A",
                "29RKH",
                "02.14",
            ),
        ),
        (
            NBJ_ITEM,
            (
                "S2A_MSIL2A_20190524T101031_N0212_R022_T31NBJ_20190524T130304",
                "L2A",
                "S2A",
                "31NBJ",
                "02.12",
            ),
        ),
        (
            PC_ITEM,
            (
                "S2B_MSIL2A_20190629T212529_N0212_R043_T06VVN_20201006T080531",
                "L2A",
                "S2B",
                "06VVN",
                "02.12",
            ),
        ),
        (
            SVB_ITEM,
            (
                "S2A_MSIL2A_20181229T095411_N0211_R079_T33SVB_20181229T112231",
                "L2A",
                "S2A",
                "33SVB",
                "02.11",
            ),
        ),
        (
            WCR / f"{WCR.name}.json",
            (
                "S2B_MSIL2A_20230603T235619_N0509_R116_T01WCR_20230604T002457",
                "L2A",
                "S2B",
                "01WCR",
                "05.09",
            ),
        ),
    ],
    ids=["earthsearch-v1", "earthsearch-v0", "planetary-computer", "stac-0.8", "jp2-bucket"],
)
def test_identity_from_each_family(item_file, identity):
    got = item_identity(load_item(item_file))
    assert (
        got["product_id"],
        got["level"],
        got["mission"],
        got["tile"],
        got["baseline"],
    ) == identity


def test_only_urls_and_json_features_are_stac_sources():
    assert is_stac_source("https://earth-search.aws.element84.com/v1/collections/x/items/y")
    assert is_stac_source(RKH_ITEM) and is_stac_source(str(NBJ_ITEM))
    assert not is_stac_source(CATALOG / "catalog.json")  # a Catalog, not a Feature
    assert not is_stac_source(RKH) and not is_stac_source(RKH / "B04.tif")


def test_a_pystac_item_given_is_not_modified(rkh_served):
    _, url = rkh_served
    item = load_item(url)
    before = item.to_dict(transform_hrefs=False)
    product = open_stac_item(item)
    assert product.files[("B04", 100)].resolution == 100
    assert item.to_dict(transform_hrefs=False) == before


# --- the offset decision (pure) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline", "applied", "raster_offset", "offset", "source"),
    [
        ("02.14", False, 0, 0, "item: processing baseline 02.14 < 04.00, no offset"),
        ("00.01", False, None, 0, "item: processing baseline 00.01 < 04.00, no offset"),
        ("03.01", None, -0.1, 0, "item: processing baseline 03.01 < 04.00, no offset"),
        (
            "05.09",
            True,
            -0.1,
            0,
            "item: earthsearch:boa_offset_applied=true (raster:bands offset -0.1 ignored)",
        ),
        ("04.00", True, None, 0, "item: earthsearch:boa_offset_applied=true"),
        (
            "04.00",
            False,
            -0.1,
            -1000,
            "item: processing baseline 04.00 >= 04.00, "
            "earthsearch:boa_offset_applied=false, raster:bands offset -0.1",
        ),
        (
            "05.10",
            None,
            None,
            -1000,
            "item: processing baseline 05.10 >= 04.00, "
            "earthsearch:boa_offset_applied=absent, ESA BOA_ADD_OFFSET -1000",
        ),
        (
            "05.09",
            False,
            -0.2,
            -2000,
            "item: processing baseline 05.09 >= 04.00, "
            "earthsearch:boa_offset_applied=false, raster:bands offset -0.2",
        ),
        (None, None, -0.1, -1000, "item: raster:bands offset -0.1 (no processing baseline)"),
        (None, True, -0.1, 0, "item: earthsearch:boa_offset_applied=true"),
        (None, None, None, 0, "item: no processing baseline, no offset declared"),
    ],
)
def test_offset_decision_table(baseline, applied, raster_offset, offset, source):
    assert decide_offset(baseline, applied, raster_offset) == OffsetDecision(offset, source)


@pytest.mark.parametrize(
    ("item_file", "offset", "rule"),
    [
        (
            MEO / "S2B_33TWN_20220226_0_L2A.json",
            -1000,
            "04.00 >= 04.00, earthsearch:boa_offset_applied=false",
        ),
        (MEO / "S2B_33TWN_20220130_0_L2A.json", 0, "earthsearch:boa_offset_applied=true"),
        (MEO / "S2A_33TWN_20220122_0_L2A.json", 0, "03.01 < 04.00"),
        (MEO / "S2A_33TWN_20161202_0_L2A.json", 0, "00.01 < 04.00"),
        (MEO / "S2A_12RWT_20240106_0_L2A/S2A_12RWT_20240106_0_L2A.json", 0, "applied=true"),
        (TWL / "S2A_33TWL_20230815_0_L2A.json", 0, "-0.1 ignored"),
        (WCR / f"{WCR.name}.json", -1000, "applied=absent, raster:bands offset -0.1"),
        (
            MEO / "S2A_OPER_MSI_L2A_TL_2APS_20230602T025701_A041483_T01WCR.json",
            -1000,
            "05.09 >= 04.00, earthsearch:boa_offset_applied=absent, raster:bands offset -0.1",
        ),
        (RKH_ITEM, 0, "02.14 < 04.00"),
        (PC_ITEM, 0, "02.12 < 04.00"),
        (SVB_ITEM, 0, "02.11 < 04.00"),  # baseline from the product name
    ],
    ids=lambda v: v.stem if isinstance(v, Path) else None,
)
def test_real_items_claim_their_offsets(item_file, offset, rule):
    decision = claimed_offset(load_item(item_file))
    assert decision.offset == offset and rule in decision.source


@pytest.mark.parametrize(
    ("offset", "median", "expected_offset", "source"),
    [
        (
            -1000,
            402.0,
            0,
            "data: median B02 DN 402 < 1000, offset already removed despite the item",
        ),
        (-1000, 1696.0, -1000, "claim; data: median B02 DN 1696 >= 1000 agrees"),
        (-1000, None, -1000, "claim"),  # no valid pixel: nothing to say
        (0, 402.0, 0, "claim"),  # one way only: never adds an offset
        (0, 6707.0, 0, "claim"),
    ],
)
def test_data_check_only_removes_an_offset(offset, median, expected_offset, source):
    got = check_offset(OffsetDecision(offset, "claim"), "B02", median)
    assert got == OffsetDecision(expected_offset, source)


# --- 29RKH over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def rkh_served(tmp_path):
    with served_item(RKH_ITEM, RKH, tmp_path) as (server, url):
        yield server, url


def test_grids_come_from_the_file_headers_not_the_item(rkh_served):
    server, url = rkh_served
    product = open_stac_item(url)
    assert product.kind == "stac" and product.path == url
    assert product.native_bands() == {
        10: [],
        20: [],
        60: [],
        100: ["B02", "B03", "B04", "B08", "WVP"],
        200: ["B05", "B06", "B07", "B8A", "B11", "B12", "SCL"],
        600: ["B01", "B09", "AOT"],
    }
    assert product.crs.to_epsg() == 32629
    assert product.bounds == (199980.0, 2690220.0, 309780.0, 2800020.0)
    assert all(f.path.startswith(f"/vsicurl/{server.base_url}/") for f in product.files.values())
    assert product.product_id == "S2A_MSIL2A_20200219T112111_N0214_R037_T29RKH_20200219T123947"
    assert (product.level, product.tile, product.baseline) == ("L2A", "29RKH", "02.14")
    assert product.sensing_time.isoformat() == "2020-02-19T11:34:25.405000+00:00"
    assert product.cloud_cover == pytest.approx(4.051854)
    assert product.footprint["type"] == "Polygon"
    assert product.band_offset("B04") == 0 and "02.14 < 04.00" in product.offset_source
    # Headers only: a few tens of kB per file, nothing like the 2.2 MB bands.
    assert server.bytes_sent("B04.tif") < 100_000


@pytest.mark.parametrize(
    ("content", "resolution"),
    [
        ({"bands": ("B04", "B03", "B02")}, 100),
        ({"preset": "ndvi"}, 200),
    ],
    ids=["true-colour", "ndvi"],
)
def test_rendering_over_http_equals_rendering_the_local_files(
    rkh_served, tmp_path, content, resolution
):
    _, url = rkh_served

    def spec(product: str) -> RenderSpec:
        if "preset" in content:
            return spec_from_preset(
                content["preset"], product, resolution=resolution, format=OutputFormat.GTIFF
            )
        return RenderSpec(product, content["bands"], resolution, format=OutputFormat.GTIFF)

    remote = render(spec(url), tmp_path / "remote")  # open_product(url) -> STAC item
    local = render(spec(str(RKH)), tmp_path / "local")  # the same COGs as a band folder
    assert remote.status == local.status == "done"
    remote_pixels, remote_profile = decode(Path(remote.path))
    local_pixels, local_profile = decode(Path(local.path))
    side = 109800 // resolution
    assert remote_pixels.shape == (4, side, side) and remote_pixels.dtype == np.uint8
    np.testing.assert_array_equal(remote_pixels, local_pixels)
    assert remote_profile["crs"].to_epsg() == 32629
    assert tuple(remote_profile["transform"])[:6] == (
        resolution,
        0,
        199980,
        0,
        -resolution,
        2800020,
    )
    assert remote_profile["transform"] == local_profile["transform"]
    assert (remote_pixels[3] == 255).all()  # the whole tile has data
    assert 20 < remote_pixels[:3].mean() < 235 and remote_pixels[:3].std() > 2  # an image
    sidecar = json.loads(Path(remote.sidecar).read_text())
    assert sidecar["product"]["path"] == url
    assert all(s["file"].startswith("/vsicurl/http://127.0.0.1") for s in sidecar["sources"])


def test_size_capped_preview_over_http_reads_overviews_only(rkh_served, tmp_path):
    server, url = rkh_served
    product = open_stac_item(url)
    server.clear()
    spec = RenderSpec(url, ("B04", "B03", "B02"), 100, max_size=256, format=OutputFormat.PNG)
    result = render(spec, tmp_path, product=product)
    pixels, profile = decode(Path(result.path))
    assert pixels.shape == (4, 256, 256) and profile["dtype"] == "uint8"
    assert (pixels[3] == 255).all() and pixels[:3].std() > 2
    reads = json.loads(Path(result.sidecar).read_text())["reads"]["bands"]
    assert all(r["level"] >= 1 for r in reads)  # reduced levels, not full resolution
    names = ["B04.tif", "B03.tif", "B02.tif"]
    served = sum(server.bytes_sent(n) for n in names)
    assert 0 < served < 0.2 * file_sizes(RKH, names)
    assert server.bytes_sent("B08.tif") == 0  # bands not rendered are not read


def test_signed_hrefs_keep_their_query_string(tmp_path):
    token = "?st=2024-01-01&se=2024-01-02&sp=rl&sig=abc%2Bdef%3D"
    with served_item(RKH_ITEM, RKH, tmp_path) as (server, _):
        data = local_item(RKH_ITEM, RKH, server.base_url)
        for asset in data["assets"].values():
            asset["href"] += token
        product = open_stac_item(data)
        assert product.files[("B04", 100)].path == f"/vsicurl/{server.base_url}/B04.tif{token}"
        assert server.requests and all(r.path.endswith(token) for r in server.requests)


def test_resolved_item_reopens_without_any_request(tmp_path):
    with served_item(
        TWL / "S2A_33TWL_20230815_0_L2A.json",
        TWL,
        tmp_path,
        relative=True,
        **{"earthsearch:boa_offset_applied": False},
    ) as (server, url):
        first = open_stac_item(url)
        assert first.offset_source.startswith("data: median B02")  # pixels were read
        resolved = resolve_item(url)
        stored = tmp_path / "resolved.json"
        stored.write_text(json.dumps(resolved))
        server.clear()
        for reopened in (open_product(stored), open_stac_item(resolved)):
            assert reopened.files == first.files
            assert reopened.offsets == first.offsets
            assert reopened.offset_source == first.offset_source
            assert (reopened.crs, reopened.bounds) == (first.crs, first.bounds)
        assert server.requests == []
        assert resolved["assets"]["blue"]["s2render:resolution"] == 120
        assert resolved["assets"]["blue"]["href"] == server.url("B02.tif")


# --- offsets with real data --------------------------------------------------------------------


def test_static_catalog_item_claims_the_offset_applied(tmp_path):
    with served_item(TWL / "S2A_33TWL_20230815_0_L2A.json", TWL, tmp_path, relative=True) as (
        server,
        url,
    ):
        product = open_product(url)
        assert product.kind == "stac"
        assert sorted(product.files) == [(b, 120) for b in ("B02", "B03", "B04", "B08", "SCL")]
        assert product.band_offset("B02") == product.band_offset("B08") == 0
        assert product.offset_source == (
            "item: earthsearch:boa_offset_applied=true (raster:bands offset -0.1 ignored)"
        )
        # JPEG 2000 in a .tif, georeferenced only by its .aux.xml: read with sidecar lookup.
        with rasterio.open(TWL / "B02.tif") as src:
            assert src.driver == "JP2OpenJPEG"
        path = product.files[("B02", 120)].path
        assert path == f"/vsicurl?list_dir=no&url={server.url('B02.tif')}"
        assert [r.status for r in server.requests_for("B02.tif.aux.xml")][-1] == 206
        assert product.crs.to_epsg() == 32633
        assert product.bounds == (499980.0, 4990200.0, 609780.0, 5100000.0)


def test_item_wrongly_claiming_the_offset_is_corrected_by_the_data(tmp_path):
    with served_item(
        TWL / "S2A_33TWL_20230815_0_L2A.json",
        TWL,
        tmp_path,
        relative=True,
        **{"earthsearch:boa_offset_applied": False},
    ) as (_, url):
        product = open_stac_item(url)
    assert product.band_offset("B02") == product.band_offset("B04") == 0
    source = product.offset_source
    assert source.startswith("data: median B02 DN ") and source.endswith(
        " < 1000, offset already removed despite the item"
    )
    assert int(source.split()[4]) < 1000  # SOURCES 2b: B02 mean 402


def test_antimeridian_product_keeps_the_esa_offset(tmp_path):
    with served_item(WCR / f"{WCR.name}.json", WCR, tmp_path, relative=True) as (_, url):
        product = open_stac_item(url)
        assert sorted(product.files) == [("B04", 120), ("SCL", 120)]
        assert product.band_offset("B04") == ESA_OFFSET
        assert "raster:bands offset -0.1" in product.offset_source
        assert "data: median B04 DN " in product.offset_source
        assert product.offset_source.endswith(">= 1000 agrees")
        assert product.crs.to_epsg() == 32601 and product.tile == "01WCR"
        stretch = Stretch(((0.0, 0.3),), gamma=1.0)
        spec = RenderSpec(url, ("B04",) * 3, 120, stretch=stretch, format=OutputFormat.PNG)
        result = render(spec, tmp_path / "out", product=product)
        pixels, _ = decode(Path(result.path))
    with rasterio.open(WCR / "B04.jp2") as src:
        b04 = src.read(1).astype(float)
    expected = np.rint(np.clip((b04 - 1000) / 10000 / 0.3, 0, 1) * 255).astype(np.uint8)
    assert pixels.shape == (4, 915, 915)
    np.testing.assert_array_equal(pixels[0], expected)
    sidecar = json.loads(Path(result.sidecar).read_text())
    assert sidecar["radiometry"]["offsets"] == {"B04": -1000}


@pytest.mark.parametrize("opener", ["open_stac_item", "open_product"])
def test_an_explicit_offset_override_wins(tmp_path, opener):
    with served_item(TWL / "S2A_33TWL_20230815_0_L2A.json", TWL, tmp_path, relative=True) as (
        _,
        url,
    ):
        if opener == "open_stac_item":
            product = open_stac_item(url, offset_override=-1000)
        else:
            product = open_product(url, offset=-1000)
        assert product.band_offset("B02") == -1000 and product.offset_source == "override"
        resolved = resolve_item(url)  # the item's own decision is unaffected
        again = open_stac_item(resolved, offset_override=-500)
    assert again.band_offset("B04") == -500 and again.offset_source == "override"
    assert resolved["properties"]["s2render:offsets"]["B04"] == 0


# --- errors ------------------------------------------------------------------------------------


def test_a_catalog_is_not_an_item():
    with pytest.raises(ProductError, match="is a Catalog, not a STAC Item"):
        open_stac_item(CATALOG / "catalog.json")


def test_relative_hrefs_need_the_items_location():
    data = json.loads((TWL / "S2A_33TWL_20230815_0_L2A.json").read_text())
    data["assets"] = {"blue": data["assets"]["blue"]}
    with pytest.raises(ProductError, match=r"relative href 'B02\.tif'"):
        open_stac_item(data)


def test_relative_hrefs_of_a_local_item_file_are_local_files(tmp_path):
    item = tmp_path / "item.json"
    item.write_text(json.dumps(local_item(TWL / "S2A_33TWL_20230815_0_L2A.json", TWL, None)))
    for band in ("B02", "B03", "B04", "B08", "SCL"):  # georeferenced by their .aux.xml
        for f in (f"{band}.tif", f"{band}.tif.aux.xml"):
            (tmp_path / f).symlink_to(TWL / f)
    product = open_product(item)  # a .json Feature goes through the STAC opener
    assert product.kind == "stac"
    assert product.files[("B02", 120)].path == str(tmp_path / "B02.tif")


def test_an_unreachable_item_url_is_a_product_error(tmp_path):
    with serve_directory(tmp_path) as server, pytest.raises(ProductError, match="404"):
        open_product(server.url("missing.json"))


def test_an_unreadable_band_file_names_the_path_and_the_fix(tmp_path):
    with serve_directory(tmp_path) as server:
        data = local_item(RKH_ITEM, RKH, server.base_url)  # nothing is served there
        with pytest.raises(ProductError, match=r"cannot read the header of /vsicurl/http") as info:
            open_stac_item(data)
    assert "must be signed" in str(info.value)


def test_sidecar_georeferenced_files_render_over_http_like_locally(tmp_path):
    with served_item(TWL / "S2A_33TWL_20230815_0_L2A.json", TWL, tmp_path, relative=True) as (
        _,
        url,
    ):
        remote = render(spec_from_preset("ndvi", url, resolution=120), tmp_path / "remote")
    local = render(spec_from_preset("ndvi", str(TWL), resolution=120), tmp_path / "local")
    remote_pixels, remote_profile = decode(Path(remote.path))
    local_pixels, _ = decode(Path(local.path))
    assert remote_pixels.shape == (3, 915, 915) and remote_profile["driver"] == "JPEG"
    np.testing.assert_array_equal(remote_pixels, local_pixels)
    sidecar = json.loads(Path(remote.sidecar).read_text())
    assert sidecar["bounds"] == [499980.0, 4990200.0, 609780.0, 5100000.0]
    assert sidecar["crs"] == "EPSG:32633"
    assert sidecar["radiometry"]["offsets"] == {"B08": 0, "B04": 0}

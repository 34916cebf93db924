"""STAC items in the registry: the real static catalogue of SOURCES 2b (10 items, tiles
33TWL/33TWM, 2023-08-10…20) served on 127.0.0.1 with range requests, registered by URL,
filtered like any product, and rendered by a job without downloading whole files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2render.web.products.models import Product
from tests.conftest import SHARED
from tests.support.range_server_process import serve_directory_in_process
from tests.web.v1_helpers import create_job, wait_ended

CATALOG = SHARED / "s2_l2a_earthsearch_120m_mapchete_eo" / "static_catalog_33TWL_33TWM_2023-08"
ITEMS = sorted((CATALOG / "sentinel-2-l2a").glob("*/*.json"))


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Path:
    """The catalogue as a partial mirror: the files it holds (linked, not copied) and items
    listing only those assets — the rest point at AWS, and tests never leave 127.0.0.1."""
    root = tmp_path_factory.mktemp("mirror")
    for path in CATALOG.rglob("*"):
        target = root / path.relative_to(CATALOG)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif path in ITEMS:
            item = json.loads(path.read_text())
            item["assets"] = {
                key: asset
                for key, asset in item["assets"].items()
                if not asset["href"].startswith(("http://", "https://", "s3://"))
            }
            target.write_text(json.dumps(item))
        else:
            target.symlink_to(path)
    return root


@pytest.fixture(scope="module")
def catalog_server(mirror):
    # A child process: GDAL reads the .aux.xml sidecars holding the GIL (see range_server_process)
    with serve_directory_in_process(mirror) as server:
        yield server


def item_url(server, path: Path) -> str:
    return server.url(path.relative_to(CATALOG).as_posix())


def register(api, url: str, **extra) -> dict:
    response = api.post("/api/v1/products/", {"item": url, **extra}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def registered(api, catalog_server) -> list[dict]:
    return [register(api, item_url(catalog_server, path)) for path in ITEMS]


def names(body: dict) -> set[str]:
    return {p["name"] for p in body["results"]}


def test_each_item_registers_with_its_identity_and_decided_offset(registered):
    assert len(registered) == 10
    for body in registered:
        assert body["source"] == "stac" and body["state"] == "available"
        assert body["level"] == "L2A" and body["tile"] in ("33TWL", "33TWM")
        assert body["baseline"] == "05.09"
        assert body["remote_url"].startswith("http://127.0.0.1:")
        assert set(body["bands"]["120m"]) >= {"B02", "B03", "B04", "B08", "SCL"}
        # The items say earthsearch:boa_offset_applied=true (and raster:bands offset -0.1):
        # the DNs are offset-free (SOURCES 2b), so nothing more is subtracted.
        assert set(body["offsets"].values()) == {0}
        assert "boa_offset_applied" in body["offset_source"]
        assert Path(body["path"]).is_file()  # the resolved copy kept under the data root


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("tile=33TWL", lambda p, t: t == "33TWL"),
        ("tile=T33TWM", lambda p, t: t == "33TWM"),
        ("cloud_cover_max=5", lambda p, t: p["eo:cloud_cover"] <= 5),
        (
            "sensed_after=2023-08-13T00:00:00Z&sensed_before=2023-08-16T00:00:00Z",
            lambda p, t: "2023-08-13" <= p["datetime"][:10] <= "2023-08-15",
        ),
        ("tile=33TWM&cloud_cover_max=2", lambda p, t: t == "33TWM" and p["eo:cloud_cover"] <= 2),
        ("level=L1C", lambda p, t: False),
    ],
)
def test_products_filter_by_tile_date_cloud_and_level(api, registered, query, keep):
    # What each registered item says of itself (its kept copy), filtered here independently.
    expected = {
        body["name"]
        for body in registered
        if keep(json.loads(Path(body["path"]).read_text())["properties"], body["tile"])
    }
    got = names(api.get(f"/api/v1/products/?{query}&page_size=100").json())
    assert got == expected
    assert 0 < len(expected) < 10 or query == "level=L1C"


def test_bbox_filter_finds_the_tiles_that_cover_a_place(api, registered):
    # 33TWL spans about 45.1-46.1 N, 33TWM about 46.0-47.0 N (both around 15-16.3 E).
    south = names(api.get("/api/v1/products/?bbox=15.5,45.3,15.6,45.4&page_size=100").json())
    north = names(api.get("/api/v1/products/?bbox=15.5,46.6,15.6,46.7&page_size=100").json())
    tiles = {b["name"]: b["tile"] for b in registered}
    assert south and {tiles[n] for n in south} == {"33TWL"}
    assert north and {tiles[n] for n in north} == {"33TWM"}
    bad = api.get("/api/v1/products/?bbox=15,45,16")
    assert bad.status_code == 400 and "bbox" in bad.json()["fields"]


def test_an_offset_override_wins_and_is_recorded(api, catalog_server):
    body = register(api, item_url(catalog_server, ITEMS[0]), offset_override=-1000)
    assert set(body["offsets"].values()) == {-1000}
    assert "override" in body["offset_source"]


def test_a_url_that_is_not_an_item_is_a_400(api, catalog_server):
    response = api.post("/api/v1/products/", {"item": catalog_server.url("nothing.json")})
    assert response.status_code == 400
    assert "item" in response.json()["fields"]


def test_a_job_renders_a_stac_product_reading_windows_not_files(api, catalog_server, dispatcher):
    clear = next(p for p in ITEMS if "33TWL_20230815" in p.name)  # cloud-free, 96 % vegetation
    product = register(api, item_url(catalog_server, clear))
    catalog_server.clear()
    job = create_job(
        api,
        {
            "product": product["id"],
            "preset": "ndvi",
            "resolution": 120,
            "format": "geotiff",
            "bbox": [15.6, 45.4, 15.9, 45.6],
        },
    )
    api.post(f"/api/v1/jobs/{job['id']}/start/")
    done = wait_ended(api, job, timeout=120)
    assert done["status"] == "finished", done["renderings"][0]["error"]
    rendering = Product.objects.get(pk=product["id"]).renderings.get()
    with rasterio.open(rendering.output) as image:
        assert image.crs.to_epsg() == 32633 and image.res == (120.0, 120.0)
        rgba = image.read()
    assert rgba.shape[0] == 4 and rgba.dtype == np.uint8
    valid = rgba[3] == 255
    assert valid.mean() > 0.9
    # NDVI ramp on vegetation: green dominates red in most valid pixels.
    assert (rgba[1][valid] > rgba[0][valid]).mean() > 0.8
    # The output records which offsets were applied and which rule decided them.
    radiometry = json.loads(Path(rendering.sidecar).read_text())["radiometry"]
    assert radiometry["offsets"] == {"B04": 0, "B08": 0}
    assert "boa_offset_applied" in radiometry["offset_source"]
    item = json.loads(Path(rendering.output + ".stac.json").read_text())
    assert item["properties"]["s2render:offset_source"] == radiometry["offset_source"]
    served = catalog_server.bytes_sent()
    folder = clear.parent
    whole = sum(f.stat().st_size for f in folder.glob("B0[48].tif"))
    assert 0 < served < whole  # windows of the two bands NDVI needs, not the files


def test_search_register_puts_the_items_found_in_the_registry(catalog_server, transactional_db):
    from click.testing import CliRunner

    from s2render.cli.main import cli

    result = CliRunner().invoke(
        cli,
        ["search", catalog_server.url("catalog.json"), "--date", "2023-08-15", "--register"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    registered = Product.objects.order_by("tile")
    assert [p.tile for p in registered] == ["33TWL", "33TWM"]
    assert all(
        p.source == "stac" and p.sensed_at.date().isoformat() == "2023-08-15" for p in registered
    )
    assert all(p.remote_url.startswith(catalog_server.base_url) for p in registered)


def test_an_operator_can_restrict_the_hosts_items_come_from(api, catalog_server, settings):
    url = item_url(catalog_server, ITEMS[0])
    settings.S2RENDER = {**settings.S2RENDER, "STAC_HOSTS": ["earth-search.aws.element84.com"]}
    refused = api.post("/api/v1/products/", {"item": url}, format="json")
    assert refused.status_code == 400
    message = refused.json()["fields"]["item"][0]
    assert "127.0.0.1 is not a STAC host" in message and "S2RENDER_STAC_HOSTS" in message
    assert not Product.objects.exists()
    catalog_server.clear()
    settings.S2RENDER = {**settings.S2RENDER, "STAC_HOSTS": ["127.0.0.1"]}
    assert register(api, url)["source"] == "stac"

"""The v1 flow end to end on a real dispatcher and LocalCluster: create, start, wait, detail,
download and decode every image, STAC results, the zip of everything, delete with the files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pystac
import pytest
from django.conf import settings
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from s2render.core.product import open_product
from s2render.web.jobs.specs import job_output_dir
from tests.conftest import decode
from tests.web.v1_helpers import create_job, path_of, save, spec, unzip, wait_ended

SIDE = {10: 588, 20: 294, 60: 98}  # the demo product's size per resolution


def central_bbox(product) -> list[float]:
    """The middle half (in lon/lat) of the product's footprint."""
    ring = product.footprint["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    w, s, e, n = min(lons), min(lats), max(lons), max(lats)
    dx, dy = (e - w) / 4, (n - s) / 4
    return [w + dx, s + dy, e - dx, n - dy]


@pytest.fixture
def finished_job(api, product, dispatcher) -> dict:
    """A job of three renderings (JPEG, PNG of an area, GeoTIFF), started and ended."""
    job = create_job(
        api,
        spec(product, resolution=20),
        spec(product, resolution=10, format="png", bbox=central_bbox(product), stretch=[0, 0.25]),
        spec(product, resolution=60, bands=["B12", "B8A", "B04"], format="geotiff", gamma=1.2),
        title="three renderings",
    )
    response = api.post(path_of(job["links"]["start"]))
    assert response.status_code == 202
    assert response.json()["status"] in ("queued", "running", "finished")
    return wait_ended(api, job)


def test_detail_shows_progress_and_each_renderings_figures(finished_job):
    job = finished_job
    assert job["status"] == "finished" and job["progress"] == 100
    assert job["counts"]["finished"] == 3 and job["started"] and job["finished"]
    for rendering in job["renderings"]:
        assert rendering["status"] == "finished" and rendering["error"] == ""
        assert rendering["attempts"] == 1
        timings = rendering["timings"]
        assert timings["queued"] <= timings["started"] <= timings["finished"]
        assert timings["seconds"] >= 0
        figures = rendering["figures"]
        assert 0 < figures["valid_percent"] <= 100
        assert len(figures["clipped_high_percent"]) == 3
        assert set(figures["offsets"]) == set(rendering["spec"]["bands"])
        assert figures["stretch"]
        assert rendering["links"]["download"].endswith(
            f"/renderings/{rendering['index']}/download/"
        )


def test_every_image_downloads_with_its_type_and_decodes(api, finished_job, demo_safe, tmp_path):
    jpeg, png, tiff = finished_job["renderings"]
    images = {}
    for rendering in (jpeg, png, tiff):
        response = api.get(path_of(rendering["links"]["download"]), HTTP_ACCEPT="image/*")
        assert response.status_code == 200
        assert response["Content-Type"] == rendering["media_type"]
        assert response["Content-Disposition"].startswith("attachment;")
        path = save(response, tmp_path)
        assert path.name == rendering["file_name"]
        images[rendering["index"]] = decode(path)

    pixels, profile = images[0]
    assert profile["driver"] == "JPEG" and pixels.dtype == np.uint8
    assert pixels.shape == (3, SIDE[20], SIDE[20]) and pixels.std() > 5

    pixels, profile = images[1]
    assert profile["driver"] == "PNG" and pixels.dtype == np.uint8
    assert pixels.shape[0] == 4  # RGBA
    assert (
        png["figures"]["width"] == pixels.shape[2] and png["figures"]["height"] == pixels.shape[1]
    )
    assert 0.3 * SIDE[10] < pixels.shape[2] < 0.7 * SIDE[10]  # the middle half, not the product
    alpha = pixels[3]
    assert set(np.unique(alpha)) <= {0, 255}
    assert (pixels[:3, alpha == 0] == 0).all()  # no data is transparent black

    pixels, profile = images[2]
    grid = open_product(demo_safe).grid(60)
    assert profile["driver"] == "GTiff" and pixels.dtype == np.uint8
    assert pixels.shape == (4, SIDE[60], SIDE[60])
    assert CRS.from_user_input(profile["crs"]) == grid.crs
    assert profile["transform"].almost_equals(grid.transform)


def test_sidecar_is_served_and_matches_the_rendering(api, finished_job):
    rendering = finished_job["renderings"][2]
    response = api.get(path_of(rendering["links"]["sidecar"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    document = json.loads(b"".join(response.streaming_content))
    assert document["file"] == rendering["file_name"]
    assert document["bands"] == ["B12", "B8A", "B04"] and document["resolution"] == 60


def test_results_are_a_valid_stac_item_collection(api, finished_job, product, demo_safe):
    response = api.get(path_of(finished_job["links"]["results"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    collection = pystac.ItemCollection.from_dict(response.json())
    assert len(collection.items) == 3
    core = open_product(demo_safe)
    tile = transform_bounds(core.crs, "EPSG:4326", *core.bounds, densify_pts=21)
    for item, rendering in zip(collection.items, finished_job["renderings"], strict=True):
        item.validate()  # STAC core schemas, shipped with pystac: no network
        assert item.datetime == product.sensed_at
        assert item.geometry["type"] == "Polygon"
        west, south, east, north = item.bbox
        assert tile[0] - 1e-6 <= west < east <= tile[2] + 1e-6
        assert tile[1] - 1e-6 <= south < north <= tile[3] + 1e-6
        assert item.properties["s2render:bands"] == rendering["spec"]["bands"]
        assert item.properties["s2render:resolution"] == rendering["spec"]["resolution"]
        assert item.properties["s2render:offsets"] == rendering["figures"]["offsets"]
        assert item.properties["s2render:valid_percent"] == rendering["figures"]["valid_percent"]
        assert item.properties["platform"] == "sentinel-2b"
        image, metadata = item.assets["image"], item.assets["metadata"]
        assert image.href == rendering["links"]["download"] and image.roles == ["data"]
        assert image.media_type == rendering["media_type"]
        assert metadata.href == rendering["links"]["sidecar"]
        assert api.get(path_of(image.href)).status_code == 200
    # Whole-product renderings cover the tile; the area rendering only its middle.
    assert collection.items[0].bbox == pytest.approx(list(tile), abs=1e-6)
    (w, s, e, n), (aw, as_, ae, an) = collection.items[1].bbox, central_bbox(product)
    assert tile[0] < w <= aw < ae <= e < tile[2]  # covers the asked area, not the tile
    assert tile[1] < s <= as_ < an <= n < tile[3]


def test_archive_holds_every_image_and_its_companions_and_each_decodes(api, finished_job, tmp_path):
    response = api.get(path_of(finished_job["links"]["archive"]))
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert f"job-{finished_job['id']}.zip" in response["Content-Disposition"]
    files = unzip(response, tmp_path)
    names = [r["file_name"] for r in finished_job["renderings"]]
    suffixes = ("", ".json", ".thumb.png", ".stac.json")
    assert [p.name for p in files] == [name + s for name in names for s in suffixes]
    for path in files:
        if path.name.endswith(".stac.json"):
            item = pystac.Item.from_dict(json.loads(path.read_text()))
            for asset in item.assets.values():  # relative hrefs resolve inside the zip
                assert (path.parent / asset.href).is_file(), asset.href
        elif path.suffix == ".json":
            assert json.loads(path.read_text())["file"] == path.stem
        else:
            pixels, _ = decode(path)
            assert pixels.dtype == np.uint8 and pixels.shape[0] in (3, 4) and pixels.std() > 5


def test_delete_removes_the_job_and_its_files(api, finished_job):
    out_dir = job_output_dir(settings.OUTPUT_DIR, finished_job["id"])
    assert sorted(p.name for p in out_dir.iterdir()) == sorted(
        r["file_name"] + suffix
        for r in finished_job["renderings"]
        for suffix in ("", ".json", ".thumb.png", ".stac.json")  # image and companions
    )
    assert api.delete(path_of(finished_job["links"]["self"])).status_code == 204
    assert not Path(out_dir).exists()
    assert api.get(path_of(finished_job["links"]["self"])).status_code == 404


def test_start_again_renders_from_scratch(api, finished_job):
    response = api.post(path_of(finished_job["links"]["start"]))
    assert response.status_code == 202
    again = wait_ended(api, finished_job)
    assert again["status"] == "finished"
    assert again["started"] > finished_job["started"]


def test_results_describe_presets_expressions_and_previews_at_their_real_pixel_size(
    api, product, dispatcher
):
    job = create_job(
        api,
        {"product": product.pk, "preset": "ndvi", "resolution": 20, "format": "png"},
        {"product": product.pk, "expression": "B08/B04", "colormap": "viridis",
         "value_range": [0, 8], "resolution": 20, "format": "png"},
        {"product": product.pk, "bands": ["B04", "B03", "B02"], "resolution": 10,
         "max_size": 147, "format": "png"},
        title="kinds",
    )  # fmt: skip
    api.post(path_of(job["links"]["start"]))
    done = wait_ended(api, job)
    assert done["status"] == "finished"
    response = api.get(path_of(done["links"]["results"]))
    assert response.status_code == 200
    preset, expression, preview = pystac.ItemCollection.from_dict(response.json()).items
    for item in (preset, expression, preview):
        item.validate()
    assert preset.properties["s2render:preset"] == "ndvi"
    assert preset.properties["title"] == "kinds #0: ndvi at 20 m"
    assert preset.properties["s2render:bands"] == ["B04", "B08"]
    assert expression.properties["s2render:expressions"] == ["B08/B04"]
    assert expression.properties["gsd"] == pytest.approx(20)
    # 588 px at 10 m capped at 147 px: 40 m pixels, whatever resolution was asked.
    assert preview.properties["s2render:resolution"] == 10
    assert preview.properties["gsd"] == pytest.approx(40)

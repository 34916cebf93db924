"""v1 renderings beyond three bands: presets, expressions, areas, CRS, previews, each downloaded
and decoded; the validation of the new keys; thumbnails and STAC items beside the image."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pystac
import pytest
from PIL import Image
from rasterio.crs import CRS

from s2render.core.colormap import get_colormap
from tests.conftest import decode
from tests.web.v1_helpers import content, create_job, path_of, save, spec, wait_ended


def test_thumbnail_is_404_until_the_rendering_has_finished(api, product):
    job = create_job(api, spec(product))
    response = api.get(path_of(job["links"]["self"]) + "renderings/0/thumbnail/")
    assert response.status_code == 404


def test_thumbnail_and_stac_item_sit_beside_the_image_until_the_job_is_deleted(
    api, product, dispatcher
):
    job = create_job(api, spec(product), start=True)
    rendering = wait_ended(api, job)["renderings"][0]
    assert rendering["status"] == "finished", rendering["error"]

    response = api.get(path_of(rendering["links"]["thumbnail"]))
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    thumbnail = Image.open(io.BytesIO(content(response)))
    assert thumbnail.format == "PNG" and thumbnail.mode == "RGBA"
    assert max(thumbnail.size) <= 256

    from s2render.web.jobs.models import Rendering

    image = Path(Rendering.objects.get(job__uuid=job["id"], index=0).output)
    stac_path = image.with_name(image.name + ".stac.json")
    companions = [image.with_name(image.name + s) for s in (".thumb.png", ".json")] + [stac_path]
    assert all(p.is_file() for p in companions)
    item = pystac.Item.from_dict(json.loads(stac_path.read_text()))
    for asset in item.assets.values():
        assert not Path(asset.href).is_absolute()
        assert (image.parent / asset.href).is_file(), asset.href

    results = pystac.ItemCollection.from_dict(
        json.loads(content(api.get(path_of(job["links"]["results"]))))
    )
    assert results.items[0].assets["thumbnail"].href == rendering["links"]["thumbnail"]

    assert api.delete(path_of(job["links"]["self"])).status_code == 204
    assert not any(p.exists() for p in [image, *companions])


# --- every kind of rendering through the API ---------------------------------------------------


def triangle(product) -> dict:
    """A lon/lat triangle inside the product's footprint."""
    ring = product.footprint["coordinates"][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    w, s, e, n = min(lons), min(lats), max(lons), max(lats)
    dx, dy = (e - w) / 4, (n - s) / 4
    points = [[w + dx, s + dy], [e - dx, s + dy], [(w + e) / 2, n - dy], [w + dx, s + dy]]
    return {"type": "Polygon", "coordinates": [points]}


def rendering_of(product, **values) -> dict:
    return {"product": product.pk, "resolution": 60, **values}


@pytest.fixture
def extra_job(api, product, dispatcher) -> dict:
    job = create_job(
        api,
        rendering_of(product, preset="ndvi", resolution=20, format="png"),
        rendering_of(product, preset="scl", resolution=20, format="png"),
        spec(product, geometry=triangle(product), format="png"),
        spec(product, crs="EPSG:4326", format="geotiff"),
        spec(product, resolution=10, max_size=128),
        start=True,
    )
    ended = wait_ended(api, job)
    assert [r["status"] for r in ended["renderings"]] == ["finished"] * 5, [
        r["error"] for r in ended["renderings"]
    ]
    return ended


def download(api, rendering: dict, folder: Path) -> tuple[np.ndarray, dict]:
    response = api.get(path_of(rendering["links"]["download"]))
    assert response.status_code == 200
    return decode(save(response, folder))


def test_ndvi_preset_is_a_mostly_opaque_png(api, extra_job, tmp_path):
    rendering = extra_job["renderings"][0]
    assert rendering["spec"]["preset"] == "ndvi" and "bands" not in rendering["spec"]
    pixels, profile = download(api, rendering, tmp_path)
    assert profile["driver"] == "PNG" and profile["dtype"] == "uint8"
    assert pixels.shape == (4, 294, 294)
    assert (pixels[3] == 255).mean() > 0.5
    assert len(np.unique(pixels[:3].reshape(3, -1), axis=1).T) > 10  # a ramp, not one colour


def test_scl_preset_shows_only_the_class_table_colours(api, extra_job, tmp_path):
    pixels, _ = download(api, extra_job["renderings"][1], tmp_path)
    assert pixels.shape == (4, 294, 294)
    table = {
        tuple(int(entry["color"][i : i + 2], 16) for i in (1, 3, 5))
        for entry in get_colormap("scl").to_dict()["classes"]
    }
    opaque = pixels[:3, pixels[3] == 255].T
    assert len(opaque) > 0
    assert {tuple(int(v) for v in rgb) for rgb in np.unique(opaque, axis=0)} <= table


def test_polygon_area_is_transparent_outside_the_triangle(api, extra_job, tmp_path):
    pixels, _ = download(api, extra_job["renderings"][2], tmp_path)
    assert pixels.shape[0] == 4
    alpha = pixels[3]
    assert 0.2 < (alpha == 255).mean() < 0.8  # a triangle fills about half its bounds
    assert alpha[0, 0] == 0 and alpha[0, -1] == 0  # the corners of the top edge are outside


def test_geotiff_in_epsg_4326_is_georeferenced_as_asked(api, extra_job, tmp_path):
    pixels, profile = download(api, extra_job["renderings"][3], tmp_path)
    assert profile["crs"] == CRS.from_epsg(4326)
    assert profile["dtype"] == "uint8" and pixels.shape[0] == 4
    assert abs(profile["transform"].a) < 1  # degrees per pixel


def test_max_size_preview_has_a_long_side_of_128(api, extra_job, tmp_path):
    rendering = extra_job["renderings"][4]
    pixels, profile = download(api, rendering, tmp_path)
    assert profile["driver"] == "JPEG" and max(pixels.shape[1:]) == 128
    assert pixels.shape[0] == 3 and pixels.max() > 0


# --- validation of the new keys ----------------------------------------------------------------

INVALID = [
    ({"preset": "nope"}, "preset", "true-color"),
    ({"expression": "B04", "colormap": "nope"}, "colormap", "viridis"),
    ({"expression": "(B08-B04)/(B08+FOO)"}, "expression", "FOO"),
    ({"expressions": ["B04", "B03"]}, "expressions", "three"),
    ({"expressions": ["B04", "B03", "B99"]}, "expressions", "B99"),
    ({"preset": "ndvi", "bands": ["B04", "B03", "B02"]}, "bands", "only one"),
    ({"bands": ["B04", "B03", "B02"], "stretch_scope": "world"}, "stretch_scope", "job"),
    ({"bands": ["B04", "B03", "B02"], "cloud_mask": "clouds,fog"}, "cloud_mask", "fog"),
    ({"bands": ["B04", "B03", "B02"], "cloud_dilation": 3}, "cloud_dilation", "cloud_mask"),
    ({"bands": ["B04", "B03", "B02"], "geometry": {"type": "Point"}}, "geometry", "Polygon"),
    ({"bands": ["B04", "B03", "B02"], "crs": "EPSG:99999"}, "crs", "EPSG:99999"),
    ({"bands": ["B04", "B03", "B02"], "max_size": 0}, "max_size", "1 to"),
    ({"bands": ["B04", "B03", "B02"], "max_size": 64, "width": 64}, "max_size", "not both"),
    ({"preset": "ndvi", "value_range": "low,high"}, "value_range", "MIN,MAX"),
    ({"preset": "true-color", "colormap": "viridis"}, "colormap", "composite"),
    ({"expression": "B08", "stretch": "p2,98"}, "stretch", "value_range"),
    ({"expression": "B08", "colormap": "scl", "value_range": [0, 1]}, "value_range", "class"),
    ({"resolution": 60}, "bands", "preset"),
]


@pytest.mark.parametrize(("values", "field", "hint"), INVALID)
def test_invalid_rendering_is_a_400_naming_the_field_with_a_hint(api, product, values, field, hint):
    response = api.post(
        "/api/v1/jobs/", {"renderings": [rendering_of(product, **values)]}, format="json"
    )
    assert response.status_code == 400, response.json()
    body = response.json()
    message = " ".join(str(m) for m in body["fields"].get(f"renderings[0].{field}", []))
    assert hint in message, body


VALID = [
    {"preset": "ndvi", "resolution": 20},
    {"preset": "true-color-optimized"},
    {"preset": "false-color", "stretch": "p2,98", "stretch_scope": "job"},
    {"expressions": ["B04*2", "B03", "B02"]},
    {"expression": "(B08-B04)/(B08+B04)", "colormap": "rdylgn", "value_range": "-1,1"},
    {"bands": ["B04", "B03", "B02"], "cloud_mask": "clouds", "cloud_dilation": 2},
    {"bands": ["B04", "B03", "B02"], "cloud_mask": [8, "cirrus"]},
    {"bands": ["B04", "B03", "B02"], "crs": "EPSG:3857", "width": 100},
]


@pytest.mark.parametrize("values", VALID)
def test_valid_rendering_is_stored_as_json_it_was_asked(api, product, values):
    job = create_job(api, rendering_of(product, **values))
    stored = job["renderings"][0]["spec"]
    for key, value in values.items():
        if key not in ("value_range", "cloud_mask", "preset"):
            assert stored[key] == value
    json.dumps(stored)


# --- job-scope stretch ------------------------------------------------------------------------


def test_job_scope_percentiles_give_every_rendering_one_mapping(api, product, dispatcher):
    dispatcher.config.capacity = 1  # the claim must take the job's other renderings too
    job_scope = {"stretch": "p2,98", "stretch_scope": "job"}
    job = create_job(
        api,
        spec(product, **job_scope),
        spec(product, geometry=triangle(product), format="png", **job_scope),
        spec(product, resolution=20, max_size=100, **job_scope),
        start=True,
    )
    ended = wait_ended(api, job)
    assert [r["status"] for r in ended["renderings"]] == ["finished"] * 3
    applied = []
    for rendering in ended["renderings"]:
        sidecar = json.loads(content(api.get(path_of(rendering["links"]["sidecar"]))))
        assert sidecar["stretch"]["scope"] == "job" and sidecar["stretch"]["renderings"] == 3
        applied.append(sidecar["stretch"]["ranges"])
    assert applied[0] == applied[1] == applied[2]


def test_rendering_scope_percentiles_differ_by_area(api, product, dispatcher):
    job = create_job(
        api,
        spec(product, stretch="p2,98"),
        spec(product, geometry=triangle(product), stretch="p2,98"),
        start=True,
    )
    ended = wait_ended(api, job)
    ranges = [
        json.loads(content(api.get(path_of(r["links"]["sidecar"]))))["stretch"]["ranges"]
        for r in ended["renderings"]
    ]
    assert ranges[0] != ranges[1]  # so the test above shows sharing, not coincidence

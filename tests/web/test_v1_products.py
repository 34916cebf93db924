"""v1 products: list, detail, registration of paths under the data root only."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings

from s2render.core.product import open_product


def test_root_lists_the_resources(api):
    body = api.get("/api/v1/").json()
    assert body == {
        "products": "http://testserver/api/v1/products/",
        "jobs": "http://testserver/api/v1/jobs/",
        "presets": "http://testserver/api/v1/presets/",
        "colormaps": "http://testserver/api/v1/colormaps/",
        "schema": "http://testserver/api/v1/schema/",
        "docs": "http://testserver/api/v1/docs/",
        "redoc": "http://testserver/api/v1/redoc/",
    }


def test_detail_has_bands_per_resolution_level_baseline_date_cloud_and_footprint(
    api, product, demo_safe
):
    body = api.get(f"/api/v1/products/{product.pk}/").json()
    core = open_product(demo_safe)
    assert body["name"] == core.product_id
    assert body["level"] == "L2A"
    assert body["baseline"] == core.baseline
    assert body["sensed_at"].startswith(core.sensing_time.strftime("%Y-%m-%dT%H:%M:%S"))
    assert body["cloud_cover"] == pytest.approx(core.cloud_cover)
    assert "B08" in body["bands"]["10m"] and "B08" not in body["bands"]["20m"]
    assert "SCL" in body["bands"]["20m"]
    assert body["footprint"]["type"] == "Polygon"
    ring = body["footprint"]["coordinates"][0]
    assert ring[0] == ring[-1] and all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring)
    assert body["url"] == f"http://testserver/api/v1/products/{product.pk}/"


def test_list_is_paginated_and_filtered(api, product):
    body = api.get("/api/v1/products/").json()
    assert body["count"] == 1 and body["results"][0]["id"] == product.pk
    assert api.get("/api/v1/products/?level=L1C").json()["count"] == 0
    assert api.get(f"/api/v1/products/?tile={product.tile}").json()["count"] == 1


def test_registering_a_copy_under_the_data_root_answers_201(api, demo_safe):
    target = settings.DATA_DIR / "incoming" / demo_safe.name
    shutil.copytree(demo_safe, target, dirs_exist_ok=True)
    try:
        response = api.post("/api/v1/products/", {"path": "incoming/" + demo_safe.name})
        assert response.status_code == 201, response.json()
        body = response.json()
        assert body["path"] == str(target.resolve())
        assert response["Location"] == body["url"]
        assert api.get(f"/api/v1/products/{body['id']}/").status_code == 200
    finally:
        shutil.rmtree(target.parent)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/etc", "outside the data root"),
        ("../../../../etc", "outside the data root"),
        ("nowhere/S2B_MSIL2A_X.SAFE", "does not exist"),
        ("secret_key", "not a readable Sentinel-2 product"),
    ],
)
def test_paths_outside_the_data_root_or_not_products_are_400(api, db, path, fragment):
    response = api.post("/api/v1/products/", {"path": path}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert any(fragment in m for m in body["fields"]["path"]), body


def test_the_same_product_from_a_second_location_is_refused(api, product, demo_safe):
    twin = settings.DATA_DIR / "twin" / demo_safe.name
    shutil.copytree(demo_safe, twin, dirs_exist_ok=True)
    try:
        response = api.post("/api/v1/products/", {"path": str(twin)}, format="json")
        assert response.status_code == 400
        assert "already registered" in response.json()["fields"]["path"][0]
    finally:
        shutil.rmtree(twin.parent)


@pytest.mark.parametrize("ref", ["999999", "abc"])
def test_unknown_product_is_404_with_the_error_shape(api, db, ref):
    response = api.get(f"/api/v1/products/{ref}/")
    assert response.status_code == 404
    assert response.json() == {
        "status": 404,
        "code": "not_found",
        "detail": f"no product {ref!r} (GET /api/v1/products/ lists them)",
    }

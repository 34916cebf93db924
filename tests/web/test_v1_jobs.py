"""v1 jobs without a dispatcher: create, validation, list with filters and pages, detail,
update, delete, and the moves a job's status forbids (409)."""

from __future__ import annotations

import pytest

from s2render.web.jobs import services
from tests.web.v1_helpers import TRUE_COLOUR, create_job, spec

JOB_FIELDS = [
    "id",
    "title",
    "status",
    "progress",
    "counts",
    "downloads",
    "created",
    "updated",
    "started",
    "finished",
    "renderings",
    "links",
]
RENDERING_FIELDS = [
    "index",
    "product",
    "product_name",
    "spec",
    "status",
    "error",
    "attempts",
    "timings",
    "figures",
    "media_type",
    "file_name",
    "links",
]


def run_claimed(job: dict) -> None:
    """Put the job's renderings in ``running`` as a dispatcher's claim would."""
    services.rendering_claim(dispatcher="test-dispatcher", limit=100)


def test_create_answers_201_with_the_job_created_and_its_checked_renderings(api, product):
    response = api.post(
        "/api/v1/jobs/",
        {
            "title": "quicklooks",
            "renderings": [
                spec(product, resolution="20", bands="b04, b03, b02"),
                {"product": product.name, "bands": ["B12", "B8A", "B04"], "format": "png"},
            ],
        },
        format="json",
    )
    assert response.status_code == 201
    body = response.json()
    assert list(body) == JOB_FIELDS
    assert response["Location"] == body["links"]["self"]
    assert body["links"]["self"] == f"http://testserver/api/v1/jobs/{body['id']}/"
    assert body["status"] == "created" and body["progress"] == 0
    assert body["counts"] == {
        "created": 2,
        "queued": 0,
        "running": 0,
        "finished": 0,
        "error": 0,
        "canceled": 0,
    }
    first, second = body["renderings"]
    assert list(first) == RENDERING_FIELDS
    assert first["spec"] == {
        "resolution": 20,
        "bands": TRUE_COLOUR,
        "bbox": None,
        "bbox_crs": "EPSG:4326",
        "stretch": None,
        "gamma": None,
        "format": "jpeg",
    }
    assert second["product"] == product.pk and second["product_name"] == product.name
    assert second["spec"]["resolution"] == 10 and second["spec"]["format"] == "png"
    assert first["links"]["download"] is None and first["timings"]["queued"] is None


def test_create_with_start_queues_the_job_in_one_call(api, product):
    body = create_job(api, spec(product), start=True)
    assert body["status"] == "queued"
    assert body["renderings"][0]["status"] == "queued"
    assert body["renderings"][0]["timings"]["queued"] is not None


BAD_RENDERINGS = [
    ({"bands": ["B04", "B99", "B02"]}, "bands", "not a Sentinel-2 band; choose one of"),
    ({"bands": ["B04", "B10", "B02"]}, "bands", "L2A products drop the cirrus band B10"),
    ({"bands": ["B04", "B03"]}, "bands", "give three band names"),
    ({"resolution": 0}, "resolution", "must be a positive number of metres"),
    ({"resolution": "fine"}, "resolution", "is not a number of metres"),
    ({"bbox": [100.0, 10.0, 100.1, 10.1]}, "bbox", "does not intersect the product"),
    ({"bbox": [1, 2, 3]}, "bbox", "must be four numbers"),
    ({"bbox_crs": "EPSG:999999", "bbox": [1, 2, 3, 4]}, "bbox_crs", "is not a CRS"),
    ({"stretch": "0.3,0"}, "stretch", "MAX must be greater than MIN"),
    ({"stretch": "dark"}, "stretch", "each range is MIN,MAX"),
    ({"stretch": [[0, 0.3], [0, 0.3]]}, "stretch", "one MIN,MAX range or three"),
    ({"gamma": -1}, "gamma", "must be a positive number"),
    ({"format": "bmp"}, "format", "choose jpeg, png, webp or geotiff"),
    ({"product": 999999}, "product", "no product 999999"),
    ({"product": None}, "product", "give the product's id or name"),
    ({"band": ["B04"]}, "band", "unknown field; a rendering takes product, resolution, bands"),
]


@pytest.mark.parametrize(("change", "field", "hint"), BAD_RENDERINGS)
def test_every_bad_field_is_a_400_naming_the_rendering_and_the_field(
    api, product, change, field, hint
):
    good = spec(product)
    response = api.post("/api/v1/jobs/", {"renderings": [good, {**good, **change}]}, format="json")
    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["status"] == 400 and body["code"] == "invalid"
    assert list(body["fields"]) == [f"renderings[1].{field}"], body
    message = " ".join(body["fields"][f"renderings[1].{field}"])
    assert hint in message and len(message) > 15, message


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"renderings": []}, "renderings"),
        ({}, "renderings"),
        ({"renderings": "B04,B03,B02"}, "renderings"),
        ({"renderings": [{"bands": TRUE_COLOUR}], "title": "x" * 201}, "title"),
    ],
)
def test_malformed_bodies_are_400(api, product, body, field):
    response = api.post("/api/v1/jobs/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_list_shows_only_own_jobs_newest_first_in_pages(api, client_for, bob, product):
    ids = [create_job(api, spec(product), title=f"job {i}")["id"] for i in range(3)]
    create_job(client_for(bob), spec(product), title="bob's")
    page = api.get("/api/v1/jobs/?page_size=2").json()
    assert page["count"] == 3
    assert [j["id"] for j in page["results"]] == ids[::-1][:2]
    listed = page["results"][0]
    assert "renderings" not in listed and listed["counts"]["created"] == 1
    assert listed["links"]["renderings"].endswith(f"/jobs/{listed['id']}/renderings/")
    assert page["next"].endswith("page=2&page_size=2")
    last = api.get("/api/v1/jobs/?page_size=2&page=2").json()
    assert [j["id"] for j in last["results"]] == [ids[0]] and last["next"] is None


def test_list_filters_by_status_title_product_and_creation_time(api, product):
    first = create_job(api, spec(product), title="Rome quicklook")
    second = create_job(api, spec(product), title="Paris", start=True)

    def ids(query: str) -> list[str]:
        response = api.get(f"/api/v1/jobs/?{query}")
        assert response.status_code == 200, response.json()
        return [j["id"] for j in response.json()["results"]]

    assert ids("status=created") == [first["id"]]
    assert ids("status=queued&status=created") == [second["id"], first["id"]]
    assert ids("title=rome") == [first["id"]]
    assert ids(f"product={product.pk}") == [second["id"], first["id"]]
    assert ids(f"product={product.name}") == [second["id"], first["id"]]
    assert ids("product=999999") == []
    created = second["created"].replace("+00:00", "Z")
    assert ids(f"created_after={created}") == [second["id"]]
    assert ids(f"created_before={created}") == [first["id"]]


def test_a_bad_filter_value_is_a_400_naming_it(api, product):
    response = api.get("/api/v1/jobs/?status=done")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]
    assert "created_after" in api.get("/api/v1/jobs/?created_after=soon").json()["fields"]


def test_patch_changes_the_title_and_put_replaces_the_renderings(api, product):
    job = create_job(api, spec(product), spec(product, resolution=20))
    url = f"/api/v1/jobs/{job['id']}/"
    patched = api.patch(url, {"title": "renamed"}, format="json").json()
    assert patched["title"] == "renamed" and len(patched["renderings"]) == 2
    put = api.put(url, {"renderings": [spec(product, format="webp")]}, format="json")
    assert put.status_code == 200
    body = put.json()
    assert body["title"] == "" and [r["spec"]["format"] for r in body["renderings"]] == ["webp"]
    response = api.put(url, {"title": "no renderings"}, format="json")
    assert response.status_code == 400 and "renderings" in response.json()["fields"]
    bad = api.patch(url, {"renderings": [spec(product, bands="B04,B10,B02")]}, format="json")
    assert bad.status_code == 400 and "renderings[0].bands" in bad.json()["fields"]


def test_update_and_start_of_a_running_job_are_409(api, product):
    job = create_job(api, spec(product), spec(product, resolution=20), start=True)
    run_claimed(job)
    url = f"/api/v1/jobs/{job['id']}/"
    assert api.get(url).json()["status"] == "running"
    for response in (
        api.patch(url, {"title": "x"}, format="json"),
        api.put(url, {"renderings": [spec(product)]}, format="json"),
        api.post(url + "start/"),
        api.post(url + "retry/"),
    ):
        assert response.status_code == 409
        body = response.json()
        assert body["status"] == 409 and body["code"] == "conflict" and "running" in body["detail"]


def test_cancel_and_retry_of_a_job_that_never_ran_are_409(api, product):
    job = create_job(api, spec(product))
    for action in ("cancel", "retry"):
        response = api.post(f"/api/v1/jobs/{job['id']}/{action}/")
        assert response.status_code == 409, action
        assert response.json()["code"] == "conflict"


def test_delete_answers_204_and_the_job_is_gone(api, product):
    job = create_job(api, spec(product))
    url = f"/api/v1/jobs/{job['id']}/"
    assert api.delete(url).status_code == 204
    assert api.get(url).status_code == 404
    assert api.get("/api/v1/jobs/").json()["count"] == 0


@pytest.mark.parametrize(
    "path",
    [
        "jobs/not-a-uuid/",
        "jobs/00000000-0000-0000-0000-000000000000/",
        "jobs/00000000-0000-0000-0000-000000000000/renderings/0/",
        "{job}renderings/7/",
        "{job}renderings/x/",
        "{job}renderings/0/download/",
        "{job}renderings/0/sidecar/",
    ],
)
def test_what_does_not_exist_is_a_json_404(api, product, path):
    job = create_job(api, spec(product))
    url = "/api/v1/" + path.format(job=f"jobs/{job['id']}/")
    response = api.get(url)
    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404 and body["code"] == "not_found" and body["detail"]


def test_archive_of_a_job_with_nothing_finished_is_409(api, product):
    job = create_job(api, spec(product))
    response = api.get(f"/api/v1/jobs/{job['id']}/archive/")
    assert response.status_code == 409
    assert "no finished rendering" in response.json()["detail"]


def test_results_of_a_job_with_nothing_finished_is_an_empty_collection(api, product):
    job = create_job(api, spec(product))
    response = api.get(f"/api/v1/jobs/{job['id']}/results/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/geo+json"
    assert response.json()["type"] == "FeatureCollection"
    assert response.json()["features"] == []


def test_the_browsable_api_renders_html(api, product):
    job = create_job(api, spec(product))
    for url in ("/api/v1/", "/api/v1/jobs/", f"/api/v1/jobs/{job['id']}/", "/api/v1/products/"):
        response = api.get(url, HTTP_ACCEPT="text/html")
        assert response.status_code == 200, url
        assert response["Content-Type"].startswith("text/html")
        assert b"s2render" in response.content or b"Django REST framework" in response.content

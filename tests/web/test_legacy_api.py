"""The seed's API: its exact requests answered as the seed did, its rules as 400s."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import decode

SEED_JOB = {
    "res_list": "20,20,60",
    "r_list": "B04,B12,B06",
    "g_list": "B03,B11,B04",
    "b_list": "B02,B03,B02",
}
SEED_FIELDS = ["id", "res_list", "r_list", "g_list", "b_list", "status", "output"]


def test_overview_lists_the_seed_commands(api):
    response = api.get("/api/")
    assert response.status_code == 200
    assert response.json() == {
        "Job List": "/job-list/",
        "Detail View": "/job-detail/<str:pk>/",
        "Create Job": "/job-create/",
        "Update Job": "/job-update/<str:pk>/",
        "Delete Job": "/job-delete/<str:pk>/",
        "Run Job": "/job-run/<str:pk>/",
    }


def test_create_answers_the_job_pending_with_the_seed_fields(api, product):
    response = api.post("/api/job-create/", SEED_JOB, format="json")
    assert response.status_code == 200
    body = response.json()
    assert list(body) == SEED_FIELDS
    assert body == {**SEED_JOB, "id": body["id"], "status": "Pending", "output": ""}


def test_seed_readme_job_runs_to_done_and_every_file_decodes(api, product, dispatcher):
    job = api.post("/api/job-create/", SEED_JOB, format="json").json()
    response = api.get(f"/api/job-run/{job['id']}/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "Done"
    assert body["output"].endswith(",")  # the seed's trailing comma, kept for its clients
    paths = [Path(p) for p in body["output"].split(",")[:-1]]
    assert len(paths) == 3
    expected = [("20", "B04_B03_B02"), ("20", "B12_B11_B03"), ("60", "B06_B04_B02")]
    side = {"20": 294, "60": 98}  # demo product: 588 px at 10 m
    for path, (res, bands) in zip(paths, expected, strict=True):
        assert path.name.endswith(f"R{res}m_{bands}.jpg")
        pixels, profile = decode(path)
        assert profile["driver"] == "JPEG"
        assert pixels.shape == (3, side[res], side[res])
        assert pixels.dtype.name == "uint8"
        assert 0 < pixels.mean() < 255 and pixels.std() > 5
    detail = api.get(f"/api/job-detail/{job['id']}/").json()
    assert detail == body


def test_job_list_is_newest_first(api, product):
    ids = [api.post("/api/job-create/", SEED_JOB, format="json").json()["id"] for _ in range(3)]
    listed = api.get("/api/job-list/").json()
    assert [j["id"] for j in listed] == sorted(ids, reverse=True)
    assert all(list(j) == SEED_FIELDS for j in listed)


def test_update_replaces_the_lists(api, product):
    job = api.post("/api/job-create/", SEED_JOB, format="json").json()
    change = {"res_list": "10", "r_list": "B04", "g_list": "B03", "b_list": "B02"}
    response = api.post(f"/api/job-update/{job['id']}/", change, format="json")
    assert response.status_code == 200
    assert response.json() == {**change, "id": job["id"], "status": "Pending", "output": ""}


def test_delete_answers_the_seed_sentence_and_the_job_is_gone(api, product):
    job = api.post("/api/job-create/", SEED_JOB, format="json").json()
    response = api.delete(f"/api/job-delete/{job['id']}/")
    assert response.status_code == 200
    assert response.json() == "Item succsesfully delete!"
    assert api.get(f"/api/job-detail/{job['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"res_list": "20,15,60"}, "res_list", "'15'"),
        ({"res_list": "20,20"}, "res_list", "same length"),
        ({"g_list": "B03,B11"}, "g_list", "same length"),
        ({"r_list": "B04,B08,B06"}, "r_list", "use B8A"),
        ({"b_list": "B02,B03,B10"}, "b_list", "B10 is not available at 60 m"),
        ({"r_list": "B04,SCL,B06"}, "r_list", "SCL is not available at 20 m"),
        ({"r_list": "B04,,B06"}, "r_list", "an empty entry"),
        ({"res_list": ""}, "res_list", "blank"),
    ],
)
def test_every_seed_rule_is_a_400_naming_the_field(api, product, change, field, fragment):
    response = api.post("/api/job-create/", {**SEED_JOB, **change}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["status"] == 400 and body["code"] == "invalid"
    assert field in body["fields"]
    assert any(fragment in message for message in body["fields"][field]), body


def test_missing_fields_are_400_not_500(api, product):
    response = api.post("/api/job-create/", {"res_list": "20"}, format="json")
    assert response.status_code == 400
    assert {"r_list", "g_list", "b_list"} <= set(response.json()["fields"])


def test_unknown_job_is_404_with_the_error_shape(api, product):
    response = api.get("/api/job-detail/999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert api.get("/api/job-run/abc/").status_code == 404


def test_another_users_jobs_are_404_on_every_endpoint(api, client_for, bob, product):
    job = api.post("/api/job-create/", SEED_JOB, format="json").json()
    other = client_for(bob)
    assert other.get("/api/job-list/").json() == []
    for method, url in [
        ("get", f"/api/job-detail/{job['id']}/"),
        ("get", f"/api/job-run/{job['id']}/"),
        ("post", f"/api/job-update/{job['id']}/"),
        ("delete", f"/api/job-delete/{job['id']}/"),
    ]:
        assert getattr(other, method)(url).status_code == 404, url
    assert api.get(f"/api/job-detail/{job['id']}/").status_code == 200


def test_anonymous_requests_act_as_the_local_user_in_local_mode(client_for, product):
    anonymous = client_for(None)
    created = anonymous.post("/api/job-create/", SEED_JOB, format="json")
    assert created.status_code == 200
    assert anonymous.get("/api/job-list/").json()[0]["id"] == created.json()["id"]

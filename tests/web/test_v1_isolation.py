"""Per-user isolation: another user's job, renderings and files are 404 on every endpoint
(never 403, never a hint they exist); staff see everything."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.web.v1_helpers import content, create_job, path_of, spec, wait_ended

# (method, path below the job's URL, body): every endpoint that returns a job's data or files.
ENDPOINTS = [
    ("get", "", None),
    ("patch", "", {"title": "mine now"}),
    ("put", "", "renderings"),
    ("post", "start/", None),
    ("post", "cancel/", None),
    ("post", "retry/", None),
    ("get", "renderings/", None),
    ("get", "renderings/0/", None),
    ("get", "renderings/0/download/", None),
    ("get", "renderings/0/sidecar/", None),
    ("get", "results/", None),
    ("get", "archive/", None),
    ("delete", "", None),
]
READS = [(m, p) for m, p, _ in ENDPOINTS if m == "get"]


@pytest.fixture
def alices_job(api, product, dispatcher) -> dict:
    """Alice's finished job: one small rendering, image and sidecar on disk."""
    job = create_job(api, spec(product), title="alice's", start=True)
    return wait_ended(api, job)


def request(client, method: str, url: str, body):
    return (
        getattr(client, method)(url, body, format="json") if body else getattr(client, method)(url)
    )


def test_another_user_gets_404_on_every_endpoint_of_the_job(
    api, client_for, bob, product, alices_job
):
    assert alices_job["status"] == "finished"
    base = path_of(alices_job["links"]["self"])
    other = client_for(bob)
    for method, suffix, body in ENDPOINTS:
        if body == "renderings":
            body = {"renderings": [spec(product)]}
        response = request(other, method, base + suffix, body)
        assert response.status_code == 404, (method, suffix, response.status_code)
        answer = response.json()
        assert answer["code"] == "not_found" and alices_job["title"] not in answer["detail"]
    # Nothing bob did touched the job: alice still reads it all, files included.
    after = api.get(base).json()
    assert after["title"] == "alice's" and after["status"] == "finished"
    for method, suffix in READS:
        response = getattr(api, method)(base + suffix)
        assert response.status_code == 200, suffix
        assert content(response)


def test_job_lists_show_only_own_jobs(api, client_for, bob, product, alices_job):
    other = client_for(bob)
    assert other.get("/api/v1/jobs/").json()["count"] == 0
    bobs = create_job(other, spec(product), title="bob's")
    assert [j["id"] for j in other.get("/api/v1/jobs/").json()["results"]] == [bobs["id"]]
    assert [j["id"] for j in api.get("/api/v1/jobs/").json()["results"]] == [alices_job["id"]]


def test_staff_see_and_download_every_users_jobs(api, client_for, make_user, product, alices_job):
    staff = client_for(make_user("operator", staff=True))
    listed = staff.get("/api/v1/jobs/").json()["results"]
    assert alices_job["id"] in [j["id"] for j in listed]
    base = path_of(alices_job["links"]["self"])
    for method, suffix in READS:
        assert getattr(staff, method)(base + suffix).status_code == 200, suffix


def test_products_are_shared_by_every_user(client_for, bob, product):
    body = client_for(bob).get("/api/v1/products/").json()
    assert [p["id"] for p in body["results"]] == [product.pk]


def test_session_authentication_scopes_to_the_logged_in_user(api, bob, product):
    alices = create_job(api, spec(product), title="alice's")
    browser = APIClient(enforce_csrf_checks=True)
    assert browser.login(username="bob", password="pw-bob")
    assert browser.get("/api/v1/jobs/").json()["count"] == 0
    assert browser.get(f"/api/v1/jobs/{alices['id']}/").status_code == 404
    # A session is a browser's: writes need the CSRF token like any Django form.
    refused = browser.post("/api/v1/jobs/", {"renderings": [spec(product)]}, format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "permission_denied"

"""Remote products from the Copernicus Data Space Ecosystem (a local fake on 127.0.0.1): a job
whose product is missing fetches it first — once, however many jobs wait — with the download in
the job's progress; failures end the waiting renderings; a disk cap evicts the least recently
used download, never one a queued or running job needs."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from s2render.web.jobs.models import Rendering, Status
from s2render.web.products.downloads import downloads_evict, product_fetch
from s2render.web.products.models import Product
from tests.support.cdse_server import FakeProduct, serve_cdse, zip_safe
from tests.web.conftest import wait_for
from tests.web.v1_helpers import create_job, path_of, wait_ended


@pytest.fixture(scope="module")
def bodies(demo_l2a, demo_l1c) -> dict[str, bytes]:
    """The two demo products zipped as CDSE serves them, by product name (….SAFE)."""
    return {demo_l2a.name: zip_safe(demo_l2a), demo_l1c.name: zip_safe(demo_l1c)}


@pytest.fixture
def cdse(settings, bodies, request):
    """A fake CDSE serving both demo products; s2render's settings point at it. No download
    is left from another test (registering a product whose zip is there marks it available)."""
    shutil.rmtree(settings.DATA_DIR / "downloads", ignore_errors=True)
    knobs = getattr(request, "param", {})
    products = [FakeProduct(name=name, body=body) for name, body in bodies.items()]
    with serve_cdse(products, **knobs) as server:
        settings.S2RENDER = {**settings.S2RENDER, "CDSE": server.config()}
        yield server


def register(api, name: str) -> dict:
    response = api.post("/api/v1/products/", {"remote": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def job_on(api, product_id: int, **values) -> dict:
    rendering = {"product": product_id, "bands": ["B04", "B03", "B02"], "resolution": 60}
    job = create_job(api, {**rendering, **values})
    assert api.post(f"/api/v1/jobs/{job['id']}/start/").status_code in (200, 202)
    return job


def decoded(path: str) -> np.ndarray:
    with Image.open(path) as image:
        assert image.mode == "RGB"
        return np.asarray(image)


def test_registering_a_remote_product_records_the_catalogue_entry(api, cdse, demo_l2a, bodies):
    body = register(api, demo_l2a.name)
    assert body["name"] == demo_l2a.stem
    assert body["source"] == "remote" and body["state"] == "missing"
    assert body["level"] == "L2A" and body["tile"] and body["baseline"]
    assert body["download"]["bytes_total"] == len(bodies[demo_l2a.name])
    assert body["download"]["bytes_done"] == 0
    assert body["download"]["checksum"].startswith("md5:")
    assert body["footprint"]["type"] == "Polygon"
    assert Path(body["path"]).parent == (settings.DATA_DIR / "downloads").resolve()
    assert not Path(body["path"]).exists()
    assert cdse.full_downloads == 0  # registering looks the product up; it fetches nothing


def test_a_product_already_downloaded_registers_as_available(api, cdse, demo_l2a, bodies):
    target = settings.DATA_DIR / "downloads" / f"{demo_l2a.stem}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(bodies[demo_l2a.name])  # e.g. fetched by `s2render download` before
    body = register(api, demo_l2a.name)
    assert body["state"] == "available" and body["source"] == "remote"
    assert body["bands"]["10m"] and cdse.full_downloads == 0


def test_an_unknown_remote_name_is_a_400_naming_the_field(api, cdse):
    response = api.post(
        "/api/v1/products/",
        {"remote": "S2A_MSIL2A_20200101T000000_N0214_R001_T33UUU_20200101T000000"},
        format="json",
    )
    assert response.status_code == 400
    assert "no product named" in response.json()["fields"]["remote"][0]


def test_jobs_on_an_unfetched_product_are_checked_against_its_level(api, cdse, demo_l2a):
    product = register(api, demo_l2a.name)
    bad = api.post(
        "/api/v1/jobs/",
        {"renderings": [{"product": product["id"], "bands": ["B10", "B03", "B02"]}]},
        format="json",
    )
    assert bad.status_code == 400
    assert "B10" in str(bad.json()["fields"])


def test_ten_jobs_on_one_missing_product_download_it_once(api, cdse, dispatcher, demo_l2a):
    product = register(api, demo_l2a.name)
    jobs = [job_on(api, product["id"]) for _ in range(10)]
    ended = [wait_ended(api, job, timeout=120) for job in jobs]
    assert [job["status"] for job in ended] == ["finished"] * 10
    assert cdse.full_downloads == 1
    row = Product.objects.get(pk=product["id"])
    assert row.state == "available" and row.error == ""
    assert Path(row.location).is_file() and row.bytes_done == row.size_bytes
    assert "B08" in row.bands["10m"]  # what the download holds, parsed once it arrived
    first = Rendering.objects.filter(job__uuid=jobs[0]["id"]).get()
    pixels = decoded(first.output)
    assert pixels.shape == (98, 98, 3) and pixels.dtype == np.uint8 and pixels.max() > 0
    others = [decoded(r.output) for r in Rendering.objects.exclude(pk=first.pk)]
    assert all(np.array_equal(pixels, other) for other in others)


@pytest.mark.parametrize("cdse", [{"gate": threading.Event()}], indirect=True)
def test_the_job_shows_the_download_while_it_runs(api, cdse, dispatcher, demo_l2a, bodies):
    product = register(api, demo_l2a.name)
    job = job_on(api, product["id"])

    def fetching():
        body = api.get(path_of(job["links"]["self"])).json()
        return body if body["downloads"] and body["downloads"][0]["state"] == "fetching" else None

    body = wait_for(fetching, message="the job to show its product being fetched")
    assert body["status"] == "queued"
    download = body["downloads"][0]
    assert download["product"] == demo_l2a.stem
    assert download["bytes_total"] == len(bodies[demo_l2a.name])
    assert 0 <= download["bytes_done"] < download["bytes_total"]
    cdse.gate.set()
    done = wait_ended(api, job, timeout=120)
    assert done["status"] == "finished" and done["downloads"] == []


@pytest.mark.parametrize("cdse", [{"corrupt": "always"}], indirect=True)
def test_a_failed_fetch_fails_the_waiting_renderings_and_retry_fetches_again(
    api, cdse, dispatcher, demo_l2a
):
    product = register(api, demo_l2a.name)
    job = job_on(api, product["id"])
    failed = wait_ended(api, job, timeout=120)
    assert failed["status"] == "error"
    error = failed["renderings"][0]["error"]
    assert error.startswith(f"fetching {demo_l2a.stem} failed") and "MD5" in error.upper()
    row = Product.objects.get(pk=product["id"])
    assert row.state == "missing" and row.error
    assert not Path(row.location).exists()
    assert not list(Path(row.location).parent.glob("*.part"))

    cdse.corrupt = "never"
    assert api.post(f"/api/v1/jobs/{job['id']}/retry/").status_code in (200, 202)
    assert wait_ended(api, job, timeout=120)["status"] == "finished"


def test_the_download_cap_evicts_the_least_recently_used_download(
    api, cdse, transactional_db, demo_l2a, demo_l1c, bodies
):
    older = register(api, demo_l2a.name)
    newer = register(api, demo_l1c.name)
    assert product_fetch(product_id=older["id"]).state == "available"
    Product.objects.filter(pk=older["id"]).update(last_used_at="2020-01-01T00:00:00Z")
    assert product_fetch(product_id=newer["id"]).state == "available"
    cap = max(len(b) for b in bodies.values())  # room for one of the two

    assert downloads_evict(cap_bytes=cap) == [demo_l2a.stem]
    evicted, kept = Product.objects.get(pk=older["id"]), Product.objects.get(pk=newer["id"])
    assert evicted.state == "missing" and not Path(evicted.location).exists()
    assert kept.state == "available" and Path(kept.location).is_file()


def test_eviction_never_takes_a_product_a_queued_job_needs(api, cdse, transactional_db, demo_l2a):
    product = register(api, demo_l2a.name)
    assert product_fetch(product_id=product["id"]).state == "available"
    job_on(api, product["id"])  # queued: no dispatcher runs in this test
    assert Rendering.objects.get(product_id=product["id"]).status == Status.QUEUED

    assert downloads_evict(cap_bytes=0) == []
    row = Product.objects.get(pk=product["id"])
    assert row.state == "available" and Path(row.location).is_file()


def test_the_seed_endpoints_fetch_a_missing_default_product_first(
    api, cdse, dispatcher, demo_l2a, settings
):
    """The seed downloaded its one product when it was missing; S2RENDER_DEFAULT_PRODUCT may
    name a CDSE product, fetched (once) by the first job that needs it."""
    from pathlib import Path as P

    settings.S2RENDER = {**settings.S2RENDER, "DEFAULT_PRODUCT": P(demo_l2a.stem)}
    seed_job = {"res_list": "20,60", "r_list": "B04,B06", "g_list": "B03,B04", "b_list": "B02,B02"}
    created = api.post("/api/job-create/", seed_job, format="json")
    assert created.status_code == 200, created.json()
    assert cdse.full_downloads == 0  # nothing fetched until the job runs
    body = api.get(f"/api/job-run/{created.json()['id']}/").json()
    assert body["status"] == "Done", body
    outputs = body["output"].split(",")[:-1]
    assert [decoded(p).shape for p in outputs] == [(294, 294, 3), (98, 98, 3)]
    assert cdse.full_downloads == 1
    assert Product.objects.get(name=demo_l2a.stem).source == "remote"

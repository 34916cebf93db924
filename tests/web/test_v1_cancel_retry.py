"""Cancel (queued, and while running on a real dispatcher) and retry of renderings that
failed for real (a band file truncated under a registered copy of the demo product)."""

from __future__ import annotations

import json
import shutil
import uuid

import numpy as np
from django.conf import settings

from s2render.web.jobs.specs import job_output_dir
from tests.conftest import decode
from tests.web.conftest import wait_for
from tests.web.v1_helpers import content, create_job, path_of, save, spec, wait_ended


def job_files(job_id: str) -> list[str]:
    """Every file and folder under the job's output folder, temporaries included."""
    out_dir = job_output_dir(settings.OUTPUT_DIR, job_id)
    return sorted(str(p.relative_to(out_dir)) for p in out_dir.rglob("*"))


def workers_idle(client) -> bool:
    """No task executing on any worker (a canceled task may still be running there)."""
    counts = client.run(lambda dask_worker: dask_worker.state.executing_count)
    return not any(counts.values())


def test_cancel_a_queued_job_renders_nothing(api, product):
    job = create_job(api, spec(product), spec(product, resolution=20), start=True)
    response = api.post(path_of(job["links"]["cancel"]))
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "canceled" and body["progress"] == 100
    assert [r["status"] for r in body["renderings"]] == ["canceled", "canceled"]
    assert all(r["links"]["download"] is None for r in body["renderings"])
    assert job_files(job["id"]) == []
    assert api.get(path_of(job["links"]["archive"])).status_code == 409


def test_cancel_while_running_stops_it_and_leaves_no_file_of_canceled_renderings(
    api, product, dispatcher, dask_threads, tmp_path
):
    renderings = [spec(product, resolution=10, format="png") for _ in range(24)]
    job = create_job(api, *renderings, title="large", start=True)

    def some_finished() -> bool:
        body = api.get(path_of(job["links"]["self"])).json()
        assert body["status"] in ("queued", "running"), "the job ended before it was canceled"
        return body["counts"]["finished"] > 0

    wait_for(some_finished, message="a first rendering to finish")
    response = api.post(path_of(job["links"]["cancel"]))
    assert response.status_code == 202
    assert response.json()["status"] == "canceled"

    wait_for(lambda: not dispatcher.inflight, message="the dispatcher to drop the canceled work")
    wait_for(lambda: workers_idle(dask_threads), message="the workers to finish what ran")
    final = api.get(path_of(job["links"]["self"])).json()
    assert final["status"] == "canceled"
    statuses = [r["status"] for r in final["renderings"]]
    assert set(statuses) == {"finished", "canceled"}
    finished = [r for r in final["renderings"] if r["status"] == "finished"]
    companions = ("", ".json", ".thumb.png", ".stac.json")
    expected = sorted(r["file_name"] + suffix for r in finished for suffix in companions)
    assert job_files(job["id"]) == expected  # nothing of the canceled ones, no temporaries
    for rendering in finished:
        pixels, _ = decode(save(api.get(path_of(rendering["links"]["download"])), tmp_path))
        assert pixels.shape == (4, 588, 588) and pixels.dtype == np.uint8


def test_retry_renders_the_failed_renderings_again(api, dispatcher, demo_safe, tmp_path):
    copy = settings.DATA_DIR / f"retry-{uuid.uuid4().hex[:8]}" / demo_safe.name
    shutil.copytree(demo_safe, copy)
    try:
        registered = api.post("/api/v1/products/", {"path": str(copy)}, format="json")
        assert registered.status_code == 201, registered.json()
        product_id = registered.json()["id"]
        band = next(copy.glob("GRANULE/*/IMG_DATA/R20m/*_B04_20m.jp2"))
        original = band.read_bytes()
        band.write_bytes(original[: len(original) // 3])  # the codestream ends mid-tile

        first = {"product": product_id, "bands": ["B04", "B03", "B02"], "resolution": 20}
        second = {"product": product_id, "bands": ["B12", "B8A", "B04"], "resolution": 60}
        job = create_job(api, first, second, start=True)
        failed = wait_ended(api, job)
        assert failed["status"] == "finished"  # partial: one finished, the failure listed
        broken, fine = failed["renderings"]
        assert broken["status"] == "error" and broken["error"]
        assert broken["links"]["download"] is None
        assert fine["status"] == "finished"
        assert api.get(path_of(broken["links"]["self"]) + "download/").status_code == 404

        band.write_bytes(original)
        response = api.post(path_of(job["links"]["retry"]))
        assert response.status_code == 202
        assert [r["status"] for r in response.json()["renderings"]] == ["queued", "finished"]
        retried = wait_ended(api, job)
        assert retried["status"] == "finished"
        assert [r["status"] for r in retried["renderings"]] == ["finished", "finished"]
        assert retried["renderings"][0]["error"] == ""
        assert retried["renderings"][1]["timings"] == fine["timings"]  # kept, not redone
        pixels, profile = decode(
            save(api.get(path_of(retried["renderings"][0]["links"]["download"])), tmp_path)
        )
        assert profile["driver"] == "JPEG" and pixels.shape == (3, 294, 294)
        assert pixels.dtype == np.uint8 and pixels.std() > 5
        again = api.post(path_of(job["links"]["retry"]))
        assert again.status_code == 409 and "no failed" in again.json()["detail"]
    finally:
        shutil.rmtree(copy.parent)


def test_a_retried_job_scope_rendering_takes_the_mapping_the_job_already_has(
    api, product, dispatcher, demo_safe, tmp_path
):
    """Job scope: the rendering that failed in the first batch (the product's B02 files moved
    away, then put back) gets, when retried, the ranges the other renderings were mapped with,
    not a mapping over itself alone."""
    job_scope = {"stretch": "p2,98", "stretch_scope": "job"}
    job = create_job(
        api,
        spec(product, **job_scope),  # B04, B03, B02: the one that fails
        spec(product, bands=["B12", "B8A", "B04"], **job_scope),
        spec(product, bands=["B11", "B05", "B03"], **job_scope),
    )
    bands = sorted(demo_safe.glob("GRANULE/*/IMG_DATA/R*m/*_B02_*m.jp2"))
    assert bands
    moved = tmp_path / "moved"
    moved.mkdir()
    try:
        for band in bands:
            shutil.move(band, moved / band.name)
        assert api.post(path_of(job["links"]["start"])).status_code == 202
        first = wait_ended(api, job)
    finally:
        for band in bands:
            shutil.move(moved / band.name, band)
    assert [r["status"] for r in first["renderings"]] == ["error", "finished", "finished"]
    assert "B02" in first["renderings"][0]["error"]

    def applied(rendering: dict) -> dict:
        sidecar = json.loads(content(api.get(path_of(rendering["links"]["sidecar"]))))
        assert sidecar["stretch"] == rendering["figures"]["stretch"]  # recorded as written
        return sidecar["stretch"]

    job_stretch = applied(first["renderings"][1])
    assert job_stretch["scope"] == "job" and job_stretch["renderings"] == 2
    assert applied(first["renderings"][2]) == job_stretch

    assert api.post(path_of(job["links"]["retry"])).status_code == 202
    retried = wait_ended(api, job)
    assert [r["status"] for r in retried["renderings"]] == ["finished"] * 3
    assert applied(retried["renderings"][0]) == job_stretch  # the job's mapping, as computed
    assert retried["renderings"][0]["spec"]["stretch"] == "p2,98"  # stored as asked
    assert retried["renderings"][0]["spec"]["stretch_scope"] == "job"
    pixels, profile = decode(
        save(api.get(path_of(retried["renderings"][0]["links"]["download"])), tmp_path)
    )
    assert profile["driver"] == "JPEG" and pixels.shape == (3, 98, 98)
    assert pixels.dtype == np.uint8 and pixels.std() > 5

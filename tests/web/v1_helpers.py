"""Helpers of the v1 API tests: request bodies, job creation, waiting for a job to end."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from s2render.web.jobs.models import ENDED
from tests.web.conftest import wait_for

TRUE_COLOUR = ["B04", "B03", "B02"]


def spec(product, **values) -> dict:
    """A rendering of ``product`` (true colour at 60 m as JPEG unless told otherwise)."""
    return {"product": product.pk, "bands": TRUE_COLOUR, "resolution": 60, **values}


def create_job(api, *renderings: dict, **body) -> dict:
    response = api.post("/api/v1/jobs/", {"renderings": list(renderings), **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def wait_ended(api, job: dict, *, timeout: float = 60) -> dict:
    """Poll the job's detail until it has ended; return it."""

    def ended():
        body = api.get(path_of(job["links"]["self"])).json()
        return body if body["status"] in ENDED else None

    return wait_for(ended, timeout=timeout, message=f"job {job['id']} to end")


def path_of(url: str) -> str:
    """The path of an absolute API URL (the test client takes paths)."""
    return urlsplit(url).path


def content(response) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def save(response, folder: Path) -> Path:
    """Write a file response under its attachment name in ``folder``."""
    disposition = response["Content-Disposition"]
    name = disposition.split("filename=", 1)[1].strip('"')
    path = folder / name
    path.write_bytes(content(response))
    return path


def unzip(response, folder: Path) -> list[Path]:
    with zipfile.ZipFile(io.BytesIO(content(response))) as archive:
        assert archive.testzip() is None
        archive.extractall(folder)
        return [folder / name for name in archive.namelist()]

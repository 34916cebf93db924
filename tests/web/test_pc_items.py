"""Planetary Computer items in the registry, unsigned: registered with tokens from the endpoint
``S2RENDER_PC_SAS_URL`` names, kept without a token, rendered by a job with a fresh one.

A local stand-in for PC (tests.support.pc_servers): a token endpoint counting its requests, and
a blob store refusing requests without ``sig=`` that serves the real 29RKH COGs under a PC-like
path; ``127.0.0.1`` is a PC host for these tests only.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from django.conf import settings

from s2render.core import signing
from s2render.web.products.models import Product
from tests.conftest import SHARED
from tests.support.pc_servers import (
    PC_CONTAINER,
    item_served_from,
    mirror_like_pc,
    serve_blobs,
    serve_tokens,
)
from tests.web.v1_helpers import create_job, wait_ended

RKH = SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_29RKH_20200219_0_L2A"
RKH_ITEM = RKH / "S2A_29RKH_20200219_0_L2A.json"
PREFIX = f"{PC_CONTAINER}/29/R/KH/2020/02/19/S2A_29RKH_20200219_0_L2A"


@pytest.fixture
def tokens(monkeypatch, settings):
    """The token endpoint, configured as S2RENDER_PC_SAS_URL configures it; a fresh process
    token cache."""
    with serve_tokens() as server:
        settings.S2RENDER = {**settings.S2RENDER, "PC_SAS_URL": server.url}
        monkeypatch.setattr(signing, "TOKENS", signing.TokenCache())
        monkeypatch.setattr(signing, "PC_HOST_SUFFIXES", (*signing.PC_HOST_SUFFIXES, "127.0.0.1"))
        yield server


@pytest.fixture
def blobs(tmp_path):
    root = tmp_path / "blobs"
    mirror_like_pc(RKH, root, PREFIX)
    with serve_blobs(root) as server:
        yield server


@pytest.fixture
def item(blobs) -> dict:
    """A copy of the real 29RKH item (collection sentinel-2-l2a), unsigned hrefs into the
    local blob store."""
    return item_served_from(RKH_ITEM, RKH, blobs.base_url, PREFIX)


def assert_kept_without_token(path: Path, endpoint: str) -> None:
    kept = json.loads(path.read_text())
    assert "sig=" not in path.read_text()
    assert kept["properties"]["s2render:signing"] == {
        "kind": "planetary-computer",
        "endpoint": endpoint,
        "collection": "sentinel-2-l2a",
    }
    assert all("?" not in a["href"] for a in kept["assets"].values())


def test_an_unsigned_pc_item_registers_and_a_job_renders_it(api, dispatcher, tokens, blobs, item):
    response = api.post("/api/v1/products/", {"item": item}, format="json")
    assert response.status_code == 201, response.json()
    product = response.json()
    assert product["source"] == "stac" and product["tile"] == "29RKH"
    assert_kept_without_token(Path(product["path"]), tokens.url)
    blobs.clear()

    job = create_job(
        api,
        {
            "product": product["id"],
            "bands": ["B04", "B03", "B02"],
            "resolution": 200,
            "format": "geotiff",
        },
    )
    api.post(f"/api/v1/jobs/{job['id']}/start/")
    done = wait_ended(api, job, timeout=120)
    assert done["status"] == "finished", done["renderings"][0]["error"]
    rendering = Product.objects.get(pk=product["id"]).renderings.get()
    with rasterio.open(rendering.output) as image:
        assert image.crs.to_epsg() == 32629 and image.res == (200.0, 200.0)
        assert tuple(image.transform)[:6] == (200, 0, 199980, 0, -200, 2800020)
        rgba = image.read()
    assert rgba.shape == (4, 549, 549) and rgba.dtype == np.uint8
    assert (rgba[3] == 255).all() and rgba[:3].std() > 2
    # Every pixel read carried the token; one token served registration and rendering.
    assert blobs.requests and all(r.status in (200, 206) for r in blobs.requests)
    assert all("sig=token1" in r.path for r in blobs.requests)
    assert dict(tokens.requests) == {"/api/sas/v1/token/sentinel-2-l2a": 1}
    assert "sig=" not in Path(rendering.output + ".stac.json").read_text()


def test_a_refused_token_is_a_400_naming_the_endpoint(api, tokens, item):
    tokens.status = 403
    response = api.post("/api/v1/products/", {"item": item}, format="json")
    assert response.status_code == 400
    message = json.dumps(response.json()["fields"]["item"])
    assert f"{tokens.url}/sentinel-2-l2a" in message and "403" in message
    assert not Product.objects.exists()


@pytest.fixture
def folder(transactional_db):
    root = settings.DATA_DIR / f"pc-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_products_register_signs_with_the_configured_endpoint(folder, tokens, blobs, item):
    from s2render.cli.main import cli

    path = folder / "item.json"
    path.write_text(json.dumps(item))
    result = CliRunner().invoke(
        cli, ["products", "register", str(path), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["source"] == "stac" and row["tile"] == "29RKH"
    assert_kept_without_token(Path(row["location"]), tokens.url)
    assert tokens.count == 1 and blobs.requests
    assert all("sig=token1" in r.path for r in blobs.requests)

"""Planetary Computer items opened without the user signing them (core.signing).

Detection and token-scope rules run on the real PC item of SOURCES.md 5 (odc-stac). Reads go
to a local stand-in (tests.support.pc_servers): a token endpoint counting its requests and a
blob store answering 403 to any request without ``sig=``, serving the real 29RKH COGs under a
PC-like path. ``127.0.0.1`` is added to the PC host suffixes for those tests only.
"""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from s2render.core import signing
from s2render.core.encode import OutputFormat
from s2render.core.errors import ProductError
from s2render.core.render import RenderSpec, render
from s2render.core.signing import (
    PC_SAS_URL,
    TokenCache,
    fetch_token,
    needs_signing,
    sign_href,
    token_scope,
)
from s2render.core.stac_item import band_assets, load_item
from s2render.core.stac_product import open_stac_item, resolve_item
from tests.conftest import SHARED, decode
from tests.support.pc_servers import (
    PC_CONTAINER,
    item_served_from,
    mirror_like_pc,
    serve_blobs,
    serve_tokens,
)
from tests.support.range_server import serve_directory

PC_ITEM = SHARED / "stac_items/odc-stac/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json"
RKH = SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_29RKH_20200219_0_L2A"
RKH_ITEM = RKH / "S2A_29RKH_20200219_0_L2A.json"
PREFIX = f"{PC_CONTAINER}/29/R/KH/2020/02/19/S2A_29RKH_20200219_0_L2A"
BLOB = "https://sentinel2l2a01.blob.core.windows.net/sentinel2-l2/06/V/VN/2019/06/29/x/B04_10m.tif"
START = datetime(2030, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


# --- detection, scope, signing (no network) ---------------------------------------------------


def test_the_real_pc_item_maps_its_band_keys_and_needs_signing_per_collection():
    item = load_item(PC_ITEM)
    bands = band_assets(item)
    assert bands["B04"] == "B04" and bands["B8A"] == "B8A" and bands["SCL"] == "SCL"
    assert len(bands) == 15  # 12 spectral + SCL, AOT, WVP; visual/preview/metadata left out
    assert item.collection_id == "sentinel-2-l2a"
    hrefs = [item.assets[k].get_absolute_href() or "" for k in bands]
    assert all(needs_signing(h) for h in hrefs)
    assert {token_scope(h, item.collection_id) for h in hrefs} == {"sentinel-2-l2a"}
    assert {token_scope(h, None) for h in hrefs} == {"sentinel2l2a01/sentinel2-l2"}


@pytest.mark.parametrize(
    ("href", "suffixes", "expected"),
    [
        (BLOB, None, True),
        (BLOB + "?st=a&se=b&sig=c", None, False),  # signed already: left alone
        ("https://sentinel-cogs.s3.us-west-2.amazonaws.com/x/B04.tif", None, False),
        ("s3://sentinel-s2-l2a/tiles/29/R/KH/B04.jp2", None, False),
        ("/data/B04.tif", None, False),
        ("https://blob.core.windows.net.example.com/c/B04.tif", None, False),
        ("https://evilblob.core.windows.net/c/B04.tif", None, False),
        ("http://127.0.0.1:8080/c/B04.tif", None, False),
        ("http://127.0.0.1:8080/c/B04.tif", ("127.0.0.1",), True),
        (BLOB, ("127.0.0.1",), False),
    ],
    ids=[
        "pc-blob",
        "pc-blob-signed",
        "earth-search",
        "s3",
        "local",
        "lookalike-host",
        "not-a-subdomain",
        "localhost-by-default",
        "localhost-when-added",
        "suffixes-replace-default",
    ],
)
def test_only_unsigned_blob_storage_hrefs_need_signing(href, suffixes, expected):
    assert needs_signing(href, host_suffixes=suffixes) is expected


def test_a_token_becomes_the_query_string():
    assert sign_href(BLOB, "?st=a&sig=b") == f"{BLOB}?st=a&sig=b"
    assert sign_href(BLOB, "st=a&sig=b") == f"{BLOB}?st=a&sig=b"


# --- token endpoint and cache ----------------------------------------------------------------


@pytest.fixture
def tokens():
    with serve_tokens() as server:
        server.expiry = START + timedelta(hours=1)
        yield server


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """A fake clock for a fresh process-wide token cache (tests never share tokens)."""
    fake = Clock()
    monkeypatch.setattr(signing, "TOKENS", TokenCache(clock=fake))
    return fake


def test_a_token_is_fetched_per_collection_with_its_expiry(tokens):
    token = fetch_token(tokens.url, "sentinel-2-l2a")
    assert token.token == tokens.token_for(1) and token.expiry == START + timedelta(hours=1)
    assert dict(tokens.requests) == {"/api/sas/v1/token/sentinel-2-l2a": 1}


def test_a_cached_token_is_reused_until_shortly_before_it_expires(tokens):
    clock = Clock()
    cache = TokenCache(clock=clock)
    assert cache.token(tokens.url, "sentinel-2-l2a") == tokens.token_for(1)
    clock.now = START + timedelta(minutes=58)
    assert cache.token(tokens.url + "/", "sentinel-2-l2a") == tokens.token_for(1)
    assert tokens.count == 1
    clock.now = START + timedelta(minutes=59, seconds=30)  # under a minute left: renewed
    tokens.expiry = START + timedelta(hours=2)
    assert cache.token(tokens.url, "sentinel-2-l2a") == tokens.token_for(2)
    assert cache.token(tokens.url, "landsat-c2-l2") == tokens.token_for(3)  # one per collection
    assert tokens.count == 3


def test_concurrent_callers_share_one_token_request(tokens):
    cache = TokenCache(clock=Clock())
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.token(tokens.url, "s2")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results == [tokens.token_for(1)] * 8 and tokens.count == 1


@pytest.mark.parametrize("status", [403, 500])
def test_a_refusing_token_endpoint_is_a_product_error_naming_it_and_the_fix(tokens, status):
    tokens.status = status
    with pytest.raises(ProductError) as info:
        fetch_token(tokens.url, "sentinel-2-l2a")
    message = str(info.value)
    assert f"{tokens.url}/sentinel-2-l2a" in message and str(status) in message
    assert "S2RENDER_PC_SAS_URL" in message and "planetary_computer.sign" in message


def test_an_unreachable_token_endpoint_is_a_product_error():
    with serve_tokens() as server:
        url = server.url
    with pytest.raises(ProductError, match=r"cannot get a Planetary Computer SAS token from http"):
        fetch_token(url, "sentinel-2-l2a", timeout=5)


def test_the_public_endpoint_is_the_default():
    assert PC_SAS_URL == "https://planetarycomputer.microsoft.com/api/sas/v1/token"


# --- items read from the local blob store ------------------------------------------------------


@pytest.fixture
def pc_hosts(monkeypatch):
    monkeypatch.setattr(signing, "PC_HOST_SUFFIXES", (*signing.PC_HOST_SUFFIXES, "127.0.0.1"))


@pytest.fixture
def blobs(tmp_path):
    root = tmp_path / "blobs"
    mirror_like_pc(RKH, root, PREFIX)
    with serve_blobs(root) as server:
        yield server


@pytest.fixture
def pc_item(tmp_path, blobs) -> Path:
    """A tmp copy of the real 29RKH item (collection sentinel-2-l2a), hrefs unsigned into the
    local blob store."""
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item_served_from(RKH_ITEM, RKH, blobs.base_url, PREFIX)))
    return path


def test_the_blob_store_refuses_unsigned_reads(pc_item, tokens, clock):
    # Without 127.0.0.1 among the PC hosts nothing is signed, and every read is refused.
    with pytest.raises(ProductError, match="cannot read the header"):
        open_stac_item(pc_item, sas_url=tokens.url)
    assert tokens.count == 0


def test_an_unsigned_pc_item_renders_like_the_local_files(
    pc_hosts, pc_item, blobs, tokens, clock, tmp_path
):
    product = open_stac_item(pc_item, sas_url=tokens.url)
    spec = RenderSpec(str(pc_item), ("B04", "B03", "B02"), 200, format=OutputFormat.GTIFF)
    remote = render(spec, tmp_path / "remote", product=product)
    local = render(
        RenderSpec(str(RKH), ("B04", "B03", "B02"), 200, format=OutputFormat.GTIFF),
        tmp_path / "local",
    )
    pixels, profile = decode(Path(remote.path))
    local_pixels, _ = decode(Path(local.path))
    assert pixels.shape == (4, 549, 549) and pixels.dtype == np.uint8
    assert profile["crs"].to_epsg() == 32629
    assert tuple(profile["transform"])[:6] == (200, 0, 199980, 0, -200, 2800020)
    assert (pixels[3] == 255).all() and pixels[:3].std() > 2
    np.testing.assert_array_equal(pixels, local_pixels)
    assert blobs.requests and all(r.status in (200, 206) for r in blobs.requests)
    assert all("sig=token1" in r.path for r in blobs.requests)
    assert tokens.count == 1 and dict(tokens.requests) == {"/api/sas/v1/token/sentinel-2-l2a": 1}


def test_the_resolved_item_records_the_signing_but_holds_no_token(
    pc_hosts, pc_item, blobs, tokens, clock
):
    resolved = resolve_item(pc_item, sas_url=tokens.url)
    text = json.dumps(resolved)
    assert (
        "sig=" not in text and "token1" not in text and "?" not in resolved["assets"]["red"]["href"]
    )
    assert resolved["properties"]["s2render:signing"] == {
        "kind": "planetary-computer",
        "endpoint": tokens.url,
        "collection": "sentinel-2-l2a",
    }
    assert resolved["assets"]["red"]["href"] == f"{blobs.base_url}/{PREFIX}/B04.tif"
    assert resolved["assets"]["red"]["s2render:sign"] is True
    assert "s2render:sign" not in resolved["assets"]["visual"]  # not a band: never read
    assert resolved["assets"]["red"]["s2render:resolution"] == 100  # headers were read, signed
    assert all("sig=" in r.path for r in blobs.requests)


def test_opens_within_the_expiry_share_one_token_and_a_new_one_follows_expiry(
    pc_hosts, pc_item, blobs, tokens, clock
):
    resolved = resolve_item(pc_item, sas_url=tokens.url)
    assert tokens.count == 1
    blobs.clear()
    first = open_stac_item(resolved)  # the recorded endpoint, no sas_url needed
    clock.now = START + timedelta(minutes=30)
    second = open_stac_item(resolved)
    assert tokens.count == 1 and blobs.requests == []  # resolved: no header reads either
    assert first.files == second.files
    assert first.files[("B04", 100)].path == (
        f"/vsicurl/{blobs.base_url}/{PREFIX}/B04.tif?{tokens.token_for(1)}"
    )
    clock.now = START + timedelta(hours=1)  # expired
    tokens.expiry = START + timedelta(hours=2)
    third = open_stac_item(resolved)
    assert tokens.count == 2
    assert third.files[("B04", 100)].path.endswith(f"B04.tif?{tokens.token_for(2)}")


def test_an_explicit_endpoint_wins_over_the_recorded_one(pc_hosts, pc_item, tokens, clock):
    resolved = resolve_item(pc_item, sas_url=tokens.url)
    with serve_tokens() as other:
        other.expiry = START + timedelta(hours=1)
        product = open_stac_item(resolved, sas_url=other.url)
        assert other.count == 1 and tokens.count == 1
    assert product.files[("B04", 100)].path.endswith(f"?{other.token_for(1)}")


def test_a_refused_token_is_a_clear_error_when_opening(pc_hosts, pc_item, tokens, clock):
    tokens.status = 403
    with pytest.raises(ProductError, match=r"cannot get a Planetary Computer SAS token") as info:
        open_stac_item(pc_item, sas_url=tokens.url)
    assert f"{tokens.url}/sentinel-2-l2a" in str(info.value) and "403" in str(info.value)


def test_already_signed_pc_hrefs_are_left_alone(pc_hosts, pc_item, blobs, tokens, clock):
    data = json.loads(pc_item.read_text())
    for asset in data["assets"].values():
        asset["href"] += "?se=x&sig=users-own"
    resolved = resolve_item(data, sas_url=tokens.url)
    assert tokens.count == 0 and "s2render:signing" not in resolved["properties"]
    product = open_stac_item(resolved)
    assert product.files[("B04", 100)].path.endswith("B04.tif?se=x&sig=users-own")
    assert blobs.requests and all(r.path.endswith("sig=users-own") for r in blobs.requests)


def test_non_pc_items_never_request_a_token(tmp_path, tokens, clock):
    # The same real item and COGs on a plain 127.0.0.1 server, which is not a PC host here.
    root = tmp_path / "plain"
    mirror_like_pc(RKH, root, PREFIX)
    with serve_directory(root) as server:
        data = item_served_from(RKH_ITEM, RKH, server.base_url, PREFIX)
        resolved = resolve_item(data, sas_url=tokens.url)
        product = open_stac_item(resolved, sas_url=tokens.url)
    assert tokens.count == 0
    assert "s2render:signing" not in resolved["properties"]
    assert not any("s2render:sign" in a for a in resolved["assets"].values())
    assert product.files[("B04", 100)].path == f"/vsicurl/{server.base_url}/{PREFIX}/B04.tif"

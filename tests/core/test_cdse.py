"""Full-product download from the Copernicus Data Space Ecosystem, against a local fake CDSE."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import requests

from s2render.core.cdse import CdseConfig, find_product, search_filter, search_products, zip_name
from s2render.core.cdse_download import download_product
from s2render.core.errors import CredentialsError, DownloadError
from s2render.core.product import open_product
from tests.support.cdse_server import FakeProduct, serve_cdse, zip_safe


@pytest.fixture(scope="session")
def safe_zip(tmp_path_factory) -> tuple[str, bytes]:
    """(CDSE name, zip bytes) of a small synthetic L2A product."""
    from s2render.core.demo import write_demo_product

    safe = write_demo_product(tmp_path_factory.mktemp("cdse-demo"), size=192, seed=1)
    return safe.name, zip_safe(safe)


@pytest.fixture
def product(safe_zip) -> FakeProduct:
    name, body = safe_zip
    return FakeProduct(name=name, body=body)


@pytest.fixture
def cdse(product):
    with serve_cdse([product]) as server:
        yield server


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _lock_waiters(lock: Path) -> int:
    """Descriptors blocked in flock() on ``lock``, from the kernel's table (Linux)."""
    try:
        inode = f":{lock.stat().st_ino} "
    except FileNotFoundError:
        return 0
    table = Path("/proc/locks").read_text().splitlines()
    return sum(1 for line in table if "->" in line and inode in line)


def _wait_until(condition, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        time.sleep(0.005)


# --- catalogue --------------------------------------------------------------------------------


def test_search_filter_uses_the_cdse_odata_syntax():
    where = search_filter(
        tile="33UUU", start=date(2023, 6, 1), end=date(2023, 6, 30), max_cloud=20, level="L2A"
    )
    assert where == (
        "Collection/Name eq 'SENTINEL-2' and contains(Name,'_T33UUU_') and "
        "contains(Name,'MSIL2A') and ContentDate/Start ge 2023-06-01T00:00:00.000Z and "
        "ContentDate/Start lt 2023-07-01T00:00:00.000Z and "
        "Attributes/OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and "
        "att/OData.CSC.DoubleAttribute/Value le 20)"
    )


@pytest.mark.parametrize("suffix", ["", ".SAFE"])
def test_find_product_accepts_names_with_or_without_safe(cdse, product, suffix):
    remote = find_product(cdse.config(), product.name.removesuffix(".SAFE") + suffix)
    assert remote.id == product.id
    assert remote.name == product.name
    assert remote.size == len(product.body)
    assert remote.md5 == _md5(product.body)
    assert remote.sensed_start == datetime(2023, 6, 1, 10, 15, 59, 24000, tzinfo=UTC)
    assert remote.footprint is not None and remote.footprint["type"] == "Polygon"
    assert remote.online
    assert cdse.catalogue_queries == [f"Name eq '{product.name}'"]


def test_find_product_names_the_missing_product(cdse):
    with pytest.raises(DownloadError, match=r"S2A_MSIL2A_NOPE\.SAFE"):
        find_product(cdse.config(), "S2A_MSIL2A_NOPE")


def test_search_products_filters_by_tile_level_date_and_cloud_cover():
    def entry(level: str, day: str, tile: str, cloud: float) -> FakeProduct:
        name = f"S2A_MSI{level}_{day}T100031_N0509_R122_T{tile}_{day}T140000.SAFE"
        sensed = f"{day[:4]}-{day[4:6]}-{day[6:]}T10:00:31.024Z"
        return FakeProduct(name=name, body=name.encode(), sensed=sensed, cloud_cover=cloud)

    wanted = entry("L2A", "20230610", "33UUU", 5.0)
    later = entry("L2A", "20230630", "33UUU", 15.0)  # the last day of the range is included
    products = [
        wanted,
        later,
        entry("L2A", "20230611", "33UUU", 80.0),
        entry("L1C", "20230610", "33UUU", 5.0),
        entry("L2A", "20230610", "32UQD", 5.0),
        entry("L2A", "20230701", "33UUU", 5.0),
        entry("L2A", "20230531", "33UUU", 5.0),
    ]
    with serve_cdse(products) as cdse:
        found = search_products(
            cdse.config(),
            tile="T33UUU",
            start=date(2023, 6, 1),
            end=date(2023, 6, 30),
            max_cloud=20,
            level="L2A",
        )
    assert [p.name for p in found] == [later.name, wanted.name]  # most recent first
    assert [p.cloud_cover for p in found] == [15.0, 5.0]


# --- download ---------------------------------------------------------------------------------


def test_download_gives_a_zip_that_opens_as_the_product(cdse, product, tmp_path):
    remote = find_product(cdse.config(), product.name)
    path = download_product(cdse.config(), remote, tmp_path)
    assert path == tmp_path / zip_name(product.name)
    assert path.name == product.name.removesuffix(".SAFE") + ".zip"
    assert path.read_bytes() == product.body
    opened = open_product(path)
    assert opened.kind == "zip"
    assert opened.level == "L2A"
    assert {"B02", "B03", "B04", "B08", "SCL"} <= set(opened.bands())
    assert {p.name for p in tmp_path.iterdir()} == {path.name, path.stem + ".lock"}  # no .part
    assert cdse.full_downloads == 1 and cdse.range_requests == 0


def test_a_cut_connection_resumes_with_a_range_request(cdse, product, tmp_path):
    size = len(product.body)
    cdse.cut_after = size // 3
    calls: list[tuple[int, int]] = []
    remote = find_product(cdse.config(), product.name)
    path = download_product(
        cdse.config(), remote, tmp_path, progress=lambda done, total: calls.append((done, total))
    )
    assert _md5(path.read_bytes()) == _md5(product.body)
    assert cdse.full_downloads == 1 and cdse.range_requests == 1
    # the rest, not the whole again (the client drops at most its last short chunk at the cut)
    assert size <= cdse.bytes_sent < size + cdse.config().chunk_size
    done = [d for d, _ in calls]
    assert done == sorted(done) and done.count(0) == 1  # the second attempt went on, from >0
    assert calls[-1] == (size, size)


def test_a_part_left_by_an_earlier_run_is_hashed_and_resumed(cdse, product, tmp_path):
    have = len(product.body) // 2
    (tmp_path / (zip_name(product.name) + ".part")).write_bytes(product.body[:have])
    remote = find_product(cdse.config(), product.name)
    path = download_product(cdse.config(), remote, tmp_path)
    assert path.read_bytes() == product.body
    assert cdse.full_downloads == 0 and cdse.range_requests == 1
    assert cdse.bytes_sent == len(product.body) - have


def test_a_download_cut_too_often_keeps_its_part_and_the_next_call_resumes(cdse, product, tmp_path):
    cdse.cut_after, cdse.cuts = 3 * 8192 + 100, 3  # the client keeps whole 8 KiB chunks only
    remote = find_product(cdse.config(), product.name)
    with pytest.raises(DownloadError, match=r"failed 3 times.*broke after 73728 .*kept"):
        download_product(cdse.config(retries=2), remote, tmp_path)
    part = tmp_path / (zip_name(product.name) + ".part")
    assert part.stat().st_size == 3 * 3 * 8192
    assert not (tmp_path / zip_name(product.name)).exists()
    path = download_product(cdse.config(), remote, tmp_path)
    assert path.read_bytes() == product.body
    assert cdse.full_downloads == 1 and cdse.range_requests == 3
    assert not part.exists()


def test_the_fake_redirect_crosses_hosts_so_requests_alone_would_lose_the_token(cdse, product):
    form = {"grant_type": "password", "client_id": "cdse-public"}
    form |= {"username": cdse.username, "password": cdse.password}
    token = requests.post(cdse.token_url, data=form, timeout=10).json()["access_token"]
    response = requests.get(
        f"{cdse.download_url}/Products({product.id})/$value",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert [r.status_code for r in response.history] == [302]
    assert response.status_code == 401  # requests dropped Authorization at the redirect


def test_a_body_corrupted_once_is_rejected_and_downloaded_again(cdse, product, tmp_path):
    cdse.corrupt = "once"
    remote = find_product(cdse.config(), product.name)
    path = download_product(cdse.config(), remote, tmp_path)
    assert _md5(path.read_bytes()) == remote.md5
    assert cdse.full_downloads == 2


def test_an_always_corrupted_body_fails_after_the_bounded_retries(cdse, product, tmp_path):
    cdse.corrupt = "always"
    remote = find_product(cdse.config(), product.name)
    with pytest.raises(DownloadError, match=r"failed 3 times.*corrupt.*MD5"):
        download_product(cdse.config(retries=2), remote, tmp_path)
    assert cdse.full_downloads == 3
    assert not (tmp_path / zip_name(product.name)).exists()
    assert not list(tmp_path.glob("*.part"))


def test_ten_concurrent_threads_share_one_download(cdse, product, tmp_path):
    cdse.gate = threading.Event()  # the first download waits until every caller is queued
    config = cdse.config()
    remote = find_product(config, product.name)
    lock = tmp_path / (zip_name(product.name).removesuffix(".zip") + ".lock")
    with ThreadPoolExecutor(max_workers=10) as pool:
        futures = [pool.submit(download_product, config, remote, tmp_path) for _ in range(10)]
        _wait_until(lambda: cdse.body_requests == 1 and _lock_waiters(lock) == 9)
        cdse.gate.set()
        paths = {f.result(timeout=30) for f in futures}
    assert paths == {tmp_path / zip_name(product.name)}
    assert cdse.body_requests == 1 and cdse.full_downloads == 1
    assert cdse.tokens_issued == 1
    assert next(iter(paths)).read_bytes() == product.body


def test_concurrent_processes_share_one_download(cdse, product, tmp_path):
    cdse.gate = threading.Event()
    config = cdse.config()
    lock = tmp_path / (zip_name(product.name).removesuffix(".zip") + ".lock")
    script = (
        "import json, sys\n"
        "from s2render.core.cdse import CdseConfig, find_product\n"
        "from s2render.core.cdse_download import download_product\n"
        "config = CdseConfig(**json.loads(sys.argv[1]))\n"
        "print(download_product(config, find_product(config, sys.argv[2]), sys.argv[3]))\n"
    )
    arguments = [json.dumps(dataclasses.asdict(config)), product.name, str(tmp_path)]
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, *arguments], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    try:
        _wait_until(lambda: cdse.body_requests == 1 and _lock_waiters(lock) == 2)
        cdse.gate.set()
        outputs = [child.communicate(timeout=60)[0].strip() for child in children]
    finally:
        for child in children:
            child.kill()
    assert [child.returncode for child in children] == [0, 0, 0]
    assert set(outputs) == {str(tmp_path / zip_name(product.name))}
    assert cdse.full_downloads == 1 and cdse.tokens_issued == 1


def test_a_finished_download_is_reused_without_logging_in(cdse, product, tmp_path):
    remote = find_product(cdse.config(), product.name)
    first = download_product(cdse.config(), remote, tmp_path)
    again = download_product(cdse.config(password="wrong"), remote, tmp_path)
    assert again == first
    assert cdse.full_downloads == 1 and cdse.tokens_issued == 1


def test_a_refused_login_names_the_environment_variables(cdse, product, tmp_path):
    cdse.refuse_token = True
    remote = find_product(cdse.config(), product.name)
    with pytest.raises(CredentialsError) as caught:
        download_product(cdse.config(), remote, tmp_path)
    message = str(caught.value)
    assert "Invalid user credentials" in message
    assert "S2RENDER_CDSE_USERNAME" in message and "S2RENDER_CDSE_PASSWORD" in message
    assert isinstance(caught.value, DownloadError)
    assert cdse.body_requests == 0
    assert not list(tmp_path.glob("*.zip*"))


def test_missing_credentials_name_the_environment_variables(cdse, product, tmp_path):
    remote = find_product(cdse.config(), product.name)
    with pytest.raises(CredentialsError, match="S2RENDER_CDSE_USERNAME and S2RENDER_CDSE_PASSWORD"):
        download_product(cdse.config(username=None, password=None), remote, tmp_path)
    assert cdse.tokens_issued == 0


def test_a_refused_token_is_renewed_once(cdse, product, tmp_path):
    cdse.reject_first_token = True
    remote = find_product(cdse.config(), product.name)
    path = download_product(cdse.config(), remote, tmp_path)
    assert path.read_bytes() == product.body
    assert cdse.tokens_issued == 2


@pytest.mark.parametrize(("expires_in", "tokens"), [(600, 1), (30, 2)])
def test_a_token_is_reused_until_it_expires(cdse, product, tmp_path, expires_in, tokens):
    cdse.expires_in, cdse.cut_after = expires_in, len(product.body) // 3  # two requests
    remote = find_product(cdse.config(), product.name)
    download_product(cdse.config(), remote, tmp_path)
    assert cdse.body_requests == 2 and cdse.tokens_issued == tokens


def test_progress_reaches_the_total(cdse, product, tmp_path):
    calls: list[tuple[int, int]] = []
    remote = find_product(cdse.config(), product.name)
    download_product(
        cdse.config(), remote, tmp_path, progress=lambda done, total: calls.append((done, total))
    )
    size = len(product.body)
    assert calls[0] == (0, size) and calls[-1] == (size, size)
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) > 2


def test_the_config_does_not_show_the_password():
    assert "hunter2" not in repr(CdseConfig(username="u", password="hunter2"))

"""The registry's scan of the data root: good products registered, broken ones reported with
the reason and never half-registered, nothing outside the root admitted."""

from __future__ import annotations

import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from django.conf import settings

from s2render.web.products.models import Product
from s2render.web.products.services import product_scan


@pytest.fixture
def scan_root(db) -> Path:
    """A fresh folder under the data root (the session's data root holds other tests' files)."""
    root = settings.DATA_DIR / f"scan-{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def zip_safe(safe: Path, target: Path) -> Path:
    """A SAFE zip as ESA and CDSE ship them: the .SAFE folder at the zip's root."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(safe.rglob("*")):
            archive.write(path, Path(safe.name) / path.relative_to(safe))
    return target


@pytest.fixture
def mixed_root(scan_root, demo_l2a, demo_l1c, tmp_path) -> Path:
    """Good, broken and outside-the-root candidates side by side."""
    shutil.copytree(demo_l2a, scan_root / "good" / demo_l2a.name)
    zip_safe(demo_l1c, scan_root / "good" / f"{demo_l1c.stem}.zip")
    broken = scan_root / "broken" / "S2A_MSIL2A_20200101T000000_N0214_R001_T33UUU_X.SAFE"
    broken.mkdir(parents=True)
    (broken / "MTD_MSIL2A.xml").write_text("<not-metadata")
    (scan_root / "broken" / "holiday-photos.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    (scan_root / "broken" / "half.zip.part").write_bytes(b"partial")
    outside = tmp_path / "outside" / demo_l2a.name
    shutil.copytree(demo_l2a, outside)
    (scan_root / "linked").mkdir()
    (scan_root / "linked" / "elsewhere.SAFE").symlink_to(outside, target_is_directory=True)
    return scan_root


def test_scan_registers_the_good_products_and_reports_the_others_with_reasons(
    mixed_root, demo_l2a, demo_l1c
):
    report = product_scan(root=mixed_root)

    registered = {Path(p.location).name: p for p in report.registered}
    assert set(registered) == {demo_l2a.name, f"{demo_l1c.stem}.zip"}
    assert registered[demo_l2a.name].level == "L2A" and registered[demo_l2a.name].source == "safe"
    assert registered[f"{demo_l1c.stem}.zip"].level == "L1C"
    assert registered[f"{demo_l1c.stem}.zip"].source == "zip"
    assert "B08" in registered[f"{demo_l1c.stem}.zip"].bands["10m"]

    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert set(skipped) == {
        "S2A_MSIL2A_20200101T000000_N0214_R001_T33UUU_X.SAFE",
        "holiday-photos.zip",
        "elsewhere.SAFE",
    }
    assert "not a readable Sentinel-2 product" in skipped["holiday-photos.zip"]
    assert "MTD_MSIL2A.xml" in skipped["S2A_MSIL2A_20200101T000000_N0214_R001_T33UUU_X.SAFE"]
    assert "outside the data root" in skipped["elsewhere.SAFE"]
    # Never half-registered: exactly the two good rows exist.
    assert Product.objects.count() == 2
    assert not Product.objects.filter(location__contains="broken").exists()


def test_a_second_scan_refreshes_rather_than_duplicates(mixed_root):
    first = product_scan(root=mixed_root)
    second = product_scan(root=mixed_root)
    assert sorted(p.pk for p in first.registered) == sorted(p.pk for p in second.registered)
    assert Product.objects.count() == 2


def test_scan_does_not_search_the_output_folder(scan_root, demo_l2a, settings):
    settings.OUTPUT_DIR = scan_root / "outputs"
    shutil.copytree(demo_l2a, scan_root / "outputs" / "job" / demo_l2a.name)
    assert product_scan(root=scan_root).registered == []


def test_scan_endpoint_answers_the_report(api, mixed_root, demo_l2a):
    relative = str(mixed_root.relative_to(settings.DATA_DIR))
    response = api.post("/api/v1/products/scan/", {"root": relative}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert sorted(p["name"] for p in body["registered"]) == sorted(
        Product.objects.values_list("name", flat=True)
    )
    assert len(body["registered"]) == 2
    assert {Path(s["path"]).name for s in body["skipped"]} >= {"holiday-photos.zip"}
    assert all(s["reason"] for s in body["skipped"])


def test_scan_of_a_folder_outside_the_root_is_a_400_naming_the_field(api, tmp_path):
    response = api.post("/api/v1/products/scan/", {"root": str(tmp_path)}, format="json")
    assert response.status_code == 400
    body = response.json()
    assert "root" in body["fields"]
    assert "outside the data root" in body["fields"]["root"][0]


def test_registering_a_path_outside_the_root_is_refused(api, demo_l2a):
    response = api.post("/api/v1/products/", {"path": str(demo_l2a)}, format="json")
    assert response.status_code == 400
    assert "outside the data root" in response.json()["fields"]["path"][0]
    assert Product.objects.count() == 0


def test_registration_needs_exactly_one_source(api):
    response = api.post("/api/v1/products/", {}, format="json")
    assert response.status_code == 400
    assert "exactly one of path" in response.json()["fields"]["path"][0]
    both = api.post("/api/v1/products/", {"path": "x", "remote": "y"}, format="json")
    assert both.status_code == 400
    override = api.post("/api/v1/products/", {"path": "x", "offset_override": -1000}, format="json")
    assert override.status_code == 400
    assert "offset_override" in override.json()["fields"]

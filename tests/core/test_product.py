"""Opening products: SAFE folder, SAFE zip, MTD path, bare band folders; what they expose."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from s2render.core.errors import BandError, ProductError
from s2render.core.product import open_product
from tests.conftest import SHARED


def zip_product(safe: Path, dest: Path) -> Path:
    archive = dest / f"{safe.name.removesuffix('.SAFE')}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for f in sorted(safe.rglob("*")):
            zf.write(f, Path(safe.name) / f.relative_to(safe))
    return archive


def test_demo_safe_exposes_identity_radiometry_and_bands(demo_l2a):
    p = open_product(demo_l2a)
    assert p.kind == "safe" and p.level == "L2A"
    assert p.product_id == demo_l2a.name.removesuffix(".SAFE")
    assert p.mission in ("S2A", "S2B", "S2C") and p.tile and p.sensing_time is not None
    assert p.baseline >= "04.00"
    assert {p.band_offset(b) for b in ("B01", "B02", "B04", "B8A", "B12")} == {-1000}
    assert p.band_quantification("B04") == 10000 and p.band_quantification("AOT") == 1000
    assert p.footprint["type"] == "Polygon"
    bands = p.native_bands()
    assert bands[10] == ["B02", "B03", "B04", "B08", "AOT", "WVP", "TCI"]
    assert "B08" not in bands[20] and "SCL" in bands[20] and "B09" in bands[60]
    assert "B10" not in p.bands()
    left, bottom, right, top = p.bounds
    assert right - left == p.grid(10).width * 10 and top - bottom == p.grid(60).height * 60


def test_zip_and_mtd_path_open_the_same_product(demo_l2a, tmp_path):
    folder = open_product(demo_l2a)
    archive = open_product(zip_product(demo_l2a, tmp_path))
    via_mtd = open_product(demo_l2a / "MTD_MSIL2A.xml")
    assert archive.kind == "zip"
    assert archive.product_id == folder.product_id == via_mtd.product_id
    assert archive.native_bands() == folder.native_bands()
    assert archive.band_file("B04", 10).path.startswith("/vsizip/")


def test_band_files_found_by_pattern_when_image_file_entries_are_missing(demo_l2a, tmp_path):
    copy = tmp_path / demo_l2a.name
    shutil.copytree(demo_l2a, copy)
    mtd = copy / "MTD_MSIL2A.xml"
    text = mtd.read_text()
    start, end = text.index("<IMAGE_FILE>"), text.rindex("</IMAGE_FILE>") + len("</IMAGE_FILE>")
    mtd.write_text(text[:start] + text[end:])
    assert open_product(copy).native_bands() == open_product(demo_l2a).native_bands()


def test_l1c_demo_has_b10_and_no_scl(demo_l1c):
    p = open_product(demo_l1c)
    assert p.level == "L1C" and "B10" in p.bands() and "SCL" not in p.bands()
    assert p.band_offset("B02") == -1000
    with pytest.raises(BandError, match="SCL is not available in L1C"):
        p.band_file("SCL", 20)


def test_band_choice_prefers_native_then_finer_files(demo_l2a):
    p = open_product(demo_l2a)
    assert p.band_file("B04", 20).resolution == 20  # native R20m copy
    assert p.band_file("B08", 20).resolution == 10  # no B08 in R20m: coarsen the 10 m file
    assert p.band_file("B09", 10).resolution == 60  # only at 60 m: refine
    assert p.band_file("B05", 30).resolution == 20  # any resolution: nearest finer file


def test_bare_l1c_folder_with_esa_names(uuu):
    p = open_product(uuu)
    assert p.kind == "folder" and p.level == "L1C" and p.tile == "33UUU"
    assert p.sensing_time.isoformat() == "2017-02-16T10:21:01+00:00"
    assert p.native_bands()[60] == ["B01", "B09", "B10"]
    assert p.offset_source.startswith("none")


def test_offset_override_for_products_without_metadata(uuu):
    p = open_product(uuu, offset=-1000)
    assert p.band_offset("B04") == -1000 and p.offset_source == "override"


def test_bare_folder_of_misaligned_geotiffs(svg):
    p = open_product(svg)
    assert p.level == "L1C" and len(p.bands()) == 13
    assert p.crs.to_epsg() == 32618
    assert p.bounds == (435730.0, 4159990.0, 455060.0, 4179460.0)  # the 10 m crop


@pytest.mark.parametrize(
    "folder",
    sorted((SHARED / "safe_metadata_stactools").glob("*.SAFE"))
    + [
        SHARED / "safe_metadata_gdal_l1c_n0509" / p.name
        for p in (SHARED / "safe_metadata_gdal_l1c_n0509").glob("*.SAFE")
    ],
    ids=lambda p: p.name[:40],
)
def test_metadata_only_safe_is_refused_with_the_reason(folder):
    with pytest.raises(ProductError, match="no band files"):
        open_product(folder)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "does not exist"),
        (lambda d: (d / "x.txt").write_text("x") and d / "x.txt", "neither a folder nor a zip"),
        (lambda d: d, "no band files named the ESA way"),
    ],
)
def test_not_a_product(tmp_path, make, message):
    with pytest.raises(ProductError, match=message):
        open_product(make(tmp_path))


def test_quality_masks_named_after_bands_are_not_band_files():
    # An Earth Search L2A product copied with its QI_DATA: MSK_DETFOO_B11.jp2 is a detector
    # footprint mask, not band B11 (the folder holds B02 B03 B04 B08 SCL only).
    folder = (
        SHARED
        / "s2_l2a_earthsearch_120m_mapchete_eo/static_catalog_33TWL_33TWM_2023-08/sentinel-2-l2a"
        / "S2B_33TWL_20230810_0_L2A"
    )
    p = open_product(folder)
    assert p.level == "L2A"
    assert {b for b, _ in p.files} == {"B02", "B03", "B04", "B08", "SCL"}
    assert not any("QI_DATA" in f.path for f in p.files.values())

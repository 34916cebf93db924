"""The synthetic demo product: real SAFE layout, ESA-like encoding, plausible radiometry."""

from __future__ import annotations

import hashlib
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from s2render.core import demo
from s2render.core.bands import BANDS
from s2render.core.errors import ProductError, SpecError

SIZE = 588  # 20 m: 294 px, 60 m: 98 px
SMALL = 294
L2A_FOLDERS = {
    10: {"B02", "B03", "B04", "B08", "AOT", "WVP", "TCI"},
    20: {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12"}
    | {"SCL", "AOT", "WVP", "TCI"},
    60: {"B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B09", "B11", "B12"}
    | {"SCL", "AOT", "WVP", "TCI"},
}
L1C_BANDS = {f"B{i:02d}" for i in range(1, 13)} | {"B8A", "TCI"}


@pytest.fixture(scope="session")
def l2a(tmp_path_factory) -> Path:
    return demo.write_demo_product(tmp_path_factory.mktemp("l2a"), size=SIZE)


@pytest.fixture(scope="session")
def l1c(tmp_path_factory) -> Path:
    return demo.write_demo_product(tmp_path_factory.mktemp("l1c"), level="L1C", size=SMALL)


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> Path:
    return demo.write_demo_product(tmp_path_factory.mktemp("small"), size=SMALL)


def band_files(product: Path) -> list[Path]:
    return sorted(product.glob("GRANULE/*/IMG_DATA/**/*.jp2"))


def band_path(product: Path, band: str, res: int) -> Path:
    (path,) = product.glob(f"GRANULE/*/IMG_DATA/R{res}m/*_{band}_{res}m.jp2")
    return path


def read(product: Path, band: str, res: int) -> np.ndarray:
    with rasterio.open(band_path(product, band, res)) as src:
        return src.read(1) if src.count == 1 else src.read()


def reflectance(product: Path, band: str, res: int) -> np.ndarray:
    return (read(product, band, res).astype(np.float64) - 1000) / 10000


def scl_at_10m(product: Path) -> np.ndarray:
    return np.repeat(np.repeat(read(product, "SCL", 20), 2, axis=0), 2, axis=1)


def xml_values(path: Path, tag: str) -> list[str]:
    return [e.text or "" for e in ET.parse(path).iter() if e.tag.split(":")[-1] == tag]


def ring_around(mask: np.ndarray, width: int) -> np.ndarray:
    grown = mask.copy()
    for _ in range(width):
        grown[1:] |= grown[:-1].copy()
        grown[:-1] |= grown[1:].copy()
        grown[:, 1:] |= grown[:, :-1].copy()
        grown[:, :-1] |= grown[:, 1:].copy()
    return grown & ~mask


# --- layout and naming ---------------------------------------------------------------------------


def test_product_is_named_like_an_esa_n0509_product(l2a, l1c):
    pattern = r"S2B_MSI{}_2023\d{{4}}T\d{{6}}_N0509_R\d{{3}}_T33UUU_2023\d{{4}}T\d{{6}}\.SAFE"
    assert re.fullmatch(pattern.format("L2A"), l2a.name)
    assert re.fullmatch(pattern.format("L1C"), l1c.name)
    assert (l2a / "MTD_MSIL2A.xml").is_file() and (l2a / "manifest.safe").is_file()
    (granule,) = (l2a / "GRANULE").iterdir()
    assert re.fullmatch(r"L2A_T33UUU_A\d{6}_\d{8}T\d{6}", granule.name)
    assert (granule / "MTD_TL.xml").is_file()


@pytest.mark.parametrize("res", [10, 20, 60])
def test_l2a_resolution_folders_hold_the_esa_band_sets(l2a, res):
    files = list(l2a.glob(f"GRANULE/*/IMG_DATA/R{res}m/*.jp2"))
    names = {re.fullmatch(rf"T33UUU_\d{{8}}T\d{{6}}_(\w+)_{res}m\.jp2", f.name)[1] for f in files}
    assert names == L2A_FOLDERS[res]


def test_l1c_holds_all_13_bands_at_native_resolution_and_no_scl(l1c):
    files = list(l1c.glob("GRANULE/L1C_T33UUU_*/IMG_DATA/*.jp2"))
    assert {re.fullmatch(r"T33UUU_\d{8}T\d{6}_(\w+)\.jp2", f.name)[1] for f in files} == L1C_BANDS
    for f in files:
        band = f.stem.split("_")[-1]
        res = 10 if band == "TCI" else BANDS[band].native_resolution
        with rasterio.open(f) as src:
            assert src.res == (res, res) and src.width == SMALL * 10 // res


@pytest.mark.parametrize("product", ["l2a", "l1c"])
def test_image_file_entries_name_every_band_file_without_extension(product, request):
    safe = request.getfixturevalue(product)
    (mtd,) = safe.glob("MTD_MSI*.xml")
    entries = xml_values(mtd, "IMAGE_FILE")
    assert all(not e.endswith(".jp2") for e in entries)
    written = {f.relative_to(safe).as_posix() for f in band_files(safe)}
    assert {e + ".jp2" for e in entries} == written


def test_no_sidecars_or_scratch_files_are_left(l2a):
    everything = {p.relative_to(l2a).as_posix() for p in l2a.rglob("*") if p.is_file()}
    expected = {f.relative_to(l2a).as_posix() for f in band_files(l2a)}
    expected |= {"MTD_MSIL2A.xml", "manifest.safe", demo._MARKER}
    expected |= {f.relative_to(l2a).as_posix() for f in l2a.glob("GRANULE/*/MTD_TL.xml")}
    assert everything == expected
    assert [p.name for p in l2a.parent.iterdir()] == [l2a.name]


# --- encoding and georeferencing -----------------------------------------------------------------


def test_band_files_are_lossless_jpeg2000_like_esa(l2a):
    for path in band_files(l2a):
        band = path.stem.split("_")[2]
        with rasterio.open(path) as src:
            assert src.driver == "JP2OpenJPEG"
            assert src.tags(ns="IMAGE_STRUCTURE")["COMPRESSION_REVERSIBILITY"] == "LOSSLESS"
            expected = "uint8" if band in ("TCI", "SCL") else "uint16"
            assert src.dtypes == (expected,) * (3 if band == "TCI" else 1)
            if band.startswith("B"):
                assert src.tags(1, ns="IMAGE_STRUCTURE")["NBITS"] == "15"


@pytest.mark.parametrize("res", [10, 20])
def test_band_files_have_overviews(l2a, res):
    for path in l2a.glob(f"GRANULE/*/IMG_DATA/R{res}m/*.jp2"):
        with rasterio.open(path) as src:
            assert src.overviews(1), path.name


def test_band_grids_match_the_tile_geocoding(l2a):
    (mtd_tl,) = l2a.glob("GRANULE/*/MTD_TL.xml")
    root = ET.parse(mtd_tl).getroot()
    assert xml_values(mtd_tl, "HORIZONTAL_CS_CODE") == ["EPSG:32633"]
    for res in (10, 20, 60):
        position = root.find(f".//Geoposition[@resolution='{res}']")
        grid = root.find(f".//Size[@resolution='{res}']")
        ulx, uly, xdim, ydim = (float(position.findtext(t)) for t in ("ULX", "ULY", "XDIM", "YDIM"))
        for path in l2a.glob(f"GRANULE/*/IMG_DATA/R{res}m/*.jp2"):
            with rasterio.open(path) as src:
                assert src.crs.to_epsg() == 32633
                assert src.transform.almost_equals(rasterio.Affine(xdim, 0, ulx, 0, ydim, uly))
                assert (src.height, src.width) == (int(grid.findtext("NROWS")),) * 2
                assert src.width == int(grid.findtext("NCOLS")) == SIZE * 10 // res


def test_footprint_lies_on_the_band_bounds(l2a):
    numbers = [float(x) for x in xml_values(l2a / "MTD_MSIL2A.xml", "EXT_POS_LIST")[0].split()]
    lats, lons = numbers[0::2], numbers[1::2]
    xs, ys = warp_transform("EPSG:4326", "EPSG:32633", lons, lats)
    with rasterio.open(band_path(l2a, "B02", 10)) as src:
        bounds = src.bounds
    assert (xs[0], ys[0]) == pytest.approx((bounds.left, bounds.top), abs=0.01)
    assert (xs[-1], ys[-1]) == (xs[0], ys[0])  # closed ring
    assert min(xs) == pytest.approx(bounds.left, abs=0.01)
    assert min(ys) == pytest.approx(bounds.bottom, abs=0.01)
    assert max(ys) == pytest.approx(bounds.top, abs=0.01)
    assert max(xs) < bounds.right  # the no-data wedge is outside the footprint


# --- metadata values -----------------------------------------------------------------------------


def test_l2a_metadata_carries_baseline_offsets_and_quantification(l2a):
    mtd = l2a / "MTD_MSIL2A.xml"
    assert xml_values(mtd, "PROCESSING_BASELINE") == ["05.09"]
    assert xml_values(mtd, "PROCESSING_LEVEL") == ["Level-2A"]
    assert xml_values(mtd, "PRODUCT_TYPE") == ["S2MSI2A"]
    assert xml_values(mtd, "PRODUCT_URI") == [l2a.name]
    assert xml_values(mtd, "SPACECRAFT_NAME") == ["Sentinel-2B"]
    assert xml_values(mtd, "BOA_QUANTIFICATION_VALUE") == ["10000"]
    assert [float(v) for v in xml_values(mtd, "AOT_QUANTIFICATION_VALUE")] == [1000.0]
    assert [float(v) for v in xml_values(mtd, "WVP_QUANTIFICATION_VALUE")] == [1000.0]
    assert xml_values(mtd, "BOA_ADD_OFFSET") == ["-1000"] * 13
    assert xml_values(mtd, "SPECIAL_VALUE_INDEX") == ["0", "65535"]
    root = ET.parse(mtd).getroot()
    physical = [e.get("physicalBand") for e in root.iter("Spectral_Information")]
    assert physical == [f"B{i}" for i in range(1, 9)] + ["B8A", "B9", "B10", "B11", "B12"]
    assert [e.get("band_id") for e in root.iter("BOA_ADD_OFFSET")] == [str(i) for i in range(13)]
    assert root.find(".//Granule").get("imageFormat") == "JPEG2000"


def test_l1c_metadata_carries_radiometric_offsets(l1c):
    mtd = l1c / "MTD_MSIL1C.xml"
    assert xml_values(mtd, "PROCESSING_BASELINE") == ["05.09"]
    assert xml_values(mtd, "PRODUCT_TYPE") == ["S2MSI1C"]
    assert xml_values(mtd, "QUANTIFICATION_VALUE") == ["10000"]
    assert xml_values(mtd, "RADIO_ADD_OFFSET") == ["-1000"] * 13
    assert not xml_values(mtd, "BOA_ADD_OFFSET")


def test_cloud_coverage_is_measured_on_the_scene_classification(l2a):
    scl = read(l2a, "SCL", 20)
    valid = scl > 0
    expected = 100 * np.isin(scl[valid], (8, 9, 10)).mean()
    reported = float(xml_values(l2a / "MTD_MSIL2A.xml", "Cloud_Coverage_Assessment")[0])
    assert reported == pytest.approx(expected, abs=1e-4)
    assert 5 < reported < 30


def test_manifest_lists_every_file_with_its_checksum(l2a):
    root = ET.parse(l2a / "manifest.safe").getroot()
    listed = {}
    for stream in root.iter("byteStream"):
        href = stream.find("fileLocation").get("href").removeprefix("./")
        listed[href] = (int(stream.get("size")), stream.findtext("checksum"))
    assert len(listed) == len(band_files(l2a)) + 2
    for href, (size, digest) in listed.items():
        data = (l2a / href).read_bytes()
        assert (len(data), hashlib.sha3_256(data).hexdigest().upper()) == (size, digest)


# --- radiometry and scene content ----------------------------------------------------------------


def test_vegetation_has_a_high_ndvi_and_looks_green(l2a):
    red, nir = reflectance(l2a, "B04", 10), reflectance(l2a, "B08", 10)
    green, blue = reflectance(l2a, "B03", 10), reflectance(l2a, "B02", 10)
    vegetation = scl_at_10m(l2a) == demo.SCL_VEGETATION
    assert vegetation.mean() > 0.2
    assert ((nir - red) / (nir + red))[vegetation].mean() > 0.6
    assert green[vegetation].mean() > red[vegetation].mean()
    assert green[vegetation].mean() > blue[vegetation].mean()


def test_water_has_a_negative_ndvi_and_a_dark_swir(l2a):
    red, nir = reflectance(l2a, "B04", 10), reflectance(l2a, "B08", 10)
    water = scl_at_10m(l2a) == demo.SCL_WATER
    assert water.any()
    assert ((nir - red) / (nir + red))[water].mean() < 0
    assert reflectance(l2a, "B11", 20)[read(l2a, "SCL", 20) == demo.SCL_WATER].mean() < 0.02


def test_clouds_are_brighter_than_everything_in_blue(l2a):
    blue, scl = reflectance(l2a, "B02", 20), read(l2a, "SCL", 20)
    ground = np.isin(scl, (demo.SCL_VEGETATION, demo.SCL_NOT_VEGETATED, demo.SCL_WATER))
    assert np.median(blue[scl == demo.SCL_CLOUD_HIGH]) > np.percentile(blue[ground], 99.9)


@pytest.mark.parametrize("band", ["B02", "B04", "B8A", "B11", "B12"])
def test_cloud_shadows_are_darker_than_their_surroundings(l2a, band):
    scl = read(l2a, "SCL", 20)
    shadow = scl == demo.SCL_SHADOW
    around = ring_around(shadow, 3) & np.isin(scl, (demo.SCL_VEGETATION, demo.SCL_NOT_VEGETATED))
    assert shadow.sum() > 50 and around.sum() > 50
    values = reflectance(l2a, band, 20)
    assert values[shadow].mean() < 0.8 * values[around].mean()


def test_scene_holds_every_kind_of_surface_and_sky(l2a):
    present = set(np.unique(read(l2a, "SCL", 20)).tolist())
    assert {0, 3, 4, 5, 6, 8, 9, 10} <= present


@pytest.mark.parametrize("res", [10, 20, 60])
def test_no_data_wedge_is_zero_in_every_band(l2a, res):
    masks = []
    for path in l2a.glob(f"GRANULE/*/IMG_DATA/R{res}m/*.jp2"):
        with rasterio.open(path) as src:
            masks.append((src.read() == 0).all(axis=0))
            assert not (src.read()[:, ~masks[-1]] == 0).all(axis=0).any()
    wedge = masks[0]
    assert all((m == wedge).all() for m in masks)
    assert 0.05 < wedge.mean() < 0.10
    columns = np.arange(wedge.shape[1])
    first = wedge.argmax(axis=1)
    assert (wedge == (columns[None, :] >= first[:, None])).all()  # a run up to the east edge


def test_coarser_bands_are_block_means_of_the_finer_ones(l2a):
    fine = read(l2a, "B04", 10).astype(np.float64)
    coarse = read(l2a, "B04", 20).astype(np.float64)
    mean = fine.reshape(SIZE // 2, 2, SIZE // 2, 2).mean(axis=(1, 3))
    valid = (coarse > 0) & (fine.reshape(SIZE // 2, 2, SIZE // 2, 2) > 0).all(axis=(1, 3))
    assert np.corrcoef(mean[valid], coarse[valid])[0, 1] > 0.97
    assert abs((mean[valid] - coarse[valid]).mean()) < 20


def test_tci_follows_esa_true_colour_mapping(l2a):
    tci = read(l2a, "TCI", 10).astype(np.int64)
    for channel, band in enumerate(("B04", "B03", "B02")):
        dn = read(l2a, band, 10).astype(np.float64)
        expected = np.clip(np.rint(1 + (dn - 1000) / 10000 * 254 / 0.2558), 1, 255)
        expected[dn == 0] = 0
        assert (tci[channel] == expected).all()


def test_aot_and_wvp_are_plausible(l2a):
    valid = read(l2a, "SCL", 20) > 0
    aot, wvp = read(l2a, "AOT", 20)[valid], read(l2a, "WVP", 20)[valid]
    assert aot.min() >= 100 and aot.max() <= 300  # AOT 0.1-0.3
    assert wvp.min() >= 1000 and wvp.max() <= 3000  # 1-3 cm of water vapour


def test_l1c_is_hazier_than_l2a(l1c, small):
    (b02,) = l1c.glob("GRANULE/*/IMG_DATA/*_B02.jp2")
    with rasterio.open(b02) as src:
        toa = src.read(1).astype(np.float64)
    boa = read(small, "B02", 10).astype(np.float64)
    clear = (boa > 0) & (boa < 3000)
    assert toa[clear].mean() > boa[clear].mean() + 300  # path radiance, mostly in the blue
    (b10,) = l1c.glob("GRANULE/*/IMG_DATA/*_B10.jp2")
    with rasterio.open(b10) as src:
        assert src.res == (60, 60) and src.read(1).max() > 1000


# --- determinism, reuse and failures -------------------------------------------------------------


def test_same_seed_gives_identical_band_files_whatever_the_processes(small, tmp_path):
    twin = demo.write_demo_product(tmp_path, size=SMALL, processes=2)
    for a, b in zip(band_files(small), band_files(twin), strict=True):
        assert a.relative_to(small) == b.relative_to(twin)
        assert a.read_bytes() == b.read_bytes(), a.name


def test_other_seed_gives_other_bands(small, tmp_path):
    other = demo.write_demo_product(tmp_path, size=SMALL, seed=1)
    assert band_path(other, "B04", 10).read_bytes() != band_path(small, "B04", 10).read_bytes()


def test_complete_product_is_returned_without_rewriting(small):
    before = {p: p.stat().st_mtime_ns for p in small.rglob("*")}
    assert demo.write_demo_product(small.parent, size=SMALL) == small
    assert {p: p.stat().st_mtime_ns for p in small.rglob("*")} == before


def test_product_with_other_parameters_is_not_silently_reused(small):
    with pytest.raises(ProductError, match="seed"):
        demo.write_demo_product(small.parent, size=SMALL, seed=7)


def test_failed_write_leaves_no_partial_product(tmp_path, monkeypatch):
    def fail(job, raster):
        raise OSError(f"disk full while writing {raster.band}")

    monkeypatch.setattr(demo, "_encode", fail)
    with pytest.raises(OSError, match="disk full"):
        demo.write_demo_product(tmp_path, size=demo.MIN_SIZE)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": 100}, "size"),
        ({"size": 186}, "size"),
        ({"size": 10986}, "size"),
        ({"level": "L3"}, "level"),
        ({"seed": -1}, "seed"),
        ({"processes": 0}, "processes"),
    ],
)
def test_invalid_arguments_are_refused_with_the_offending_field(tmp_path, kwargs, field):
    with pytest.raises(SpecError) as caught:
        demo.write_demo_product(tmp_path, **kwargs)
    assert caught.value.field == field
    assert str(next(iter(kwargs.values()))) in str(caught.value)
    assert not os.listdir(tmp_path)

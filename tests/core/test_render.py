"""Rendering real samples end to end in-process; every output is decoded and checked."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2render.core.encode import OutputFormat
from s2render.core.errors import AreaError, BandError, RenderError
from s2render.core.render import RenderSpec, render
from s2render.core.stretch import Stretch
from tests.conftest import decode


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.startswith(".")]


def test_true_colour_jpeg_of_real_l1c(uuu, tmp_path):
    result = render(RenderSpec(str(uuu), ("B04", "B03", "B02"), 10), tmp_path)
    assert result.status == "done" and result.path.endswith(".jpg")
    pixels, profile = decode(result.path)
    assert profile["driver"] == "JPEG" and profile["dtype"] == "uint8"
    assert pixels.shape == (3, 768, 1536)
    assert 30 < pixels.mean() < 200 and pixels.std() > 10  # an image, not a flat field
    sidecar = json.loads(Path(result.sidecar).read_text())
    assert sidecar["bands"] == ["B04", "B03", "B02"] and sidecar["resolution"] == 10
    assert sidecar["radiometry"]["offsets"] == {"B04": 0, "B03": 0, "B02": 0}
    assert sidecar["stretch"]["ranges"] == [[0.0, 0.3]] * 3
    assert sidecar["figures"]["valid_percent"] == 100.0
    assert sidecar["bounds"] == [330000.0, 5814360.0, 345360.0, 5822040.0]
    assert leftovers(tmp_path) == []


def test_png_values_follow_the_reflectance_formula(uuu, tmp_path):
    stretch = Stretch(((0.0, 0.3),), gamma=1.0)
    result = render(
        RenderSpec(str(uuu), ("B04", "B08", "B12"), 20, stretch=stretch, format=OutputFormat.PNG),
        tmp_path,
    )
    pixels, profile = decode(result.path)
    assert profile["driver"] == "PNG" and pixels.shape == (4, 384, 768)
    with rasterio.open(uuu / "T33UUU_20170216T102101_B12.jp2") as src:  # native 20 m
        b12 = src.read(1)
    expected = np.rint(np.clip(b12 / 10000 / 0.3, 0, 1) * 255)
    np.testing.assert_array_equal(pixels[2], expected.astype(np.uint8))
    assert (pixels[3] == 255).all()


def test_coarsening_to_60m_averages_the_10m_band(uuu, tmp_path):
    result = render(
        RenderSpec(
            str(uuu),
            ("B04", "B04", "B04"),
            60,
            stretch=Stretch(((0.0, 0.2),), gamma=1.0),
            format=OutputFormat.PNG,
        ),
        tmp_path,
    )
    pixels, _ = decode(result.path)
    assert pixels.shape == (4, 128, 256)
    with rasterio.open(uuu / "T33UUU_20170216T102101_B04.jp2") as src:
        b04 = src.read(1).astype(float)
    block_mean = b04.reshape(128, 6, 256, 6).mean(axis=(1, 3))
    expected = np.clip(block_mean / 10000 / 0.2, 0, 1) * 255
    assert np.abs(pixels[0] - expected).mean() < 1.5


def test_geotiff_of_misaligned_crops_is_georeferenced(svg, tmp_path):
    result = render(
        RenderSpec(str(svg), ("B12", "B8A", "B04"), 20, format=OutputFormat.GTIFF), tmp_path
    )
    pixels, profile = decode(result.path)
    assert profile["crs"].to_epsg() == 32618
    assert profile["transform"].a == 20 and profile["transform"].e == -20
    assert (profile["transform"].c, profile["transform"].f) == (435730.0, 4179460.0)
    assert pixels.shape[0] == 4 and pixels.dtype == np.uint8
    with rasterio.open(result.path) as src:
        assert src.overviews(1), "COG layout has overviews"
        assert src.colorinterp[3].name == "alpha"
    # B12 and B8A are native 20 m crops whose grid starts 10 m west of the 10 m grid: read by
    # bounds, the rendering still has data everywhere inside the 10 m extent but the last row.
    assert (pixels[3][:-1] == 255).all()


def test_lonlat_bbox_renders_only_that_area(uuu, tmp_path):
    # A box well inside the 33UUU crop (UTM 33N 330000-345360 E, 5814360-5822040 N).
    bbox = (12.55, 52.45, 12.6, 52.48)
    result = render(RenderSpec(str(uuu), ("B04", "B03", "B02"), 10, bbox=bbox), tmp_path)
    pixels, _ = decode(result.path)
    sidecar = json.loads(Path(result.sidecar).read_text())
    left, bottom, right, top = sidecar["bounds"]
    assert 330000 <= left < right <= 345360 and 5814360 <= bottom < top <= 5822040
    assert pixels.shape[1:] == ((top - bottom) / 10, (right - left) / 10)
    assert sidecar["area"] == {"bbox": list(bbox), "bbox_crs": "EPSG:4326"}


def test_bbox_outside_the_product_is_refused(uuu, tmp_path):
    with pytest.raises(AreaError, match="does not intersect"):
        render(
            RenderSpec(str(uuu), ("B04", "B03", "B02"), 10, bbox=(2.0, 48.0, 2.1, 48.1)), tmp_path
        )


def test_band_a_product_cannot_have_is_refused(uuu, tmp_path):
    with pytest.raises(BandError, match="SCL is not available in L1C"):
        render(RenderSpec(str(uuu), ("SCL", "B03", "B02"), 20), tmp_path)


def test_a_failed_rendering_leaves_no_file_behind(uuu, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(uuu, broken)
    band = broken / "T33UUU_20170216T102101_B02.jp2"
    band.write_bytes(band.read_bytes()[:20000])  # header intact, codestream cut short
    out = tmp_path / "out"
    with pytest.raises(RenderError):
        render(RenderSpec(str(broken), ("B04", "B03", "B02"), 10), out)
    assert list(out.iterdir()) == []

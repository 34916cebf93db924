"""``s2render render --cloud-mask [CLASSES] --cloud-dilation N --contact-sheet FILE``; every
image reopened and checked."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from s2render.core.masks import dilate
from tests.cli.helpers import invoke, records
from tests.conftest import decode


def scl_20m(product: Path) -> np.ndarray:
    path = glob.glob(str(product / "GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2"))[0]
    with rasterio.open(path) as src:
        return src.read(1)


@pytest.mark.parametrize(
    ("given", "classes"),
    [((), (3, 8, 9, 10)), (("cloud_high,cirrus",), (9, 10)), (("9,11",), (9, 11))],
    ids=["default", "names", "numbers"],
)
def test_cloud_mask_hides_the_classes_asked(demo_l2a, tmp_path, given, classes):
    result = invoke(
        "render", demo_l2a, "--preset", "true-color", "--res", "20", "--format", "png",
        "--out", tmp_path, "--json", "--cloud-mask", *given,
    )  # fmt: skip
    (record,) = records(result)
    pixels, profile = decode(Path(record["path"]))
    assert profile["driver"] == "PNG" and pixels.shape == (4, 294, 294)
    assert pixels.dtype == np.uint8
    scl = scl_20m(demo_l2a)
    assert (pixels[3][np.isin(scl, classes)] == 0).all()
    assert (pixels[3][(scl == 4)] == 255).all()
    sidecar = json.loads(Path(record["sidecar"]).read_text())
    assert sidecar["cloud_mask"]["classes"] == list(classes)
    assert record["figures"]["cloud_masked_percent"] > 0
    assert 0 < record["cloud_percent"] < 100


def test_cloud_dilation_grows_the_mask(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--preset", "ndvi", "--res", "20", "--format", "webp",
        "--out", tmp_path, "--json", "--cloud-mask", "cloud_high", "--cloud-dilation", "4",
    )  # fmt: skip
    (record,) = records(result)
    pixels, profile = decode(Path(record["path"]))
    assert profile["driver"] == "WEBP" and pixels.shape == (4, 294, 294)
    grown = dilate(scl_20m(demo_l2a) == 9, 4)
    assert (pixels[3][grown] == 0).all()
    assert (pixels[3][~grown] == 255).mean() > 0.8


def test_contact_sheet_of_the_command(demo_l2a, tmp_path):
    sheet = tmp_path / "sheet.jpg"
    result = invoke(
        "render", demo_l2a, "--preset", "true-color,ndvi,scl,swir", "--res", "60",
        "--out", tmp_path / "out", "--contact-sheet", sheet,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"contact sheet: {sheet}" in result.stderr
    paths = result.stdout.split()
    assert len(paths) == 4
    for path in paths:  # every rendering has its thumbnail and STAC item beside it
        assert Path(path + ".thumb.png").is_file() and Path(path + ".stac.json").is_file()
    with Image.open(sheet) as image:
        image.load()
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.width % 2 == 0 and image.width > 2 * 98 and image.height > 2 * 98


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--cloud-mask", "fog"), "'fog' is not an SCL class"),
        (("--cloud-dilation", "3"), "--cloud-dilation grows --cloud-mask"),
        (("--cloud-mask", "clouds", "--cloud-dilation", "-2"), "--cloud-dilation"),
        (("--contact-sheet", "sheet.gif"), "name it .png, .jpg or .webp"),
    ],
)
def test_bad_mask_options_are_one_line(demo_l2a, tmp_path, args, message):
    result = invoke(
        "render", demo_l2a, "--preset", "true-color", "--res", "60", "--out", tmp_path, *args
    )
    assert result.exit_code == 2, result.output
    assert message in result.output


def test_cloud_mask_on_l1c_says_what_to_use(demo_l1c, tmp_path):
    result = invoke(
        "render", demo_l1c, "--preset", "true-color", "--res", "60", "--out", tmp_path,
        "--cloud-mask",
    )  # fmt: skip
    assert result.exit_code == 2
    assert "use the L2A product of the same scene" in result.output
    assert not list(tmp_path.iterdir())

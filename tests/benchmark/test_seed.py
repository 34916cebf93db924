"""The seed's algorithm, reimplemented: crop box maths, outputs, radiometry."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from s2render.benchmark.geometry import seed_crop_box, seed_crop_size
from s2render.benchmark.seed import SEED_BATCH, find_band_file, parse_batch
from tests.benchmark import BAND_DN, write_tiny_l2a


@pytest.mark.parametrize(
    ("size", "box"),
    [
        (10980, (2745, 3137, 8235, 7843)),
        (5490, (1372, 1569, 4118, 3921)),  # 1372.5 and 4117.5 round half to even
        (1830, (458, 523, 1372, 1307)),
        (147, (37, 42, 110, 105)),
        (49, (12, 14, 37, 35)),
    ],
)
def test_seed_crop_box_rounds_like_pillow(size, box):
    assert seed_crop_box(size, size) == box
    # The seed passed float edges to Image.crop; Pillow must agree with our arithmetic.
    image = Image.new("L", (size, size))
    floats = (size * 1 / 4, size * 2 / 7, size * 3 / 4, size * 5 / 7)
    assert image.crop(floats).size == seed_crop_size(size, size)


def test_seed_batch_is_the_seeds_job():
    assert tuple(parse_batch("20,20,60", "B04,B12,B06", "B03,B11,B04", "B02,B03,B02")) == SEED_BATCH


def test_parse_batch_rejects_lists_of_different_lengths():
    with pytest.raises(ValueError, match="same length; got res=2, r=3"):
        parse_batch("20,60", "B04,B12,B06", "B03,B11,B04", "B02,B03,B02")


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    return write_tiny_l2a(tmp_path_factory.mktemp("seed"), size=294)


@pytest.fixture(scope="module")
def seed_outputs(product, tmp_path_factory):
    outdir = tmp_path_factory.mktemp("seed-out")
    run = subprocess.run(
        [sys.executable, "-m", "s2render.benchmark.seed", str(product), str(outdir)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [json.loads(run.stdout), outdir]


def test_seed_writes_one_jpeg_per_rendering_with_the_crop_size(seed_outputs):
    paths, outdir = seed_outputs
    assert sorted(p.name for p in outdir.iterdir()) == sorted(
        f"seed_{i:02d}_{name}.jpg"
        for i, name in enumerate(["R20m_B04_B03_B02", "R20m_B12_B11_B03", "R60m_B06_B04_B02"], 1)
    )
    sizes = []
    for path in paths:
        with Image.open(path) as image:
            image.load()
            assert (image.format, image.mode) == ("JPEG", "RGB")
            sizes.append(image.size)
    # 294 px at 10 m: 147 px at 20 m -> box (37, 42, 110, 105); 49 px at 60 m -> (12, 14, 37, 35).
    assert sizes == [(73, 63), (73, 63), (25, 21)]


def test_seed_maps_dn_by_256_then_brightens_tenfold(seed_outputs):
    paths, _ = seed_outputs
    for path, item in zip(paths, SEED_BATCH, strict=True):
        with Image.open(path) as image:
            pixel = image.getpixel((image.width // 2, image.height // 2))
        expected = [min(255, BAND_DN[band] // 256 * 10) for band in item.bands]
        assert all(abs(got - want) <= 2 for got, want in zip(pixel, expected, strict=True)), (
            pixel, expected,
        )  # fmt: skip


def test_seed_command_fails_clearly_on_a_missing_band(product, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "s2render.benchmark.seed", str(product), str(tmp_path),
         "--res", "20", "--r", "B08", "--g", "B03", "--b", "B02"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 1
    assert "B08 in R20m" in run.stderr


def test_find_band_file_names_what_it_looked_for(product):
    assert find_band_file(product, "B12", 20).name.endswith("_B12_20m.jp2")
    with pytest.raises(FileNotFoundError, match=r"R10m/T\*_B12_10m.jp2"):
        find_band_file(product, "B12", 10)

"""Reduced-resolution levels: which file and level a read decodes, and that the reader opens
exactly that level (a spy on rasterio.open records what GDAL is asked to decode)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from s2render.core import reader
from s2render.core.encode import OutputFormat
from s2render.core.product import Grid, open_product
from s2render.core.reader import choose_source, read_window, source_level
from s2render.core.render import RenderSpec, plan_rendering, render
from tests.conftest import decode

TRUE = ("B04", "B03", "B02")
SIZE = 1024
WEST, NORTH = 300000.0, 5000000.0


@pytest.fixture(scope="module")
def jp2_product(tmp_path_factory) -> Path:
    """A folder of 10 m band files, lossless JPEG 2000 with 5 resolution levels and 256 px
    tiles (ESA's layout, scaled down; GDAL exposes the levels down to 128 px: three)."""
    folder = tmp_path_factory.mktemp("jp2") / "T33UUU_20230710T102021"
    folder.mkdir()
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    for i, band in enumerate(TRUE):
        data = (1000 + 3 * x + 2 * y + 400 * i + rng.integers(0, 200, (SIZE, SIZE))).astype(
            np.uint16
        )
        profile = dict(driver="MEM", width=SIZE, height=SIZE, count=1, dtype="uint16",
                       crs="EPSG:32633", transform=Affine(10, 0, WEST, 0, -10, NORTH))  # fmt: skip
        with rasterio.open("/vsimem/band.tif", "w", **{**profile, "driver": "GTiff"}) as mem:
            mem.write(data, 1)
        rasterio.shutil.copy(
            "/vsimem/band.tif",
            str(folder / f"T33UUU_20230710T102021_{band}.jp2"),
            driver="JP2OpenJPEG",
            QUALITY="100",
            REVERSIBLE="YES",
            RESOLUTIONS="5",
            BLOCKXSIZE="256",
            BLOCKYSIZE="256",
        )
    rasterio.shutil.delete("/vsimem/band.tif")
    return folder


class Spy:
    """A dataset whose reads are recorded: (path, open options, window, out_shape)."""

    def __init__(self, dataset, log: list, path: str, options: dict) -> None:
        self._dataset, self._log, self._path, self._options = dataset, log, path, options

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._dataset.close()

    def __getattr__(self, name):
        return getattr(self._dataset, name)

    def read(self, *args, **kwargs):
        self._log.append((self._path, self._options, kwargs.get("window"), kwargs.get("out_shape")))
        return self._dataset.read(*args, **kwargs)


@pytest.fixture
def gdal_reads(monkeypatch) -> list:
    log: list = []
    real_open = rasterio.open

    def spy_open(path, *args, **kwargs):
        options = dict(kwargs)
        # A coarsening read goes through a VRT over the file that names the level it opens.
        level = re.search(r'<OOI key="OVERVIEW_LEVEL">([^<]+)</OOI>', str(path))
        if level:
            options["OVERVIEW_LEVEL"] = level.group(1)
        return Spy(real_open(path, *args, **kwargs), log, str(path), options)

    monkeypatch.setattr(reader.rasterio, "open", spy_open)
    return log


def pixels_asked(log: list) -> int:
    total = 0
    for _path, _options, window, _shape in log:
        cols = math.ceil(window.col_off + window.width - 1e-6) - math.floor(window.col_off + 1e-6)
        rows = math.ceil(window.row_off + window.height - 1e-6) - math.floor(window.row_off + 1e-6)
        total += cols * rows
    return total


def test_the_files_expose_their_reduced_levels(jp2_product):
    with rasterio.open(next(jp2_product.glob("*B04.jp2"))) as src:
        assert src.overviews(1) == [2, 4, 8]


@pytest.mark.parametrize(
    ("resolution", "level"),
    [(10, 0), (15, 0), (20, 1), (30, 1), (40, 2), (79, 2), (80, 3), (80.5, 3), (1000, 3), (5, 0)],
)
def test_the_coarsest_level_not_coarser_than_the_target_is_chosen(jp2_product, resolution, level):
    source = choose_source(open_product(jp2_product), "B04", resolution)
    assert source.level == level
    assert source.resolution == pytest.approx(10 * 2**level)


def test_a_level_read_returns_that_levels_pixels(jp2_product):
    path = str(next(jp2_product.glob("*B03.jp2")))
    product = open_product(jp2_product)
    band_file = product.band_file("B03", 10)
    level = source_level(band_file, 2)  # 40 m, 256 px
    grid = Grid(product.crs, level.transform, level.width, level.height)
    got = read_window(band_file, grid, Window(10, 20, 100, 50), level=2)
    with rasterio.open(path, overview_level=1) as src:
        want = src.read(1, window=Window(10, 20, 100, 50))
    np.testing.assert_array_equal(got, want)


def test_a_preview_asks_gdal_for_a_fiftieth_of_the_full_paths_pixels(
    jp2_product, tmp_path, gdal_reads
):
    full = render(RenderSpec(str(jp2_product), TRUE, format=OutputFormat.PNG), tmp_path / "f")
    full_log = [r for r in gdal_reads if r[2] is not None]
    gdal_reads.clear()
    preview = render(
        RenderSpec(str(jp2_product), TRUE, max_size=64, format=OutputFormat.PNG), tmp_path / "p"
    )
    preview_log = [r for r in gdal_reads if r[2] is not None]
    # Every band read of the preview opened the 80 m level (GDAL overview 2), and only it.
    assert {opts["OVERVIEW_LEVEL"] for _, opts, _, _ in preview_log} == {"2only"}
    assert {opts["OVERVIEW_LEVEL"] for _, opts, _, _ in full_log} == {"NONE"}
    assert pixels_asked(full_log) == 3 * SIZE * SIZE
    assert pixels_asked(preview_log) * 50 < pixels_asked(full_log)
    # The sidecars say the same.
    for result, log in ((full, full_log), (preview, preview_log)):
        reads = json.loads(Path(result.sidecar).read_text())["reads"]
        assert reads["decoded_pixels"] == pixels_asked(log)
    pixels, _ = decode(preview.path)
    assert pixels.shape == (4, 64, 64) and (pixels[3] == 255).all()
    # The preview is the full rendering, smaller: block means agree within a few levels.
    big, _ = decode(full.path)
    means = big[:3].reshape(3, 64, 16, 64, 16).mean(axis=(2, 4))
    assert np.abs(pixels[:3] - means).mean() < 3


def test_a_preview_plan_is_cheap_to_make(jp2_product, tmp_path):
    plan = plan_rendering(RenderSpec(str(jp2_product), TRUE, max_size=64), tmp_path)
    assert plan.record["reads"]["decoded_pixels"] == 3 * 128 * 128  # the 80 m level
    assert plan.record["output"]["read_resolution_m"] == pytest.approx(160)

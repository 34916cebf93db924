"""Band windows on a target grid: native reads, resampling by bounds, coverage gaps."""

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from s2render.core.product import BandFile, Grid
from s2render.core.reader import read_window, resampling_for

UTM = CRS.from_epsg(32633)


def grid(res: float, width: int, height: int, left=300000.0, top=5000000.0) -> Grid:
    return Grid(UTM, Affine(res, 0, left, 0, -res, top), width, height)


def test_native_read_returns_the_exact_pixels(write_raster):
    data = np.arange(1, 101, dtype=np.uint16).reshape(10, 10)
    path = write_raster("b04.tif", data)
    out = read_window(BandFile("B04", 10, str(path)), grid(10, 10, 10), Window(2, 3, 4, 5))
    np.testing.assert_array_equal(out, data[3:8, 2:6])


def test_coarsening_averages_blocks(write_raster):
    data = np.arange(1, 37, dtype=np.uint16).reshape(6, 6) * 10
    path = write_raster("b04.tif", data)
    out = read_window(BandFile("B04", 10, str(path)), grid(20, 3, 3), Window(0, 0, 3, 3))
    expected = data.reshape(3, 2, 3, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(out, expected, atol=1)


def test_refining_interpolates_between_neighbours(write_raster):
    data = np.tile(np.array([100, 200, 300, 400], dtype=np.uint16) * 10, (4, 1))
    path = write_raster("b05.tif", data, res=20)
    out = read_window(BandFile("B05", 20, str(path)), grid(10, 8, 8), Window(0, 0, 8, 8))
    assert out.shape == (8, 8)
    row = out[4].astype(int)
    assert np.all(np.diff(row[1:7]) > 0), row  # bilinear: monotonic ramp, not steps of two
    assert row.min() >= 1000 and row.max() <= 4000


def test_grids_need_not_share_an_origin(write_raster):
    """A file whose origin is one 10 m pixel west of the target grid is read by bounds."""
    data = np.arange(1, 101, dtype=np.uint16).reshape(10, 10)
    path = write_raster("b04.tif", data, left=299990.0)
    out = read_window(BandFile("B04", 10, str(path)), grid(10, 9, 10), Window(0, 0, 9, 10))
    np.testing.assert_array_equal(out, data[:, 1:10])


def test_pixels_outside_the_file_are_no_data(write_raster):
    data = np.full((10, 10), 500, dtype=np.uint16)
    path = write_raster("b04.tif", data, left=300050.0)  # covers only the right half
    out = read_window(BandFile("B04", 10, str(path)), grid(10, 10, 10), Window(0, 0, 10, 10))
    assert (out[:, :5] == 0).all() and (out[:, 5:] == 500).all()


@pytest.mark.parametrize(
    ("band", "src", "dst", "expected"),
    [
        ("B04", 10, 20, Resampling.average),
        ("B05", 20, 10, Resampling.bilinear),
        ("SCL", 20, 60, Resampling.nearest),
        ("SCL", 20, 10, Resampling.nearest),
        ("B04", 10, 10, Resampling.nearest),
    ],
)
def test_resampling_choice(band, src, dst, expected):
    assert resampling_for(band, src, dst) is expected


# --- DN 0 (no data) and DN 65535 (saturated) when coarsening ----------------------------------

BACKGROUND = 1000


def special_values_band() -> np.ndarray:
    """60 x 60 px at 10 m: background DN 1000 with a saturated block, a no-data block, a
    block half saturated and half no data (all on 60 m pixel edges), and single saturated and
    no-data pixels inside otherwise valid 20 m and 60 m pixels."""
    data = np.full((60, 60), BACKGROUND, dtype=np.uint16)
    data[0:6, 0:6] = 65535  # saturated at 20 m and 60 m
    data[0:6, 54:60] = 0  # no data at 20 m and 60 m
    data[54:60, 0:3] = 65535  # with no data beside it: no valid input at 60 m
    data[54:60, 3:6] = 0
    data[20, 20] = 65535  # one saturated pixel among valid ones
    data[31, 31] = 0  # one no-data pixel among valid ones
    return data


def test_coarsening_averages_only_valid_pixels(write_raster):
    """A coarse pixel is the average of its valid inputs; with none valid it is saturated if an
    input is, else no data (DN 0 and 65535 never enter an average)."""
    path = write_raster("b04.tif", special_values_band())
    band = BandFile("B04", 10, str(path))
    at_60 = read_window(band, grid(60, 10, 10), Window(0, 0, 10, 10))
    expected = np.full((10, 10), BACKGROUND, dtype=np.uint16)
    expected[0, 0] = expected[9, 0] = 65535
    expected[0, 9] = 0
    np.testing.assert_array_equal(at_60, expected)
    at_20 = read_window(band, grid(20, 30, 30), Window(0, 0, 30, 30))
    expected = np.full((30, 30), BACKGROUND, dtype=np.uint16)
    expected[0:3, 0:3] = 65535
    expected[27:30, 0:2] = 65535  # col 1 holds saturated and no-data inputs: saturated
    expected[0:3, 27:30] = 0
    expected[27:30, 2] = 0
    np.testing.assert_array_equal(at_20, expected)


def test_coarsening_off_the_pixel_grid_ignores_special_values(write_raster):
    """Fractional source windows (grids that do not share an origin) average valid pixels only."""
    path = write_raster("b04.tif", special_values_band(), left=299995.0, top=5000005.0)
    out = read_window(BandFile("B04", 10, str(path)), grid(60, 9, 9), Window(0, 0, 9, 9))
    inside = out[1:8, 1:8]
    assert (inside == BACKGROUND).all(), inside


def test_telling_saturated_from_no_data_reads_only_the_box_that_needs_it(write_raster):
    """The saturated-or-no-data pass reads the box around the pixels without a valid input
    (a swath edge is a sliver of a preview); at a fractional ratio it gives exactly what the
    pass over the whole window gives."""
    import rasterio

    from s2render.core.reader import _mark_saturated, _read_average, average_source

    rng = np.random.default_rng(3)
    data = rng.integers(1, 9000, size=(300, 300), dtype=np.uint16)
    data[:, 220:] = 0  # a no-data swath edge
    data[40:80, 240:280] = 65535  # saturated blocks inside it and in the valid part
    data[150:160, 30:45] = 65535
    path = write_raster("b04.tif", data)
    window, shape = Window(3.5, 1.25, 290.0, 295.5), (97, 71)  # fractional ratios
    with rasterio.open(path) as src:
        got = _read_average(str(path), 0, src, window, shape)
        with average_source(str(path), 0, src) as vrt:
            full = vrt.read(1, window=window, out_shape=shape, resampling=Resampling.average)
            hits = vrt.read(2, window=window, out_shape=shape, resampling=Resampling.average)
    _mark_saturated(full, hits)
    np.testing.assert_array_equal(got, full)
    assert (got == 65535).any() and (got == 0).any() and (got[:, :50] > 0).all()

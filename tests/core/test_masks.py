"""Masks: saturated pixels (DN 65535) and the SCL cloud mask, on every rendering path, and the
figures they report (valid, saturated, cloud and masked percentages)."""

from __future__ import annotations

import glob
import itertools
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from s2render.core.compose import strip_statistics
from s2render.core.encode import OutputFormat
from s2render.core.errors import SpecError
from s2render.core.masks import CLOUD_CLASSES, dilate, parse_scl_classes
from s2render.core.output import finalize_rendering
from s2render.core.reader import read_window
from s2render.core.render import compose_strip, plan_rendering, render
from s2render.core.spec import RenderSpec, spec_from_preset
from s2render.core.statistics import reduce_histograms
from s2render.core.stretch import Stretch
from tests.conftest import decode
from tests.core.test_reader import special_values_band

TRUE_COLOUR = ("B04", "B03", "B02")
PNG = OutputFormat.PNG


# --- class names and dilation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "classes"),
    [
        ("clouds", (3, 8, 9, 10)),
        ("cloud_shadow,cloud_medium,cloud_high,cirrus,snow", (3, 8, 9, 10, 11)),
        ("9, 8 ,10", (8, 9, 10)),
        ("Cloud-High, thin cirrus", (9, 10)),
        ([9, "cirrus", 9], (9, 10)),
        ((3,), (3,)),
    ],
)
def test_scl_classes_by_number_or_name(given, classes):
    assert parse_scl_classes(given) == classes
    spec = RenderSpec("p", bands=TRUE_COLOUR, cloud_mask=given)
    assert spec.cloud_mask == classes


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ({"cloud_mask": "fog"}, "cloud_mask", "'fog' is not an SCL class"),
        ({"cloud_mask": "12"}, "cloud_mask", "SCL class 12 does not exist"),
        ({"cloud_mask": ""}, "cloud_mask", "names no SCL class"),
        ({"cloud_mask": [True]}, "cloud_mask", "is not a class"),
        ({"cloud_dilation": 2}, "cloud_dilation", "give cloud_mask too"),
        ({"cloud_mask": "clouds", "cloud_dilation": -1}, "cloud_dilation", "0 or more"),
        ({"cloud_mask": "clouds", "cloud_dilation": 1.5}, "cloud_dilation", "whole number"),
        ({"cloud_mask": "clouds", "cloud_dilation": 10_000}, "cloud_dilation", "smaller"),
    ],
)
def test_bad_mask_options_are_refused_with_the_fix(options, field, message):
    with pytest.raises(SpecError, match=message) as caught:
        RenderSpec("p", bands=TRUE_COLOUR, **options)
    assert caught.value.field == field


def brute_force_dilation(mask: np.ndarray, pixels: int) -> np.ndarray:
    out = np.zeros_like(mask)
    for r, c in zip(*np.nonzero(mask), strict=True):
        out[max(0, r - pixels) : r + pixels + 1, max(0, c - pixels) : c + pixels + 1] = True
    return out


@pytest.mark.parametrize("pixels", [0, 1, 2, 5])
def test_dilation_is_a_square_max_filter(pixels):
    mask = np.random.default_rng(pixels).random((37, 53)) > 0.97
    assert np.array_equal(dilate(mask, pixels), brute_force_dilation(mask, pixels))


# --- saturated pixels -------------------------------------------------------------------------


@pytest.fixture
def saturated_folder(write_raster, tmp_path):
    """A bare folder of three 10 m bands (L1C, no offset) with saturated and no-data pixels."""
    (tmp_path / "bands").mkdir()
    rng = np.random.default_rng(3)
    bands = {}
    for band in TRUE_COLOUR:
        data = rng.integers(300, 2500, (60, 80)).astype(np.uint16)
        bands[band] = data
    bands["B04"][5:10, 5:25] = 65535  # saturated in one band only
    bands["B02"][40:45, 60:70] = 65535
    bands["B03"][20:22, :] = 0  # no data
    for band, data in bands.items():
        write_raster(f"bands/T33UUU_20230101T100000_{band}.tif", data)
    hidden = np.zeros((60, 80), dtype=bool)
    hidden[5:10, 5:25] = hidden[40:45, 60:70] = hidden[20:22, :] = True
    return tmp_path / "bands", hidden


@pytest.mark.parametrize(
    "content",
    [
        {"bands": TRUE_COLOUR},  # lookup-table path
        {"bands": TRUE_COLOUR, "stretch": Stretch(percentiles=(2.0, 98.0))},
        {"expressions": ("B04", "B03 * 1", "B02 + 0")},  # float path
        {"expression": "(B04 - B02) / (B04 + B02) + 0 * B03", "value_range": (-1.0, 1.0)},
        {"bands": TRUE_COLOUR, "tonemap": "optimized"},
    ],
    ids=["lut", "percentile", "expressions", "colormap", "optimized"],
)
def test_saturated_pixels_are_transparent_like_no_data(saturated_folder, tmp_path, content):
    folder, hidden = saturated_folder
    result = render(RenderSpec(str(folder), format=PNG, **content), tmp_path / "out")
    pixels, profile = decode(Path(result.path))
    assert profile["count"] == 4 and pixels.dtype == np.uint8 and pixels.shape == (4, 60, 80)
    assert np.array_equal(pixels[3] == 0, hidden)
    assert set(np.unique(pixels[3])) == {0, 255}
    assert (pixels[:3, hidden] == 0).all()
    assert result.saturated_percent == round(100 * (100 + 50) / 4800, 3)
    assert result.valid_percent == round(100 * (4800 - hidden.sum()) / 4800, 3)
    assert result.cloud_percent is None  # L1C: no SCL


def test_a_percentile_stretch_ignores_saturated_pixels(saturated_folder, tmp_path):
    folder, _ = saturated_folder
    spec = RenderSpec(str(folder), TRUE_COLOUR, stretch=Stretch(percentiles=(0.0, 100.0)))
    plan = plan_rendering(spec, tmp_path)
    arrays = [read_window(r.band_file, r.grid, r.window) for r in plan.reads(0)]
    cut = reduce_histograms(spec.stretch, 1, strip_statistics(plan, 0, *arrays))
    assert all(high < 0.26 for _, high in cut.ranges)  # DN < 2500; 65535 would be 2.0


def coarse_special_values(factor: int) -> tuple[np.ndarray, np.ndarray]:
    """What the 60 x 60 px band of :func:`tests.core.test_reader.special_values_band` is at
    ``factor`` times coarser: (saturated, no data) pixel masks."""
    n = 60 // factor
    saturated, no_data = np.zeros((n, n), dtype=bool), np.zeros((n, n), dtype=bool)
    for row, col in itertools.product(range(n), range(n)):
        block = special_values_band()[
            row * factor : (row + 1) * factor, col * factor : (col + 1) * factor
        ]
        if not ((block != 0) & (block != 65535)).any():  # no valid input
            saturated[row, col] = (block == 65535).any()
            no_data[row, col] = not saturated[row, col]
    return saturated, no_data


@pytest.mark.parametrize("factor", [2, 6])
@pytest.mark.parametrize(
    "stretch", [Stretch(), Stretch(percentiles=(2.0, 98.0))], ids=["fixed", "percentile"]
)
def test_coarsening_neither_blends_saturated_nor_no_data_pixels(
    write_raster, tmp_path, factor, stretch
):
    """At 20 m and 60 m from 10 m bands, every valid pixel is the background (no bright or dark
    blend of DN 65535 or 0); saturated and no-data coarse pixels are transparent and counted."""
    (tmp_path / "bands").mkdir()
    for band in TRUE_COLOUR:
        write_raster(f"bands/T33UUU_20230101T100000_{band}.tif", special_values_band())
    spec = RenderSpec(str(tmp_path / "bands"), TRUE_COLOUR, 10 * factor, stretch=stretch)
    result = render(replace(spec, format=PNG), tmp_path / "out")
    pixels, _ = decode(Path(result.path or ""))
    n = 60 // factor
    assert pixels.shape == (4, n, n) and pixels.dtype == np.uint8
    saturated, no_data = coarse_special_values(factor)
    hidden = saturated | no_data
    assert np.array_equal(pixels[3] == 0, hidden)
    shown = pixels[:3, ~hidden]
    assert (shown == shown[:, :1]).all(), np.unique(shown, axis=1)  # one colour: no blend
    if not stretch.is_percentile:
        assert (shown[:, 0] < 200).all()  # DN 1000 at 0-0.3: not a bright blend with 65535
    figures = json.loads(Path(result.sidecar or "").read_text())["figures"]
    assert figures == result.figures
    assert figures["saturated_percent"] == round(100 * saturated.sum() / n**2, 3) > 0
    assert figures["valid_percent"] == round(100 * (~hidden).sum() / n**2, 3)
    if stretch.is_percentile:  # cut over valid pixels only: DN 1000, reflectance 0.1
        applied = json.loads(Path(result.sidecar or "").read_text())["stretch"]
        assert all(0.09 < low < high < 0.11 for low, high in applied["ranges"])


def test_coarsening_onto_another_crs_blends_neither_saturated_nor_no_data_pixels(
    write_raster, tmp_path
):
    """A warped read at 20 m of 10 m bands (output in EPSG:4326) averages valid pixels only too:
    one colour wherever a pixel shows, and saturated pixels counted, not shown."""
    (tmp_path / "bands").mkdir()
    for band in TRUE_COLOUR:
        write_raster(f"bands/T33UUU_20230101T100000_{band}.tif", special_values_band())
    spec = RenderSpec(str(tmp_path / "bands"), TRUE_COLOUR, 20, crs="EPSG:4326", format=PNG)
    result = render(spec, tmp_path / "out")
    pixels, _ = decode(Path(result.path or ""))
    assert pixels.dtype == np.uint8 and pixels.shape[0] == 4
    shown = pixels[:3, pixels[3] == 255]
    assert shown.shape[1] > 0.8 * pixels[3].size
    assert (shown == shown[:, :1]).all(), np.unique(shown, axis=1)  # one colour: no blend
    assert (shown[:, 0] < 200).all()
    assert (result.figures or {})["saturated_percent"] > 0


# --- cloud mask on the demo product -----------------------------------------------------------


def scl_file(product: Path, res: int) -> str:
    return glob.glob(str(product / f"GRANULE/*/IMG_DATA/R{res}m/*_SCL_{res}m.jp2"))[0]


def read_file(path: str) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def band_data(product: Path, res: int) -> np.ndarray:
    """Pixels with data in B04, B03 and B02 at ``res`` (native files)."""
    files = [
        glob.glob(str(product / f"GRANULE/*/IMG_DATA/R{res}m/*_{b}_{res}m.jp2"))[0]
        for b in TRUE_COLOUR
    ]
    return np.logical_and.reduce([read_file(f) != 0 for f in files])


@pytest.mark.parametrize("classes", [(8, 9, 10), (3, 10), (3, 8, 9, 10, 11)])
def test_cloud_mask_hides_exactly_the_chosen_scl_classes(demo_l2a, tmp_path, classes):
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 20, format=PNG, cloud_mask=classes)
    result = render(spec, tmp_path)
    pixels, _ = decode(Path(result.path))
    scl = read_file(scl_file(demo_l2a, 20))
    data = band_data(demo_l2a, 20)
    chosen = np.isin(scl, classes)
    assert pixels.shape == (4, 294, 294) and pixels.dtype == np.uint8
    assert chosen.any() and (data & ~chosen).any()
    assert np.array_equal(pixels[3] == 255, data & ~chosen)
    assert result.figures is not None
    assert result.figures["cloud_masked_percent"] == round(100 * (data & chosen).mean(), 3)


def test_cloud_mask_at_10_m_follows_the_20_m_scl_by_nearest(demo_l2a, tmp_path):
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 10, format=PNG, cloud_mask="cloud")
    pixels, _ = decode(Path(render(spec, tmp_path).path))
    scl = read_file(scl_file(demo_l2a, 20)).repeat(2, axis=0).repeat(2, axis=1)
    expected = band_data(demo_l2a, 10) & ~np.isin(scl, CLOUD_CLASSES)
    assert pixels.shape == (4, 588, 588)
    assert np.array_equal(pixels[3] == 255, expected)


@pytest.mark.parametrize("preset", ["ndvi", "scl", "true-color-optimized", "false-color-urban"])
def test_every_kind_takes_the_cloud_mask(demo_l2a, tmp_path, preset):
    spec = spec_from_preset(preset, str(demo_l2a), resolution=20, format=PNG, cloud_mask="cloud")
    pixels, _ = decode(Path(render(spec, tmp_path).path))
    scl = read_file(scl_file(demo_l2a, 20))
    assert pixels.shape == (4, 294, 294)
    assert (pixels[3][np.isin(scl, CLOUD_CLASSES)] == 0).all()
    assert (pixels[3][scl == 4] == 255).mean() > 0.99  # vegetation stays


def run_in_strips(spec: RenderSpec, out: Path, rows: int):
    """Render ``spec`` cut into strips of ``rows`` rows (the in-process path, by hand)."""
    plan = plan_rendering(spec, out)
    w = plan.window
    cuts = [*range(0, int(w.height), rows), int(w.height)]
    strips = tuple(
        Window(w.col_off, w.row_off + a, w.width, b - a) for a, b in itertools.pairwise(cuts)
    )
    plan = replace(plan, strips=strips)
    results = []
    for i in range(len(strips)):
        arrays = [read_window(r.band_file, r.grid, r.window) for r in plan.reads(i)]
        results.append(compose_strip(plan, i, *arrays))
    return finalize_rendering(plan, results)


def test_dilation_grows_the_mask_across_strip_edges(demo_l2a, tmp_path):
    plain = RenderSpec(str(demo_l2a), TRUE_COLOUR, 20, format=PNG, cloud_mask="cloud")
    grown = replace(plain, cloud_dilation=3, name="grown")
    before = decode(Path(render(plain, tmp_path).path))[0][3] == 0
    after = decode(Path(run_in_strips(grown, tmp_path, rows=50).path))[0][3] == 0
    scl = read_file(scl_file(demo_l2a, 20))
    data = band_data(demo_l2a, 20)
    assert after.sum() > before.sum() and (after | ~before).all()
    assert np.array_equal(~after, data & ~dilate(np.isin(scl, CLOUD_CLASSES), 3))


def test_cloud_percent_with_a_mask_counts_the_scl_under_the_pixels_with_data(demo_l2a, tmp_path):
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 20, format=PNG, cloud_mask="cirrus")
    result = render(spec, tmp_path)
    scl, data = read_file(scl_file(demo_l2a, 20)), band_data(demo_l2a, 20)
    expected = 100 * np.count_nonzero(np.isin(scl, CLOUD_CLASSES) & data) / data.sum()
    assert result.cloud_percent == round(expected, 3)
    assert result.figures is not None and result.figures["cloud_source"]["resolution"] == 20


@pytest.mark.parametrize("fmt", [OutputFormat.JPEG, OutputFormat.PNG])
def test_cloud_percent_without_a_mask_comes_from_the_60_m_scl(demo_l2a, tmp_path, fmt):
    result = render(RenderSpec(str(demo_l2a), TRUE_COLOUR, 60, format=fmt), tmp_path)
    scl = read_file(scl_file(demo_l2a, 60))
    expected = 100 * np.isin(scl, CLOUD_CLASSES).sum() / np.count_nonzero(scl)
    assert result.cloud_percent == round(expected, 3) and 1 < expected < 99
    assert result.figures is not None
    assert result.figures["cloud_source"]["resolution"] == 60
    assert result.figures["cloud_masked_percent"] is None


def test_cloud_mask_needs_an_l2a_product(demo_l1c, tmp_path):
    spec = RenderSpec(str(demo_l1c), TRUE_COLOUR, 60, cloud_mask="clouds")
    with pytest.raises(SpecError, match="L1C: use the L2A product of the same scene") as caught:
        plan_rendering(spec, tmp_path)
    assert caught.value.field == "cloud_mask"


def test_cloud_mask_keeps_clouds_out_of_a_percentile_stretch(demo_l2a, tmp_path):
    stretch = Stretch(percentiles=(2.0, 98.0))
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 60, stretch=stretch)
    masked = render(replace(spec, cloud_mask="cloud", name="masked"), tmp_path)
    clear = render(spec, tmp_path)
    high = [sidecar_ranges(r.sidecar)[c][1] for r in (masked, clear) for c in range(3)]
    assert all(m < c for m, c in zip(high[:3], high[3:], strict=True))


def sidecar_ranges(path: str | None) -> list[list[float]]:
    assert path is not None
    return json.loads(Path(path).read_text())["stretch"]["ranges"]

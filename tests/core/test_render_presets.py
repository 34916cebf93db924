"""Every preset rendered in-process on the demo product and on real samples; each image decoded
and checked for the property the preset exists to show.

The demo scene's land cover is known from its own SCL layer (vegetation, bare soil, water,
clouds), so the checks look at the colours each preset gives those classes. Real samples: the
L1C crops of 33UUU (Brandenburg) and 18SVG (Chincoteague coast, half sea), and the L2A products
29RKH (Western Sahara desert) and 33TWL (96 % vegetation, cloud-free) from ../shared/data.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from s2render.core.colormap import get_colormap
from s2render.core.encode import OutputFormat
from s2render.core.errors import BandError, SpecError
from s2render.core.presets import get_preset, list_presets
from s2render.core.product import open_product
from s2render.core.reader import read_window
from s2render.core.render import RenderSpec, render, spec_from_preset
from s2render.core.stretch import Stretch, build_lut, parse_stretch
from tests.conftest import SHARED, decode

RES = 60  # the 588 px demo product at 60 m: 98 x 98 px
SIDE = 98
NODATA, VEGETATION, BARE, WATER, CLOUD = 0, 4, 5, 6, 9
PRESET_IDS = [p.id for p in list_presets()]
L1C_PRESETS = [p.id for p in list_presets() if "L1C" in p.levels]
EARTHSEARCH = SHARED / "s2_l2a_earthsearch_120m_mapchete_eo/static_catalog_33TWL_33TWM_2023-08"
TWL = EARTHSEARCH / "sentinel-2-l2a/S2A_33TWL_20230815_0_L2A"  # cloud-free, 96 % vegetation
RKH = SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_29RKH_20200219_0_L2A"  # desert


def render_png(spec: RenderSpec, out: Path) -> tuple[np.ndarray, dict]:
    result = render(spec, out)
    assert result.status == "done", result.error
    pixels, profile = decode(Path(result.path))
    assert profile["driver"] == "PNG" and profile["dtype"] == "uint8" and pixels.shape[0] == 4
    assert set(np.unique(pixels[3])) <= {0, 255}  # alpha is no data or data, nothing between
    return pixels, json.loads(Path(result.sidecar).read_text())


def preset_png(
    preset: str, product: Path, res: float, out: Path, **options
) -> tuple[np.ndarray, dict]:
    spec = spec_from_preset(
        preset, str(product), resolution=res, format=OutputFormat.PNG, **options
    )
    return render_png(spec, out)


def read_native(product: Path, band: str, res: float) -> np.ndarray:
    """A band file read as it is (it must be native at ``res``): the reference for exact checks."""
    with rasterio.open(open_product(product).files[(band, res)].path) as src:
        return src.read(1)


@pytest.fixture(scope="module")
def demo_scl(demo_l2a) -> np.ndarray:
    scl = read_native(demo_l2a, "SCL", RES)
    for cls in (NODATA, VEGETATION, BARE, WATER, CLOUD):
        assert np.count_nonzero(scl == cls) > 100, f"the demo scene lacks class {cls}"
    return scl


@pytest.fixture(scope="module")
def demo_renders(demo_l2a, tmp_path_factory) -> dict[str, tuple[np.ndarray, dict]]:
    out = tmp_path_factory.mktemp("presets")
    return {pid: preset_png(pid, demo_l2a, RES, out) for pid in PRESET_IDS}


def class_means(pixels: np.ndarray, scl: np.ndarray) -> dict[int, np.ndarray]:
    """Mean R, G, B of each land-cover class."""
    return {c: pixels[:3, scl == c].mean(axis=1) for c in (VEGETATION, BARE, WATER, CLOUD)}


def dark(rgb: np.ndarray, limit: float = 60) -> bool:
    return bool((rgb < limit).all())


# What each preset exists to show, in the colours of the demo scene's classes (mean R, G, B).
PROPERTIES = {
    "true-color": lambda m: (
        m[VEGETATION][1] > max(m[VEGETATION][0], m[VEGETATION][2])
        and m[CLOUD].min() > 240
        and m[WATER].sum() < m[BARE].sum()
    ),
    "true-color-optimized": lambda m: (
        m[VEGETATION][1] > max(m[VEGETATION][0], m[VEGETATION][2]) and 200 < m[CLOUD].min() < 245
    ),  # clouds compressed, not clipped
    "false-color": lambda m: (
        m[VEGETATION][0] > m[VEGETATION][1] + 100  # vegetation red
        and dark(m[WATER])
    ),
    "false-color-urban": lambda m: m[BARE].sum() > m[VEGETATION].sum() and dark(m[WATER], 30),
    "swir": lambda m: (
        dark(m[WATER], 40)  # water dark in SWIR
        and m[VEGETATION][1] > m[VEGETATION][0] + 100
    ),
    "agriculture": lambda m: (
        m[VEGETATION][1] > m[VEGETATION][0] > m[VEGETATION][2] and m[BARE][0] > m[VEGETATION][0]
    ),  # crops green, bare soil towards magenta/red
    "geology": lambda m: m[BARE].sum() > m[VEGETATION].sum() and dark(m[WATER], 40),
    "bathymetric": lambda m: m[WATER][2] > m[WATER][0] + 20,  # water blue
    "atmospheric-penetration": lambda m: m[VEGETATION][2] > max(m[VEGETATION][:2]) + 50,
    "ndvi": lambda m: (
        m[VEGETATION][1] > m[VEGETATION][0] + 50  # green end of the ramp
        and m[WATER][0] > m[WATER][1]
    ),  # water brown/red: NDVI < 0
    "ndwi": lambda m: m[WATER][2] > m[WATER][0] + 60 and m[VEGETATION].min() > 200,
    "moisture-index": lambda m: m[VEGETATION][2] > m[VEGETATION][0] and m[BARE][0] > m[BARE][2],
    "ndsi": lambda m: m[VEGETATION].sum() < m[WATER].sum(),  # no snow; vegetation well below 0
    "scl": lambda m: (m[VEGETATION] == (0, 160, 0)).all() and (m[WATER] == (0, 0, 255)).all(),
}


def test_every_preset_has_a_property_check():
    assert set(PROPERTIES) == set(PRESET_IDS)


@pytest.mark.parametrize("preset_id", PRESET_IDS)
def test_each_preset_shows_its_property_on_the_demo_product(preset_id, demo_renders, demo_scl):
    pixels, sidecar = demo_renders[preset_id]
    assert pixels.shape == (4, SIDE, SIDE)
    np.testing.assert_array_equal(pixels[3], np.where(demo_scl == NODATA, 0, 255))
    means = class_means(pixels, demo_scl)
    assert PROPERTIES[preset_id](means), {c: m.round().tolist() for c, m in means.items()}
    preset = get_preset(preset_id)
    assert sidecar["preset"]["id"] == preset_id and sidecar["preset"]["source"] == preset.source
    assert set(sidecar["bands"]) == set(preset.required_bands)


@pytest.mark.parametrize(
    ("preset_id", "kind", "stretch_type"),
    [
        ("true-color", "bands", "fixed"),
        ("true-color-optimized", "optimized", "optimized"),
        ("ndvi", "colormap", "colormap"),
        ("scl", "colormap", "classes"),
    ],
)
def test_sidecar_records_the_content_and_the_mapping_applied(
    preset_id, kind, stretch_type, demo_renders
):
    _, sidecar = demo_renders[preset_id]
    assert sidecar["kind"] == kind and sidecar["stretch"]["type"] == stretch_type
    if kind == "colormap":
        assert sidecar["expression"] == get_preset(preset_id).parsed[0].text
        assert sidecar["colormap"] == get_preset(preset_id).color_table().to_dict()
    if kind == "optimized":
        assert sidecar["stretch"]["curve"]["rayleigh"] == [0.0, 0.0, 0.0]  # the L2A curve


def test_scl_colours_are_exactly_the_class_table(demo_renders, demo_scl):
    pixels, _ = demo_renders["scl"]
    expected = get_colormap("scl").lut[demo_scl]  # class 0 transparent black
    np.testing.assert_array_equal(np.moveaxis(pixels, 0, -1), expected)


def test_index_colours_follow_the_formula_and_the_ramp(demo_l2a, demo_renders):
    # Moisture index (B8A - B11) / (B8A + B11): both bands are native at 60 m, so the reference
    # can read the files directly. Reflectance = (DN - 1000) / 10000 (baseline 05.09).
    pixels, _ = demo_renders["moisture-index"]
    b8a, b11 = (read_native(demo_l2a, b, RES).astype(np.float32) for b in ("B8A", "B11"))
    nir, swir = ((np.maximum((b - 1000) / 10000, 0)).astype(np.float32) for b in (b8a, b11))
    with np.errstate(invalid="ignore"):
        index = (nir - swir) / (nir + swir)
    index[(b8a == 0) | (b11 == 0)] = np.nan
    expected = get_preset("moisture-index").color_table().apply(index)
    difference = np.abs(np.moveaxis(pixels, 0, -1).astype(int) - expected)
    assert difference.max() <= 3 and np.mean(difference == 0) > 0.99


def test_optimized_true_colour_compresses_highlights_and_lifts_shadows(demo_renders, demo_scl):
    plain, _ = demo_renders["true-color"]
    optimized, _ = demo_renders["true-color-optimized"]
    cloud, vegetation = demo_scl == CLOUD, demo_scl == VEGETATION
    assert np.mean(optimized[:3, cloud] == 255) < 0.5 * np.mean(plain[:3, cloud] == 255)
    assert optimized[:3, vegetation].mean() > plain[:3, vegetation].mean()


def test_three_plain_expressions_match_the_band_composite(demo_l2a, tmp_path):
    stretch = Stretch(((0.0, 0.3),), gamma=1.25)
    bands, _ = render_png(
        RenderSpec(
            str(demo_l2a), ("B04", "B03", "B02"), RES, stretch=stretch, format=OutputFormat.PNG
        ),
        tmp_path,
    )
    maths, sidecar = render_png(
        RenderSpec(
            str(demo_l2a),
            expressions=("B04", "B03", "B02"),
            resolution=RES,
            stretch=stretch,
            format=OutputFormat.PNG,
        ),
        tmp_path,
    )
    assert sidecar["kind"] == "expressions" and sidecar["expressions"] == ["B04", "B03", "B02"]
    assert np.abs(bands.astype(int) - maths).max() <= 1


def test_user_expression_with_any_colour_map_and_range(demo_l2a, demo_scl, tmp_path):
    spec = RenderSpec(
        str(demo_l2a),
        expression="(b8a - b4) / (b8a + b4)",
        colormap="rdylgn",
        value_range=(-1.0, 1.0),
        resolution=RES,
        format=OutputFormat.PNG,
    )
    pixels, sidecar = render_png(spec, tmp_path)
    assert sidecar["expression"] == "(B8A - B04) / (B8A + B04)"
    assert sidecar["colormap"]["name"] == "rdylgn" and sidecar["colormap"]["range"] == [-1, 1]
    assert sidecar["stretch"] == {"type": "colormap", "colormap": "rdylgn", "range": [-1.0, 1.0]}
    veg, water = (pixels[:3, demo_scl == c].mean(axis=1) for c in (VEGETATION, WATER))
    assert veg[1] > veg[0] and water[0] > water[1]  # RdYlGn: green high, red low


def test_division_by_zero_is_no_data_not_a_crash(demo_l2a, demo_scl, tmp_path):
    spec = RenderSpec(
        str(demo_l2a), expression="B04 / (B04 - B04)", resolution=RES, format=OutputFormat.PNG
    )
    pixels, sidecar = render_png(spec, tmp_path)
    assert (pixels[3] == 0).all() and sidecar["figures"]["valid_percent"] == 0


def test_percentile_stretch_cuts_the_valid_pixels_at_2_and_98(demo_l2a, tmp_path):
    stretch = parse_stretch("p2,98", gamma=1.0)
    pixels, sidecar = render_png(
        RenderSpec(
            str(demo_l2a), ("B04", "B8A", "B12"), RES, stretch=stretch, format=OutputFormat.PNG
        ),
        tmp_path,
    )
    applied = sidecar["stretch"]
    assert applied["type"] == "percentile" and applied["percentiles"] == [2.0, 98.0]
    assert applied["scope"] == "rendering" and applied["renderings"] == 1
    dn = [read_native(demo_l2a, b, RES) for b in ("B04", "B8A", "B12")]
    valid = np.logical_and.reduce([d != 0 for d in dn])
    assert applied["pixels"] == np.count_nonzero(valid)
    for c, d in enumerate(dn):
        reflectance = np.maximum((d[valid] - 1000) / 10000, 0)
        lo, hi = applied["ranges"][c]
        assert lo == pytest.approx(np.percentile(reflectance, 2), abs=0.001)
        assert hi == pytest.approx(np.percentile(reflectance, 98), abs=0.001)
        lut = build_lut(offset=-1000, quantification=10000, low=lo, high=hi, gamma=1.0)
        np.testing.assert_array_equal(pixels[c], lut[d])  # the mapping is the recorded one
        clipped = sidecar["figures"]["clipped_high_percent"][c]
        assert 1 <= clipped <= 3.5  # about 2 % of valid pixels saturate at each end


@pytest.mark.parametrize("preset_id", L1C_PRESETS)
def test_l1c_presets_render_on_the_demo_l1c(preset_id, demo_l1c, tmp_path):
    pixels, sidecar = preset_png(preset_id, demo_l1c, RES, tmp_path)
    assert pixels.shape == (4, SIDE, SIDE) and pixels[:3].std() > 5
    if preset_id == "true-color-optimized":  # top of atmosphere: the haze-removing curve
        assert sidecar["stretch"]["curve"]["rayleigh"] == [0.013, 0.024, 0.041]


def test_scl_preset_on_l1c_is_refused_with_the_fix(demo_l1c, tmp_path):
    with pytest.raises(SpecError, match=r"preset 'scl' needs an L2A product.*L1C") as err:
        render(spec_from_preset("scl", str(demo_l1c), resolution=RES), tmp_path)
    assert err.value.field == "preset" and "same scene" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_an_expression_over_a_band_the_level_lacks_is_refused(uuu, tmp_path):
    with pytest.raises(BandError, match="SCL is not available in L1C"):
        render(RenderSpec(str(uuu), expression="SCL", colormap="scl", resolution=RES), tmp_path)


# --- real samples ---------------------------------------------------------------------------


@pytest.mark.parametrize("preset_id", L1C_PRESETS)
def test_l1c_presets_render_on_a_real_l1c_sample(preset_id, uuu, tmp_path):
    # A quarter of the 33UUU crop: its lossy 10 m files decode slowly.
    quarter = (330000.0, 5818200.0, 337680.0, 5822040.0)
    pixels, _ = preset_png(preset_id, uuu, RES, tmp_path, bbox=quarter, bbox_crs="product")
    assert pixels.shape == (4, 64, 128) and (pixels[3] == 255).all()
    assert pixels[:3].std() > 5  # an image, not a flat field


@pytest.fixture(scope="module")
def svg_water(svg) -> tuple[np.ndarray, np.ndarray]:
    """Sea and land of the 18SVG coast at 120 m, by McFeeters' NDWI of the band files."""
    product = open_product(svg)
    grid = product.grid(120)
    window = Window(0, 0, grid.width, grid.height)
    green, nir = (
        read_window(product.band_file(b, 120), grid, window).astype(float) for b in ("B03", "B08")
    )
    ndwi = (green - nir) / (green + nir)
    water, land = ndwi > 0.3, ndwi < -0.1
    assert water.mean() > 0.3 and land.mean() > 0.3
    return water, land


def test_real_coast_water_is_dark_in_swir(svg, svg_water, tmp_path):
    water, land = svg_water
    pixels, _ = preset_png("swir", svg, 120, tmp_path)
    assert np.median(pixels[:3, water], axis=1).max() < 60
    assert np.median(pixels[:3, land].sum(axis=0)) > 2 * np.median(pixels[:3, water].sum(axis=0))


def test_real_coast_ndvi_is_negative_on_water(svg, svg_water, tmp_path):
    water, land = svg_water
    pixels, _ = preset_png("ndvi", svg, 120, tmp_path)
    red, green = np.median(pixels[0, water]), np.median(pixels[1, water])
    assert red > green + 50  # the brown/red end: NDVI < 0
    assert np.median(pixels[1, land]) > np.median(pixels[0, land])  # land greener


def test_real_vegetation_is_green_in_ndvi_and_red_in_false_colour(tmp_path):
    scl_pixels, _ = preset_png("scl", TWL, 240, tmp_path)
    vegetation = (scl_pixels[:3] == np.array([0, 160, 0])[:, None, None]).all(axis=0)
    assert vegetation.mean() > 0.8
    ndvi, _ = preset_png("ndvi", TWL, 240, tmp_path)
    r, g, _b = np.median(ndvi[:3, vegetation], axis=1)
    assert g > r + 50  # the dense-canopy greens of the ramp
    ramp = get_preset("ndvi").color_table().lut  # 256 colours over NDVI -1..1
    above_half = {tuple(c[:3]) for c in ramp[round(1.5 / 2 * 255) :]}
    colours = map(tuple, ndvi[:3, vegetation].T.tolist())
    assert np.mean([c in above_half for c in colours]) > 0.8  # NDVI above 0.5
    false, _ = preset_png("false-color", TWL, 240, tmp_path)
    r, g, b = np.median(false[:3, vegetation], axis=1)
    assert r > g + 50 and r > b + 50


@pytest.mark.parametrize(("product", "res"), [(TWL, 120), (RKH, 200)], ids=["33TWL", "29RKH"])
def test_real_scl_colours_are_exactly_the_class_table(product, res, tmp_path):
    pixels, sidecar = preset_png("scl", product, res, tmp_path)
    scl = read_native(product, "SCL", res)
    np.testing.assert_array_equal(np.moveaxis(pixels, 0, -1), get_colormap("scl").lut[scl])
    assert sidecar["colormap"]["classes"][0] == {
        "value": 0,
        "name": "No data",
        "color": "#000000",
        "transparent": True,
    }


def test_real_desert_ndvi_shows_no_vegetation(tmp_path):
    pixels, _ = preset_png("ndvi", RKH, 600, tmp_path)
    valid = pixels[3] == 255
    assert valid.mean() > 0.95
    # Bare sand sits at NDVI ~0.1: tan and yellow (red >= green); no green canopy anywhere.
    assert np.mean(pixels[0, valid] >= pixels[1, valid]) > 0.95

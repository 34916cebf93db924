import io
import itertools
import json
import warnings

import numpy as np
import pytest
from PIL import Image

from s2render.core.colormap import (
    ClassEntry,
    ClassTable,
    Colormap,
    get_colormap,
    list_colormaps,
    render_legend,
)
from s2render.core.errors import SpecError

RAMPS = [name for name in list_colormaps() if isinstance(get_colormap(name), Colormap)]

# The L2A SCL legend as Sen2Cor/SNAP draw it (Sen2Cor Product Readme, L2A PDD).
SCL_COLOURS = {
    1: (255, 0, 0),
    2: (47, 47, 47),
    3: (100, 50, 0),
    4: (0, 160, 0),
    5: (255, 230, 90),
    6: (0, 0, 255),
    7: (128, 128, 128),
    8: (192, 192, 192),
    9: (255, 255, 255),
    10: (100, 200, 255),
    11: (255, 150, 255),
}


def _decode(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return Image.open(io.BytesIO(buffer.getvalue()))


def _ramp(name: str) -> Colormap:
    colormap = get_colormap(name)
    assert isinstance(colormap, Colormap)
    return colormap


def test_catalogue_has_the_index_and_perceptual_maps():
    expected = {"ndvi", "ndwi", "ndmi", "ndsi", "viridis", "magma", "inferno", "plasma"}
    expected |= {"cividis", "greys", "rdylgn", "rdbu", "spectral", "scl"}
    assert expected <= set(list_colormaps())


@pytest.mark.parametrize("name", RAMPS)
def test_stops_are_hit_exactly_at_their_values(name):
    colormap = _ramp(name)
    values = np.array([value for value, _ in colormap.stops])
    expected = np.array([(*rgb, 255) for _, rgb in colormap.stops], dtype=np.uint8)
    np.testing.assert_array_equal(colormap.apply(values), expected)


@pytest.mark.parametrize("name", RAMPS)
def test_each_channel_is_monotone_between_neighbouring_stops(name):
    colormap = _ramp(name)
    positions = colormap.positions
    for start, end in itertools.pairwise(positions):
        segment = colormap.lut[start : end + 1, :3].astype(int)
        steps = np.diff(segment, axis=0)
        assert ((steps >= 0).all(axis=0) | (steps <= 0).all(axis=0)).all(), (start, end)


@pytest.mark.parametrize("name", RAMPS)
def test_nan_is_transparent_and_everything_else_opaque(name):
    colormap = _ramp(name)
    lo, hi = colormap.value_range
    rgba = colormap.apply(np.array([[np.nan, lo, (lo + hi) / 2, hi]], dtype=np.float32))
    assert rgba.shape == (1, 4, 4) and rgba.dtype == np.uint8
    assert tuple(rgba[0, 0]) == (0, 0, 0, 0)
    assert (rgba[0, 1:, 3] == 255).all()


def test_values_outside_the_range_take_the_end_colours_without_warnings():
    ndvi = _ramp("ndvi")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rgba = ndvi.apply(np.array([-5.0, -np.inf, -1e300, 3.0, np.inf, 1e300]))
    np.testing.assert_array_equal(rgba[:3], [ndvi.lut[0]] * 3)
    np.testing.assert_array_equal(rgba[3:], [ndvi.lut[-1]] * 3)


@pytest.mark.parametrize(
    ("name", "value", "rgb"),
    [
        # matplotlib's 256-entry tables, entry 128 (value 0.5): the compressed stops must agree.
        ("viridis", 0.5, (0x21, 0x91, 0x8C)),
        ("magma", 0.5, (0xB7, 0x37, 0x79)),
        ("inferno", 0.5, (0xBC, 0x37, 0x54)),
        ("plasma", 0.5, (0xCC, 0x47, 0x78)),
        ("cividis", 0.5, (0x7D, 0x7C, 0x78)),
        ("rdylgn", 0.5, (0xFF, 0xFF, 0xBF)),
        ("rdbu", 0.0, (0x67, 0x00, 0x1F)),
        ("spectral", 1.0, (0x5E, 0x4F, 0xA2)),
        ("greys", 0.0, (255, 255, 255)),
    ],
)
def test_perceptual_maps_match_their_reference_colours(name, value, rgb):
    got = _ramp(name).apply(np.array([value]))[0, :3].astype(int)
    assert np.abs(got - rgb).max() <= 1


@pytest.mark.parametrize(
    ("value", "expected"),
    [(-0.5, "red"), (0.2, "yellow"), (0.7, "green")],
)
def test_ndvi_ramp_reads_like_eo_browser(value, expected):
    r, g, b, _ = (int(c) for c in _ramp("ndvi").apply(np.array([value]))[0])
    hue = {
        "red": r > g and r > b,
        "yellow": r > 200 and g > 200 and b < 150,
        "green": g > max(r, b),
    }
    assert hue[expected], (r, g, b)


def test_with_range_spreads_the_same_colours_over_new_values():
    viridis = _ramp("viridis")
    spread = viridis.with_range(-1.0, 1.0)
    assert spread.value_range == (-1.0, 1.0)
    np.testing.assert_array_equal(spread.lut, viridis.lut)
    np.testing.assert_array_equal(spread.apply(np.array([-1.0])), viridis.apply(np.array([0.0])))


def test_with_range_rejects_an_empty_range():
    with pytest.raises(SpecError, match="MAX must be greater"):
        _ramp("viridis").with_range(1.0, 1.0)


def test_r_suffix_reverses_a_ramp():
    np.testing.assert_array_equal(get_colormap("viridis_r").lut, _ramp("viridis").lut[::-1])


@pytest.mark.parametrize("value", sorted(SCL_COLOURS))
def test_scl_classes_map_to_exactly_the_table_colours(value):
    scl = get_colormap("scl")
    assert tuple(scl.apply(np.array([value], dtype=np.uint8))[0]) == (*SCL_COLOURS[value], 255)


def test_scl_no_data_is_transparent():
    assert get_colormap("scl").apply(np.array([0], dtype=np.uint8))[0, 3] == 0


@pytest.mark.parametrize(
    "values", [np.array([12, 99, 255, -1], dtype=np.int16), np.array([np.nan, 4.5, 12.0, -1.0])]
)
def test_values_outside_the_class_table_are_transparent(values):
    assert (get_colormap("scl").apply(values)[..., 3] == 0).all()


def test_class_table_accepts_float_class_values():
    rgba = get_colormap("scl").apply(np.array([[4.0, 6.0]], dtype=np.float32))
    assert rgba.shape == (1, 2, 4) and tuple(rgba[0, 1]) == (0, 0, 255, 255)


@pytest.mark.parametrize(
    ("name", "suggestion"), [("virdis", "viridis"), ("ndiv", "ndvi"), ("SLC", "scl")]
)
def test_unknown_names_are_rejected_with_suggestions(name, suggestion):
    with pytest.raises(SpecError, match=f"did you mean [^?]*{suggestion}") as err:
        get_colormap(name)
    assert err.value.field == "colormap"


def test_class_tables_cannot_be_reversed():
    with pytest.raises(SpecError, match="unknown colour map 'scl_r'"):
        get_colormap("scl_r")


@pytest.mark.parametrize("name", ["Viridis", " RdYlGn ", "NDVI"])
def test_names_are_case_insensitive(name):
    assert get_colormap(name).name == name.strip().lower()


@pytest.mark.parametrize(
    "stops",
    [
        ((0.0, (0, 0, 0)),),
        ((1.0, (0, 0, 0)), (0.0, (255, 255, 255))),
        ((0.0, (0, 0, 0)), (0.001, (9, 9, 9)), (1.0, (255, 255, 255))),
        ((0.0, (0, 0, 0)), (1.0, (256, 0, 0))),
    ],
)
def test_malformed_ramps_are_rejected(stops):
    with pytest.raises(SpecError):
        Colormap("bad", stops)


@pytest.mark.parametrize("name", list_colormaps())
def test_to_dict_is_json(name):
    assert json.loads(json.dumps(get_colormap(name).to_dict()))["name"] == name


def test_ramp_legend_is_a_colour_bar_with_labels():
    legend = _decode(render_legend(_ramp("viridis"), title="Viridis", width=300))
    assert legend.mode == "RGBA" and legend.width == 300
    pixels = np.asarray(legend)
    colours = {tuple(p) for p in pixels.reshape(-1, 4)}
    assert len(colours) > 100  # the gradient
    assert (0, 0, 0, 255) in colours  # text and outline ink
    for end in (_ramp("viridis").lut[0], _ramp("viridis").lut[-1]):  # within one LUT step
        assert np.abs(pixels[..., :3].astype(int) - end[:3]).sum(axis=-1).min() <= 6


def test_class_legend_shows_a_swatch_of_every_visible_class():
    legend = _decode(render_legend(get_colormap("scl"), title="SCL"))
    colours = {tuple(p[:3]) for p in np.asarray(legend.convert("RGBA")).reshape(-1, 4)}
    assert set(SCL_COLOURS.values()) <= colours


def test_legend_title_changes_the_image():
    plain = np.asarray(render_legend(_ramp("ndvi"), title="A"))
    titled = np.asarray(render_legend(_ramp("ndvi"), title="NDVI 2024-06-01"))
    assert plain.shape == titled.shape and not np.array_equal(plain, titled)


@pytest.mark.parametrize("name", ["ndvi", "scl"])
def test_legend_honours_an_explicit_size(name):
    assert render_legend(get_colormap(name), width=200, height=300).size == (200, 300)


@pytest.mark.parametrize(("name", "height"), [("ndvi", 20), ("scl", 60)])
def test_legend_too_small_for_its_content_is_rejected(name, height):
    with pytest.raises(SpecError, match="at least") as err:
        render_legend(get_colormap(name), height=height)
    assert err.value.field == "height"


def test_class_table_rejects_duplicate_values():
    with pytest.raises(SpecError, match="unique"):
        ClassTable("bad", (ClassEntry(1, "a", (0, 0, 0)), ClassEntry(1, "b", (1, 1, 1))))

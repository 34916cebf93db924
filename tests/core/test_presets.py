import json
import re

import numpy as np
import pytest

from s2render.core.bands import check_band
from s2render.core.colormap import ClassTable, Colormap, get_colormap, render_legend
from s2render.core.errors import SpecError
from s2render.core.expression import parse_expression
from s2render.core.presets import (
    CATALOGUE_VERSION,
    Preset,
    PresetStretch,
    get_preset,
    list_presets,
)
from s2render.core.stretch import Stretch

PRESETS = list_presets()
IDS = [p.id for p in PRESETS]
COMPOSITES = [p for p in PRESETS if p.kind == "composite"]
COLOURED = [p for p in PRESETS if p.kind != "composite"]


@pytest.mark.parametrize(
    ("preset_id", "bands"),
    [
        ("true-color", ("B04", "B03", "B02")),
        ("true-color-optimized", ("B04", "B03", "B02")),
        ("false-color", ("B08", "B04", "B03")),
        ("false-color-urban", ("B12", "B11", "B04")),
        ("swir", ("B12", "B8A", "B04")),
        ("agriculture", ("B11", "B08", "B02")),
        ("geology", ("B12", "B11", "B02")),
        ("bathymetric", ("B04", "B03", "B01")),
        ("atmospheric-penetration", ("B12", "B11", "B8A")),
    ],
)
def test_composites_use_the_customary_bands(preset_id, bands):
    preset = get_preset(preset_id)
    assert (preset.kind, preset.bands) == ("composite", bands)


@pytest.mark.parametrize(
    ("preset_id", "formula", "colormap"),
    [
        ("ndvi", "(B08-B04)/(B08+B04)", "ndvi"),
        ("ndwi", "(B03-B08)/(B03+B08)", "ndwi"),
        ("moisture-index", "(B8A-B11)/(B8A+B11)", "ndmi"),
        ("ndsi", "(B03-B11)/(B03+B11)", "ndsi"),
        ("scl", "SCL", "scl"),
    ],
)
def test_indices_use_the_published_formulas(preset_id, formula, colormap):
    preset = get_preset(preset_id)
    assert preset.parsed[0] == parse_expression(formula) and preset.colormap == colormap


@pytest.mark.parametrize("preset", PRESETS, ids=IDS)
def test_every_expression_in_the_catalogue_parses(preset):
    texts = preset.bands if preset.kind == "composite" else (preset.expression,)
    assert all(parse_expression(text) for text in texts)


@pytest.mark.parametrize("preset", COLOURED, ids=[p.id for p in COLOURED])
def test_every_colormap_in_the_catalogue_exists(preset):
    assert get_colormap(preset.colormap).name == preset.colormap


@pytest.mark.parametrize("preset", PRESETS, ids=IDS)
def test_every_band_is_available_at_every_declared_level(preset):
    for level in preset.levels:
        for band in preset.required_bands:
            assert check_band(band, level) == band


@pytest.mark.parametrize("preset", PRESETS, ids=IDS)
def test_every_preset_cites_its_source(preset):
    assert re.search(r"https?://|\b(19|20)\d\d\b", preset.source)


def test_ids_are_unique_kebab_case():
    assert len(set(IDS)) == len(IDS)
    assert all(re.fullmatch(r"[a-z]+(-[a-z]+)*", i) for i in IDS)


def test_scene_classification_is_l2a_only():
    assert get_preset("scl").levels == {"L2A"}


def test_ndvi_preset_computes_ndvi():
    ndvi = get_preset("ndvi").parsed[0]
    result = ndvi.evaluate({"B08": np.array([0.5]), "B04": np.array([0.1])})
    np.testing.assert_allclose(result, [0.4 / 0.6], rtol=1e-6)


@pytest.mark.parametrize("preset", PRESETS, ids=IDS)
def test_to_dict_is_json_with_the_catalogue_version(preset):
    data = json.loads(json.dumps(preset.to_dict()))
    assert data["id"] == preset.id and data["catalogue_version"] == CATALOGUE_VERSION
    assert data["required_bands"] == list(preset.required_bands)


def test_to_dict_describes_the_stretch():
    assert get_preset("true-color-optimized").to_dict()["stretch"] == {"kind": "optimized"}
    assert get_preset("false-color").to_dict()["stretch"] == {
        "kind": "fixed",
        "range": [0.0, 0.4],
        "gamma": 1.0,
    }


@pytest.mark.parametrize("name", ["NDVI", " ndvi ", "moisture_index"])
def test_get_preset_forgives_case_and_underscores(name):
    assert get_preset(name).id == name.strip().lower().replace("_", "-")


def test_unknown_preset_is_rejected_with_suggestions_and_the_list():
    with pytest.raises(SpecError, match=r"did you mean [^?]*ndvi") as err:
        get_preset("nvdi")
    assert all(i in str(err.value) for i in IDS) and err.value.field == "preset"


def test_index_colour_table_spans_the_value_range():
    table = get_preset("ndvi").color_table()
    assert isinstance(table, Colormap) and table.value_range == (-1.0, 1.0)


def test_class_preset_colour_table_is_the_scl_table():
    assert isinstance(get_preset("scl").color_table(), ClassTable)


def test_composite_has_no_colour_table():
    with pytest.raises(SpecError, match="no colour map"):
        get_preset("true-color").color_table()


@pytest.mark.parametrize("preset", COLOURED, ids=[p.id for p in COLOURED])
def test_every_coloured_preset_has_a_legend(preset):
    legend = render_legend(preset.color_table(), title=preset.title)
    colours = np.unique(np.asarray(legend).reshape(-1, 4), axis=0)
    assert legend.mode == "RGBA" and len(colours) > 5


def test_fixed_stretch_converts_to_a_core_stretch():
    assert PresetStretch(range=(0.0, 0.4), gamma=1.0).to_stretch() == Stretch(((0.0, 0.4),), 1.0)


def test_optimized_stretch_has_no_fixed_equivalent():
    with pytest.raises(SpecError, match="tone curve"):
        get_preset("true-color-optimized").stretch.to_stretch()


SHAPE = "a composite needs three bands"
TEST_STRETCH = PresetStretch()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "composite", "bands": ("B04", "B03"), "stretch": TEST_STRETCH}, SHAPE),
        ({"kind": "composite", "bands": ("B04", "B03", "B02")}, SHAPE),
        ({"kind": "index", "expression": "B04", "colormap": "viridis"}, SHAPE),
        ({"kind": "other", "expression": "B04"}, SHAPE),
        (
            {"kind": "classes", "expression": "SCL", "colormap": "scl", "stretch": TEST_STRETCH},
            SHAPE,
        ),
        (
            {
                "kind": "composite",
                "bands": ("B04", "B03", "B02"),
                "stretch": TEST_STRETCH,
                "colormap": "viridis",
            },
            SHAPE,
        ),
        (
            {"kind": "index", "expression": "B04", "colormap": "nope", "value_range": (0, 1)},
            "unknown colour map",
        ),
        (
            {"kind": "index", "expression": "B04 +", "colormap": "viridis", "value_range": (0, 1)},
            "not valid",
        ),
        (
            {"kind": "index", "expression": "B04", "colormap": "viridis", "value_range": (1, 0)},
            "is empty",
        ),
        (
            {"kind": "index", "expression": "SCL", "colormap": "scl", "value_range": (0, 11)},
            "needs a colour ramp",
        ),
        ({"kind": "classes", "expression": "SCL", "colormap": "viridis"}, "needs a class table"),
        (
            {"kind": "composite", "bands": ("B10", "B04", "B03"), "stretch": TEST_STRETCH},
            "B10, which L2A",
        ),
        (
            {
                "kind": "classes",
                "expression": "SCL",
                "colormap": "scl",
                "levels": frozenset({"L1C"}),
            },
            "SCL, which L1C",
        ),
        (
            {
                "kind": "classes",
                "expression": "SCL",
                "colormap": "scl",
                "levels": frozenset({"L3"}),
            },
            "must be among",
        ),
    ],
)
def test_malformed_presets_are_rejected_with_the_reason(options, message):
    with pytest.raises(SpecError, match=message):
        Preset("bad", "Bad", "", source="test", **options)


def test_preset_stretch_validates_its_range():
    with pytest.raises(SpecError, match="MAX must be greater"):
        PresetStretch(range=(0.4, 0.0))

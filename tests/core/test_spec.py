"""RenderSpec: which combinations of content are a rendering, and spec_from_preset."""

from __future__ import annotations

import pickle

import pytest

from s2render.core.errors import SpecError
from s2render.core.expression import ExpressionError
from s2render.core.presets import get_preset, list_presets
from s2render.core.spec import RenderSpec, spec_from_preset
from s2render.core.stretch import Stretch, parse_stretch

PERCENTILE = parse_stretch("p2,98")


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"bands": ("B04", "B03", "B02")}, "bands"),
        ({"bands": ("B04", "B03", "B02"), "stretch": PERCENTILE}, "bands"),
        ({"bands": ("B04", "B03", "B02"), "tonemap": "optimized"}, "optimized"),
        ({"expressions": ("B04*2", "B03", "B02+B01")}, "expressions"),
        ({"expressions": ("B04", "B03", "B02"), "stretch": PERCENTILE}, "expressions"),
        ({"expression": "(B08-B04)/(B08+B04)"}, "colormap"),
        ({"expression": "B08/B04", "colormap": "magma_r", "value_range": (0, 8)}, "colormap"),
        ({"expression": "SCL", "colormap": "scl"}, "colormap"),
    ],
)
def test_valid_content(fields, kind):
    spec = RenderSpec("product", **fields)
    assert spec.kind == kind
    assert pickle.loads(pickle.dumps(spec)) == spec  # travels to Dask workers


def test_the_seed_constructor_still_works():
    spec = RenderSpec("product", ("B04", "B03", "B02"), 20)
    assert (spec.bands, spec.resolution, spec.kind, spec.stretch) == (
        ("B04", "B03", "B02"),
        20,
        "bands",
        Stretch(),
    )


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({}, "bands", "nothing to render"),
        ({"preset": "ndvi"}, "bands", "spec_from_preset"),
        ({"bands": ("B04", "B03")}, "bands", "three bands"),
        (
            {"bands": ("B04", "B03", "B02"), "expression": "B08"},
            "expression",
            "only one of bands / expression",
        ),
        ({"expressions": ("B04", "B03")}, "expressions", "three expressions"),
        ({"expression": "B04 +"}, "expression", "not valid"),
        ({"expressions": ("B04", "B03", "eval(1)")}, "expression", "not an allowed function"),
        ({"expression": "B04", "colormap": "nope"}, "colormap", "unknown colour map"),
        ({"expression": "SCL", "colormap": "scl", "value_range": (0, 1)}, "value_range", "class"),
        ({"expression": "B04", "value_range": (1, 0)}, "value_range", "MAX must be greater"),
        ({"bands": ("B04", "B03", "B02"), "colormap": "viridis"}, "colormap", "one expression"),
        ({"expressions": ("B04", "B03", "B02"), "value_range": (0, 1)}, "value_range", "one"),
        ({"expression": "B04", "stretch": PERCENTILE}, "stretch", "value_range"),
        ({"expressions": ("B04", "B03", "B02"), "tonemap": "optimized"}, "tonemap", "three"),
        ({"bands": ("B04", "B03", "B02"), "tonemap": "funky"}, "tonemap", "unknown"),
        (
            {"bands": ("B04", "B03", "B02"), "tonemap": "optimized", "stretch": PERCENTILE},
            "stretch",
            "tone curve",
        ),
        ({"bands": ("B04", "B03", "B02"), "resolution": 0}, "resolution", "positive"),
    ],
)
def test_invalid_content_names_the_field_and_the_fix(fields, field, message):
    with pytest.raises(SpecError, match=message) as err:
        RenderSpec("product", **fields)
    assert err.value.field == field


def test_unknown_names_in_an_expression_are_named():
    with pytest.raises(ExpressionError, match="'NIR'"):
        RenderSpec("product", expression="(NIR - B04) / (NIR + B04)")


@pytest.mark.parametrize("preset", list_presets(), ids=lambda p: p.id)
def test_every_preset_becomes_a_spec(preset):
    spec = spec_from_preset(preset.id, "product", resolution=20)
    assert spec.preset == preset.id and spec.resolution == 20
    expected = {
        "composite": "optimized"
        if preset.stretch and preset.stretch.kind == "optimized"
        else "bands",
        "index": "colormap",
        "classes": "colormap",
    }[preset.kind]
    assert spec.kind == expected
    if preset.kind == "index":
        assert spec.color_table() == preset.color_table()
    if spec.kind == "bands":
        assert spec.bands == preset.bands and spec.stretch == preset.stretch.to_stretch()


def test_preset_overrides():
    assert spec_from_preset("swir", "p", stretch=PERCENTILE).stretch == PERCENTILE
    ndvi = spec_from_preset("ndvi", "p", colormap="viridis", value_range=(0.0, 1.0))
    assert ndvi.color_table().name == "viridis" and ndvi.color_table().value_range == (0, 1)


@pytest.mark.parametrize(
    ("preset", "options", "field"),
    [
        ("swir", {"colormap": "viridis"}, "colormap"),
        ("true-color-optimized", {"stretch": Stretch()}, "stretch"),
        ("ndvi", {"stretch": PERCENTILE}, "stretch"),
        ("scl", {"value_range": (0.0, 1.0)}, "value_range"),
        ("nvdi", {}, "preset"),
    ],
)
def test_preset_overrides_that_do_not_apply_are_refused(preset, options, field):
    with pytest.raises(SpecError) as err:
        spec_from_preset(preset, "p", **options)
    assert err.value.field == field


def test_unknown_preset_suggests_the_close_one():
    with pytest.raises(SpecError, match=r"did you mean .*ndvi"):
        spec_from_preset("nvdi", "p")
    assert get_preset("NDVI").id == "ndvi"

"""``s2render render --preset/--expr/--stretch p``, ``s2render presets``, ``s2render legend``;
every image reopened and checked."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2render.core.colormap import get_colormap
from s2render.core.presets import CATALOGUE_VERSION, list_presets
from tests.cli.helpers import invoke, records
from tests.conftest import decode


def sidecar(record: dict) -> dict:
    return json.loads(Path(record["sidecar"]).read_text())


def test_one_rendering_per_preset(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--preset", "ndvi,scl,true-color-optimized", "--res", "60",
        "--format", "png", "--out", tmp_path, "--json",
    )  # fmt: skip
    found = records(result)
    assert [sidecar(r)["preset"]["id"] for r in found] == ["ndvi", "scl", "true-color-optimized"]
    for r in found:
        pixels, profile = decode(Path(r["path"]))
        assert profile["driver"] == "PNG" and pixels.shape == (4, 98, 98)
        assert pixels.dtype == np.uint8 and pixels[:3].std() > 5
    scl, _ = decode(Path(found[1]["path"]))
    colours = {tuple(c) for c in np.moveaxis(scl, 0, -1).reshape(-1, 4).tolist()}
    assert colours <= {tuple(c) for c in get_colormap("scl").lut.tolist()}


def test_a_preset_per_resolution(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--preset", "swir,swir", "--res", "60,120", "--out", tmp_path,
        "--json",
    )  # fmt: skip
    shapes = [decode(Path(r["path"]))[0].shape for r in records(result)]
    assert shapes == [(3, 98, 98), (3, 49, 49)]


def test_expression_with_colour_map_and_range(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--expr", "(B08-B04)/(B08+B04)", "--colormap", "rdylgn",
        "--range", "-1,1", "--res", "60", "--format", "png", "--out", tmp_path, "--json",
    )  # fmt: skip
    (found,) = records(result)
    pixels, _ = decode(Path(found["path"]))
    assert pixels.shape == (4, 98, 98)
    document = sidecar(found)
    assert document["expression"] == "(B08 - B04) / (B08 + B04)"
    assert document["stretch"] == {"type": "colormap", "colormap": "rdylgn", "range": [-1.0, 1.0]}


def test_three_expressions_with_a_job_wide_percentile_stretch(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--expr", "B04", "--expr", "B03", "--expr", "B02 * 1.5",
        "--res", "60,120", "--stretch", "p2,98", "--stretch-scope", "job", "--format", "png",
        "--out", tmp_path, "--json",
    )  # fmt: skip
    first, second = records(result)
    a, b = sidecar(first)["stretch"], sidecar(second)["stretch"]
    assert a["type"] == "percentile" and a["scope"] == "job" and a["renderings"] == 2
    assert a == b
    for r, side in ((first, 98), (second, 49)):
        pixels, _ = decode(Path(r["path"]))
        assert pixels.shape == (4, side, side) and pixels[:3].max() == 255


def test_seed_lists_take_a_percentile_stretch(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, "--res", "60", "--r", "B04", "--g", "B03", "--b", "B02",
        "--stretch", "p", "--out", tmp_path, "--json",
    )  # fmt: skip
    (found,) = records(result)
    assert sidecar(found)["stretch"]["percentiles"] == [2.0, 98.0]
    assert decode(Path(found["path"]))[0].shape == (3, 98, 98)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nvdi"], "did you mean"),
        (["--preset", "ndvi", "--r", "B04"], "do not go together"),
        (["--preset", "ndvi", "--stretch", "p2,98"], "percentile stretch applies to composites"),
        (["--preset", "swir", "--colormap", "viridis"], "not a colour map"),
        (["--expr", "B04 +"], "not valid"),
        (["--expr", "B04", "--expr", "B03"], "once"),
        (["--expr", "NIR / B04"], "unknown name"),
        (["--expr", "B04", "--colormap", "nope"], "unknown colour map"),
        (["--expr", "B04", "--range", "1"], "MIN,MAX"),
        (["--expr", "B04", "--colormap", "scl", "--range", "0,1"], "class table"),
        (["--res", "60", "--r", "B04", "--g", "B03", "--b", "B02", "--stretch", "p9"], "p2,98"),
    ],
)
def test_bad_preset_and_expression_input_is_one_clear_line(demo_l2a, tmp_path, args, message):
    result = invoke("render", demo_l2a, *args, "--out", tmp_path)
    assert result.exit_code == 2 and message in result.output
    assert not list(tmp_path.iterdir())


def test_scl_preset_on_l1c_is_refused_before_rendering(uuu, tmp_path):
    result = invoke("render", uuu, "--preset", "scl", "--out", tmp_path)
    assert result.exit_code == 2
    assert "preset 'scl' needs an L2A product" in result.output
    assert not list(tmp_path.iterdir())


def test_presets_lists_the_catalogue():
    result = invoke("presets")
    assert result.exit_code == 0
    for preset in list_presets():
        assert preset.id in result.output and preset.source in result.output
    assert "(B08 - B04) / (B08 + B04)" in result.output and "B12 B8A B04" in result.output


def test_presets_json():
    result = invoke("presets", "--json")
    document = json.loads(result.stdout)
    assert document["catalogue_version"] == CATALOGUE_VERSION
    assert [p["id"] for p in document["presets"]] == [p.id for p in list_presets()]
    scl = document["presets"][-1]
    assert scl["levels"] == ["L2A"] and scl["kind"] == "classes" and scl["expression"] == "SCL"


@pytest.mark.parametrize(
    ("name", "extra"),
    [("ndvi", []), ("scl", []), ("viridis", ["--range", "0,0.5"]), ("rdylgn", ["--width", "200"])],
)
def test_legend_images_decode(name, extra, tmp_path):
    out = tmp_path / "legends" / f"{name}.png"
    result = invoke("legend", name, out, *extra)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    with Image.open(out) as image:
        assert image.format == "PNG" and image.mode == "RGBA"
        width, height = image.size
        pixels = np.asarray(image)
    assert width == (200 if "--width" in extra else 320) and 30 < height < 400
    assert pixels.dtype == np.uint8 and len(np.unique(pixels.reshape(-1, 4), axis=0)) > 10
    assert [p.name for p in out.parent.iterdir()] == [out.name]  # no temporary left


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("swir", [], "composite"),
        ("nope", [], "neither a preset"),
        ("scl", ["--range", "0,1"], "class table"),
    ],
)
def test_legend_refusals(name, extra, message, tmp_path):
    result = invoke("legend", name, tmp_path / "x.png", *extra)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "x.png").exists()

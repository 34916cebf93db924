"""``s2render render --geometry/--crs/--max-size/--width/--height``; outputs reopened."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.features import geometry_mask
from rasterio.warp import transform_geom

from tests.cli.test_render_cli import invoke
from tests.conftest import decode

TRUE = ["--res", "10", "--r", "B04", "--g", "B03", "--b", "B02"]
TRIANGLE = {
    "type": "Polygon",
    "coordinates": [[[12.02, 53.17], [12.08, 53.172], [12.05, 53.205], [12.02, 53.17]]],
}


@pytest.fixture
def geojson_file(tmp_path) -> Path:
    path = tmp_path / "field.geojson"
    feature = {"type": "Feature", "properties": {}, "geometry": TRIANGLE}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def test_geometry_file_crs_and_max_size_give_a_masked_georeferenced_preview(
    demo_l2a, tmp_path, geojson_file
):
    result = invoke(
        "render", demo_l2a, *TRUE, "--geometry", geojson_file, "--crs", "EPSG:3857",
        "--max-size", "80", "--format", "geotiff", "--out", tmp_path / "out", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    assert record["status"] == "done" and max(record["width"], record["height"]) == 80
    with rasterio.open(record["path"]) as src:
        assert src.crs.to_epsg() == 3857 and src.count == 4
        pixels, transform = src.read(), src.transform
    inside = geometry_mask(
        [transform_geom("EPSG:4326", "EPSG:3857", TRIANGLE)],
        out_shape=pixels.shape[1:],
        transform=transform,
        invert=True,
    )
    assert (pixels[3][~inside] == 0).all() and (pixels[3][inside] == 255).mean() > 0.95
    sidecar = json.loads(Path(record["sidecar"]).read_text())
    # A FeatureCollection's polygons are one MultiPolygon.
    assert sidecar["area"]["geometry"] == {
        "type": "MultiPolygon",
        "coordinates": [TRIANGLE["coordinates"]],
    }
    assert sidecar["output"]["max_size"] == 80 and sidecar["crs"] == "EPSG:3857"


def test_inline_geometry_and_width_height(demo_l2a, tmp_path):
    result = invoke(
        "render", demo_l2a, *TRUE, "--geometry", json.dumps(TRIANGLE), "--width", "120",
        "--height", "60", "--format", "png", "--out", tmp_path, "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)
    pixels, profile = decode(Path(record["path"]))
    assert profile["driver"] == "PNG" and pixels.shape == (4, 60, 120)
    assert 0 < np.count_nonzero(pixels[3]) < pixels[3].size


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--geometry", "{bad"], "geometry is not JSON"),
        (["--geometry", "missing.geojson"], "neither GeoJSON text nor a readable file"),
        (["--geometry", '{"type": "Point", "coordinates": [1, 2]}'], "'Point'"),
        (["--crs", "EPSG:0"], "is not a CRS"),
        (["--max-size", "0"], "--max-size"),
        (["--max-size", "64", "--width", "64"], "choose one"),
        (["--geometry", json.dumps(TRIANGLE), "--bbox", "12,53,12.1,53.1"], "choose one area"),
    ],
)
def test_bad_area_options_are_one_clear_line(demo_l2a, tmp_path, args, message):
    result = invoke("render", demo_l2a, *TRUE, *args, "--out", tmp_path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not list(tmp_path.iterdir())  # nothing rendered

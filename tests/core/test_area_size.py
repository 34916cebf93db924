"""Area and size (issue #4 part 5): polygon masks, output CRS, max_size / width / height, and
previews decoded from the JPEG 2000 reduced-resolution levels. Every output is decoded."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.warp import reproject, transform_bounds, transform_geom

from s2render.core.colormap import get_colormap
from s2render.core.encode import OutputFormat
from s2render.core.errors import AreaError, SpecError
from s2render.core.render import RenderSpec, plan_rendering, render, spec_from_preset
from s2render.core.stretch import parse_stretch
from tests.conftest import decode

TRUE = ("B04", "B03", "B02")
# Inside the demo product (lon 12.005-12.096, lat 53.159-53.214): concave, with a hole.
POLYGON = {
    "type": "Polygon",
    "coordinates": [
        [[12.02, 53.17], [12.08, 53.168], [12.085, 53.205], [12.05, 53.19], [12.015, 53.2],
         [12.02, 53.17]],
        [[12.04, 53.18], [12.06, 53.18], [12.05, 53.188], [12.04, 53.18]],
    ],
}  # fmt: skip
BBOX = (12.02, 53.17, 12.08, 53.205)
DEMO_WEST, DEMO_NORTH = 300000.0, 5900040.0  # the demo product's top-left corner (UTM 33N)


def sidecar(result) -> dict:
    assert result.status == "done", result.error
    return json.loads(Path(result.sidecar).read_text())


@pytest.fixture(scope="module")
def whole(demo_l2a, tmp_path_factory) -> np.ndarray:
    """The whole demo product as PNG (RGBA) on its own 10 m grid."""
    result = render(
        RenderSpec(str(demo_l2a), TRUE, format=OutputFormat.PNG),
        tmp_path_factory.mktemp("whole"),
    )
    pixels, _ = decode(result.path)
    return pixels


def crop_of_whole(whole: np.ndarray, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    col = round((transform.c - DEMO_WEST) / 10)
    row = round((DEMO_NORTH - transform.f) / 10)
    return whole[:, row : row + shape[0], col : col + shape[1]]


def inside_of(geometry: dict, crs: str, transform: Affine, shape: tuple[int, int]) -> np.ndarray:
    moved = transform_geom("EPSG:4326", crs, geometry)
    return geometry_mask([moved], out_shape=shape, transform=transform, invert=True)


# -- polygons ------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", [OutputFormat.PNG, OutputFormat.GTIFF])
def test_pixels_outside_the_polygon_are_transparent_and_inside_unchanged(
    demo_l2a, tmp_path, whole, fmt
):
    result = render(RenderSpec(str(demo_l2a), TRUE, geometry=POLYGON, format=fmt), tmp_path)
    side = sidecar(result)
    pixels, profile = decode(result.path)
    assert pixels.shape[0] == 4 and pixels.dtype == np.uint8
    transform = Affine(*side["transform"])
    if fmt is OutputFormat.GTIFF:
        assert profile["crs"].to_epsg() == 32633 and profile["transform"] == transform
    shape = pixels.shape[1:]
    inside = inside_of(POLYGON, side["crs"], transform, shape)
    assert 0 < inside.sum() < inside.size  # the polygon is not its bounding box
    expected = np.where(inside, crop_of_whole(whole, transform, shape), 0)
    np.testing.assert_array_equal(pixels, expected)  # RGBA: 0 outside, the same image inside


def test_valid_percent_counts_only_the_pixels_inside(demo_l2a, tmp_path):
    result = render(
        RenderSpec(str(demo_l2a), TRUE, geometry=POLYGON, format=OutputFormat.PNG), tmp_path
    )
    side = sidecar(result)
    pixels, _ = decode(result.path)
    inside = inside_of(POLYGON, side["crs"], Affine(*side["transform"]), pixels.shape[1:])
    assert side["area"]["pixels_inside"] == int(inside.sum())
    shown = np.count_nonzero(pixels[3])
    assert result.valid_percent == round(100 * shown / inside.sum(), 3)
    assert result.valid_percent > 80  # the demo's no-data stripe crosses only a corner


def test_jpeg_is_black_outside_the_polygon(demo_l2a, tmp_path):
    result = render(RenderSpec(str(demo_l2a), TRUE, geometry=POLYGON), tmp_path)
    side = sidecar(result)
    pixels, profile = decode(result.path)
    assert profile["driver"] == "JPEG" and pixels.shape[0] == 3
    inside = inside_of(POLYGON, side["crs"], Affine(*side["transform"]), pixels.shape[1:])
    # Beyond a 16 px margin (JPEG's chroma blocks blur the edge) outside is black.
    near = inside.copy()
    for axis in (0, 1):
        grown = near.copy()
        for shift in range(1, 17):
            grown |= np.roll(near, shift, axis) | np.roll(near, -shift, axis)
        near = grown
    assert pixels[:, ~near].max() <= 4 and (~near).sum() > 1000
    assert pixels[:, inside].mean() > 30


def test_a_multipolygon_feature_collection_masks_each_part(demo_l2a, tmp_path):
    squares = [
        [[[12.01, 53.165], [12.03, 53.165], [12.03, 53.175], [12.01, 53.175], [12.01, 53.165]]],
        [[[12.07, 53.195], [12.09, 53.195], [12.09, 53.21], [12.07, 53.21], [12.07, 53.195]]],
    ]
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": s}}
            for s in squares
        ],
    }
    spec = RenderSpec(str(demo_l2a), TRUE, geometry=collection, format=OutputFormat.PNG)
    assert spec.geometry == {"type": "MultiPolygon", "coordinates": squares}
    side = sidecar(result := render(spec, tmp_path))
    pixels, _ = decode(result.path)
    transform = Affine(*side["transform"])
    inside = inside_of(spec.geometry, side["crs"], transform, pixels.shape[1:])
    np.testing.assert_array_equal(pixels[3] > 0, inside & (pixels[3] > 0))
    # Both parts are drawn, the land between them is not.
    lefts = [inside_of({"type": "Polygon", "coordinates": s}, side["crs"], transform,
                       pixels.shape[1:]) for s in squares]  # fmt: skip
    assert all(np.count_nonzero(pixels[3][part]) > 0.9 * part.sum() for part in lefts)


def test_polygon_in_the_products_crs(demo_l2a, tmp_path):
    square = {"type": "Polygon", "coordinates": [[[300500, 5899500], [301500, 5899500],
              [301000, 5898500], [300500, 5899500]]]}  # fmt: skip
    result = render(
        RenderSpec(
            str(demo_l2a), TRUE, geometry=square, bbox_crs="product", format=OutputFormat.PNG
        ),
        tmp_path,
    )
    side = sidecar(result)
    assert side["bounds"] == [300500.0, 5898500.0, 301500.0, 5899500.0]
    pixels, _ = decode(result.path)
    assert pixels.shape == (4, 100, 100)
    inside = geometry_mask([square], out_shape=(100, 100), transform=Affine(*side["transform"]),
                           invert=True)  # fmt: skip
    np.testing.assert_array_equal(pixels[3] == 0, ~inside)


def test_polygon_outside_the_product_is_refused(demo_l2a, tmp_path):
    far = {"type": "Polygon", "coordinates": [[[13, 50], [13.1, 50], [13.1, 50.1], [13, 50]]]}
    with pytest.raises(AreaError, match="does not intersect") as err:
        plan_rendering(RenderSpec(str(demo_l2a), TRUE, geometry=far), tmp_path)
    assert err.value.field == "geometry"


# -- output CRS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:3857"])
def test_geotiff_in_the_asked_crs_is_georeferenced_there(demo_l2a, tmp_path, whole, crs):
    result = render(
        RenderSpec(str(demo_l2a), TRUE, bbox=BBOX, crs=crs, format=OutputFormat.GTIFF), tmp_path
    )
    side = sidecar(result)
    with rasterio.open(result.path) as src:
        assert src.crs == CRS.from_user_input(crs)
        assert (src.count, src.dtypes[0]) == (4, "uint8")
        pixels, transform, bounds = src.read(), src.transform, src.bounds
    want = transform_bounds("EPSG:4326", crs, *BBOX)
    assert bounds == pytest.approx(want, abs=1e-6 * abs(transform.a) + 1e-9)  # the bbox itself
    assert side["crs"] == crs and side["transform"] == list(transform)[:6]
    assert side["bounds"] == pytest.approx(list(bounds))
    assert side["output"]["warped"] is True
    # About 10 m pixels, square on the ground in 3857's sense.
    if crs == "EPSG:3857":
        assert 10 / math.cos(math.radians(53.2)) == pytest.approx(transform.a, rel=0.05)
    assert (pixels[3] == 255).mean() > 0.99  # the bbox lies inside the product
    # The pixels are where the CRS says: the UTM rendering warped onto this grid matches.
    expected = np.zeros_like(pixels)
    utm = Affine(10, 0, DEMO_WEST, 0, -10, DEMO_NORTH)
    for band in range(4):
        reproject(whole[band], expected[band], src_transform=utm, src_crs="EPSG:32633",
                  dst_transform=transform, dst_crs=crs, resampling=Resampling.nearest)  # fmt: skip
    both = (pixels[3] == 255) & (expected[3] == 255)
    diff = np.abs(pixels[:3].astype(int) - expected[:3])[:, both]
    assert diff.mean() < 6
    shifted = np.abs(np.roll(pixels[:3], 3, axis=2).astype(int) - expected[:3])[:, both]
    assert shifted.mean() > 2 * diff.mean()  # the comparison would see a 3-pixel shift


def test_polygon_in_another_crs_masks_on_the_output_grid(demo_l2a, tmp_path):
    result = render(
        RenderSpec(str(demo_l2a), TRUE, geometry=POLYGON, crs="EPSG:3857",
                   format=OutputFormat.GTIFF),
        tmp_path,
    )  # fmt: skip
    pixels, profile = decode(result.path)
    assert profile["crs"].to_epsg() == 3857
    inside = inside_of(POLYGON, "EPSG:3857", profile["transform"], pixels.shape[1:])
    assert (pixels[3][~inside] == 0).all()
    assert (pixels[3][inside] == 255).mean() > 0.95
    left, bottom, right, top = rasterio.transform.array_bounds(
        *pixels.shape[1:], profile["transform"]
    )
    poly_bounds = transform_bounds("EPSG:4326", "EPSG:3857", 12.015, 53.168, 12.085, 53.205)
    assert left <= poly_bounds[0] + 1 and right >= poly_bounds[2] - 1
    assert bottom <= poly_bounds[1] + 1 and top >= poly_bounds[3] - 1


def test_classes_are_warped_by_nearest_neighbour(demo_l2a, tmp_path):
    spec = spec_from_preset("scl", str(demo_l2a), crs="EPSG:4326", format=OutputFormat.PNG)
    pixels, _ = decode(render(spec, tmp_path).path)
    colours = {tuple(int(v) for v in c) for c in pixels[:3, pixels[3] > 0].T}
    table = {tuple(int(v) for v in row[:3]) for row in get_colormap("scl").lut if row[3]}
    assert colours <= table and len(colours) >= 4  # no blend of two classes' colours


# -- size ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "shape"),
    [
        ({"max_size": 100}, (100, 100)),
        ({"max_size": 5000}, (588, 588)),  # a cap, never an enlargement
        ({"width": 300}, (300, 300)),
        ({"height": 50}, (50, 50)),
        ({"width": 200, "height": 120}, (120, 200)),
    ],
)
def test_output_size_of_the_whole_product(demo_l2a, tmp_path, size, shape):
    result = render(RenderSpec(str(demo_l2a), TRUE, format=OutputFormat.GTIFF, **size), tmp_path)
    pixels, profile = decode(result.path)
    assert pixels.shape == (4, *shape) and (result.height, result.width) == shape
    bounds = rasterio.transform.array_bounds(*shape, profile["transform"])
    assert bounds == pytest.approx((300000.0, 5894160.0, 305880.0, 5900040.0))
    assert pixels[3].mean() > 0.85 * 255 and pixels[:3].std() > 10


@pytest.mark.parametrize("crs", [None, "EPSG:3857"])
def test_max_size_is_the_long_side_exactly(demo_l2a, tmp_path, crs):
    wide = (300100.0, 5897000.0, 305500.0, 5899000.0)  # 540 x 200 px at 10 m
    result = render(
        RenderSpec(str(demo_l2a), TRUE, bbox=wide, bbox_crs="product", crs=crs, max_size=64,
                   format=OutputFormat.PNG),
        tmp_path,
    )  # fmt: skip
    pixels, _ = decode(result.path)
    assert pixels.shape[2] == 64 and pixels.shape[1] < 64
    if crs is None:
        assert pixels.shape[1] == round(64 * 200 / 540)


def test_size_goes_into_the_default_name(demo_l2a, tmp_path):
    result = render(RenderSpec(str(demo_l2a), TRUE, max_size=64, crs="EPSG:3857"), tmp_path)
    assert Path(result.path).name == "T33UUU_20230710_L2A_10m_B04-B03-B02_EPSG3857_max64.jpg"


# -- what a preview decodes ----------------------------------------------------------------------


def test_a_preview_decodes_reduced_levels_of_the_jpeg2000(demo_l2a, tmp_path):
    full = plan_rendering(RenderSpec(str(demo_l2a), TRUE), tmp_path).record["reads"]
    result = render(RenderSpec(str(demo_l2a), TRUE, max_size=32), tmp_path)
    reads = sidecar(result)["reads"]
    assert full["decoded_pixels"] == 3 * 588 * 588
    assert [b["level"] for b in full["bands"]] == [0, 0, 0]
    # The 588 px demo's coarsest level is its 60 m file (98 px): a 36th of the full path.
    assert reads["decoded_pixels"] * 30 < full["decoded_pixels"]
    pixels, _ = decode(result.path)
    assert pixels.shape == (3, 32, 32) and pixels.std() > 5


def test_categorical_bands_are_never_read_from_reduced_levels(demo_l2a, tmp_path):
    spec = spec_from_preset("scl", str(demo_l2a), max_size=40, format=OutputFormat.PNG)
    result = render(spec, tmp_path)
    (scl,) = sidecar(result)["reads"]["bands"]
    assert scl["level"] == 0
    pixels, _ = decode(result.path)
    colours = {tuple(int(v) for v in c) for c in pixels[:3, pixels[3] > 0].T}
    table = {tuple(int(v) for v in row[:3]) for row in get_colormap("scl").lut if row[3]}
    assert pixels.shape == (4, 40, 40) and colours <= table


def test_a_preview_of_a_real_sample_without_levels_reads_full_resolution(uuu, tmp_path):
    result = render(RenderSpec(str(uuu), TRUE, max_size=256), tmp_path)
    reads = sidecar(result)["reads"]
    assert {b["level"] for b in reads["bands"]} == {0}  # these lossy JP2s expose no levels
    pixels, _ = decode(result.path)
    assert pixels.shape == (3, 128, 256) and 30 < pixels.mean() < 200


# -- bad requests --------------------------------------------------------------------------------

SQUARE = [[12.0, 53.0], [12.1, 53.0], [12.1, 53.1], [12.0, 53.1], [12.0, 53.0]]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"geometry": "{not json"}, "geometry", "is not JSON"),
        ({"geometry": [1, 2]}, "geometry", "must be a GeoJSON object"),
        ({"geometry": {"type": "Point", "coordinates": [12, 53]}}, "geometry", "'Point'"),
        ({"geometry": {"type": "Polygon", "coordinates": []}}, "geometry", "has no rings"),
        (
            {"geometry": {"type": "Polygon", "coordinates": [SQUARE[:3]]}},
            "geometry",
            "needs at least 4 positions",
        ),
        (
            {"geometry": {"type": "Polygon", "coordinates": [[*SQUARE[:4], [12.0, 53.05]]]}},
            "geometry",
            "ring 0 of polygon is not closed",
        ),
        (
            {"geometry": {"type": "Polygon", "coordinates": [[*SQUARE[:2], ["a", 1], SQUARE[0]]]}},
            "geometry",
            "not an [x, y] position",
        ),
        (
            {"geometry": {"type": "Polygon", "coordinates": [[[300000, 5890000], *SQUARE[1:]]]}},
            "geometry",
            "not longitude/latitude",
        ),
        (
            {"geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [2, 2], [0, 0]]]}},
            "geometry",
            "has no area",
        ),
        (
            {"geometry": {"type": "MultiPolygon", "coordinates": [[SQUARE], [[SQUARE[0]]]]}},
            "geometry",
            "ring 0 of polygon 1",
        ),
        ({"geometry": {"type": "FeatureCollection", "features": []}}, "geometry", "without"),
        (
            {"geometry": {"type": "Polygon", "coordinates": [SQUARE]}, "bbox": (12, 53, 13, 54)},
            "geometry",
            "bbox or geometry",
        ),
        ({"crs": "EPSG:999999"}, "crs", "is not a CRS"),
        ({"max_size": 0}, "max_size", "from 1 to 65500"),
        ({"width": 70000}, "width", "from 1 to 65500"),
        ({"height": 12.5}, "height", "whole number"),
        ({"max_size": 100, "width": 50}, "max_size", "not both"),
    ],
)
def test_bad_area_and_size_are_refused_with_the_field_and_the_fix(fields, field, message):
    with pytest.raises(SpecError) as err:
        RenderSpec("product", TRUE, **fields)
    assert err.value.field == field
    assert message in str(err.value)


def test_a_feature_is_kept_as_its_geometry():
    feature = {"type": "Feature", "properties": {"name": "field"},
               "geometry": {"type": "Polygon", "coordinates": [SQUARE]}}  # fmt: skip
    spec = RenderSpec("product", TRUE, geometry=json.dumps(feature))
    assert spec.geometry == {"type": "Polygon", "coordinates": [SQUARE]}


def test_percentiles_are_computed_over_the_pixels_inside_only(demo_l2a, tmp_path):
    spec = RenderSpec(str(demo_l2a), TRUE, geometry=POLYGON, stretch=parse_stretch("p2,98"),
                      format=OutputFormat.PNG)  # fmt: skip
    result = render(spec, tmp_path)
    pixels, _ = decode(result.path)
    assert sidecar(result)["stretch"]["pixels"] == np.count_nonzero(pixels[3])

"""What comes with every rendering — thumbnail, STAC item, sidecar figures — and a job's contact
sheet; each image decoded and checked."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pystac
import pytest
import rasterio
from PIL import Image

from s2render.core.contact_sheet import write_contact_sheet
from s2render.core.encode import OutputFormat
from s2render.core.errors import SpecError
from s2render.core.plan import RenderResult
from s2render.core.product import open_product
from s2render.core.render import render
from s2render.core.spec import RenderSpec, spec_from_preset
from s2render.core.thumbnail import file_thumbnail
from tests.conftest import decode

TRUE_COLOUR = ("B04", "B03", "B02")


@pytest.fixture(scope="module")
def outputs(demo_l2a, tmp_path_factory) -> dict[OutputFormat, RenderResult]:
    out = tmp_path_factory.mktemp("outputs")
    return {
        fmt: render(RenderSpec(str(demo_l2a), TRUE_COLOUR, 10, format=fmt), out)
        for fmt in OutputFormat
    }


def open_thumbnail(path: str | None) -> np.ndarray:
    assert path is not None
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGBA"
        return np.asarray(image)


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=lambda f: f.name)
def test_every_rendering_has_an_rgba_thumbnail_of_its_pixels(outputs, fmt):
    result = outputs[fmt]
    thumb = open_thumbnail(result.thumbnail)
    assert Path(result.thumbnail or "").name == f"{Path(result.path or '').name}.thumb.png"
    assert thumb.shape == (256, 256, 4) and thumb.dtype == np.uint8  # 588 x 588 -> 256
    image, _ = decode(Path(result.path or ""))
    # The demo product's east edge is outside the orbit: transparent in the thumbnail too.
    alpha = thumb[..., 3]
    assert alpha[:, :50].min() == 255 and alpha[:, -3:].max() == 0
    assert thumb[..., :3][alpha == 255].std() > 10
    # Same picture: the thumbnail's mean colour is the image's over its valid pixels.
    valid = image[:, :, :].sum(axis=0) > 0
    for c in range(3):
        assert abs(thumb[..., c][alpha == 255].mean() - image[c][valid].mean()) < 6


def test_a_small_rendering_keeps_its_size_in_the_thumbnail(demo_l2a, tmp_path):
    bbox = (12.02, 53.17, 12.04, 53.18)  # about 1.3 x 1.1 km: 134 x 112 px at 10 m
    result = render(RenderSpec(str(demo_l2a), TRUE_COLOUR, 10, bbox=bbox), tmp_path)
    thumb = open_thumbnail(result.thumbnail)
    assert (thumb.shape[1], thumb.shape[0]) == (result.width, result.height)
    assert max(thumb.shape[:2]) < 256


def test_a_wide_rendering_keeps_its_aspect_in_the_thumbnail(demo_l2a, tmp_path):
    bbox = (12.0, 53.17, 12.09, 53.18)
    result = render(RenderSpec(str(demo_l2a), TRUE_COLOUR, 10, bbox=bbox), tmp_path)
    thumb = open_thumbnail(result.thumbnail)
    assert result.width and result.height and result.width > 256
    assert thumb.shape[1] == 256
    assert thumb.shape[0] == round(result.height * 256 / result.width)


def test_file_thumbnail_reads_a_finished_image_at_reduced_size(outputs):
    for fmt, bands in ((OutputFormat.JPEG, 3), (OutputFormat.GTIFF, 4)):
        image = file_thumbnail(outputs[fmt].path or "", size=100)
        assert image.mode == "RGBA" and image.size == (100, 100)
        alpha = np.asarray(image)[..., 3]
        assert alpha.min() == (0 if bands == 4 else 255)


def test_the_geotiff_is_a_cog_with_alpha_and_overviews(outputs):
    path = outputs[OutputFormat.GTIFF].path
    with rasterio.open(path) as src:
        assert src.count == 4 and src.dtypes == ("uint8",) * 4
        assert src.colorinterp[3].name == "alpha"
        assert src.overviews(1) == [2]
        assert src.crs.to_epsg() == 32633 and src.res == (10.0, 10.0)
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"


def test_sidecar_records_assets_and_every_figure(outputs):
    result = outputs[OutputFormat.PNG]
    sidecar = json.loads(Path(result.sidecar or "").read_text())
    name = Path(result.path or "").name
    assert sidecar["assets"] == {
        "image": name,
        "thumbnail": f"{name}.thumb.png",
        "stac_item": f"{name}.stac.json",
    }
    figures = sidecar["figures"]
    assert figures == result.figures
    assert set(figures) >= {
        "valid_percent",
        "saturated_percent",
        "cloud_percent",
        "clipped_low_percent",
        "clipped_high_percent",
    }
    assert 50 < figures["valid_percent"] < 100 and figures["saturated_percent"] == 0
    assert 0 < figures["cloud_percent"] < 100
    assert len(figures["clipped_high_percent"]) == 3
    assert sidecar["radiometry"]["offsets"] == result.offsets == dict.fromkeys(TRUE_COLOUR, -1000)


@pytest.mark.parametrize("fmt", list(OutputFormat), ids=lambda f: f.name)
def test_stac_item_describes_the_rendering_with_relative_assets(outputs, demo_l2a, fmt):
    result = outputs[fmt]
    stac_path = Path(result.stac_item or "")
    document = json.loads(stac_path.read_text())
    item = pystac.Item.from_dict(document)
    item.validate()  # the core schemas ship with pystac: no network
    assert item.datetime == open_product(demo_l2a).sensing_time
    assert item.properties["platform"] == "sentinel-2b"
    assert item.properties["gsd"] == 10
    assert item.properties["s2render:offsets"] == dict.fromkeys(TRUE_COLOUR, -1000)
    assert item.properties["s2render:figures"] == result.figures
    assert item.properties["s2render:product"].startswith("S2B_MSIL2A_20230710")
    assert item.properties["s2render:version"]
    assert item.properties["s2render:stretch"]["type"] == "fixed"
    assert set(item.assets) == {"image", "thumbnail", "metadata"}
    assert item.assets["image"].media_type == fmt.info.media_type
    assert item.assets["image"].roles == ["data"]
    assert item.assets["thumbnail"].roles == ["thumbnail"]
    assert item.assets["metadata"].roles == ["metadata"]
    for asset in item.assets.values():
        assert "/" not in asset.href
        assert (stac_path.parent / asset.href).is_file()
    west, south, east, north = item.bbox or []
    assert 11.9 < west < east < 12.2 and 53.1 < south < north < 53.3
    ring = item.geometry["coordinates"][0]
    assert ring[0] == ring[-1] and all(west <= x <= east for x, _ in ring)


def test_stac_item_without_a_sensing_time_uses_the_processing_time(write_raster, tmp_path):
    (tmp_path / "bands").mkdir()
    for band in TRUE_COLOUR:
        write_raster(f"bands/{band}.tif", np.full((20, 30), 1200, dtype=np.uint16))
    before = datetime.now(UTC)
    result = render(RenderSpec(str(tmp_path / "bands"), TRUE_COLOUR, 10), tmp_path / "out")
    item = pystac.Item.from_file(result.stac_item or "")
    item.validate()
    assert item.datetime is not None and item.datetime >= before.replace(microsecond=0)
    assert item.properties["s2render:datetime"].startswith("processing")
    assert "platform" not in item.properties


# --- contact sheet ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def batch(demo_l2a, tmp_path_factory) -> list[RenderResult]:
    out = tmp_path_factory.mktemp("sheet")
    results = [
        render(spec_from_preset(preset, str(demo_l2a), resolution=60), out, index=i)
        for i, preset in enumerate(("true-color", "ndvi", "scl", "false-color"))
    ]
    failed = RenderResult(index=4, status="error", error="B99 is unknown", name="broken.jpg")
    return [*results, failed]


def cells(sheet: np.ndarray, columns: int, rows: int) -> list[np.ndarray]:
    height, width = sheet.shape[0] // rows, sheet.shape[1] // columns
    return [
        sheet[r * height : (r + 1) * height, c * width : (c + 1) * width]
        for r in range(rows)
        for c in range(columns)
    ]


@pytest.mark.parametrize(
    ("columns", "grid"), [(None, (3, 2)), (5, (5, 1)), (2, (2, 3)), (1, (1, 5))]
)
def test_contact_sheet_puts_every_rendering_in_a_grid(batch, tmp_path, columns, grid):
    path = write_contact_sheet(batch, tmp_path / "sheet.png", columns=columns, cell=128)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        sheet = np.asarray(image)
    cols, rows = grid
    assert sheet.shape[1] % cols == 0 and sheet.shape[0] % rows == 0
    cell_w, cell_h = sheet.shape[1] // cols, sheet.shape[0] // rows
    assert 128 < cell_w < 160 and 128 + 20 < cell_h < 128 + 80  # picture, padding, label
    drawn = cells(sheet, cols, rows)[:5]
    pictures = [c[8 : 8 + 128, 8 : 8 + 128] for c in drawn]
    for picture in pictures[:4]:  # finished renderings: real pictures (SCL: its 10 classes)
        assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 8
    means = [p.reshape(-1, 3).mean(axis=0) for p in pictures[:4]]
    assert min(np.abs(a - b).sum() for i, a in enumerate(means) for b in means[i + 1 :]) > 5
    # The failed one: a grey cell with "failed" written on it.
    failed = pictures[4].reshape(-1, 3)
    grey = (failed == (150, 150, 150)).all(axis=1)
    assert 0.9 < grey.mean() < 1.0
    for cell in drawn:  # every label drawn under its picture
        assert (cell[8 + 128 :] < 100).any()


def test_contact_sheet_as_jpeg_with_own_labels(batch, tmp_path):
    labels = [f"#{i}" for i in range(len(batch))]
    path = write_contact_sheet(batch, tmp_path / "sheet.jpg", labels=labels, cell=64)
    with Image.open(path) as image:
        image.load()
        assert image.format == "JPEG" and image.mode == "RGB"
        assert image.size[0] > 3 * 64 and image.size[1] > 2 * 64


def test_contact_sheet_labels_come_from_a_function(batch, tmp_path):
    path = write_contact_sheet(batch, tmp_path / "s.png", labels=lambda r: r.status)
    assert path.is_file()


def test_contact_sheet_draws_from_the_image_when_the_thumbnail_is_gone(batch, tmp_path):
    result = RenderResult(**{**batch[0].to_dict(), "thumbnail": str(tmp_path / "missing.png")})
    path = write_contact_sheet([result], tmp_path / "one.png", cell=64)
    with Image.open(path) as image:
        picture = np.asarray(image)[8 : 8 + 64, 8 : 8 + 64]
    assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 50


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("sheet.gif", {}, "name it .png, .jpg or .webp"),
        ("sheet.png", {"labels": ["one"]}, "1 labels for 5 renderings"),
        ("sheet.png", {"cell": 8}, "too small"),
    ],
)
def test_contact_sheet_refuses_bad_requests(batch, tmp_path, name, options, message):
    with pytest.raises(SpecError, match=message):
        write_contact_sheet(batch, tmp_path / name, **options)


# --- STAC gsd: the output's pixel size --------------------------------------------------------


def ground_metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and latitude on the WGS 84 ellipsoid at ``lat``."""
    a, e2 = 6378137.0, 6.69437999014e-3
    phi = np.radians(lat)
    w = 1 - e2 * np.sin(phi) ** 2
    return (np.pi / 180 * a / np.sqrt(w) * np.cos(phi), np.pi / 180 * a * (1 - e2) / w**1.5)


def test_stac_gsd_of_a_preview_is_its_pixel_size(demo_l2a, tmp_path):
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 10, max_size=98, format=OutputFormat.GTIFF)
    result = render(spec, tmp_path)
    with rasterio.open(result.path) as src:  # decoded: 98 px over the 5880 m product
        assert (src.width, src.height) == (98, 98) and src.read().shape == (4, 98, 98)
        assert src.res == pytest.approx((60.0, 60.0))
    item = pystac.Item.from_file(result.stac_item or "")
    item.validate()
    assert item.properties["gsd"] == pytest.approx(60.0)
    assert item.properties["s2render:pixel_size_m"] == pytest.approx([60.0, 60.0])
    assert item.properties["s2render:resolution"] == 10  # what was asked, kept apart


def test_stac_gsd_of_a_geographic_output_is_in_metres_at_its_centre(demo_l2a, tmp_path):
    spec = RenderSpec(str(demo_l2a), TRUE_COLOUR, 60, crs="EPSG:4326", format=OutputFormat.GTIFF)
    result = render(spec, tmp_path)
    with rasterio.open(result.path) as src:
        pixels = src.read()
        assert src.crs.to_epsg() == 4326 and pixels.shape[0] == 4 and pixels[3].max() == 255
        deg_x, deg_y = src.res
        lat = (src.bounds.bottom + src.bounds.top) / 2
    per_lon, per_lat = ground_metres_per_degree(lat)
    item = pystac.Item.from_file(result.stac_item or "")
    item.validate()
    size_x, size_y = deg_x * per_lon, deg_y * per_lat
    assert item.properties["gsd"] == pytest.approx(np.sqrt(size_x * size_y), abs=1e-3)
    assert item.properties["s2render:pixel_size_m"] == pytest.approx([size_x, size_y], abs=1e-3)
    assert abs(item.properties["gsd"] - 60) > 1  # GDAL's suggested pixel is not the 60 m asked

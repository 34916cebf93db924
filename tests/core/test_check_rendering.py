"""check_rendering: plan_rendering's checks without opening a band file."""

from __future__ import annotations

import pytest
import rasterio

from s2render.core.errors import S2RenderError
from s2render.core.product import open_product
from s2render.core.render import check_rendering
from s2render.core.spec import spec_from_request

TRUE_COLOUR = ("B04", "B03", "B02")


@pytest.fixture
def no_band_file_opened(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"check_rendering opened {args[:1]}")

    monkeypatch.setattr(rasterio, "open", refuse)


@pytest.mark.parametrize(
    "fields",
    [
        {"bands": TRUE_COLOUR},
        {"preset": "ndvi", "resolution": 20},
        {"preset": "scl", "resolution": 20},
        {"expressions": ("B04*2", "B03", "B02")},
        {"bands": TRUE_COLOUR, "crs": "EPSG:4326", "max_size": 128},
        {"bands": TRUE_COLOUR, "cloud_mask": "clouds", "cloud_dilation": 2},
    ],
)
def test_renderable_specs_pass_without_opening_band_files(demo_l2a, no_band_file_opened, fields):
    product = open_product(str(demo_l2a))
    check_rendering(spec_from_request(product.path, **fields), product)


@pytest.mark.parametrize(
    ("fields", "field", "hint"),
    [
        ({"preset": "scl"}, "preset", "L2A"),
        ({"expressions": ("B04", "B03", "SCL*2")}, "bands", "SCL"),
        ({"bands": TRUE_COLOUR, "cloud_mask": "clouds"}, "cloud_mask", "L2A"),
    ],
)
def test_what_an_l1c_product_cannot_show_is_refused_with_a_hint(demo_l1c, fields, field, hint):
    product = open_product(str(demo_l1c))
    with pytest.raises(S2RenderError, match=hint) as caught:
        check_rendering(spec_from_request(product.path, **fields), product)
    assert getattr(caught.value, "field", field) == field

"""v1 presets and colour maps: the catalogue as the core lists it, and legends decoded."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from s2render.core.colormap import list_colormaps
from s2render.core.presets import CATALOGUE_VERSION, list_presets
from tests.web.v1_helpers import content, path_of

INDICES = [p.id for p in list_presets() if p.kind != "composite"]
COMPOSITES = [p.id for p in list_presets() if p.kind == "composite"]


def legend(response) -> Image.Image:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "image/png"
    image = Image.open(io.BytesIO(content(response)))
    assert image.format == "PNG" and image.mode == "RGBA"
    return image


def distinct_colours(image: Image.Image) -> int:
    pixels = np.asarray(image)[..., :3].reshape(-1, 3)
    return len(np.unique(pixels, axis=0))


def test_preset_list_is_the_core_catalogue(api):
    body = api.get("/api/v1/presets/").json()
    assert [p["id"] for p in body] == [p.id for p in list_presets()]
    for item, preset in zip(body, list_presets(), strict=True):
        assert {k: item[k] for k in preset.to_dict()} == preset.to_dict()
        assert item["catalogue_version"] == CATALOGUE_VERSION
        assert (item["legend"] is None) == (preset.kind == "composite")


def test_preset_detail_of_scl_carries_its_class_table(api):
    body = api.get("/api/v1/presets/scl/").json()
    assert body["kind"] == "classes" and body["levels"] == ["L2A"]
    assert [c["value"] for c in body["class_table"]["classes"]] == list(range(12))


def test_unknown_preset_is_a_404_listing_the_catalogue(api):
    response = api.get("/api/v1/presets/nope/")
    assert response.status_code == 404
    assert "true-color" in response.json()["detail"]


@pytest.mark.parametrize("preset_id", INDICES)
def test_index_and_class_presets_have_a_legend(api, preset_id):
    image = legend(api.get(f"/api/v1/presets/{preset_id}/legend.png"))
    assert image.width == 320 and image.height > 20
    assert distinct_colours(image) >= 8


@pytest.mark.parametrize("preset_id", COMPOSITES[:2])
def test_composites_have_no_legend(api, preset_id):
    response = api.get(f"/api/v1/presets/{preset_id}/legend.png")
    assert response.status_code == 404
    assert "no legend" in response.json()["detail"]


def test_colormap_list_is_the_core_registry_with_legend_links(api):
    body = api.get("/api/v1/colormaps/").json()
    assert [c["name"] for c in body] == list(list_colormaps())
    assert all(path_of(c["legend"]).endswith("/legend.png") for c in body)


def test_colormap_legend_spans_the_range_asked(api):
    plain = legend(api.get("/api/v1/colormaps/viridis/legend.png"))
    ranged = legend(api.get("/api/v1/colormaps/viridis/legend.png?range=-1,1"))
    assert distinct_colours(ranged) >= 8
    assert plain.size == ranged.size
    assert not np.array_equal(np.asarray(plain), np.asarray(ranged))  # other tick labels


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("/api/v1/colormaps/nope/legend.png", 404),
        ("/api/v1/colormaps/viridis/legend.png?range=1,-1", 400),
        ("/api/v1/colormaps/viridis/legend.png?range=x", 400),
        ("/api/v1/colormaps/scl/legend.png?range=0,1", 400),
    ],
)
def test_bad_colormap_legend_requests_are_refused(api, url, code):
    assert api.get(url).status_code == code

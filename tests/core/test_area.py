import pytest
from rasterio.crs import CRS

from s2render.core.area import bbox_in_crs, parse_bbox, window_for_bounds
from s2render.core.errors import AreaError


def test_parse_bbox():
    assert parse_bbox("13.1, 52.4,13.2,52.5") == (13.1, 52.4, 13.2, 52.5)


@pytest.mark.parametrize("text", ["1,2,3", "a,b,c,d", "3,0,1,1", "0,3,1,1"])
def test_parse_bbox_rejects(text):
    with pytest.raises(AreaError) as err:
        parse_bbox(text)
    assert err.value.field == "bbox"


def test_lonlat_bbox_is_transformed_to_utm():
    utm = CRS.from_epsg(32633)
    left, bottom, right, top = bbox_in_crs((14.9, 52.0, 15.1, 52.1), "EPSG:4326", utm)
    assert 490000 < left < right < 510000
    assert 5760000 < bottom < top < 5775000


def test_projected_bbox_given_as_lonlat_is_refused_with_a_hint():
    with pytest.raises(AreaError, match="bbox-crs product"):
        bbox_in_crs((330000, 5814360, 345360, 5822040), "EPSG:4326", CRS.from_epsg(32633))


def test_window_snaps_outwards_and_clips():
    grid = (0.0, -1000.0, 1000.0, 0.0)
    w = window_for_bounds((15.0, -45.0, 35.0, -5.0), grid, 10.0, 100, 100)
    assert (w.col_off, w.row_off, w.width, w.height) == (1, 0, 3, 5)
    w = window_for_bounds((-500.0, -2000.0, 500.0, 500.0), grid, 10.0, 100, 100)
    assert (w.col_off, w.row_off, w.width, w.height) == (0, 0, 50, 100)


def test_window_outside_the_product_is_refused():
    with pytest.raises(AreaError, match="does not intersect"):
        window_for_bounds((2000.0, 0.0, 3000.0, 10.0), (0.0, -1000.0, 1000.0, 0.0), 10.0, 100, 100)

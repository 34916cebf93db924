"""Searching a static STAC catalog (path and HTTP) and a local STAC API for Sentinel-2 items.

Expected results come from the real item JSONs through :func:`expected_ids`, a filter written
here independently of the code under test, and from a known count per case.
"""

from __future__ import annotations

import json
import urllib.request
from datetime import date
from pathlib import Path

import pystac
import pytest
from pystac_client import Client

from s2render.core.errors import S2RenderError, SearchError
from s2render.core.stac_search import (
    DateRange,
    item_matches,
    parse_bbox,
    parse_date_range,
    search_items,
    summarize_item,
)
from tests.conftest import SHARED
from tests.support.range_server import serve_directory
from tests.support.stac_api import load_items, serve_stac_api

CATALOG = SHARED / "s2_l2a_earthsearch_120m_mapchete_eo" / "static_catalog_33TWL_33TWM_2023-08"
CATALOG_ITEMS = sorted((CATALOG / "sentinel-2-l2a").glob("*/*.json"))
MAPCHETE = SHARED / "stac_items" / "mapchete-eo"
MAPCHETE_ITEMS = sorted(MAPCHETE.glob("**/*.json"))

TWL_ONLY = (15.5, 45.2, 16.0, 45.5)  # south of 33TWM (which starts at 45.96 N)
TWM_ONLY = (15.5, 46.5, 16.0, 46.8)  # north of 33TWL (which ends at 46.05 N)

# name, search_items keywords, number of the 10 catalog items expected
STATIC_CASES = [
    ("bbox", {"bbox": TWL_ONLY}, 5),
    ("date", {"start": date(2023, 8, 13), "end": date(2023, 8, 15)}, 4),
    ("open start", {"end": date(2023, 8, 13)}, 4),
    ("cloud", {"max_cloud": 10}, 6),
    ("combined", {"bbox": TWM_ONLY, "start": date(2023, 8, 13), "max_cloud": 5}, 3),
    ("collection", {"collections": ["sentinel-2-l2a"]}, 10),
    ("other collection", {"collections": ["sentinel-2-l1c"]}, 0),
]


def expected_ids(items: list[dict], **filters) -> set[str]:
    """The ids of raw item dicts that pass ``filters``, written without s2render's code."""
    out = set()
    for item in items:
        props = item["properties"]
        if "bbox" in filters:
            w, s, e, n = filters["bbox"]
            iw, is_, ie, in_ = item["bbox"]
            if iw > e or ie < w or is_ > n or in_ < s:
                continue
        day = date.fromisoformat(props["datetime"][:10])  # all test items are in UTC ("Z")
        if filters.get("start") and day < filters["start"]:
            continue
        if filters.get("end") and day > filters["end"]:
            continue
        if "max_cloud" in filters and not (
            props.get("eo:cloud_cover") is not None
            and props["eo:cloud_cover"] <= filters["max_cloud"]
        ):
            continue
        if "collections" in filters and item.get("collection") not in filters["collections"]:
            continue
        out.add(item["id"])
    return out


@pytest.fixture(scope="module")
def catalog_dicts() -> list[dict]:
    return [json.loads(p.read_text()) for p in CATALOG_ITEMS]


@pytest.fixture(scope="module")
def api_dicts() -> list[dict]:
    return load_items(MAPCHETE_ITEMS + CATALOG_ITEMS)


@pytest.fixture(scope="module")
def http_catalog():
    with serve_directory(CATALOG) as server:
        yield server


@pytest.fixture(params=["path", "http"])
def catalog_url(request) -> str:
    if request.param == "path":
        return str(CATALOG / "catalog.json")
    return request.getfixturevalue("http_catalog").url("catalog.json")


@pytest.fixture(scope="module")
def stac_api(api_dicts):
    with serve_stac_api(api_dicts, page_size=4) as api:
        yield api


def test_static_catalog_sample_has_ten_items_of_two_tiles(catalog_dicts):
    assert len(catalog_dicts) == 10
    assert {summarize_item(pystac.Item.from_dict(d)).tile for d in catalog_dicts} == {
        "33TWL",
        "33TWM",
    }


@pytest.mark.parametrize(
    ("filters", "count"), [c[1:] for c in STATIC_CASES], ids=[c[0] for c in STATIC_CASES]
)
def test_static_catalog_search_returns_exactly_the_matching_items(
    catalog_url, catalog_dicts, filters, count
):
    found = search_items(catalog_url, **filters)
    expected = expected_ids(catalog_dicts, **filters)
    assert len(expected) == count
    when = {d["id"]: d["properties"]["datetime"] for d in catalog_dicts}
    assert [i.id for i in found] == sorted(expected, key=lambda i: (when[i], i))
    for raw in catalog_dicts:  # every excluded item fails the filter, by our own predicate too
        assert item_matches(pystac.Item.from_dict(raw), **filters) == (raw["id"] in expected)


def test_static_results_are_sorted_by_datetime_then_id(catalog_url):
    found = search_items(catalog_url)
    keys = [(i.datetime, i.id) for i in found]
    assert keys == sorted(keys)
    assert len(found) == 10


def test_static_limit_keeps_the_earliest_matches(catalog_url):
    everything = search_items(catalog_url)
    assert [i.id for i in search_items(catalog_url, limit=3)] == [i.id for i in everything[:3]]


def test_local_catalog_items_have_absolute_self_hrefs_to_their_files(monkeypatch):
    monkeypatch.chdir(CATALOG.parent)
    found = search_items(f"{CATALOG.name}/catalog.json", max_cloud=1)
    assert found
    for item in found:
        href = Path(item.get_self_href())
        assert href.is_absolute() and href.is_file()
        assert json.loads(href.read_text())["id"] == item.id


def test_http_catalog_items_have_self_urls_that_serve_the_item(http_catalog):
    found = search_items(http_catalog.url("catalog.json"), bbox=TWM_ONLY, max_cloud=1)
    assert [i.id for i in found] == ["S2A_33TWM_20230815_0_L2A"]
    href = found[0].get_self_href()
    assert href.startswith(http_catalog.base_url)
    with urllib.request.urlopen(href) as response:
        assert json.load(response)["id"] == "S2A_33TWM_20230815_0_L2A"


API_CASES = [
    ("bbox", {"bbox": TWL_ONLY}, 5),
    ("tile 33TWN", {"bbox": (15.5, 47.3, 16.0, 47.5)}, 15),
    ("date", {"start": date(2018, 1, 1), "end": date(2018, 12, 31)}, 6),
    ("cloud", {"max_cloud": 10}, 11),
    ("combined", {"bbox": (15.5, 46.0, 16.0, 47.5), "start": date(2021, 1, 1), "max_cloud": 10}, 7),
    ("collection", {"collections": ["sentinel-s2-l2a"]}, 1),
]


@pytest.mark.parametrize(
    ("filters", "count"), [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES]
)
def test_api_search_returns_the_items_python_filtering_finds(stac_api, api_dicts, filters, count):
    found = search_items(stac_api.url, limit=100, **filters)
    expected = expected_ids(api_dicts, **filters)
    assert len(expected) == count
    assert sorted(i.id for i in found) == sorted(expected)
    keys = [(i.datetime, i.id) for i in found]
    assert keys == sorted(keys)


def test_api_paging_returns_every_item_once(stac_api, api_dicts):
    before = len(stac_api.searches())
    found = search_items(stac_api.url, limit=100)
    assert sorted(i.id for i in found) == sorted(d["id"] for d in api_dicts)
    assert len(stac_api.searches()) - before == -(-len(api_dicts) // 4)  # pages of 4


def test_api_limit_below_the_match_count_stops_paging(stac_api):
    before = len(stac_api.searches())
    found = search_items(stac_api.url, limit=5)
    assert len({i.id for i in found}) == 5
    assert len(stac_api.searches()) - before == 2


def test_api_without_query_extension_filters_cloud_on_the_client(stac_api, api_dicts):
    before = len(stac_api.searches())
    found = search_items(stac_api.url, max_cloud=2, limit=100)
    assert {i.id for i in found} == expected_ids(api_dicts, max_cloud=2)
    assert all(r.body and "query" not in r.body for r in stac_api.searches()[before:])


def test_api_with_query_extension_is_sent_the_cloud_filter(api_dicts):
    with serve_stac_api(api_dicts, page_size=4, query_extension=True) as api:
        found = search_items(api.url, max_cloud=2, limit=100)
        sent = api.searches()
    expected = expected_ids(api_dicts, max_cloud=2)
    assert {i.id for i in found} == expected and len(expected) == 7
    assert all(r.body["query"] == {"eo:cloud_cover": {"lte": 2.0}} for r in sent)
    assert len(sent) == 2  # the server filtered: 7 matches in pages of 4, not 29 items


def test_api_items_have_self_urls_that_serve_the_item(stac_api):
    (item,) = search_items(
        stac_api.url, bbox=TWL_ONLY, start=date(2023, 8, 15), end=date(2023, 8, 15)
    )
    with urllib.request.urlopen(item.get_self_href()) as response:
        assert json.load(response)["id"] == item.id == "S2A_33TWL_20230815_0_L2A"


def test_test_api_pages_get_searches_like_post(stac_api, api_dicts):
    search = Client.open(stac_api.url).search(method="GET", bbox=TWL_ONLY, limit=2)
    assert sorted(i.id for i in search.items()) == sorted(expected_ids(api_dicts, bbox=TWL_ONLY))


def test_item_without_cloud_cover_is_kept_only_without_a_cloud_filter(catalog_dicts):
    raw = dict(catalog_dicts[0], properties=dict(catalog_dicts[0]["properties"]))
    del raw["properties"]["eo:cloud_cover"]
    item = pystac.Item.from_dict(raw)
    assert item_matches(item)
    assert not item_matches(item, max_cloud=100)
    assert summarize_item(item).cloud_cover is None


@pytest.mark.parametrize(
    ("bbox", "matches"),
    [("170,45,16,46", True), ("170,45,14,46", False), ("-10,45,14.9,46", False)],
)
def test_bbox_across_the_antimeridian_wraps_around(catalog_dicts, bbox, matches):
    twl = pystac.Item.from_dict(next(d for d in catalog_dicts if "33TWL" in d["id"]))
    assert item_matches(twl, bbox=parse_bbox(bbox)) is matches


def test_search_of_a_missing_url_is_a_search_error(http_catalog):
    with pytest.raises(SearchError, match="cannot read"):
        search_items(http_catalog.url("nothing.json"))


def test_search_of_an_item_is_a_search_error():
    with pytest.raises(SearchError, match="not a catalog"):
        search_items(str(CATALOG_ITEMS[0]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-08-15", DateRange(date(2023, 8, 15), date(2023, 8, 15))),
        ("2023-08-10/2023-08-20", DateRange(date(2023, 8, 10), date(2023, 8, 20))),
        ("../2023-08-20", DateRange(None, date(2023, 8, 20))),
        ("2023-08-10/..", DateRange(date(2023, 8, 10), None)),
        ("/2023-08-20", DateRange(None, date(2023, 8, 20))),
        (" 2023-08-10 / 2023-08-10 ", DateRange(date(2023, 8, 10), date(2023, 8, 10))),
    ],
)
def test_parse_date_range_accepts(text, expected):
    assert parse_date_range(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2023-13-01", "month must be in 1..12"),
        ("2023-02-30", "day is out of range for month"),
        ("2023-8-1", "is not a date"),
        ("yesterday", "is not a date"),
        ("2023-08-20/2023-08-10", "start 2023-08-20 is after end 2023-08-10"),
        ("../..", "both ends are open"),
        ("2023-08-10/2023-08-11/2023-08-12", "more than one '/'"),
        ("", "no date"),
    ],
)
def test_parse_date_range_rejects_with_value_and_hint(text, problem):
    with pytest.raises(SearchError) as info:
        parse_date_range(text)
    assert isinstance(info.value, ValueError) and isinstance(info.value, S2RenderError)
    assert info.value.value == text
    assert problem in str(info.value)
    assert str(info.value).startswith(f"{text}: ")
    assert info.value.hint and info.value.hint in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15,45,16,46", (15.0, 45.0, 16.0, 46.0)),
        (" 15.5, 45.2 ,16,45.5", (15.5, 45.2, 16.0, 45.5)),
        ("170,-10,-170,10", (170.0, -10.0, -170.0, 10.0)),  # across the antimeridian
    ],
)
def test_parse_bbox_accepts(text, expected):
    assert parse_bbox(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("15,45,16", "3 numbers, not 4"),
        ("a,45,16,46", "not all numbers"),
        ("200,45,16,46", "west 200 is not a longitude"),
        ("15,-95,16,46", "south -95 is not a latitude"),
        ("15,46,16,45", "south 46 is greater than north 45"),
    ],
)
def test_parse_bbox_rejects_with_value_and_hint(text, problem):
    with pytest.raises(SearchError, match="west,south,east,north") as info:
        parse_bbox(text)
    assert isinstance(info.value, ValueError)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    ("filters", "problem"),
    [
        ({"max_cloud": 101}, "not a percentage"),
        ({"limit": 0}, "not a positive number"),
        ({"bbox": (0, 0, 1)}, "3 numbers, not 4"),
        ({"start": date(2023, 8, 2), "end": date(2023, 8, 1)}, "is after end"),
    ],
)
def test_search_items_rejects_bad_arguments_before_reading(filters, problem):
    with pytest.raises(SearchError, match=problem):
        search_items("/nonexistent/catalog.json", **filters)


@pytest.mark.parametrize(
    ("path", "tile", "baseline"),
    [
        (CATALOG_ITEMS[0], "33TWL", "05.09"),  # Earth Search v1: mgrs:* and s2:*
        (SHARED / "stac_items/odc-stac/S2B_MSIL2A_20190629T212529_R043_T06VVN_20201006T080531.json",
         "06VVN", "02.12"),  # Planetary Computer: s2:mgrs_tile
        (SHARED / "s2_l2a_cogs_29RKH_20200219_riotilerpds/S2A_31NBJ_20190524_0_L2A.stac-item.json",
         "31NBJ", None),  # Earth Search v0: sentinel:*
        (SHARED / "stac_items/odc-stac/S2A_28QCH_20200714_0_L2A.json", "28QCH", None),  # id only
        (MAPCHETE / "S2A_MSIL2A_20181229T095411_N0211_R079_T33SVB_20181229T112231.json",
         "33SVB", "02.11"),  # ESA product name as id
        (MAPCHETE / "S2A_OPER_MSI_L2A_TL_2APS_20230602T025701_A041483_T01WCR.json",
         "01WCR", None),  # mgrs:utm_zone 1, zero-padded
    ],
)  # fmt: skip
def test_summary_finds_tile_and_baseline_in_each_item_flavour(path, tile, baseline):
    item = pystac.Item.from_file(str(path))
    summary = summarize_item(item)
    assert (summary.tile, summary.processing_baseline) == (tile, baseline)
    assert summary.id == item.id
    assert summary.cloud_cover == item.properties["eo:cloud_cover"]
    assert summary.href == str(path)


def test_summary_to_dict_is_json_ready():
    d = summarize_item(
        pystac.Item.from_file(
            str(CATALOG / "sentinel-2-l2a/S2A_33TWL_20230815_0_L2A/S2A_33TWL_20230815_0_L2A.json")
        )
    ).to_dict()
    assert json.loads(json.dumps(d)) == {
        "id": "S2A_33TWL_20230815_0_L2A",
        "datetime": "2023-08-15T09:58:11.662000Z",
        "tile": "33TWL",
        "cloud_cover": 0.20399,
        "processing_baseline": "05.09",
        "href": str(
            CATALOG / "sentinel-2-l2a/S2A_33TWL_20230815_0_L2A/S2A_33TWL_20230815_0_L2A.json"
        ),
    }

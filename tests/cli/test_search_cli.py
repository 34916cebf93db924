"""``s2render search``: table and JSON output against a local static catalog and STAC API."""

from __future__ import annotations

import json
from datetime import date

import pytest

from s2render.core.stac_search import search_items
from tests.cli.test_render_cli import invoke
from tests.core.test_stac_search import CATALOG, CATALOG_ITEMS, MAPCHETE_ITEMS, TWL_ONLY
from tests.support.range_server import serve_directory
from tests.support.stac_api import load_items, serve_stac_api


@pytest.fixture(scope="module")
def catalog_url():
    with serve_directory(CATALOG) as server:
        yield server.url("catalog.json")


@pytest.fixture(scope="module")
def api_url():
    with serve_stac_api(load_items(MAPCHETE_ITEMS + CATALOG_ITEMS), page_size=4) as api:
        yield api.url


def test_table_lists_the_matching_items_of_a_static_catalog(catalog_url):
    result = invoke("search", catalog_url, "--bbox", "15.5,45.2,16,45.5", "--cloud", "10")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["id", "datetime", "tile", "cloud", "baseline", "href"]
    cells = [row.split() for row in rows]
    assert [c[0] for c in cells] == [
        "S2B_33TWL_20230813_0_L2A",
        "S2A_33TWL_20230815_0_L2A",
        "S2B_33TWL_20230820_0_L2A",
    ]
    assert {(c[2], c[4]) for c in cells} == {("33TWL", "05.09")}
    assert all(float(c[3]) <= 10 for c in cells)
    assert all(c[5].startswith(catalog_url.removesuffix("catalog.json")) for c in cells)


def test_json_lists_summaries_of_an_api_search(api_url):
    result = invoke(
        "search", api_url, "--bbox", "15.5,45.2,16,45.5", "--date", "2023-08-13/..",
        "--collection", "sentinel-2-l2a", "--limit", "100", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summaries = json.loads(result.stdout)
    expected = search_items(api_url, bbox=TWL_ONLY, start=date(2023, 8, 13), limit=100)
    assert [s["id"] for s in summaries] == [i.id for i in expected]
    assert len(summaries) == 4
    assert set(summaries[0]) == {
        "id", "datetime", "tile", "cloud_cover", "processing_baseline", "href",
    }  # fmt: skip
    assert all(s["href"].startswith(api_url) and s["tile"] == "33TWL" for s in summaries)


def test_limit_caps_the_rows(api_url):
    result = invoke("search", api_url, "--limit", "3", "--json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)) == 3


def test_no_match_prints_an_empty_json_list(catalog_url):
    result = invoke("search", catalog_url, "--date", "2024-01-01", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--bbox", "15,45,16", "give west,south,east,north"),
        ("--bbox", "15,46,16,45", "south 46 is greater than north 45"),
        ("--date", "2023-13-01", "month must be in 1..12; give YYYY-MM-DD or START/END"),
        ("--date", "2023-08-20/2023-08-10", "is after end"),
        ("--cloud", "120", "give a cloud cover percentage from 0 to 100"),
        ("--cloud", "lots", "is not a valid float"),
        ("--limit", "0", "x>=1"),
    ],
)
def test_bad_option_is_a_usage_error_naming_it(catalog_url, option, value, message):
    result = invoke("search", catalog_url, option, value)
    assert result.exit_code == 2, result.output
    assert f"'{option}'" in result.output
    assert message in result.output


def test_unreadable_url_is_an_error_not_a_traceback(catalog_url):
    result = invoke("search", catalog_url.replace("catalog.json", "missing.json"))
    assert result.exit_code == 1
    assert "cannot read" in result.output and "missing.json" in result.output

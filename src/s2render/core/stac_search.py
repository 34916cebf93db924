"""Find Sentinel-2 items in a STAC API or a static STAC catalog.

One entry point, :func:`search_items`, for both kinds of source: an API landing page that
conforms to STAC API - Item Search is queried with pystac-client (paging through ``next`` links);
anything else is read as a static catalog or collection with pystac and walked. The same
predicate (:func:`item_matches`) is then applied to every item, so both sources mean the same
thing by a bbox, a day range and a cloud cover.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time
from typing import Any, NamedTuple

import pystac
from pystac_client import Client
from pystac_client.conformance import ConformanceClasses
from pystac_client.exceptions import APIError

from s2render.core.errors import SearchError

BBox = tuple[float, float, float, float]

DATE_HINT = "give YYYY-MM-DD or START/END, with .. for an open end"
BBOX_HINT = "give west,south,east,north in degrees of longitude/latitude"
CLOUD_HINT = "give a cloud cover percentage from 0 to 100"

_OPEN_ENDS = ("..", "")
_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# MGRS tile in Sentinel-2 ids: S2A_33TWL_20230815_0_L2A (Earth Search), ..._T06VVN_... (ESA).
_TILE_IN_ID_RE = re.compile(r"_T?(\d{2}[C-X][A-Z]{2})_")
# Processing baseline in ESA product names: ..._N0509_... means 05.09 (ESA S2-PDGS-TAS-DI-PSD).
_BASELINE_IN_NAME_RE = re.compile(r"_N(\d{2})(\d{2})_")


class DateRange(NamedTuple):
    """Inclusive day range; ``None`` is an open end."""

    start: date | None
    end: date | None


@dataclass(frozen=True)
class ItemSummary:
    """What a search result shows of an item."""

    id: str
    datetime: str | None
    tile: str | None
    cloud_cover: float | None
    processing_baseline: str | None
    href: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _error(value: object, problem: str, hint: str) -> SearchError:
    return SearchError(f"{value}: {problem}; {hint}", value=value, hint=hint)


def _parse_day(text: str, whole: str) -> date:
    if not _DAY_RE.match(text):
        raise _error(whole, f"{text!r} is not a date", DATE_HINT)
    try:
        return date.fromisoformat(text)
    except ValueError as exc:  # "month must be in 1..12", "day is out of range for month"
        raise _error(whole, str(exc), DATE_HINT) from exc


def parse_date_range(text: str) -> DateRange:
    """``2023-08-15``, ``2023-08-10/2023-08-20``, ``../2023-08-20`` or ``2023-08-10/..``."""
    parts = [p.strip() for p in text.strip().split("/")]
    if len(parts) == 1:
        if parts[0] in _OPEN_ENDS:
            raise _error(text, "no date", DATE_HINT)
        day = _parse_day(parts[0], text)
        return DateRange(day, day)
    if len(parts) != 2:
        raise _error(text, "more than one '/'", DATE_HINT)
    start, end = (None if p in _OPEN_ENDS else _parse_day(p, text) for p in parts)
    if start is None and end is None:
        raise _error(text, "both ends are open", "leave the date out to search all dates")
    if start is not None and end is not None and start > end:
        raise _error(text, f"start {start} is after end {end}", DATE_HINT)
    return DateRange(start, end)


def check_bbox(values: Sequence[float]) -> BBox:
    """Validate a lon/lat bbox; ``west > east`` is a box across the antimeridian (STAC)."""
    if len(values) != 4:
        raise _error(",".join(map(str, values)), f"{len(values)} numbers, not 4", BBOX_HINT)
    west, south, east, north = (float(v) for v in values)
    shown = ",".join(f"{v:g}" for v in (west, south, east, north))
    for name, v in (("west", west), ("east", east)):
        if not -180.0 <= v <= 180.0:
            raise _error(shown, f"{name} {v:g} is not a longitude in -180..180", BBOX_HINT)
    for name, v in (("south", south), ("north", north)):
        if not -90.0 <= v <= 90.0:
            raise _error(shown, f"{name} {v:g} is not a latitude in -90..90", BBOX_HINT)
    if south > north:
        raise _error(shown, f"south {south:g} is greater than north {north:g}", BBOX_HINT)
    return west, south, east, north


def parse_bbox(text: str) -> BBox:
    """``west,south,east,north`` in degrees, e.g. ``15.5,45.5,16,46``."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise _error(text, f"{len(parts)} numbers, not 4", BBOX_HINT)
    try:
        values = [float(p) for p in parts]
    except ValueError as exc:
        raise _error(text, "not all numbers", BBOX_HINT) from exc
    return check_bbox(values)


def check_max_cloud(value: float) -> float:
    """A cloud cover ceiling in percent."""
    if not 0.0 <= value <= 100.0:
        raise _error(f"{value:g}", "not a percentage", CLOUD_HINT)
    return float(value)


def _longitude_spans(west: float, east: float) -> list[tuple[float, float]]:
    return [(west, east)] if west <= east else [(west, 180.0), (-180.0, east)]


def _bboxes_intersect(a: Sequence[float], b: Sequence[float]) -> bool:
    # 3D bboxes (6 numbers) keep lon/lat at 0, 1, 3, 4.
    aw, as_, ae, an = (a[0], a[1], a[3], a[4]) if len(a) == 6 else tuple(a)
    bw, bs, be, bn = (b[0], b[1], b[3], b[4]) if len(b) == 6 else tuple(b)
    if as_ > bn or bs > an:
        return False
    return any(
        w1 <= e2 and w2 <= e1
        for w1, e1 in _longitude_spans(aw, ae)
        for w2, e2 in _longitude_spans(bw, be)
    )


def item_datetime(item: pystac.Item) -> datetime | None:
    """The item's nominal time: ``datetime``, or ``start_datetime`` for a range item (UTC)."""
    when = item.datetime or item.common_metadata.start_datetime
    if when is None:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _cloud_cover(item: pystac.Item) -> float | None:
    value = item.properties.get("eo:cloud_cover")
    return None if value is None else float(value)


def item_matches(
    item: pystac.Item,
    *,
    bbox: Sequence[float] | None = None,
    start: date | None = None,
    end: date | None = None,
    max_cloud: float | None = None,
    collections: Iterable[str] | None = None,
) -> bool:
    """Whether an item passes the search filters (days inclusive, in UTC)."""
    if collections is not None and item.collection_id not in set(collections):
        return False
    if bbox is not None and (item.bbox is None or not _bboxes_intersect(item.bbox, bbox)):
        return False
    if start is not None or end is not None:
        when = item_datetime(item)
        if when is None:
            return False
        day = when.astimezone(UTC).date()
        if (start is not None and day < start) or (end is not None and day > end):
            return False
    if max_cloud is not None:
        cloud = _cloud_cover(item)
        if cloud is None or cloud > max_cloud:
            return False
    return True


def _sort_key(item: pystac.Item) -> tuple[datetime, str]:
    return item_datetime(item) or datetime.min.replace(tzinfo=UTC), item.id


def _is_url(href: str) -> bool:
    return "://" in href


def _is_read_failure(exc: Exception) -> bool:
    """pystac wraps an HTTP error in a bare ``Exception("Could not read uri ...")``."""
    return isinstance(exc, OSError) or isinstance(exc.__cause__, OSError)


def _read_document(url: str) -> dict[str, Any]:
    try:
        doc = pystac.StacIO.default().read_json(url)
    except ValueError as exc:  # not JSON
        raise _error(url, f"not JSON ({exc})", "give a STAC API or catalog URL or path") from exc
    except Exception as exc:
        if not _is_read_failure(exc):
            raise
        cause = exc.__cause__ or exc
        raise _error(
            url, f"cannot read ({cause})", "give a STAC API or catalog URL or path"
        ) from exc
    if not isinstance(doc, dict):
        raise _error(url, "not a JSON object", "give a STAC API or catalog URL or path")
    return doc


def _is_item_search_api(doc: dict[str, Any]) -> bool:
    pattern = re.compile(ConformanceClasses.ITEM_SEARCH.pattern)
    return any(pattern.match(uri) for uri in doc.get("conformsTo") or [])


def _api_items(
    url: str,
    *,
    bbox: BBox | None,
    start: date | None,
    end: date | None,
    max_cloud: float | None,
    collections: list[str] | None,
    page_size: int,
) -> Iterator[pystac.Item]:
    client = Client.open(url)
    datetime_range = None
    if start is not None or end is not None:
        datetime_range = [
            None if start is None else datetime.combine(start, time.min, UTC),
            None if end is None else datetime.combine(end, time.max, UTC),
        ]
    query = None
    if max_cloud is not None and client.conforms_to(ConformanceClasses.QUERY):
        query = {"eo:cloud_cover": {"lte": max_cloud}}
    search = client.search(
        bbox=bbox,
        datetime=datetime_range,  # type: ignore[arg-type]  # list of datetime | None is accepted
        collections=collections,
        query=query,
        limit=page_size,
    )
    yield from search.items()


def _catalog_items(url: str, doc: dict[str, Any]) -> Iterator[pystac.Item]:
    href = url if _is_url(url) else os.path.abspath(url)
    try:
        stac_object = pystac.read_dict(doc, href=href)
    except (pystac.STACError, pystac.STACTypeError, KeyError, ValueError) as exc:
        raise _error(
            url,
            f"not a STAC catalog ({exc})",
            "give a catalog.json, a collection JSON or a STAC API landing page",
        ) from exc
    if not isinstance(stac_object, pystac.Catalog):  # a Collection is a Catalog
        raise _error(
            url,
            f"a STAC {type(stac_object).__name__}, not a catalog",
            "give a catalog.json, a collection JSON or a STAC API landing page",
        )
    try:
        yield from stac_object.get_items(recursive=True)
    except Exception as exc:
        if not _is_read_failure(exc):
            raise
        raise _error(
            url, f"a child or item cannot be read ({exc})", "check the catalog's links"
        ) from exc


def _as_day(value: date | None) -> date | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC).date()
    return value


def search_items(
    url: str,
    *,
    bbox: Sequence[float] | None = None,
    start: date | None = None,
    end: date | None = None,
    max_cloud: float | None = None,
    collections: Sequence[str] | None = None,
    limit: int = 50,
) -> list[pystac.Item]:
    """Items of a STAC API or static catalog matching every given filter, by datetime then id.

    ``url`` is an HTTP URL or a local path. A landing page whose ``conformsTo`` lists STAC API
    item-search is searched with pystac-client, following ``next`` links; anything else is read
    as a static catalog or collection and walked. Filters: ``bbox`` (west, south, east, north)
    intersects the item's bbox; the item's UTC day is within ``start``..``end`` inclusive;
    ``eo:cloud_cover`` is at most ``max_cloud`` (items without one are dropped when
    ``max_cloud`` is given); the item's collection is one of ``collections``.

    The API is sent bbox, datetime and collections, and the cloud cover as a ``query`` only when
    it conforms to the query extension; every filter is checked again on the client, so cloud
    filtering works against any API. ``limit`` caps the result: from an API the first ``limit``
    matches in the server's order, from a static catalog the earliest ``limit`` matches. Item
    self hrefs are absolute (URLs, or absolute paths for a local catalog).
    """
    if limit < 1:
        raise _error(limit, "not a positive number of items", "give a limit of 1 or more")
    bbox = None if bbox is None else check_bbox(bbox)
    max_cloud = None if max_cloud is None else check_max_cloud(max_cloud)
    start, end = _as_day(start), _as_day(end)
    if start is not None and end is not None and start > end:
        raise _error(f"{start}/{end}", f"start {start} is after end {end}", DATE_HINT)
    wanted = None if collections is None else list(collections)

    def matches(item: pystac.Item) -> bool:
        return item_matches(
            item, bbox=bbox, start=start, end=end, max_cloud=max_cloud, collections=wanted
        )

    doc = _read_document(url)
    if not _is_item_search_api(doc):
        found = [item for item in _catalog_items(url, doc) if matches(item)]
        return sorted(found, key=_sort_key)[:limit]
    found = []
    api_items = _api_items(
        url,
        bbox=bbox,
        start=start,
        end=end,
        max_cloud=max_cloud,
        collections=wanted,
        page_size=min(limit, 100),
    )
    try:
        for item in api_items:
            if matches(item):
                found.append(item)
                if len(found) == limit:
                    break
    except APIError as exc:
        raise _error(
            url, f"the STAC API refused the search ({exc})", "check the URL and the filters"
        ) from exc
    return sorted(found, key=_sort_key)


def item_tile(item: pystac.Item) -> str | None:
    """MGRS tile such as ``33TWL`` from PC, Earth Search v1 or v0 properties, else the id."""
    props = item.properties
    if props.get("s2:mgrs_tile"):
        return str(props["s2:mgrs_tile"])
    for prefix in ("mgrs", "sentinel"):
        zone = props.get(f"{prefix}:utm_zone")
        band = props.get(f"{prefix}:latitude_band")
        square = props.get(f"{prefix}:grid_square")
        if zone is not None and band and square:
            return f"{int(zone):02d}{band}{square}"
    code = props.get("grid:code")
    if isinstance(code, str) and code.startswith("MGRS-"):
        return code.removeprefix("MGRS-")
    match = _TILE_IN_ID_RE.search(f"_{item.id}_")
    return match.group(1) if match else None


def item_processing_baseline(item: pystac.Item) -> str | None:
    """``s2:processing_baseline``, else the ``N0509`` part of the ESA product name."""
    props = item.properties
    if props.get("s2:processing_baseline"):
        return str(props["s2:processing_baseline"])
    for name in (props.get("s2:product_uri"), item.id):
        match = _BASELINE_IN_NAME_RE.search(str(name or ""))
        if match:
            return f"{match.group(1)}.{match.group(2)}"
    return None


def summarize_item(item: pystac.Item) -> ItemSummary:
    """The row a search prints for an item."""
    when = item_datetime(item)
    return ItemSummary(
        id=item.id,
        datetime=None if when is None else pystac.utils.datetime_to_str(when),
        tile=item_tile(item),
        cloud_cover=_cloud_cover(item),
        processing_baseline=item_processing_baseline(item),
        href=item.get_self_href(),
    )

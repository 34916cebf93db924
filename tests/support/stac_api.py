"""A minimal STAC API on 127.0.0.1 over a list of item JSONs, for searching without the internet.

Serves the landing page (``conformsTo`` with core, collections, ogcapi-features and item-search),
``/conformance``, ``/collections``, ``/collections/{id}``, ``/collections/{id}/items/{item}`` and
``/search`` by GET and POST with ``bbox``, ``datetime``, ``collections``, ``limit`` and a
``next`` link (token = offset) for paging. Results come newest first, as Earth Search returns them.
The query extension (``eo:cloud_cover`` with ``lt``/``lte``/``gt``/``gte``/``eq``) is
advertised and honoured only with ``query_extension=True``; without it a ``query`` is refused
with 400, so a test sees whether a client sent one. Every request is logged.
"""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support.http import running_server

STAC_VERSION = "1.0.0"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
QUERY_CONFORMANCE = "https://api.stacspec.org/v1.0.0/item-search#query"
# Links of the source files that mean nothing once served by the API.
_DROPPED_RELS = {"self", "root", "parent", "collection"}


def load_items(paths: list[Path]) -> list[dict[str, Any]]:
    """Item JSONs as an API would return them: relative asset hrefs made absolute paths."""
    items = []
    for path in paths:
        item = json.loads(Path(path).read_text())
        for asset in item.get("assets", {}).values():
            href = asset.get("href", "")
            if "://" not in href and not os.path.isabs(href):
                asset["href"] = os.path.normpath(Path(path).parent / href)
        items.append(item)
    return items


@dataclass
class Request:
    method: str
    path: str
    body: dict[str, Any] | None


@dataclass
class StacApi:
    """A running API: its landing page URL and the log of requests."""

    base_url: str
    items: list[dict[str, Any]]
    page_size: int
    query_extension: bool
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"{self.base_url}/"

    def searches(self) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if urlsplit(r.path).path == "/search"]


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _in_interval(item: dict[str, Any], interval: str) -> bool:
    when = _parse_time(item["properties"]["datetime"])
    if "/" not in interval:
        return when == _parse_time(interval)
    start, end = interval.split("/")
    if start not in ("", "..") and when < _parse_time(start):
        return False
    return end in ("", "..") or when <= _parse_time(end)


def _lon_lat(bbox: list[float]) -> list[float]:
    """West, south, east, north of a 2D or 3D bbox."""
    return [bbox[0], bbox[1], bbox[3], bbox[4]] if len(bbox) == 6 else list(bbox)


def _intersects(item_bbox: list[float], bbox: list[float]) -> bool:
    w, s, e, n = _lon_lat(bbox)
    iw, is_, ie, in_ = _lon_lat(item_bbox)
    return iw <= e and w <= ie and is_ <= n and s <= in_


_OPS = {
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "eq": lambda a, b: a == b,
}


def _passes_query(item: dict[str, Any], query: dict[str, dict[str, Any]]) -> bool:
    for name, ops in query.items():
        value = item["properties"].get(name)
        if value is None or not all(_OPS[op](value, ref) for op, ref in ops.items()):
            return False
    return True


def _handler(api: StacApi) -> type[BaseHTTPRequestHandler]:
    def collection_ids() -> list[str]:
        return sorted({i["collection"] for i in api.items if i.get("collection")})

    def served_item(item: dict[str, Any]) -> dict[str, Any]:
        item = copy.deepcopy(item)
        collection = item.get("collection")
        links = [link for link in item.get("links", []) if link.get("rel") not in _DROPPED_RELS]
        links.append({"rel": "root", "href": api.url, "type": "application/json"})
        if collection:
            base = f"{api.base_url}/collections/{collection}"
            links += [
                {
                    "rel": "self",
                    "href": f"{base}/items/{item['id']}",
                    "type": "application/geo+json",
                },
                {"rel": "collection", "href": base, "type": "application/json"},
                {"rel": "parent", "href": base, "type": "application/json"},
            ]
        item["links"] = links
        return item

    def collection_doc(cid: str) -> dict[str, Any]:
        members = [i for i in api.items if i.get("collection") == cid]
        boxes = [_lon_lat(i["bbox"]) for i in members]
        times = sorted(i["properties"]["datetime"] for i in members)
        base = f"{api.base_url}/collections/{cid}"
        return {
            "type": "Collection",
            "stac_version": STAC_VERSION,
            "id": cid,
            "description": f"{len(members)} items",
            "license": "proprietary",
            "extent": {
                "spatial": {
                    "bbox": [
                        [
                            min(b[0] for b in boxes),
                            min(b[1] for b in boxes),
                            max(b[2] for b in boxes),
                            max(b[3] for b in boxes),
                        ]
                    ]
                },
                "temporal": {"interval": [[times[0], times[-1]]]},
            },
            "links": [
                {"rel": "self", "href": base, "type": "application/json"},
                {"rel": "root", "href": api.url, "type": "application/json"},
                {"rel": "parent", "href": api.url, "type": "application/json"},
                {"rel": "items", "href": f"{base}/items", "type": "application/geo+json"},
            ],
        }

    def landing() -> dict[str, Any]:
        conforms = CONFORMANCE + ([QUERY_CONFORMANCE] if api.query_extension else [])
        search = f"{api.base_url}/search"
        return {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "test-stac-api",
            "description": "A local STAC API over real Sentinel-2 items",
            "conformsTo": conforms,
            "links": [
                {"rel": "self", "href": api.url, "type": "application/json"},
                {"rel": "root", "href": api.url, "type": "application/json"},
                {"rel": "conformance", "href": f"{api.base_url}/conformance"},
                {"rel": "data", "href": f"{api.base_url}/collections"},
                {"rel": "search", "href": search, "type": "application/geo+json", "method": "GET"},
                {"rel": "search", "href": search, "type": "application/geo+json", "method": "POST"},
            ]
            + [
                {"rel": "child", "href": f"{api.base_url}/collections/{cid}"}
                for cid in collection_ids()
            ],
        }

    def search(params: dict[str, Any], method: str) -> tuple[int, dict[str, Any]]:
        if "query" in params and not api.query_extension:
            return 400, {"code": "BadRequest", "description": "query is not supported"}
        hits = api.items
        if params.get("bbox") is not None:
            hits = [i for i in hits if _intersects(i["bbox"], params["bbox"])]
        if params.get("datetime"):
            hits = [i for i in hits if _in_interval(i, params["datetime"])]
        if params.get("collections"):
            hits = [i for i in hits if i.get("collection") in params["collections"]]
        if params.get("query"):
            hits = [i for i in hits if _passes_query(i, params["query"])]
        hits = sorted(hits, key=lambda i: (i["properties"]["datetime"], i["id"]), reverse=True)
        limit = min(int(params.get("limit") or api.page_size), api.page_size)
        offset = int(params.get("token") or 0)
        page = hits[offset : offset + limit]
        links: list[dict[str, Any]] = [{"rel": "root", "href": api.url}]
        if offset + limit < len(hits):
            token = str(offset + limit)
            if method == "POST":
                body = {k: v for k, v in params.items() if k != "token"} | {"token": token}
                links.append(
                    {
                        "rel": "next",
                        "href": f"{api.base_url}/search",
                        "method": "POST",
                        "body": body,
                        "merge": False,
                        "type": "application/geo+json",
                    }
                )
            else:
                query = {k: v for k, v in params.items() if k != "token" and v is not None}
                query = {
                    k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in query.items()
                }
                query["token"] = token
                links.append(
                    {
                        "rel": "next",
                        "href": f"{api.base_url}/search?{urlencode(query)}",
                        "method": "GET",
                        "type": "application/geo+json",
                    }
                )
        return 200, {
            "type": "FeatureCollection",
            "features": [served_item(i) for i in page],
            "links": links,
            "numberMatched": len(hits),
            "numberReturned": len(page),
        }

    def get_params(query: str) -> dict[str, Any]:
        raw = {k: v[-1] for k, v in parse_qs(query).items()}
        params: dict[str, Any] = dict(raw)
        if "bbox" in raw:
            params["bbox"] = [float(v) for v in raw["bbox"].split(",")]
        if "collections" in raw:
            params["collections"] = raw["collections"].split(",")
        if "query" in raw:
            params["query"] = json.loads(raw["query"])
        return params

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def _send(self, status: int, doc: dict[str, Any]) -> None:
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _log(self, body: dict[str, Any] | None) -> None:
            with api.lock:
                api.requests.append(Request(self.command, self.path, body))

        def do_GET(self):
            self._log(None)
            parts = urlsplit(self.path)
            segments = [s for s in parts.path.split("/") if s]
            if not segments:
                return self._send(200, landing())
            if segments == ["conformance"]:
                return self._send(200, {"conformsTo": landing()["conformsTo"]})
            if segments == ["collections"]:
                docs = [collection_doc(c) for c in collection_ids()]
                return self._send(200, {"collections": docs, "links": []})
            if segments == ["search"]:
                return self._send(*search(get_params(parts.query), "GET"))
            if (
                len(segments) == 2
                and segments[0] == "collections"
                and segments[1] in collection_ids()
            ):
                return self._send(200, collection_doc(segments[1]))
            if len(segments) == 4 and segments[0] == "collections" and segments[2] == "items":
                for item in api.items:
                    if item["id"] == segments[3] and item.get("collection") == segments[1]:
                        return self._send(200, served_item(item))
            return self._send(404, {"code": "NotFound", "description": self.path})

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            self._log(body)
            if urlsplit(self.path).path != "/search":
                return self._send(404, {"code": "NotFound", "description": self.path})
            return self._send(*search(body, "POST"))

    return Handler


@contextmanager
def serve_stac_api(
    items: list[dict[str, Any]], *, page_size: int = 100, query_extension: bool = False
) -> Iterator[StacApi]:
    """Serve a STAC API over ``items`` on a free port of 127.0.0.1 for the duration of the block.

    ``page_size`` caps every page, whatever ``limit`` a client asks, so small values force paging.
    """
    api = StacApi("", items, page_size, query_extension)
    with running_server(_handler(api), "stac-api") as api.base_url:
        yield api

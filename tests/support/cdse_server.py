"""A fake Copernicus Data Space Ecosystem on 127.0.0.1: token, OData catalogue, product download.

It speaks the subset of the protocol s2render's client uses
(https://documentation.dataspace.copernicus.eu/APIs/OData.html):

- ``POST /auth/token``: OAuth password grant, checks the credentials;
- ``GET /catalogue/odata/v1/Products?$filter=…``: the ``$filter`` terms the client writes
  (``Name eq``, ``Collection/Name eq``, ``contains(Name,…)``, ``ContentDate/Start ge|gt|le|lt``,
  the ``cloudCover`` attribute ``any(…)``), joined by ``and``; ``$orderby``, ``$top``,
  ``$expand=Attributes``; an unknown term is a 400, as on the real server;
- ``GET /download/odata/v1/Products(<id>)/$value``: needs the bearer token and redirects (302) to
  ``/zipper/…`` on *another host name* (``localhost``), where ``requests`` would drop the token;
  the zipper needs the token too and honours ``Range: bytes=N-``.

Knobs inject faults (cut the first bodies after N bytes, corrupt bodies, refuse logins, reject the
first token, hold bodies until a gate opens); counters say what was served.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import re
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from s2render.core.cdse import CdseConfig
from tests.support.http import running_server

_VALUE_RE = re.compile(r"^/(download|zipper)/odata/v1/Products\(([^)]+)\)/\$value$")
_RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")
_TERM_RES: list[tuple[str, re.Pattern[str]]] = [
    ("name", re.compile(r"^Name eq '((?:[^']|'')*)'$")),
    ("collection", re.compile(r"^Collection/Name eq '((?:[^']|'')*)'$")),
    ("contains", re.compile(r"^contains\(Name,'((?:[^']|'')*)'\)$")),
    ("date", re.compile(r"^ContentDate/Start (ge|gt|le|lt) (\S+Z)$")),
    (
        "cloud",
        re.compile(
            r"^Attributes/OData\.CSC\.DoubleAttribute/any\(att:att/Name eq 'cloudCover' and "
            r"att/OData\.CSC\.DoubleAttribute/Value (ge|gt|le|lt) ([0-9.]+)\)$"
        ),
    ),
]
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "ge": lambda a, b: a >= b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "lt": lambda a, b: a < b,
}


@dataclass
class FakeProduct:
    """A catalogue entry and the bytes ``$value`` serves for it."""

    name: str  # ending in .SAFE, as CDSE names Sentinel-2 products
    body: bytes
    sensed: str = "2023-06-01T10:15:59.024Z"
    cloud_cover: float = 10.0
    online: bool = True
    collection: str = "SENTINEL-2"
    id: str = field(default_factory=lambda: f"0000{next(_ids):04d}-aaaa-bbbb-cccc-ddddeeeeffff")

    @property
    def md5(self) -> str:
        return hashlib.md5(self.body).hexdigest()

    def entry(self, *, attributes: bool) -> dict[str, Any]:
        lon, lat = 12.0, 52.0
        ring = [[lon, lat], [lon + 1, lat], [lon + 1, lat + 1], [lon, lat + 1], [lon, lat]]
        item: dict[str, Any] = {
            "@odata.mediaContentType": "application/octet-stream",
            "Id": self.id,
            "Name": self.name,
            "ContentType": "application/octet-stream",
            "ContentLength": len(self.body),
            "Online": self.online,
            "Checksum": [
                {"Value": hashlib.blake2b(self.body).hexdigest(), "Algorithm": "BLAKE3"},
                {"Value": self.md5, "Algorithm": "MD5", "ChecksumDate": self.sensed},
            ],
            "ContentDate": {"Start": self.sensed, "End": self.sensed},
            "GeoFootprint": {"type": "Polygon", "coordinates": [ring]},
        }
        if attributes:
            item["Attributes"] = [
                {
                    "@odata.type": "#OData.CSC.DoubleAttribute",
                    "Name": "cloudCover",
                    "Value": self.cloud_cover,
                    "ValueType": "Double",
                }
            ]
        return item


_ids = itertools.count(1)


@dataclass
class CdseServer:
    """A running fake CDSE: its URLs, knobs and counters."""

    products: list[FakeProduct]
    username: str = "alice@example.org"
    password: str = "s3cret"
    base_url: str = ""
    # knobs
    cut_after: int | None = None  # the first ``cuts`` body responses stop after this many bytes
    cuts: int = 1
    corrupt: str = "never"  # "never" | "once" | "always": flip bytes in the body
    refuse_token: bool = False  # the token endpoint refuses every login
    reject_first_token: bool = False  # the first token issued is refused (as if it expired)
    gate: threading.Event | None = None  # body responses wait for this event
    expires_in: int = 600
    # counters
    full_downloads: int = 0  # 200 responses with the whole body
    range_requests: int = 0  # body requests carrying Range
    bytes_sent: int = 0  # body bytes written by the zipper
    body_requests: int = 0  # requests that reached the zipper with a valid token
    tokens_issued: int = 0
    catalogue_queries: list[str] = field(default_factory=list)  # the $filter strings received
    lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, int] = field(default_factory=dict)  # token -> serial number
    _bodies_served: int = 0

    @property
    def token_url(self) -> str:
        return f"{self.base_url}/auth/token"

    @property
    def catalogue_url(self) -> str:
        return f"{self.base_url}/catalogue/odata/v1"

    @property
    def download_url(self) -> str:
        return f"{self.base_url}/download/odata/v1"

    def config(self, **overrides: Any) -> CdseConfig:
        """A client configuration for this server, with quick retries."""
        values: dict[str, Any] = {
            "username": self.username,
            "password": self.password,
            "token_url": self.token_url,
            "catalogue_url": self.catalogue_url,
            "download_url": self.download_url,
            "backoff": 0.001,
            "backoff_max": 0.01,
            "timeout": 10.0,
            "chunk_size": 8192,
        }
        values.update(overrides)
        return CdseConfig(**values)

    def wait_for(self, condition: Callable[[CdseServer], bool], timeout: float = 10.0) -> None:
        """Block until ``condition(self)`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if condition(self):
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake CDSE: condition not met within {timeout} s")
            time.sleep(0.005)

    def product(self, product_id: str) -> FakeProduct | None:
        return next((p for p in self.products if p.id == product_id), None)


def _split_and(expression: str) -> list[str]:
    """Split at the ``and`` operators that are outside parentheses and string literals."""
    terms, depth, quoted, start, i = [], 0, False, 0, 0
    while i < len(expression):
        c = expression[i]
        if c == "'":
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth -= 1
        elif not quoted and depth == 0 and expression.startswith(" and ", i):
            terms.append(expression[start:i])
            start = i = i + 5
            continue
        i += 1
    terms.append(expression[start:])
    return terms


def _matcher(term: str) -> Callable[[FakeProduct], bool]:
    for kind, pattern in _TERM_RES:
        match = pattern.match(term)
        if not match:
            continue
        if kind == "name":
            name = match.group(1).replace("''", "'")
            return lambda p: p.name == name
        if kind == "collection":
            collection = match.group(1)
            return lambda p: p.collection == collection
        if kind == "contains":
            part = match.group(1).replace("''", "'")
            return lambda p: part in p.name
        op, value = _COMPARE[match.group(1)], match.group(2)
        if kind == "date":
            moment = datetime.fromisoformat(value)
            return lambda p: op(datetime.fromisoformat(p.sensed), moment)
        limit = float(value)
        return lambda p: op(p.cloud_cover, limit)
    raise ValueError(f"unsupported $filter term: {term!r}")


def _handler(state: CdseServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length", 0))
            form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
            if urlsplit(self.path).path != "/auth/token":
                return self._json(404, {"detail": "Not Found"})
            good = (
                form.get("grant_type") == "password"
                and form.get("client_id") == "cdse-public"
                and form.get("username") == state.username
                and form.get("password") == state.password
            )
            if state.refuse_token or not good:
                return self._json(
                    401, {"error": "invalid_grant", "error_description": "Invalid user credentials"}
                )
            with state.lock:
                state.tokens_issued += 1
                token = f"token-{state.tokens_issued}-{time.monotonic_ns()}"
                state._tokens[token] = state.tokens_issued
            self._json(
                200,
                {"access_token": token, "expires_in": state.expires_in, "token_type": "Bearer"},
            )

        def do_GET(self):
            url = urlsplit(self.path)
            path = unquote(url.path)
            if path == "/catalogue/odata/v1/Products":
                return self._catalogue(parse_qs(url.query))
            match = _VALUE_RE.match(path)
            if not match:
                return self._json(404, {"detail": "Not Found"})
            if not self._authorised():
                return self._json(401, {"detail": "Expired signature!"})
            product = state.product(match.group(2))
            if product is None:
                return self._json(404, {"detail": f"Product {match.group(2)} not found"})
            if match.group(1) == "download":
                port = state.base_url.rsplit(":", 1)[1]
                location = f"http://localhost:{port}/zipper/odata/v1/Products({product.id})/$value"
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            return self._body(product)

        def _authorised(self) -> bool:
            header = self.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ")
            with state.lock:
                serial = state._tokens.get(token)
            if serial is None:
                return False
            return not (state.reject_first_token and serial == 1)

        def _catalogue(self, query: dict[str, list[str]]) -> None:
            where = query.get("$filter", [""])[0]
            with state.lock:
                state.catalogue_queries.append(where)
            try:
                tests = [_matcher(term) for term in _split_and(where)] if where else []
            except ValueError as exc:
                return self._json(400, {"detail": str(exc)})
            found = [p for p in state.products if all(test(p) for test in tests)]
            if query.get("$orderby", [""])[0] == "ContentDate/Start desc":
                found.sort(key=lambda p: p.sensed, reverse=True)
            found = found[: int(query.get("$top", ["20"])[0])]
            attributes = query.get("$expand", [""])[0] == "Attributes"
            self._json(
                200,
                {
                    "@odata.context": "$metadata#Products",
                    "value": [p.entry(attributes=attributes) for p in found],
                },
            )

        def _body(self, product: FakeProduct) -> None:
            with state.lock:
                state.body_requests += 1
            if state.gate is not None:
                state.gate.wait(timeout=30)
            size = len(product.body)
            start, header = 0, self.headers.get("Range")
            if header:
                match = _RANGE_RE.match(header.strip())
                if not match or int(match.group(1)) >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(match.group(1))
            with state.lock:
                first = state._bodies_served == 0
                state._bodies_served += 1
                state.range_requests += bool(header)
                state.full_downloads += not header
                corrupt = state.corrupt == "always" or (state.corrupt == "once" and first)
                cut = state.cut_after if state._bodies_served <= state.cuts else None
            body = product.body[start:]
            if corrupt:
                middle = len(body) // 2
                body = body[:middle] + bytes(b ^ 0xFF for b in body[middle : middle + 64])
                body += product.body[start + middle + 64 :]
            self.send_response(206 if header else 200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(len(body)))
            if header:
                self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
            self.end_headers()
            if cut is not None:
                body = body[:cut]
            for offset in range(0, len(body), 1 << 16):
                chunk = body[offset : offset + (1 << 16)]
                self.wfile.write(chunk)
                with state.lock:
                    state.bytes_sent += len(chunk)
            if cut is not None:  # hang up mid-body, as a dropped connection does
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

    return Handler


def zip_safe(safe: Path) -> bytes:
    """A zip holding the ``.SAFE`` folder at its root, as CDSE serves products."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(safe.rglob("*")):
            archive.write(path, path.relative_to(safe.parent).as_posix())
    return buffer.getvalue()


@contextmanager
def serve_cdse(products: list[FakeProduct], **knobs: Any) -> Iterator[CdseServer]:
    """Run a fake CDSE serving ``products`` on a free port of 127.0.0.1 for the block."""
    state = CdseServer(products=products, **knobs)
    with running_server(_handler(state), "fake-cdse") as state.base_url:
        try:
            yield state
        finally:
            if state.gate is not None:
                state.gate.set()  # let held bodies go, or the server cannot stop

"""A local stand-in for the Planetary Computer: a SAS token endpoint and a blob store that
refuses reads without a token, both on 127.0.0.1.

The token server answers ``GET /<collection>`` (or ``/<account>/<container>``) like the Data
Authentication API (``{"msft:expiry": ..., "token": ...}``), counts the requests per path, and
issues tokens with the expiry the test chooses, or the status it chooses. The blob server is
:mod:`tests.support.range_server` answering 403 to any request whose query has no ``sig=``, as
Azure Blob Storage does to unsigned requests for private containers.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.http import running_server
from tests.support.range_server import RangeServer, _handler


@dataclass
class TokenServer:
    """A running token endpoint: its URL, what it was asked, and what it answers."""

    url: str = ""
    expiry: datetime = field(default_factory=lambda: datetime.now(UTC) + timedelta(hours=1))
    status: int = 200
    requests: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def count(self) -> int:
        with self.lock:
            return sum(self.requests.values())

    def token_for(self, number: int) -> str:
        """The token issued in answer to the ``number``-th request (1-based)."""
        return f"st=2020-01-01T00%3A00%3A00Z&se=x&sp=rl&sig=token{number}%3D"


def _token_handler(state: TokenServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):  # quiet
            pass

        def do_GET(self):
            with state.lock:
                state.requests[self.path] += 1
                number = sum(state.requests.values())
                status, expiry = state.status, state.expiry
            if status == 200:
                body = json.dumps(
                    {
                        "msft:expiry": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "token": state.token_for(number),
                    }
                ).encode()
            else:
                body = json.dumps({"detail": "refused"}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@contextmanager
def serve_tokens() -> Iterator[TokenServer]:
    """A token endpoint on a free port of 127.0.0.1 for the duration of the block."""
    state = TokenServer()
    with running_server(_token_handler(state), "token-server") as base_url:
        state.url = f"{base_url}/api/sas/v1/token"
        yield state


def _blob_handler(state: RangeServer):
    base = _handler(state)

    class Handler(base):  # type: ignore[misc, valid-type]
        def _serve(self, *, body: bool) -> None:
            if "sig=" not in urlsplit(self.path).query:
                self.send_response(403)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._record(403, 0)
                return
            super()._serve(body=body)

    return Handler


@contextmanager
def serve_blobs(root: str | Path) -> Iterator[RangeServer]:
    """Serve ``root`` with range requests on 127.0.0.1, only to requests carrying a token.

    In-process: fine for files georeferenced in themselves (no ``.aux.xml`` sidecars; see
    tests.support.range_server_process)."""
    state = RangeServer(base_url="", root=Path(root))
    with running_server(_blob_handler(state), "blob-server") as state.base_url:
        yield state


# Where Planetary Computer keeps Sentinel-2 L2A COGs: <container>/<zone>/<band>/<square>/<date>/
# (the real hrefs of stac_items/odc-stac/S2B_MSIL2A_20190629T212529_R043_T06VVN_...json).
PC_CONTAINER = "sentinel2-l2"


def mirror_like_pc(folder: Path, root: Path, prefix: str) -> Path:
    """Link ``folder``'s ``.tif`` files under ``root/<prefix>/`` (a PC-like blob path)."""
    target = root / prefix
    target.mkdir(parents=True)
    for f in folder.glob("*.tif"):
        (target / f.name).symlink_to(f)
    return target


def item_served_from(item_file: Path, folder: Path, base_url: str, prefix: str) -> dict:
    """A copy of a real item whose band assets with a file in ``folder`` point, unsigned, at
    ``<base_url>/<prefix>/<file>``; every other asset dropped (nothing leaves 127.0.0.1)."""
    data = json.loads(item_file.read_text())
    for key, asset in list(data["assets"].items()):
        name = asset["href"].rsplit("/", 1)[-1]
        if asset["href"].startswith("https://") and (folder / name).is_file():
            asset["href"] = f"{base_url}/{prefix}/{name}"
        else:
            del data["assets"][key]
    data["links"] = [link for link in data.get("links", []) if link["rel"] != "self"]
    return data

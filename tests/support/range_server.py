"""A static file server on 127.0.0.1 that honours HTTP range requests, like S3 or Azure Blob.

GDAL's ``/vsicurl/`` reads COGs with ``Range: bytes=a-b`` requests; Python's
``SimpleHTTPRequestHandler`` ignores Range, so this handler implements the single-range subset
(RFC 9110 §14) and records every request, so tests can assert on what was read, not on time.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from tests.support.http import running_server

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int
    sent: int  # body bytes sent


@dataclass
class RangeServer:
    """A running server: its base URL and the log of what it served."""

    base_url: str
    root: Path
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def bytes_sent(self, path_suffix: str = "") -> int:
        with self.lock:
            return sum(r.sent for r in self.requests if r.path.endswith(path_suffix))

    def requests_for(self, path_suffix: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    def clear(self) -> None:
        with self.lock:
            self.requests.clear()


def _handler(server_state: RangeServer) -> type[SimpleHTTPRequestHandler]:
    class Handler(SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as GDAL's curl expects

        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(server_state.root), **kwargs)

        def log_message(self, format, *args):  # quiet
            pass

        def _record(self, status: int, sent: int) -> None:
            with server_state.lock:
                server_state.requests.append(
                    Request(self.command, self.path, self.headers.get("Range"), status, sent)
                )

        def do_HEAD(self):
            self._serve(body=False)

        def do_GET(self):
            self._serve(body=True)

        def _serve(self, *, body: bool) -> None:
            path = Path(self.translate_path(self.path))
            if not path.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self._record(404, 0)
                return
            size = path.stat().st_size
            start, end, status = 0, size - 1, 200
            header = self.headers.get("Range")
            if header:
                match = _RANGE_RE.match(header.strip())
                if not match or (not match.group(1) and not match.group(2)):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self._record(416, 0)
                    return
                if match.group(1):
                    start = int(match.group(1))
                    end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
                else:  # suffix range: the last N bytes
                    start = max(0, size - int(match.group(2)))
                if start >= size or start > end:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    self._record(416, 0)
                    return
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", self.guess_type(str(path)))
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            sent = 0
            if body:
                with path.open("rb") as f:
                    f.seek(start)
                    remaining = length
                    while remaining:
                        chunk = f.read(min(remaining, 1 << 16))
                        if not chunk:
                            break
                        self.wfile.write(chunk)
                        remaining -= len(chunk)
                        sent += len(chunk)
            self._record(status, sent)

    return Handler


@contextmanager
def serve_directory(root: str | Path) -> Iterator[RangeServer]:
    """Serve ``root`` on a free port of 127.0.0.1 for the duration of the block."""
    state = RangeServer(base_url="", root=Path(root))
    with running_server(_handler(state), "range-server") as state.base_url:
        yield state

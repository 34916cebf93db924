"""The Range-honouring file server of :mod:`tests.support.range_server`, run in a child process.

Needed when GDAL makes HTTP requests while the calling thread holds the GIL: rasterio reads a
dataset's georeferencing with the GIL held, and GDAL resolves sidecar georeferencing (a
``.aux.xml`` next to the file) lazily at that moment. A server thread in the same interpreter
could then never answer, and the test would hang. The child serves the files; the parent asks
it for its request log over two control paths that are not logged themselves.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import ThreadingHTTPServer
from pathlib import Path

import requests

from tests.support.range_server import RangeServer, Request, _handler

_LOG_PATH = "/__requests__"
_CLEAR_PATH = "/__clear__"
_TIMEOUT = 10.0
REPO = Path(__file__).resolve().parents[2]


class RemoteRangeServer:
    """The parent's view of a server running in a child process (RangeServer's interface)."""

    def __init__(self, base_url: str, root: Path) -> None:
        self.base_url = base_url
        self.root = root

    def url(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    @property
    def requests(self) -> list[Request]:
        response = requests.get(self.url(_LOG_PATH), timeout=_TIMEOUT)
        response.raise_for_status()
        return [Request(**r) for r in response.json()]

    def bytes_sent(self, path_suffix: str = "") -> int:
        return sum(r.sent for r in self.requests if r.path.endswith(path_suffix))

    def requests_for(self, path_suffix: str) -> list[Request]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def clear(self) -> None:
        requests.get(self.url(_CLEAR_PATH), timeout=_TIMEOUT).raise_for_status()


def _control_handler(state: RangeServer):
    base = _handler(state)

    class Handler(base):  # type: ignore[misc, valid-type]
        def do_GET(self):
            if self.path == _LOG_PATH:
                with state.lock:
                    body = json.dumps([r.__dict__ for r in state.requests]).encode()
                self._reply(body)
            elif self.path == _CLEAR_PATH:
                state.clear()
                self._reply(b"[]")
            else:
                super().do_GET()

        def _reply(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def _serve(root: str) -> None:
    state = RangeServer(base_url="", root=Path(root))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _control_handler(state))
    httpd.daemon_threads = True
    print(f"http://127.0.0.1:{httpd.server_address[1]}", flush=True)
    httpd.serve_forever()


@contextmanager
def serve_directory_in_process(root: str | Path) -> Iterator[RemoteRangeServer]:
    """Serve ``root`` from a child process on a free port of 127.0.0.1 for the block."""
    child = subprocess.Popen(
        [sys.executable, "-c", f"from {__name__} import _serve; _serve({str(root)!r})"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        base_url = child.stdout.readline().strip()
        if not base_url.startswith("http://"):
            raise RuntimeError(f"range server process did not start (said {base_url!r})")
        yield RemoteRangeServer(base_url, Path(root))
    finally:
        child.terminate()
        child.wait(timeout=_TIMEOUT)

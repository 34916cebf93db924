"""Downloading whole products from the Copernicus Data Space Ecosystem, resumably and verified.

- an OAuth password grant on the Keycloak token endpoint gives a bearer token (10 min);
- ``{download}/Products(<Id>)/$value`` needs the token and redirects to another host, which needs
  it too: the documentation follows the redirects by hand, re-sending the header, because
  ``requests`` drops ``Authorization`` on a cross-host redirect. So do we.

A download lands as ``<dest>/<name without .SAFE>.zip`` (the SciHub name the seed used; the zip
holds the ``.SAFE`` folder at its root, which :func:`s2render.core.product.open_product` opens). It
is written to ``….zip.part``, resumed with ``Range`` after a cut, checked against the catalogue's
size and MD5, fsynced and renamed into place; an exclusive ``flock`` on ``<dest>/<name>.lock``
makes one download per product however many threads or processes ask.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests
from requests.auth import AuthBase

from s2render.core.cdse import (
    CREDENTIAL_VARIABLES,
    NETWORK_ERRORS,
    CdseConfig,
    RemoteProduct,
    product_stem,
)
from s2render.core.errors import CredentialsError, DownloadError

_MAX_REDIRECTS = 10


_TOKEN_MARGIN = 30.0  # seconds: refresh a token this long before the server says it expires


_RETRYABLE_STATUS = frozenset({408, 416, 425, 429, 500, 502, 503, 504})


Progress = Callable[[int, int], None]


class _Bearer(AuthBase):
    """The token as a ``requests`` auth, so that a ~/.netrc entry cannot replace it."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self.value
        return request


class _Token:
    """A bearer token, fetched on first use and again when it expires or is refused."""

    def __init__(self, config: CdseConfig, session: requests.Session) -> None:
        if not config.username or not config.password:
            raise CredentialsError(
                f"downloading from CDSE needs an account: set {CREDENTIAL_VARIABLES} "
                "(free registration at https://dataspace.copernicus.eu)"
            )
        self._config = config
        self._session = session
        self._value: str | None = None
        self._expires = 0.0

    def auth(self) -> _Bearer:
        if self._value is None or time.monotonic() >= self._expires:
            self._fetch()
        return _Bearer(f"Bearer {self._value}")

    def invalidate(self) -> None:
        self._value = None

    def _fetch(self) -> None:
        c = self._config
        form = {
            "grant_type": "password",
            "username": c.username,
            "password": c.password,
            "client_id": c.client_id,
        }
        response = self._session.post(c.token_url, data=form, timeout=c.timeout)
        if response.status_code in (400, 401, 403):
            raise CredentialsError(
                f"CDSE refused the login of {c.username!r} (HTTP {response.status_code}: "
                f"{_oauth_error(response)}); check {CREDENTIAL_VARIABLES}"
            )
        if response.status_code != 200:
            raise _Retryable(f"the CDSE token endpoint answered HTTP {response.status_code}")
        answer = response.json()
        self._value = answer["access_token"]
        lifetime = float(answer.get("expires_in", 600))
        self._expires = time.monotonic() + max(0.0, lifetime - _TOKEN_MARGIN)


def _oauth_error(response: requests.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return response.text[:200] or response.reason
    return str(answer.get("error_description") or answer.get("error") or answer)


class _Retryable(Exception):
    """A failure worth another attempt after a pause."""


def download_product(
    config: CdseConfig,
    remote: RemoteProduct,
    dest_dir: str | Path,
    *,
    progress: Progress | None = None,
) -> Path:
    """Download ``remote`` into ``dest_dir`` once, resuming and verifying; return the zip's path.

    A product already downloaded (same size as in the catalogue) is returned without logging in.
    After ``config.retries`` failed retries a :class:`DownloadError` is raised; a partial file
    from cut connections is kept for the next call to resume, one with a wrong checksum is not.
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / remote.zip_name
    if _is_complete(final, remote):
        return final
    with _exclusive(dest / f"{product_stem(remote.name)}.lock"):
        if _is_complete(final, remote):  # downloaded by whoever held the lock before us
            return final
        if not remote.online:
            raise DownloadError(
                f"{remote.name} is offline in the CDSE archive (long-term storage); "
                "order it on https://browser.dataspace.copernicus.eu and retry when it is online"
            )
        part = final.with_name(final.name + ".part")
        with requests.Session() as session:
            _download_with_retries(config, remote, part, session, progress)
        _commit(part, final)
        return final


def _download_with_retries(
    config: CdseConfig,
    remote: RemoteProduct,
    part: Path,
    session: requests.Session,
    progress: Progress | None,
) -> None:
    token: _Token | None = None
    failures = 0
    while True:
        try:
            token = token or _Token(config, session)
            md5 = _fetch(config, remote, part, session, token, progress)
            _verify(remote, part, md5)
            return
        except (_Retryable, *NETWORK_ERRORS) as exc:
            failures += 1
            if failures > config.retries:
                kept = f"; {part.name} is kept to resume from" if part.exists() else ""
                raise DownloadError(
                    f"downloading {remote.name} from CDSE failed {failures} times, last: "
                    f"{exc}{kept}"
                ) from exc
            time.sleep(min(config.backoff * 2 ** (failures - 1), config.backoff_max))


def _fetch(
    config: CdseConfig,
    remote: RemoteProduct,
    part: Path,
    session: requests.Session,
    token: _Token,
    progress: Progress | None,
) -> str:
    """Bring ``part`` to the product's full size, resuming what is there; return its MD5."""
    have, digest = _hash_existing(part, remote.size)
    if progress:
        progress(have, remote.size)
    if have == remote.size:
        return digest.hexdigest()
    url = f"{config.download_url}/Products({remote.id})/$value"
    headers = {"Range": f"bytes={have}-"} if have else {}
    with _open_body(config, session, token, url, headers) as response:
        status = response.status_code
        if status == 206 and have and _range_start(response) == have:
            mode = "ab"
        elif status == 200:  # no range support, or nothing to resume: from the start
            if progress and have:
                progress(0, remote.size)
            mode, have, digest = "wb", 0, hashlib.md5()
        elif status in (206, 416):  # a range we did not ask for, or our part is not theirs
            part.unlink(missing_ok=True)
            raise _Retryable(f"HTTP {status} to Range: bytes={have}- from {response.url}")
        elif status in _RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {status} from {response.url}")
        else:
            raise DownloadError(
                f"CDSE answered HTTP {status} for {remote.name} at {response.url}: "
                f"{response.text[:200]}"
            )
        with part.open(mode) as out:
            try:
                for chunk in response.iter_content(config.chunk_size):
                    out.write(chunk)
                    digest.update(chunk)
                    have += len(chunk)
                    if progress:
                        progress(have, remote.size)
            except NETWORK_ERRORS as exc:
                raise _Retryable(
                    f"the connection broke after {have} of {remote.size} bytes "
                    f"({type(exc).__name__})"
                ) from exc
    if have < remote.size:
        raise _Retryable(f"the connection closed after {have} of {remote.size} bytes")
    return digest.hexdigest()


def _open_body(
    config: CdseConfig,
    session: requests.Session,
    token: _Token,
    url: str,
    headers: dict[str, str],
) -> requests.Response:
    """GET ``url`` following redirects by hand with the bearer token on every hop; a refused
    token is replaced once (it may have expired in between)."""
    for attempt in range(2):
        response = _follow(config, session, url, headers, token.auth())
        if response.status_code != 401:
            return response
        response.close()
        token.invalidate()
        if attempt:
            raise CredentialsError(
                f"CDSE refused a fresh access token for {url}; the account of "
                f"{config.username!r} may lack download rights (check {CREDENTIAL_VARIABLES})"
            )
    raise AssertionError("unreachable")


def _follow(
    config: CdseConfig,
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    auth: _Bearer,
) -> requests.Response:
    for _ in range(_MAX_REDIRECTS):
        response = session.get(
            url,
            headers=headers,
            auth=auth,
            stream=True,
            allow_redirects=False,
            timeout=config.timeout,
        )
        if not response.is_redirect:
            return response
        url = urljoin(url, response.headers["Location"])
        response.close()
    raise DownloadError(f"more than {_MAX_REDIRECTS} redirects downloading {url}")


def _range_start(response: requests.Response) -> int | None:
    match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _hash_existing(part: Path, size: int) -> tuple[int, Any]:
    """Bytes already in ``part`` and their running MD5; a part longer than the product is junk."""
    digest = hashlib.md5()
    if not part.exists():
        return 0, digest
    if part.stat().st_size > size:
        part.unlink()
        return 0, digest
    have = 0
    with part.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
            have += len(block)
    return have, digest


def _verify(remote: RemoteProduct, part: Path, md5: str) -> None:
    """Size and MD5 as the catalogue gives them; a mismatch throws the part away."""
    size = part.stat().st_size
    if size == remote.size and (remote.md5 is None or md5 == remote.md5):
        return
    part.unlink()
    raise _Retryable(
        f"the download of {remote.name} is corrupt ({size} bytes, MD5 {md5}; the catalogue "
        f"says {remote.size} bytes, MD5 {remote.md5 or 'unknown'})"
    )


def _commit(part: Path, final: Path) -> None:
    """Make the verified part durable, then give it its final name atomically."""
    with part.open("rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, final)
    directory = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _is_complete(final: Path, remote: RemoteProduct) -> bool:
    try:
        return final.stat().st_size == remote.size
    except FileNotFoundError:
        return False


@contextmanager
def _exclusive(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path``: one holder among threads (each opens its
    own descriptor) and processes. The file stays: removing it would race with waiters."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock

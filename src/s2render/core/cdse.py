"""Find and download whole Sentinel-2 products from the Copernicus Data Space Ecosystem (CDSE).

CDSE replaced SciHub (closed 2023). Its protocol, as documented at
https://documentation.dataspace.copernicus.eu/APIs/OData.html and .../APIs/Token.html:

- an OAuth password grant on the Keycloak token endpoint gives a bearer token (10 min);
- the OData catalogue (public) lists ``Products`` with ``Id``, ``Name`` (``….SAFE``),
  ``ContentLength``, ``Checksum`` (MD5 among others), ``ContentDate``, ``GeoFootprint``, ``Online``;
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
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urljoin

import requests
from requests.auth import AuthBase

from s2render.core.errors import CredentialsError, DownloadError

TOKEN_URL = (
    "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
)
CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
DOWNLOAD_URL = "https://download.dataspace.copernicus.eu/odata/v1"
CREDENTIAL_VARIABLES = "S2RENDER_CDSE_USERNAME and S2RENDER_CDSE_PASSWORD"

_MAX_REDIRECTS = 10
_TOKEN_MARGIN = 30.0  # seconds: refresh a token this long before the server says it expires
_RETRYABLE_STATUS = frozenset({408, 416, 425, 429, 500, 502, 503, 504})
_NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CdseConfig:
    """Where CDSE is and how hard to try; built by the interfaces (``s2render.config``)."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    client_id: str = "cdse-public"
    token_url: str = TOKEN_URL
    catalogue_url: str = CATALOGUE_URL
    download_url: str = DOWNLOAD_URL
    retries: int = 5  # further attempts after a failed one (cut connection, bad checksum, 5xx)
    backoff: float = 2.0  # seconds before the first retry, doubling each time...
    backoff_max: float = 60.0  # ...up to this
    timeout: float = 60.0  # seconds of silence before a request is given up
    chunk_size: int = 1 << 20


@dataclass(frozen=True)
class RemoteProduct:
    """One product of the CDSE catalogue."""

    id: str
    name: str  # as CDSE spells it, ending in .SAFE
    size: int  # bytes of the zip
    md5: str | None  # lower-case hex, None when the catalogue gives none
    sensed_start: datetime | None
    footprint: dict[str, Any] | None  # GeoJSON geometry
    online: bool
    cloud_cover: float | None = None

    @property
    def zip_name(self) -> str:
        return zip_name(self.name)


def zip_name(name: str) -> str:
    """File name of a downloaded product: ``S2B_MSIL2A_…_T33UUU_….zip`` (SciHub's convention)."""
    return f"{_stem(name)}.zip"


def _stem(name: str) -> str:
    return name.removesuffix(".zip").removesuffix(".SAFE")


# --- catalogue --------------------------------------------------------------------------------


def find_product(config: CdseConfig, name: str) -> RemoteProduct:
    """Look a product up by name (with or without ``.SAFE``); the catalogue needs no login."""
    safe = f"{_stem(name)}.SAFE"
    found = _query(config, {"$filter": f"Name eq {_literal(safe)}"})
    if not found:
        raise DownloadError(
            f"no product named {safe!r} in the CDSE catalogue at {config.catalogue_url}; "
            "check the name (e.g. S2B_MSIL2A_20230101T100319_N0509_R122_T33UUU_20230101T112345)"
        )
    return found[0]


def search_filter(
    *,
    tile: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    max_cloud: float | None = None,
    level: str | None = None,
) -> str:
    """The OData ``$filter`` for Sentinel-2 products; ``start`` inclusive, ``end`` exclusive
    (a date ``end`` includes that whole day). Syntax per the CDSE OData documentation."""
    terms = ["Collection/Name eq 'SENTINEL-2'"]
    if tile:
        terms.append(f"contains(Name,{_literal('_T' + tile.upper().removeprefix('T') + '_')})")
    if level:
        terms.append(f"contains(Name,{_literal('MSI' + level.upper())})")
    if start is not None:
        terms.append(f"ContentDate/Start ge {_instant(start)}")
    if end is not None:
        if not isinstance(end, datetime):
            end = end + timedelta(days=1)
        terms.append(f"ContentDate/Start lt {_instant(end)}")
    if max_cloud is not None:
        terms.append(
            "Attributes/OData.CSC.DoubleAttribute/any(att:att/Name eq 'cloudCover' and "
            f"att/OData.CSC.DoubleAttribute/Value le {float(max_cloud):g})"
        )
    return " and ".join(terms)


def search_products(
    config: CdseConfig,
    *,
    tile: str | None = None,
    start: date | datetime | None = None,
    end: date | datetime | None = None,
    max_cloud: float | None = None,
    level: str | None = None,
    limit: int = 20,
) -> list[RemoteProduct]:
    """Sentinel-2 products matching the criteria, most recent first."""
    where = search_filter(tile=tile, start=start, end=end, max_cloud=max_cloud, level=level)
    params = {
        "$filter": where,
        "$orderby": "ContentDate/Start desc",
        "$top": str(limit),
        "$expand": "Attributes",
    }
    return _query(config, params)


def _query(config: CdseConfig, params: dict[str, str]) -> list[RemoteProduct]:
    # %20 rather than '+' for spaces: OData servers read '+' literally.
    query = urlencode(params, quote_via=quote, safe="/(),:'$")
    url = f"{config.catalogue_url}/Products?{query}"
    try:
        response = requests.get(url, timeout=config.timeout)
    except _NETWORK_ERRORS as exc:
        raise DownloadError(
            f"the CDSE catalogue at {config.catalogue_url} is unreachable: {exc}"
        ) from exc
    if response.status_code != 200:
        raise DownloadError(
            f"the CDSE catalogue answered HTTP {response.status_code} to {url}: "
            f"{response.text[:200]}"
        )
    return [_remote_product(item) for item in response.json().get("value", [])]


def _remote_product(item: dict[str, Any]) -> RemoteProduct:
    md5 = next(
        (c.get("Value") for c in item.get("Checksum") or [] if c.get("Algorithm") == "MD5"), None
    )
    start = (item.get("ContentDate") or {}).get("Start")
    cloud = next(
        (a.get("Value") for a in item.get("Attributes") or [] if a.get("Name") == "cloudCover"),
        None,
    )
    return RemoteProduct(
        id=str(item["Id"]),
        name=str(item["Name"]),
        size=int(item["ContentLength"]),
        md5=md5.lower() if md5 else None,
        sensed_start=datetime.fromisoformat(start) if start else None,
        footprint=item.get("GeoFootprint"),
        online=bool(item.get("Online", True)),
        cloud_cover=None if cloud is None else float(cloud),
    )


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _instant(moment: date | datetime) -> str:
    if not isinstance(moment, datetime):
        moment = datetime(moment.year, moment.month, moment.day)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # naive means UTC, as sensing times are
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- login ------------------------------------------------------------------------------------


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


# --- download ---------------------------------------------------------------------------------


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
    with _exclusive(dest / f"{_stem(remote.name)}.lock"):
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
        except (_Retryable, *_NETWORK_ERRORS) as exc:
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
            except _NETWORK_ERRORS as exc:
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

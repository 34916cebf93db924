"""The Copernicus Data Space Ecosystem (CDSE) catalogue: where CDSE is, and finding Sentinel-2
products in its OData catalogue. Downloading them is :mod:`s2render.core.cdse_download`.

CDSE replaced SciHub (closed 2023). Its protocol, as documented at
https://documentation.dataspace.copernicus.eu/APIs/OData.html and .../APIs/Token.html:
the OData catalogue (public) lists ``Products`` with ``Id``, ``Name`` (``….SAFE``),
``ContentLength``, ``Checksum`` (MD5 among others), ``ContentDate``, ``GeoFootprint``, ``Online``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import requests

from s2render.core.errors import DownloadError

TOKEN_URL = (
    "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
)
CATALOGUE_URL = "https://catalogue.dataspace.copernicus.eu/odata/v1"
DOWNLOAD_URL = "https://download.dataspace.copernicus.eu/odata/v1"
CREDENTIAL_VARIABLES = "S2RENDER_CDSE_USERNAME and S2RENDER_CDSE_PASSWORD"
NETWORK_ERRORS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)


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
    return f"{product_stem(name)}.zip"


def product_stem(name: str) -> str:
    return name.removesuffix(".zip").removesuffix(".SAFE")


def find_product(config: CdseConfig, name: str) -> RemoteProduct:
    """Look a product up by name (with or without ``.SAFE``); the catalogue needs no login."""
    safe = f"{product_stem(name)}.SAFE"
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
    except NETWORK_ERRORS as exc:
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

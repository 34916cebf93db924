"""Planetary Computer SAS tokens: which hrefs need one, fetching and caching them, signing.

Planetary Computer keeps its files in Azure Blob Storage (``https://<account>.blob.core
.windows.net/<container>/...``), readable only with a Shared Access Signature appended as the
URL's query string. Tokens come from the Data Authentication API, per STAC collection
(``GET <endpoint>/<collection>``) or per storage container (``GET <endpoint>/<account>/
<container>``), as ``{"msft:expiry": "<RFC 3339>", "token": "st=...&se=...&sig=..."}``
(planetarycomputer.microsoft.com/docs/concepts/sas; planetary-computer-sdk-for-python,
``planetary_computer/sas.py``). A token lives about an hour, so signed hrefs are made when a
product is opened and never stored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

import requests

from s2render.core.errors import ProductError

PC_SAS_URL = "https://planetarycomputer.microsoft.com/api/sas/v1/token"
PC_HOST_SUFFIXES: tuple[str, ...] = (".blob.core.windows.net",)
SIGNING_KIND = "planetary-computer"
TOKEN_TIMEOUT = 30.0  # seconds, to get a token
# A token is renewed when less than this is left, as the PC SDK does (sas.py, "ttl() < 60").
REFRESH_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class SasToken:
    """A SAS token (the query string to append) and when it stops working."""

    token: str
    expiry: datetime


def needs_signing(href: str, *, host_suffixes: Collection[str] | None = None) -> bool:
    """Whether ``href`` is a Planetary Computer blob URL without a query string yet.

    ``host_suffixes`` defaults to :data:`PC_HOST_SUFFIXES`, read at call time."""
    parsed = urlparse(href)
    if parsed.scheme not in ("http", "https") or parsed.query:
        return False
    host = (parsed.hostname or "").lower()
    suffixes = PC_HOST_SUFFIXES if host_suffixes is None else host_suffixes
    return any(host == s.lstrip(".") or host.endswith(s) for s in suffixes)


def token_scope(href: str, collection: str | None) -> str:
    """What a token is asked for: the STAC collection, else ``<account>/<container>`` of the
    blob URL (both routes of the Data Authentication API)."""
    if collection:
        return collection
    parsed = urlparse(href)
    account = (parsed.hostname or "").split(".")[0]
    container = parsed.path.lstrip("/").split("/")[0]
    return f"{account}/{container}"


def token_url(endpoint: str, scope: str) -> str:
    return f"{endpoint.rstrip('/')}/{scope}"


def fetch_token(endpoint: str, scope: str, *, timeout: float = TOKEN_TIMEOUT) -> SasToken:
    """A fresh token for ``scope`` from the token ``endpoint``; ProductError if refused."""
    url = token_url(endpoint, scope)
    fix = (
        "check that the endpoint is reachable (S2RENDER_PC_SAS_URL, default "
        f"{PC_SAS_URL}) or sign the item's hrefs first (planetary_computer.sign)"
    )
    try:
        response = requests.get(url, timeout=timeout)
        response.raise_for_status()
        data = response.json()
        token = str(data["token"]).lstrip("?")
        expiry = datetime.fromisoformat(str(data["msft:expiry"]))
    except requests.RequestException as exc:
        raise ProductError(
            f"cannot get a Planetary Computer SAS token from {url}: {exc}; {fix}"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ProductError(
            f"the Planetary Computer token endpoint {url} answered without a usable "
            f"'token' and 'msft:expiry' ({exc}); {fix}"
        ) from exc
    if not token:
        raise ProductError(f"the Planetary Computer token endpoint {url} gave an empty token")
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    return SasToken(token, expiry)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class TokenCache:
    """Tokens per (endpoint, scope), reused until :data:`REFRESH_MARGIN` before they expire.

    Thread-safe: concurrent callers wanting the same token make one request between them."""

    clock: Callable[[], datetime] = _utc_now
    fetch: Callable[[str, str], SasToken] = fetch_token
    _tokens: dict[tuple[str, str], SasToken] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def token(self, endpoint: str, scope: str) -> str:
        key = (endpoint.rstrip("/"), scope)
        with self._lock:  # held while fetching: one request per key, however many threads
            cached = self._tokens.get(key)
            if cached is None or cached.expiry - self.clock() <= REFRESH_MARGIN:
                cached = self.fetch(*key)
                self._tokens[key] = cached
            return cached.token

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = TokenCache()  # the process's tokens: one request per hour per collection, not per open


def sign_href(href: str, token: str) -> str:
    """``href`` with the SAS token as its query string."""
    return f"{href}?{token.lstrip('?')}"


def signed_href(
    href: str, *, endpoint: str, collection: str | None, cache: TokenCache | None = None
) -> str:
    """``href`` signed with a cached or fresh token of its collection (else its container)."""
    tokens = TOKENS if cache is None else cache
    return sign_href(href, tokens.token(endpoint, token_scope(href, collection)))

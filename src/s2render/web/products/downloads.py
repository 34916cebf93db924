"""Remote products of the Copernicus Data Space Ecosystem: registering one by name, fetching it
(once, however many jobs wait for it; progress kept on the row), and the disk cap on downloads
with least-recently-used eviction that never evicts a product a queued or running job uses.

The transfer itself (token, resume, checksum, atomic rename, the cross-process lock) is
:func:`s2render.core.cdse.download_product`; this module keeps the registry's rows in step.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from s2render.core.cdse import CdseConfig, RemoteProduct, find_product
from s2render.core.cdse_download import download_product
from s2render.core.errors import S2RenderError
from s2render.core.product import PRODUCT_NAME_RE, open_product
from s2render.web.errors import FieldError
from s2render.web.products.models import Product, ProductSource, ProductState
from s2render.web.products.services import (
    downloads_dir,
    footprint_bounds,
    product_active_jobs,
    product_remove_files,
    product_values,
)

log = logging.getLogger("s2render.web.products")

PROGRESS_INTERVAL = 0.5  # seconds between progress writes to the row


def cdse_config() -> CdseConfig:
    return settings.S2RENDER["CDSE"]


def product_register_remote(*, name: str) -> Product:
    """Register a CDSE product by name; its files are fetched when a job first needs them."""
    stem = name.strip().removesuffix(".zip").removesuffix(".SAFE")
    existing = Product.objects.filter(name=stem).first()
    if existing is not None:
        return existing
    try:
        remote = find_product(cdse_config(), stem)
    except S2RenderError as exc:
        raise FieldError("remote", str(exc)) from exc
    match = PRODUCT_NAME_RE.match(remote.name)
    if match is None:
        raise FieldError(
            "remote",
            f"{remote.name} is not a Sentinel-2 L1C/L2A product name "
            "(S2x_MSIL1C_… or S2x_MSIL2A_…)",
        )
    west, south, east, north = footprint_bounds(remote.footprint)
    baseline = match.group("baseline")
    row = Product.objects.create(
        name=stem,
        level=match.group("level"),
        mission=match.group("mission"),
        tile=match.group("tile"),
        sensed_at=remote.sensed_start,
        baseline=f"{baseline[:2]}.{baseline[2:]}" if baseline else "",
        cloud_cover=remote.cloud_cover,
        footprint=remote.footprint,
        west=west,
        south=south,
        east=east,
        north=north,
        source=ProductSource.REMOTE,
        location=str(downloads_dir() / remote.zip_name),
        state=ProductState.MISSING,
        remote_id=remote.id,
        checksum=f"md5:{remote.md5}" if remote.md5 else "",
        size_bytes=remote.size,
    )
    if Path(row.location).is_file() and Path(row.location).stat().st_size == remote.size:
        _mark_available(row, Path(row.location))  # fetched before (e.g. `s2render download`)
        row.refresh_from_db()
    return row


def product_fetch(*, product_id: int) -> Product:
    """Fetch a remote product that is missing; return its row afterwards.

    The row moves ``missing → fetching`` by a conditional update, so of many callers (threads,
    dispatchers) one fetches and the others return at once; the core's file lock also keeps two
    processes from writing one file. On failure the row is back to ``missing`` with the reason.
    """
    claimed = Product.objects.filter(
        pk=product_id, source=ProductSource.REMOTE, state=ProductState.MISSING
    ).update(state=ProductState.FETCHING, bytes_done=0, error="")
    row = Product.objects.get(pk=product_id)
    if not claimed:
        return row
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL or done >= total:
            last = now
            Product.objects.filter(pk=product_id).update(bytes_done=done)

    try:
        remote = find_product(cdse_config(), row.name)
        path = download_product(cdse_config(), remote, Path(row.location).parent, progress=progress)
        if path != Path(row.location):  # the catalogue renamed it: follow the file
            Product.objects.filter(pk=product_id).update(location=str(path))
        _mark_available(row, path, remote)
    except Exception as exc:  # any failure: the row must not stay "fetching"
        reason = str(exc) if isinstance(exc, S2RenderError) else f"{type(exc).__name__}: {exc}"
        log.warning("fetch of %s failed: %s", row.name, reason)
        Product.objects.filter(pk=product_id).update(
            state=ProductState.MISSING, error=reason[:4000]
        )
        return Product.objects.get(pk=product_id)
    downloads_evict(keep={product_id})
    return Product.objects.get(pk=product_id)


def _mark_available(row: Product, path: Path, remote: RemoteProduct | None = None) -> None:
    """Parse the downloaded product and record what it holds; broken if it does not parse."""
    try:
        product = open_product(path)
    except S2RenderError as exc:
        Product.objects.filter(pk=row.pk).update(
            state=ProductState.BROKEN, error=f"the download does not parse: {exc}"[:4000]
        )
        raise
    values = product_values(product)
    values.pop("name", None)  # the row keeps the catalogue's name
    if remote is not None and values.get("footprint") is None:
        values["footprint"] = remote.footprint
    Product.objects.filter(pk=row.pk).update(
        **values,
        state=ProductState.AVAILABLE,
        bytes_done=path.stat().st_size,
        size_bytes=path.stat().st_size,
        error="",
        last_used_at=timezone.now(),  # fetched for a job: as good as used, not evicted first
    )


def downloads_evict(*, cap_bytes: int | None = None, keep: set[int] | None = None) -> list[str]:
    """Delete the least recently used downloads until they fit ``cap_bytes`` (default:
    S2RENDER_DOWNLOAD_CAP; None = no cap). A product a queued or running job uses, or one in
    ``keep``, is never evicted; an evicted product stays registered (``missing``) and is
    fetched again when a job needs it. Returns the names evicted."""
    cap = settings.S2RENDER.get("DOWNLOAD_CAP") if cap_bytes is None else cap_bytes
    if cap is None:
        return []
    keep = keep or set()
    rows = list(
        Product.objects.filter(source=ProductSource.REMOTE, state=ProductState.AVAILABLE).order_by(
            F("last_used_at").asc(nulls_first=True), "registered_at", "pk"
        )
    )
    sizes = {row.pk: _size_on_disk(Path(row.location)) for row in rows}
    total = sum(sizes.values())
    evicted: list[str] = []
    for row in rows:
        if total <= cap:
            break
        if row.pk in keep:
            continue
        with transaction.atomic():
            locked = Product.objects.select_for_update().filter(pk=row.pk).first()
            if locked is None or locked.state != ProductState.AVAILABLE:
                continue
            if product_active_jobs(locked):
                continue
            Product.objects.filter(pk=row.pk).update(state=ProductState.MISSING, bytes_done=0)
            product_remove_files(locked)
        total -= sizes[row.pk]
        evicted.append(row.name)
        log.info(
            "evicted download %s (%d bytes) to keep downloads under %d",
            row.name,
            sizes[row.pk],
            cap,
        )
    return evicted


def _size_on_disk(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def products_awaited() -> list[Product]:
    """Products that queued renderings wait for: not available (missing, fetching, broken)."""
    from s2render.web.jobs.models import Rendering, Status

    ids = (
        Rendering.objects.filter(status=Status.QUEUED)
        .exclude(product__state=ProductState.AVAILABLE)
        .values_list("product_id", flat=True)
        .distinct()
    )
    return list(Product.objects.filter(pk__in=list(ids)))


def fetch_abandoned(row: Product) -> bool:
    """True (and the row back to ``missing``) when a row says ``fetching`` but nobody holds the
    download's lock: the process that fetched it died. Same host only (the lock is a file)."""
    import fcntl

    lock = Path(row.location).parent / f"{row.name}.lock"
    if row.state != ProductState.FETCHING or not lock.parent.exists():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a download holds it
        try:
            return bool(
                Product.objects.filter(pk=row.pk, state=ProductState.FETCHING).update(
                    state=ProductState.MISSING
                )
            )
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)

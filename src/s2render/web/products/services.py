"""The product registry: registering products (local paths under the data root, STAC items),
scanning the data root, removing products with their files.

A product is parsed by the core before any row is written, so a product that fails to parse is
refused (or, in a scan, reported and skipped) and never half-registered. Remote products of the
Copernicus Data Space Ecosystem are registered and fetched by ``products.downloads``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from s2render.core.discovery import find_products
from s2render.core.errors import S2RenderError
from s2render.core.product import PRODUCT_NAME_RE, open_product
from s2render.core.product import Product as CoreProduct
from s2render.web.errors import FieldError, StateError
from s2render.web.products.models import Product, ProductSource, ProductState

log = logging.getLogger("s2render.web.products")


def data_root() -> Path:
    return Path(settings.DATA_DIR).resolve()


def stac_dir() -> Path:
    """Where registered STAC items are kept, resolved (their assets' grids and offsets)."""
    return data_root() / "stac"


def downloads_dir() -> Path:
    return data_root() / "downloads"


def is_under_root(path: Path) -> bool:
    root = data_root()
    resolved = path.resolve()
    return resolved == root or root in resolved.parents


def resolve_under_root(path: str | Path, *, field: str = "path") -> Path:
    """An absolute path under the data root, or FieldError; relative paths are taken from it."""
    root = data_root()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if not is_under_root(resolved):
        raise FieldError(
            field,
            f"{path} is outside the data root {root}; put the product under it "
            "(S2RENDER_DATA_DIR) and register it by its path there",
        )
    if not resolved.exists():
        raise FieldError(field, f"{path} does not exist under the data root {root}")
    return resolved


def product_values(product: CoreProduct) -> dict[str, Any]:
    """The row's fields that come from the parsed product."""
    info = product.describe()
    west, south, east, north = footprint_bounds(product.footprint)
    return {
        "name": product.product_id,
        "level": product.level,
        "mission": product.mission or "",
        "tile": product.tile or "",
        "sensed_at": product.sensing_time,
        "baseline": product.baseline or "",
        "cloud_cover": product.cloud_cover,
        "footprint": product.footprint,
        "west": west,
        "south": south,
        "east": east,
        "north": north,
        "bands": info["bands"],
        "offsets": info["offsets"],
        "offset_source": (product.offset_source or "")[:300],
    }


def footprint_bounds(footprint: dict | None) -> tuple[float | None, ...]:
    """(west, south, east, north) of a GeoJSON geometry, or Nones."""
    if not footprint:
        return (None, None, None, None)
    xs: list[float] = []
    ys: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], int | float):
            xs.append(float(coords[0]))
            ys.append(float(coords[1]))
        else:
            for part in coords or ():
                walk(part)

    walk(footprint.get("coordinates"))
    if not xs:
        return (None, None, None, None)
    return (min(xs), min(ys), max(xs), max(ys))


def _save(values: dict[str, Any], location: Path, *, field: str) -> Product:
    """Create or refresh the row at ``location`` (a product is registered from one place)."""
    with transaction.atomic():
        twin = Product.objects.filter(name=values["name"]).exclude(location=str(location)).first()
        if (
            twin is not None
            and twin.source != ProductSource.REMOTE
            and Path(twin.location).exists()
        ):
            raise FieldError(
                field,
                f"{values['name']} is already registered (id {twin.pk}) from {twin.location};"
                " a product is registered once, from one location",
            )
        if twin is not None:  # the product moved, or a remote one arrived: the row follows it
            twin.location = str(location)
            twin.save(update_fields=["location"])
        existing = Product.objects.filter(location=str(location)).first()
        if (
            existing is not None
            and existing.source == ProductSource.REMOTE
            and downloads_dir() in Path(location).parents
        ):  # our download of a remote product stays remote (evictable, fetchable again)
            values = {**values, "source": ProductSource.REMOTE}
        row, _ = Product.objects.update_or_create(location=str(location), defaults=values)
    return row


def product_register(*, path: str | Path) -> Product:
    """Register (or refresh) the product at ``path``; it must parse before a row is written."""
    resolved = resolve_under_root(path)
    try:
        product = open_product(resolved)
    except S2RenderError as exc:
        raise FieldError("path", f"{path} is not a readable Sentinel-2 product: {exc}") from exc
    if product.kind == ProductSource.STAC:
        raise FieldError("path", f"{path} is a STAC item: register it as an item, not a path")
    values = {**product_values(product), "source": product.kind, "state": ProductState.AVAILABLE}
    return _save(values, resolved, field="path")


def product_register_stac(*, item: str | dict, offset_override: int | None = None) -> Product:
    """Register a STAC item (an http(s) URL, a JSON file under the data root, or the JSON).

    The item is resolved once (each band asset's grid read from its header, the radiometric
    offset decided) and kept under ``<data root>/stac/``, so rendering it later needs no
    request but the pixel reads.
    """
    from s2render.core.stac_item import load_item
    from s2render.core.stac_product import resolve_item

    source: str | dict = item
    url = ""
    if isinstance(item, str):
        if re.match(r"^https?://", item):
            url = item
            _check_host(url)
        else:
            source = str(resolve_under_root(item, field="item"))
    try:
        loaded = load_item(source)
        for asset in loaded.assets.values():
            _check_host(asset.get_absolute_href() or "")
        sas_url = settings.S2RENDER["PC_SAS_URL"]
        resolved = resolve_item(loaded, offset_override=offset_override, sas_url=sas_url)
    except S2RenderError as exc:
        raise FieldError("item", f"not a usable Sentinel-2 STAC item: {exc}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FieldError("item", f"cannot read the STAC item: {exc}") from exc
    name = re.sub(r"[^A-Za-z0-9._-]", "_", str(resolved.get("id") or "item"))
    destination = stac_dir() / f"{name}.json"
    _write_json_atomically(destination, resolved)
    try:
        product = open_product(destination)
    except S2RenderError as exc:
        destination.unlink(missing_ok=True)
        raise FieldError("item", f"not a usable Sentinel-2 STAC item: {exc}") from exc
    values = {
        **product_values(product),
        "source": ProductSource.STAC,
        "state": ProductState.AVAILABLE,
        "remote_url": url,
    }
    return _save(values, destination, field="item")


def _check_host(href: str) -> None:
    """Refuse an item or asset on a host S2RENDER_STAC_HOSTS does not list (when it lists any):
    registering makes this server fetch URLs its users give."""
    allowed = settings.S2RENDER.get("STAC_HOSTS") or []
    host = urlsplit(href).hostname if re.match(r"^https?://", href) else None
    if not allowed or host is None:
        return
    if not any(host == h or host.endswith("." + h.lstrip(".")) for h in allowed):
        raise FieldError(
            "item",
            f"{host} is not a STAC host this server reads from ({', '.join(allowed)}); "
            "ask the operator to add it to S2RENDER_STAC_HOSTS",
        )


def _write_json_atomically(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(document, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# --- scanning ----------------------------------------------------------------------------------


@dataclass
class ScanReport:
    """What a scan found: the products registered (or refreshed) and the paths it skipped."""

    registered: list[Product] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    def as_dict(self) -> dict[str, Any]:
        return {
            "registered": [
                {"id": p.pk, "name": p.name, "path": p.location} for p in self.registered
            ],
            "skipped": [{"path": path, "reason": reason} for path, reason in self.skipped],
        }


def product_scan(*, root: str | Path | None = None) -> ScanReport:
    """Register every SAFE folder and zip under the data root (or a folder under it).

    A candidate that does not parse is reported with the reason and skipped; the output and
    static folders are not searched; downloads still in transfer (``.part``) are not candidates.
    """
    folder = resolve_under_root(root, field="root") if root is not None else data_root()
    report = ScanReport()
    if not folder.exists():
        return report
    skip = [settings.OUTPUT_DIR, data_root() / "static", stac_dir()]
    for candidate in find_products(folder, skip=skip):
        try:
            report.registered.append(product_register(path=candidate))
        except FieldError as exc:
            report.skipped.append((str(candidate), exc.message))
            log.warning("scan: skipped %s: %s", candidate, exc.message)
    return report


# --- using and removing --------------------------------------------------------------------------


def product_touch(*, product_ids: list[int]) -> None:
    """Record that jobs use these products now (least-recently-used eviction reads it)."""
    Product.objects.filter(pk__in=product_ids).update(last_used_at=timezone.now())


def product_active_jobs(product: Product) -> list[str]:
    from s2render.web.jobs.models import ACTIVE, Rendering

    rows = Rendering.objects.filter(product=product, status__in=ACTIVE)
    return sorted({str(u) for u in rows.values_list("job__uuid", flat=True)})


def product_remove_files(product: Product) -> None:
    """Delete the product's files: its SAFE folder or zip, its download, its STAC item copy.

    Only files under the data root are ever deleted (registration admits nothing else).
    """
    path = Path(product.location)
    if not is_under_root(path):
        raise StateError(f"{path} is outside the data root {data_root()}; not deleting it")
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    for stale in path.parent.glob(f"{path.name}.part"):
        stale.unlink(missing_ok=True)


def product_delete(*, product: Product) -> bool:
    """Remove a product and its files. True when its row went too; False when ended jobs still
    refer to it, so the row stays (state ``missing``) for their history.

    Refused (StateError) while a queued or running job uses it, or while it is being fetched.
    """
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=product.pk)
        active = product_active_jobs(product)
        if active:
            raise StateError(
                f"product {product.name} is used by queued or running jobs ({', '.join(active)});"
                " cancel them or wait until they end"
            )
        if product.state == ProductState.FETCHING:
            raise StateError(f"product {product.name} is being downloaded; wait until it ends")
        product_remove_files(product)
        if product.renderings.exists():
            product.state = ProductState.MISSING
            product.bytes_done = 0
            product.save(update_fields=["state", "bytes_done"])
            return False
        product.delete()
        return True


def is_remote_name(ref: str | Path) -> bool:
    """A bare Sentinel-2 product name (no folder) that is not a file under the data root."""
    text = str(ref)
    if "/" in text or not PRODUCT_NAME_RE.match(text):
        return False
    return not (data_root() / text).exists()


def default_product() -> Product:
    """The product the seed's endpoints render: S2RENDER_DEFAULT_PRODUCT, else the demo."""
    configured = settings.S2RENDER["DEFAULT_PRODUCT"]
    if configured is not None:
        if is_remote_name(configured):
            # The seed's behaviour: a product it does not have is fetched when a job needs it
            # (from the Copernicus Data Space Ecosystem, SciHub's successor).
            from s2render.web.products.downloads import product_register_remote

            return product_register_remote(name=str(configured))
        return product_register(path=configured)
    demo_root = Path(settings.S2RENDER["DEMO_DIR"])
    existing = Product.objects.filter(location__startswith=str(demo_root)).first()
    if existing is not None:
        return existing
    safes = sorted(demo_root.glob("*.SAFE")) if demo_root.exists() else []
    if not safes:
        raise FieldError(
            "product",
            f"no default product: none configured (S2RENDER_DEFAULT_PRODUCT) and no demo product "
            f"in {demo_root}; run `s2render demo-product {demo_root}` or give a product",
        )
    return product_register(path=safes[0])

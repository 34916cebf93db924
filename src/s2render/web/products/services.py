"""Registering products: only paths under the data root, parsed by the core before any row."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.db import transaction

from s2render.core.errors import ProductError
from s2render.core.product import open_product
from s2render.web.errors import FieldError
from s2render.web.products.models import Product, ProductState


def data_root() -> Path:
    return Path(settings.DATA_DIR).resolve()


def resolve_under_root(path: str | Path, *, field: str = "path") -> Path:
    """An absolute path under the data root, or FieldError; relative paths are taken from it."""
    root = data_root()
    candidate = Path(path)
    if not candidate.is_absolute():
        candidate = root / candidate
    resolved = candidate.resolve()
    if resolved != root and root not in resolved.parents:
        raise FieldError(
            field,
            f"{path} is outside the data root {root}; put the product under it "
            "(S2RENDER_DATA_DIR) and register it by its path there",
        )
    if not resolved.exists():
        raise FieldError(field, f"{path} does not exist under the data root {root}")
    return resolved


def product_register(*, path: str | Path) -> Product:
    """Register (or refresh) the product at ``path``; it must parse before a row is written."""
    resolved = resolve_under_root(path)
    try:
        product = open_product(resolved)
    except ProductError as exc:
        raise FieldError("path", f"{path} is not a readable Sentinel-2 product: {exc}") from exc
    info = product.describe()
    values = {
        "name": product.product_id,
        "level": product.level,
        "mission": product.mission or "",
        "tile": product.tile or "",
        "sensed_at": product.sensing_time,
        "baseline": product.baseline or "",
        "cloud_cover": product.cloud_cover,
        "footprint": product.footprint,
        "source": product.kind,
        "state": ProductState.AVAILABLE,
        "bands": info["bands"],
        "offsets": info["offsets"],
    }
    with transaction.atomic():
        twin = Product.objects.filter(name=values["name"]).exclude(location=str(resolved)).first()
        if twin is not None and Path(twin.location).exists():
            raise FieldError(
                "path",
                f"{product.product_id} is already registered (id {twin.pk}) from {twin.location};"
                " a product is registered once, from one location",
            )
        if twin is not None:  # the product moved: its row (and jobs) follow it
            twin.location = str(resolved)
            twin.save(update_fields=["location"])
        row, _ = Product.objects.update_or_create(location=str(resolved), defaults=values)
    return row


def default_product() -> Product:
    """The product the seed's endpoints render: S2RENDER_DEFAULT_PRODUCT, else the demo."""
    configured = settings.S2RENDER["DEFAULT_PRODUCT"]
    if configured is not None:
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

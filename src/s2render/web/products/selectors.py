"""Product queries."""

from __future__ import annotations

from django.db.models import QuerySet

from s2render.web.errors import FieldError
from s2render.web.products.models import Product


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


def product_search(
    *,
    tile: str | None = None,
    level: str | None = None,
    span=None,
    max_cloud: float | None = None,
    bbox: tuple[float, float, float, float] | None = None,
) -> QuerySet[Product]:
    """Products filtered like the API's list: tile, level, day range, cloud ceiling, bbox."""
    rows = Product.objects.all()
    if tile:
        rows = filter_tile(rows, tile)
    if level:
        rows = rows.filter(level=level)
    if span is not None and span.start is not None:
        rows = rows.filter(sensed_at__date__gte=span.start)
    if span is not None and span.end is not None:
        rows = rows.filter(sensed_at__date__lte=span.end)
    if max_cloud is not None:
        rows = rows.filter(cloud_cover__lte=max_cloud)
    if bbox is not None:
        rows = filter_bbox(rows, bbox)
    return rows


def filter_tile(rows: QuerySet[Product], tile: str) -> QuerySet[Product]:
    """Products of an MGRS tile, given as ``33UUU`` or ``T33UUU`` in any case."""
    return rows.filter(tile__iexact=tile.strip().upper().removeprefix("T"))


def filter_bbox(
    rows: QuerySet[Product], bbox: tuple[float, float, float, float]
) -> QuerySet[Product]:
    """Products whose footprint's lon/lat bounds meet ``(west, south, east, north)``."""
    west, south, east, north = bbox
    return rows.filter(west__lte=east, east__gte=west, south__lte=north, north__gte=south)


def product_lookup(ref: int | str, *, field: str = "product") -> Product:
    """A product by id or name, or FieldError naming what exists."""
    query = Product.objects.all()
    found = None
    if isinstance(ref, int) or (isinstance(ref, str) and ref.isdigit()):
        found = query.filter(pk=int(ref)).first()
    if found is None and isinstance(ref, str):
        found = query.filter(name=ref).first()
    if found is None:
        names = ", ".join(query.values_list("name", flat=True)[:5]) or "none registered yet"
        raise FieldError(field, f"no product {ref!r}; registered products: {names}")
    return found

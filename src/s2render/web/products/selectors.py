"""Product queries."""

from __future__ import annotations

from django.db.models import QuerySet

from s2render.web.errors import FieldError
from s2render.web.products.models import Product


def product_list() -> QuerySet[Product]:
    return Product.objects.all()


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

"""Query filters of the v1 lists (django-filter; drf-spectacular documents them)."""

from __future__ import annotations

import django_filters
from django.db.models import QuerySet

from s2render.core.stac_search import parse_bbox
from s2render.web.errors import FieldError
from s2render.web.jobs.models import Job, Rendering, Status
from s2render.web.products.models import Product, ProductSource, ProductState
from s2render.web.products.selectors import filter_bbox, filter_tile


class JobFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Status.choices, help_text="Jobs in this status (repeat for several)."
    )
    created_after = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="gte", help_text="Created at or after (ISO 8601)."
    )
    created_before = django_filters.IsoDateTimeFilter(
        field_name="created_at", lookup_expr="lt", help_text="Created before (ISO 8601)."
    )
    title = django_filters.CharFilter(
        field_name="title", lookup_expr="icontains", help_text="Title contains (any case)."
    )
    product = django_filters.CharFilter(
        method="filter_product", help_text="Jobs rendering this product (id or name)."
    )

    class Meta:
        model = Job
        fields = ("status", "created_after", "created_before", "title", "product")

    def filter_product(self, queryset: QuerySet[Job], name: str, value: str) -> QuerySet[Job]:
        # A subquery, not a join: the list's per-job rendering counts must not multiply.
        key = {"product_id": int(value)} if value.isdigit() else {"product__name": value}
        return queryset.filter(id__in=Rendering.objects.filter(**key).values("job_id"))


class ProductFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=[("L1C", "L1C"), ("L2A", "L2A")])
    tile = django_filters.CharFilter(help_text="MGRS tile, e.g. 33UUU.", method="filter_tile")
    sensed_after = django_filters.IsoDateTimeFilter(
        field_name="sensed_at", lookup_expr="gte", help_text="Sensed at or after (ISO 8601)."
    )
    sensed_before = django_filters.IsoDateTimeFilter(
        field_name="sensed_at", lookup_expr="lt", help_text="Sensed before (ISO 8601)."
    )
    cloud_cover_max = django_filters.NumberFilter(
        field_name="cloud_cover", lookup_expr="lte", help_text="Cloud cover at most (%)."
    )
    bbox = django_filters.CharFilter(
        method="filter_bbox",
        help_text="west,south,east,north in lon/lat: products whose footprint's bounds meet it.",
    )
    state = django_filters.MultipleChoiceFilter(choices=ProductState.choices)
    source = django_filters.MultipleChoiceFilter(choices=ProductSource.choices)

    class Meta:
        model = Product
        fields = (
            "level",
            "tile",
            "sensed_after",
            "sensed_before",
            "cloud_cover_max",
            "bbox",
            "state",
            "source",
        )

    def filter_tile(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        return filter_tile(queryset, value)

    def filter_bbox(self, queryset: QuerySet[Product], name: str, value: str) -> QuerySet[Product]:
        try:
            bbox = parse_bbox(value)
        except ValueError as exc:
            raise FieldError("bbox", str(exc)) from None
        return filter_bbox(queryset, bbox)

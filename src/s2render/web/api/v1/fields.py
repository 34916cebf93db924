"""Input fields of a rendering spec. Each takes the JSON shapes a client may send and is
documented precisely for the schema; what the values may be is checked against the product by
``jobs.specs.normalize_spec``, whose messages carry the fix."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from s2render.web.errors import FieldError
from s2render.web.products.models import Product
from s2render.web.products.selectors import product_lookup

FORMATS = ("jpeg", "png", "webp", "geotiff")


@extend_schema_field({"oneOf": [{"type": "integer"}, {"type": "string"}]})
class ProductRefField(serializers.Field):
    """A registered product, by id or name."""

    default_error_messages = {
        "required": "give the product's id or name (GET /api/v1/products/ lists them)",
        "null": "give the product's id or name (GET /api/v1/products/ lists them)",
    }

    def to_internal_value(self, data: Any) -> Product:
        if not isinstance(data, int | str) or isinstance(data, bool):
            raise serializers.ValidationError(f"{data!r}: give the product's id or name")
        try:
            return product_lookup(data)
        except FieldError as exc:
            raise serializers.ValidationError(exc.message) from None

    def to_representation(self, value: Product) -> int:
        return value.pk


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "string"}, "minItems": 3, "maxItems": 3},
            {"type": "string"},
        ],
        "example": ["B04", "B03", "B02"],
    }
)
class BandsField(serializers.JSONField):
    """Three band names, as a list or "B04,B03,B02"."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            return [b.strip() for b in data.split(",")]
        return super().to_internal_value(data)


# The fields below take several JSON shapes; normalize_spec checks them with hints, the
# annotations document them.
@extend_schema_field({"type": "number", "example": 20})
class ResolutionField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            {"type": "string"},
        ],
        "nullable": True,
        "example": [12.42, 41.82, 12.48, 41.86],
    }
)
class BBoxField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            {
                "type": "array",
                "items": {"type": "array", "items": {"type": "number"}},
                "minItems": 3,
                "maxItems": 3,
            },
        ],
        "nullable": True,
        "example": "0,0.3",
    }
)
class StretchField(serializers.JSONField):
    pass


@extend_schema_field({"type": "number", "nullable": True, "example": 1.25})
class GammaField(serializers.JSONField):
    pass


@extend_schema_field({"type": "string", "enum": list(FORMATS)})
class FormatField(serializers.CharField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
            {"type": "string"},
        ],
        "example": [-1, 1],
    }
)
class RangeField(serializers.JSONField):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "array", "items": {"oneOf": [{"type": "integer"}, {"type": "string"}]}},
            {"type": "string"},
        ],
        "example": "clouds",
    }
)
class CloudMaskField(serializers.JSONField):
    pass

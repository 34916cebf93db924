"""The v1 API's input: a job's renderings as a client sends them. Shapes only; what a rendering
may be is decided by ``jobs.specs.normalize_spec`` against the product, whose messages
(``renderings[1].bands: B08 is not in ...; use B8A``) reach the client as they are."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from s2render.web.api.v1.fields import (
    BandsField,
    BBoxField,
    CloudMaskField,
    FormatField,
    GammaField,
    ProductRefField,
    RangeField,
    ResolutionField,
    StretchField,
)
from s2render.web.jobs.models import Rendering
from s2render.web.products.models import Product

SPEC_FIELDS = (
    "product",
    "resolution",
    "bands",
    "preset",
    "expressions",
    "expression",
    "colormap",
    "value_range",
    "bbox",
    "bbox_crs",
    "stretch",
    "stretch_scope",
    "gamma",
    "format",
    "cloud_mask",
    "cloud_dilation",
    "geometry",
    "crs",
    "max_size",
    "width",
    "height",
)


class RenderingInputSerializer(serializers.Serializer):
    """One rendering to make: a product and its content (bands, a preset, three expressions, or
    one expression with a colour map); everything else has a default."""

    product = ProductRefField(help_text="Registered product id or name.")
    resolution = ResolutionField(
        required=False, help_text="Metres per pixel (default 10); any band at any resolution."
    )
    bands = BandsField(
        required=False, help_text="Red, green, blue band names (or preset / expressions)."
    )
    preset = serializers.CharField(
        required=False, help_text='A preset id (GET /api/v1/presets/), e.g. "ndvi", "scl".'
    )
    expressions = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text='Red, green, blue band-maths expressions, e.g. ["B04*2", "B03", "B02"].',
    )
    expression = serializers.CharField(
        required=False,
        help_text='One expression coloured by colormap, e.g. "(B08-B04)/(B08+B04)".',
    )
    colormap = serializers.CharField(
        required=False, help_text="Colour map of an expression (GET /api/v1/colormaps/)."
    )
    value_range = RangeField(required=False, help_text="Values the colours span, e.g. [-1, 1].")
    bbox = BBoxField(
        required=False,
        allow_null=True,
        help_text="[xmin, ymin, xmax, ymax] in bbox_crs (default: the whole product).",
    )
    bbox_crs = serializers.CharField(
        required=False, help_text='CRS of bbox: "EPSG:4326" (default), any EPSG code, "product".'
    )
    stretch = StretchField(
        required=False,
        allow_null=True,
        help_text='Reflectance range: "0,0.3", [0, 0.3], or one [min, max] per channel.',
    )
    stretch_scope = serializers.ChoiceField(
        ("rendering", "job"),
        required=False,
        error_messages={"invalid_choice": '"{input}" is not a scope: use rendering or job'},
        help_text='Percentiles over this rendering, or over every "job"-scope rendering of the '
        "job (one shared mapping).",
    )
    gamma = GammaField(required=False, allow_null=True, help_text="Gamma after the stretch.")
    cloud_mask = CloudMaskField(
        required=False,
        help_text='SCL classes made transparent (L2A): "clouds", names or numbers, e.g. [3, 8].',
    )
    cloud_dilation = serializers.IntegerField(
        required=False, help_text="Grow the cloud mask by this many output pixels."
    )
    geometry = serializers.JSONField(
        required=False,
        help_text="GeoJSON Polygon/MultiPolygon (or Feature) in bbox_crs; outside is transparent.",
    )
    crs = serializers.CharField(required=False, help_text='Output CRS, e.g. "EPSG:4326".')
    max_size = serializers.IntegerField(
        required=False, help_text="Cap on the longest side in pixels (a preview)."
    )
    width = serializers.IntegerField(required=False, help_text="Output width in pixels.")
    height = serializers.IntegerField(required=False, help_text="Output height in pixels.")
    format = FormatField(required=False, help_text="Output format (default jpeg).")

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(SPEC_FIELDS))
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [f"unknown field; a rendering takes {', '.join(SPEC_FIELDS)}"]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)

    def to_representation(self, instance: Any) -> dict:
        # A stored rendering in its input shape: what a PUT sends back (the browsable API's form).
        if isinstance(instance, Rendering):
            return {"product": instance.product_id, **instance.spec}
        return super().to_representation(instance)


class JobWriteSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, allow_blank=True, required=False, default="")
    renderings = RenderingInputSerializer(
        many=True, min_length=1, max_length=1000, help_text="The renderings, in output order."
    )

    def specs(self) -> list[tuple[Product, dict]] | None:
        """(product, raw spec) per rendering, for the services; None when not given."""
        items = self.validated_data.get("renderings")
        if items is None:
            return None
        return [
            (item["product"], {k: v for k, v in item.items() if k != "product"}) for item in items
        ]


class JobCreateSerializer(JobWriteSerializer):
    start = serializers.BooleanField(
        default=False, help_text="Queue the job at once (same as POST …/start/ afterwards)."
    )

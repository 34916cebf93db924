"""The v1 API: the preset catalogue and colour maps, with their legends as PNG.

Both are small, fixed tables of the core (:mod:`s2render.core.presets`,
:mod:`s2render.core.colormap`), so lists come whole, not in pages.
"""

from __future__ import annotations

import io

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from s2render.core.colormap import ClassTable, get_colormap, list_colormaps, render_legend
from s2render.core.errors import SpecError
from s2render.core.presets import CATALOGUE_VERSION, Preset, get_preset, list_presets
from s2render.web.api.v1.outputs import IgnoreAccept
from s2render.web.api.v1.serializers import absolute
from s2render.web.api.v1.views import errors
from s2render.web.errors import FieldError, NotFoundError

PRESET_ID = OpenApiParameter("preset_id", OpenApiTypes.STR, OpenApiParameter.PATH)
NAME = OpenApiParameter("colormap", OpenApiTypes.STR, OpenApiParameter.PATH)
RANGE = OpenApiParameter(
    "range", OpenApiTypes.STR, description="MIN,MAX the ramp spans, e.g. -1,1 (ramps only)."
)
PNG = {(200, "image/png"): OpenApiTypes.BINARY}


def preset_or_404(preset_id: str) -> Preset:
    try:
        return get_preset(preset_id)
    except SpecError as exc:
        raise NotFoundError(str(exc)) from None


def colormap_or_404(name: str):
    try:
        return get_colormap(name)
    except SpecError as exc:
        raise NotFoundError(str(exc)) from None


def png_response(image) -> HttpResponse:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return HttpResponse(buffer.getvalue(), content_type="image/png")


def describe_preset(request: Request, preset: Preset) -> dict:
    legend = None
    if preset.kind != "composite":
        legend = absolute(request, "preset-legend", preset_id=preset.id)
    table = preset.color_table().to_dict() if preset.kind == "classes" else None
    return {**preset.to_dict(), "class_table": table, "legend": legend}


class PresetListView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        summary="The preset catalogue",
        operation_id="v1_presets_list",
        description=f"Every preset (catalogue version {CATALOGUE_VERSION}): bands or formula, "
        "stretch, colour map and value range or class table, levels, and the source of its "
        "maths. Give its id as a rendering's `preset`.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response([describe_preset(request, p) for p in list_presets()])


class PresetDetailView(GenericAPIView):
    @extend_schema(
        summary="One preset", parameters=[PRESET_ID], responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request, preset_id: str) -> Response:
        return Response(describe_preset(request, preset_or_404(preset_id)))


class PresetLegendView(GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="A preset's legend",
        description="The colour bar of an index or the class swatches of a class map; "
        "composites have none (404).",
        parameters=[PRESET_ID],
        responses={**PNG, **errors(404)},
    )
    def get(self, request: Request, preset_id: str) -> HttpResponse:
        preset = preset_or_404(preset_id)
        if preset.kind == "composite":
            raise NotFoundError(
                f"preset {preset.id!r} is a composite of three bands: it has no legend; "
                "indices (ndvi, ndwi...) and the SCL class map have one"
            )
        return png_response(render_legend(preset.color_table(), title=preset.title))


class ColormapListView(GenericAPIView):
    pagination_class = None

    @extend_schema(
        summary="Colour maps and class tables",
        operation_id="v1_colormaps_list",
        description="Ramps (also reversed with a `_r` suffix) and class tables; give the name "
        "as a rendering's `colormap`.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    **get_colormap(name).to_dict(),
                    "legend": absolute(request, "colormap-legend", colormap=name),
                }
                for name in list_colormaps()
            ]
        )


class ColormapLegendView(GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="A colour map's legend",
        parameters=[NAME, RANGE],
        responses={**PNG, **errors(400, 404)},
    )
    def get(self, request: Request, colormap: str) -> HttpResponse:
        table = colormap_or_404(colormap)
        text = request.query_params.get("range")
        if text:
            if isinstance(table, ClassTable):
                raise FieldError("range", f"{table.name!r} is a class table: it has no range")
            table = table.with_range(*parse_range(text))
        return png_response(render_legend(table))


def parse_range(text: str) -> tuple[float, float]:
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = float(parts[0]), float(parts[1])
        if not low < high:
            raise ValueError
    except ValueError:
        raise FieldError("range", f"{text!r}: give MIN,MAX with MIN < MAX, e.g. -1,1") from None
    return low, high

"""OpenAPI details drf-spectacular cannot infer (imported by the URL map, before any schema is
generated), the GeoJSON renderer, and the offline Redoc page."""

from __future__ import annotations

from django.http import HttpResponse
from django.template import engines
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView
from rest_framework.renderers import JSONRenderer


class LocalUserScheme(OpenApiAuthenticationExtension):
    """Local mode's anonymous access: no credentials needed (an empty security requirement)."""

    target_class = "s2render.web.api.auth.LocalUserAuthentication"
    name: list[str] = []

    def get_security_requirement(self, auto_schema):
        return {}

    def get_security_definition(self, auto_schema):
        return []


class GeoJSONRenderer(JSONRenderer):
    """STAC documents are GeoJSON: ``application/geo+json``."""

    media_type = "application/geo+json"
    format = "geojson"


# drf-spectacular's Redoc template loads Google Fonts; this page is the same without them
# (Redoc falls back to the system's fonts), so the docs work with no internet at all.
REDOC_PAGE = """<!DOCTYPE html>
<html>
  <head>
    <title>{{ title }}</title>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <style>body { margin: 0; padding: 0; }</style>
  </head>
  <body>
    <redoc spec-url="{{ schema_url }}"></redoc>
    <script src="{{ redoc_standalone }}"></script>
  </body>
</html>
"""


class OfflineRedocView(SpectacularRedocView):
    @extend_schema(exclude=True)
    def get(self, request, *args, **kwargs):
        context = {
            "title": self.title,
            "redoc_standalone": self._redoc_standalone(),
            "schema_url": self._get_schema_url(request),
        }
        return HttpResponse(engines["django"].from_string(REDOC_PAGE).render(context, request))

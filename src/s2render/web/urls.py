"""URL map: the seed's API at /api/, the v1 API at /api/v1/, its schema and docs, admin."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from s2render.web.api.v1.schema import OfflineRedocView
from s2render.web.health import healthz, readyz

urlpatterns = [
    path("api/v1/", include("s2render.web.api.v1.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/v1/redoc/", OfflineRedocView.as_view(url_name="schema"), name="redoc"),
    path("api/", include("s2render.web.api.legacy.urls")),
    path("api-auth/", include("rest_framework.urls")),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
]

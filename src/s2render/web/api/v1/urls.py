"""The v1 API's URL map (namespace ``v1``). Jobs are named by UUID, renderings by their index
in the job, products by id. Path parameters are plain strings checked by the views, so a
malformed id is the API's JSON 404 rather than Django's HTML page."""

from django.urls import path

from s2render.web.api.v1 import catalogue, outputs, products, schema, views  # noqa: F401  (schema: extensions)

app_name = "v1"

JOB = "jobs/<str:job_uuid>/"
RENDERING = JOB + "renderings/<str:index>/"

urlpatterns = [
    path("", views.root, name="root"),
    path("products/", products.ProductListView.as_view(), name="product-list"),
    path("products/scan/", products.ProductScanView.as_view(), name="product-scan"),
    path("products/<str:pk>/", products.ProductDetailView.as_view(), name="product-detail"),
    path("presets/", catalogue.PresetListView.as_view(), name="preset-list"),
    path("presets/<str:preset_id>/", catalogue.PresetDetailView.as_view(), name="preset-detail"),
    path(
        "presets/<str:preset_id>/legend.png",
        catalogue.PresetLegendView.as_view(),
        name="preset-legend",
    ),
    path("colormaps/", catalogue.ColormapListView.as_view(), name="colormap-list"),
    path(
        "colormaps/<str:colormap>/legend.png",
        catalogue.ColormapLegendView.as_view(),
        name="colormap-legend",
    ),
    path("jobs/", views.JobListView.as_view(), name="job-list"),
    path(JOB, views.JobDetailView.as_view(), name="job-detail"),
    path(JOB + "start/", views.JobStartView.as_view(), name="job-start"),
    path(JOB + "cancel/", views.JobCancelView.as_view(), name="job-cancel"),
    path(JOB + "retry/", views.JobRetryView.as_view(), name="job-retry"),
    path(JOB + "results/", outputs.JobResultsView.as_view(), name="job-results"),
    path(JOB + "archive/", outputs.JobArchiveView.as_view(), name="job-archive"),
    path(JOB + "contact-sheet/", outputs.JobContactSheetView.as_view(), name="job-contact-sheet"),
    path(JOB + "renderings/", outputs.RenderingListView.as_view(), name="rendering-list"),
    path(RENDERING, outputs.RenderingDetailView.as_view(), name="rendering-detail"),
    path(
        RENDERING + "download/", outputs.RenderingDownloadView.as_view(), name="rendering-download"
    ),
    path(RENDERING + "sidecar/", outputs.RenderingSidecarView.as_view(), name="rendering-sidecar"),
    path(
        RENDERING + "thumbnail/",
        outputs.RenderingThumbnailView.as_view(),
        name="rendering-thumbnail",
    ),
]

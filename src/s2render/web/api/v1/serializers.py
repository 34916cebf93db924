"""The v1 API's representations: errors, products, jobs and renderings (the input of a job's
renderings is in :mod:`.inputs`)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from s2render.web.jobs.models import Job, Rendering, Status
from s2render.web.jobs.selectors import job_summary, rendering_figures, rendering_sidecar
from s2render.web.products.models import Product


def absolute(request, name: str, **kwargs: Any) -> str:
    url = reverse(f"v1:{name}", kwargs=kwargs)
    return request.build_absolute_uri(url) if request is not None else url


# --- errors (documentation only: api/errors.py writes them) -----------------------------------


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers, whatever the status."""

    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="invalid, not_found, conflict, not_authenticated, …")
    detail = serializers.CharField(help_text="What went wrong and how to fix it.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text='Input errors only: field path -> messages, e.g. "renderings[0].bands".',
    )


# --- products ----------------------------------------------------------------------------------


class ProductSerializer(serializers.ModelSerializer):
    path = serializers.CharField(source="location", read_only=True)
    bands = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        read_only=True,
        help_text='Bands held natively per resolution, e.g. {"10m": ["B02", …], "20m": […]}; '
        "any band may be rendered at any resolution (resampled).",
    )
    offsets = serializers.DictField(
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Radiometric offset per band (DN), from the product's metadata.",
    )
    footprint = serializers.JSONField(read_only=True, help_text="GeoJSON geometry, lon/lat.")
    url = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = (
            "id",
            "name",
            "level",
            "mission",
            "tile",
            "sensed_at",
            "baseline",
            "cloud_cover",
            "footprint",
            "bands",
            "offsets",
            "source",
            "path",
            "state",
            "registered_at",
            "url",
        )
        read_only_fields = fields

    def get_url(self, product: Product) -> str:
        return absolute(self.context.get("request"), "product-detail", pk=product.pk)


class ProductRegisterSerializer(serializers.Serializer):
    path = serializers.CharField(
        help_text="A SAFE folder or zip under the data root (absolute, or relative to it)."
    )


# --- jobs and renderings (output) --------------------------------------------------------------


class TimingsSerializer(serializers.Serializer):
    queued = serializers.DateTimeField(allow_null=True)
    started = serializers.DateTimeField(allow_null=True)
    finished = serializers.DateTimeField(allow_null=True)
    seconds = serializers.FloatField(allow_null=True, help_text="finished - started")


class RenderingLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    download = serializers.URLField(allow_null=True, help_text="The image, once finished.")
    sidecar = serializers.URLField(allow_null=True, help_text="Its JSON record, once finished.")
    thumbnail = serializers.URLField(allow_null=True, help_text="RGBA PNG, at most 256 px.")


class RenderingSerializer(serializers.ModelSerializer):
    product_name = serializers.CharField(source="product.name", read_only=True)
    spec = serializers.JSONField(read_only=True, help_text="The spec as checked and stored.")
    timings = serializers.SerializerMethodField()
    figures = serializers.SerializerMethodField()
    file_name = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()

    class Meta:
        model = Rendering
        fields = (
            "index",
            "product",
            "product_name",
            "spec",
            "status",
            "error",
            "attempts",
            "timings",
            "figures",
            "media_type",
            "file_name",
            "links",
        )
        read_only_fields = fields

    def _sidecar(self, rendering: Rendering) -> dict:
        cache = self.context.setdefault("_sidecars", {})
        if rendering.pk not in cache:
            cache[rendering.pk] = rendering_sidecar(rendering)
        return cache[rendering.pk]

    @extend_schema_field(TimingsSerializer)
    def get_timings(self, rendering: Rendering) -> dict:
        seconds = None
        if rendering.started_at and rendering.finished_at:
            seconds = round((rendering.finished_at - rendering.started_at).total_seconds(), 3)
        return TimingsSerializer(
            {
                "queued": rendering.queued_at,
                "started": rendering.started_at,
                "finished": rendering.finished_at,
                "seconds": seconds,
            }
        ).data

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_figures(self, rendering: Rendering) -> dict:
        """width, height, valid_percent, clipped_low/high_percent, stretch, offsets, seconds."""
        return rendering_figures(rendering, self._sidecar(rendering))

    def get_file_name(self, rendering: Rendering) -> str | None:
        return rendering.output.rsplit("/", 1)[-1] if rendering.output else None

    @extend_schema_field(RenderingLinksSerializer)
    def get_links(self, rendering: Rendering) -> dict:
        request = self.context.get("request")
        key = {"job_uuid": rendering.job.uuid, "index": rendering.index}
        done = rendering.status == Status.FINISHED
        return {
            "self": absolute(request, "rendering-detail", **key),
            "download": absolute(request, "rendering-download", **key) if done else None,
            "sidecar": absolute(request, "rendering-sidecar", **key) if done else None,
            "thumbnail": absolute(request, "rendering-thumbnail", **key) if done else None,
        }


class JobLinksSerializer(serializers.Serializer):
    self = serializers.URLField()
    renderings = serializers.URLField()
    start = serializers.URLField()
    cancel = serializers.URLField()
    retry = serializers.URLField()
    results = serializers.URLField(help_text="STAC ItemCollection of the finished renderings.")
    archive = serializers.URLField(help_text="Zip of every finished image and its sidecar.")
    contact_sheet = serializers.URLField(
        help_text="PNG with every ended rendering's thumbnail side by side, labelled."
    )


class CountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    queued = serializers.IntegerField()
    running = serializers.IntegerField()
    finished = serializers.IntegerField()
    error = serializers.IntegerField()
    canceled = serializers.IntegerField()


class JobSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    progress = serializers.SerializerMethodField(help_text="Share of renderings ended, 0..100.")
    counts = serializers.SerializerMethodField(help_text="Renderings per status.")
    created = serializers.DateTimeField(source="created_at", read_only=True)
    updated = serializers.DateTimeField(source="updated_at", read_only=True)
    started = serializers.DateTimeField(source="started_at", read_only=True)
    finished = serializers.DateTimeField(source="finished_at", read_only=True)
    renderings = RenderingSerializer(many=True, read_only=True)
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id",
            "title",
            "status",
            "progress",
            "counts",
            "created",
            "updated",
            "started",
            "finished",
            "renderings",
            "links",
        )
        read_only_fields = fields

    def get_progress(self, job: Job) -> float:
        return job_summary(job)["progress"]

    @extend_schema_field(CountsSerializer)
    def get_counts(self, job: Job) -> dict:
        return job_summary(job)["counts"]

    @extend_schema_field(JobLinksSerializer)
    def get_links(self, job: Job) -> dict:
        request = self.context.get("request")
        names = ("start", "cancel", "retry", "results", "archive")
        return {
            "self": absolute(request, "job-detail", job_uuid=job.uuid),
            "renderings": absolute(request, "rendering-list", job_uuid=job.uuid),
            **{name: absolute(request, f"job-{name}", job_uuid=job.uuid) for name in names},
            "contact_sheet": absolute(request, "job-contact-sheet", job_uuid=job.uuid),
        }


class JobSummarySerializer(JobSerializer):
    """A job in a list: everything but its renderings (``links.renderings`` has them)."""

    class Meta(JobSerializer.Meta):
        fields = tuple(f for f in JobSerializer.Meta.fields if f != "renderings")
        read_only_fields = fields


class RootSerializer(serializers.Serializer):
    products = serializers.URLField()
    jobs = serializers.URLField()
    presets = serializers.URLField()
    colormaps = serializers.URLField()
    schema = serializers.URLField()
    docs = serializers.URLField()
    redoc = serializers.URLField()

"""The v1 API's representations: errors, products, jobs and renderings (the input of a job's
renderings is in :mod:`.inputs`)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from s2render.web.jobs.models import Job, Rendering, Status
from s2render.web.jobs.selectors import (
    job_downloads,
    job_summary,
    rendering_figures,
    rendering_sidecar,
)
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
    download = serializers.SerializerMethodField(
        help_text="For a remote product: its size, the bytes fetched so far and the last "
        "error; null for other products."
    )
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
            "offset_source",
            "source",
            "path",
            "remote_url",
            "state",
            "download",
            "registered_at",
            "last_used_at",
            "url",
        )
        read_only_fields = fields

    def get_url(self, product: Product) -> str:
        return absolute(self.context.get("request"), "product-detail", pk=product.pk)

    def get_download(self, product: Product) -> dict | None:
        if product.source != "remote":
            return None
        total = product.size_bytes or 0
        done = total if product.state == "available" else product.bytes_done
        return {
            "remote_id": product.remote_id,
            "bytes_total": product.size_bytes,
            "bytes_done": done,
            "percent": round(100.0 * done / total, 1) if total else None,
            "checksum": product.checksum,
            "error": product.error,
        }


class ProductRegisterSerializer(serializers.Serializer):
    path = serializers.CharField(
        required=False,
        help_text="A SAFE folder or zip under the data root (absolute, or relative to it).",
    )
    item = serializers.JSONField(
        required=False,
        help_text="A STAC item: its URL (Earth Search, Planetary Computer with signed hrefs, "
        "CDSE, any static catalogue), a JSON file under the data root, or the item itself.",
    )
    remote = serializers.CharField(
        required=False,
        help_text="A product name in the Copernicus Data Space Ecosystem, e.g. "
        "S2B_MSIL2A_20230710T102021_N0509_R065_T33UUU_20230710T131540.SAFE; fetched when a "
        "job needs it.",
    )
    offset_override = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=-10000,
        max_value=10000,
        help_text="STAC items only: the radiometric offset (DN) to apply to every band, "
        "whatever the item claims (e.g. -1000, or 0 when the offset was already removed).",
    )

    def validate(self, attrs: dict) -> dict:
        given = [key for key in ("path", "item", "remote") if attrs.get(key) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(
                {
                    "path": [
                        "give exactly one of path (a local product), item (a STAC item) "
                        "or remote (a CDSE product name)"
                    ]
                }
            )
        if attrs.get("offset_override") is not None and given[0] != "item":
            raise serializers.ValidationError(
                {
                    "offset_override": [
                        "only a STAC item takes an offset override; a SAFE "
                        "product's offsets come from its metadata"
                    ]
                }
            )
        item = attrs.get("item")
        if item is not None and not isinstance(item, str | dict):
            raise serializers.ValidationError(
                {"item": ["give the item's URL or path as a string, or the item as an object"]}
            )
        return attrs


class ProductScanSerializer(serializers.Serializer):
    root = serializers.CharField(
        required=False, help_text="A folder under the data root (default: the whole data root)."
    )


class ScanSkipSerializer(serializers.Serializer):
    path = serializers.CharField()
    reason = serializers.CharField()


class ScanReportSerializer(serializers.Serializer):
    registered = ProductSerializer(many=True)
    skipped = ScanSkipSerializer(many=True)


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


class DownloadSerializer(serializers.Serializer):
    product = serializers.CharField()
    state = serializers.CharField()
    bytes_done = serializers.IntegerField()
    bytes_total = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class JobSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="uuid", read_only=True)
    progress = serializers.SerializerMethodField(help_text="Share of renderings ended, 0..100.")
    counts = serializers.SerializerMethodField(help_text="Renderings per status.")
    created = serializers.DateTimeField(source="created_at", read_only=True)
    updated = serializers.DateTimeField(source="updated_at", read_only=True)
    started = serializers.DateTimeField(source="started_at", read_only=True)
    finished = serializers.DateTimeField(source="finished_at", read_only=True)
    renderings = RenderingSerializer(many=True, read_only=True)
    downloads = serializers.SerializerMethodField(
        help_text="Remote products the job waits for while they are fetched: name, state, "
        "bytes done and total, percent, last error. Empty when every product is there."
    )
    links = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = (
            "id",
            "title",
            "status",
            "progress",
            "counts",
            "downloads",
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

    @extend_schema_field(DownloadSerializer(many=True))
    def get_downloads(self, job: Job) -> list[dict]:
        return job_downloads(job)

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

"""The v1 API: a job's renderings and what they produced — images, sidecars, STAC results and
the zip of everything. Files stream from the output folder; another user's are 404."""

from __future__ import annotations

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from s2render.core.encode import OutputFormat
from s2render.web.api.v1.archive import zip_stream
from s2render.web.api.v1.schema import GeoJSONRenderer
from s2render.web.api.v1.serializers import RenderingSerializer, absolute
from s2render.web.api.v1.stac import job_item_collection
from s2render.web.api.v1.views import JOB_UUID, JobViewMixin, errors
from s2render.web.errors import StateError
from s2render.web.jobs import selectors
from s2render.web.jobs.contact import job_contact_sheet
from s2render.web.jobs.models import Rendering, Status

INDEX = OpenApiParameter("index", OpenApiTypes.INT, OpenApiParameter.PATH)
IMAGE_TYPES = sorted({f.info.media_type for f in OutputFormat})


class IgnoreAccept(BaseContentNegotiation):
    """File endpoints answer the file whatever the client's Accept says (their errors JSON)."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class RenderingViewMixin(JobViewMixin):
    def get_rendering(self) -> Rendering:
        return selectors.rendering_get(job=self.get_object(), index=self.kwargs["index"])


@extend_schema(parameters=[JOB_UUID])
class RenderingListView(JobViewMixin, GenericAPIView):
    serializer_class = RenderingSerializer
    pagination_class = None  # a job's renderings come whole, in request order

    @extend_schema(
        summary="A job's renderings", responses={200: RenderingSerializer(many=True), **errors(404)}
    )
    def get(self, request: Request, job_uuid: str) -> Response:
        rows = self.get_object().renderings.all()
        return Response(self.get_serializer(rows, many=True).data)


@extend_schema(parameters=[JOB_UUID, INDEX])
class RenderingDetailView(RenderingViewMixin, GenericAPIView):
    serializer_class = RenderingSerializer

    @extend_schema(
        summary="One rendering: status, error, timings, figures",
        responses={200: RenderingSerializer, **errors(404)},
    )
    def get(self, request: Request, job_uuid: str, index: str) -> Response:
        return Response(self.get_serializer(self.get_rendering()).data)


@extend_schema(parameters=[JOB_UUID, INDEX])
class RenderingDownloadView(RenderingViewMixin, GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="Download a rendering's image",
        description="The image as an attachment, with its media type; 404 until finished.",
        responses={
            **{(200, media): OpenApiTypes.BINARY for media in IMAGE_TYPES},
            **errors(404),
        },
    )
    def get(self, request: Request, job_uuid: str, index: str) -> FileResponse:
        rendering = self.get_rendering()
        path = selectors.rendering_file(rendering, "output")
        return FileResponse(
            path.open("rb"),
            as_attachment=True,
            filename=path.name,
            content_type=rendering.media_type or "application/octet-stream",
        )


@extend_schema(parameters=[JOB_UUID, INDEX])
class RenderingSidecarView(RenderingViewMixin, GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="A rendering's sidecar: the processing record written beside its image",
        responses={(200, "application/json"): OpenApiTypes.OBJECT, **errors(404)},
    )
    def get(self, request: Request, job_uuid: str, index: str) -> FileResponse:
        path = selectors.rendering_file(self.get_rendering(), "sidecar")
        return FileResponse(path.open("rb"), filename=path.name, content_type="application/json")


@extend_schema(parameters=[JOB_UUID, INDEX])
class RenderingThumbnailView(RenderingViewMixin, GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="A rendering's thumbnail: RGBA PNG, longest side at most 256 px",
        description="Transparent where the image has no data; 404 until finished.",
        responses={(200, "image/png"): OpenApiTypes.BINARY, **errors(404)},
    )
    def get(self, request: Request, job_uuid: str, index: str) -> FileResponse:
        path = selectors.rendering_file(self.get_rendering(), "thumbnail")
        return FileResponse(path.open("rb"), filename=path.name, content_type="image/png")


@extend_schema(parameters=[JOB_UUID])
class JobResultsView(JobViewMixin, GenericAPIView):
    renderer_classes = [GeoJSONRenderer, JSONRenderer, BrowsableAPIRenderer]
    pagination_class = None

    @extend_schema(
        summary="The job's results as a STAC ItemCollection",
        description="One STAC Item per finished rendering: footprint in lon/lat, the product's "
        "sensing time, the processing record as `s2render:*` properties, and two assets: "
        "`image` (the download URL) and `metadata` (the sidecar).",
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="GeoJSON FeatureCollection"),
            **errors(404),
        },
    )
    def get(self, request: Request, job_uuid: str) -> Response:
        job = self.get_object()

        def url_for(rendering: Rendering, kind: str) -> str:
            return absolute(request, f"rendering-{kind}", job_uuid=job.uuid, index=rendering.index)

        self_url = absolute(request, "job-results", job_uuid=job.uuid)
        return Response(job_item_collection(job, job.renderings.all(), url_for, self_url=self_url))


@extend_schema(parameters=[JOB_UUID])
class JobArchiveView(JobViewMixin, GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="Every finished image with its sidecar, thumbnail and STAC item, as one zip",
        description="Streamed while it is written; 409 when no rendering has finished.",
        responses={(200, "application/zip"): OpenApiTypes.BINARY, **errors(404, 409)},
    )
    def get(self, request: Request, job_uuid: str) -> StreamingHttpResponse:
        job = self.get_object()
        files = []
        for rendering in job.renderings.all():
            if rendering.status == Status.FINISHED:
                image = selectors.rendering_file(rendering, "output")
                files.append(image)
                files.append(selectors.rendering_file(rendering, "sidecar"))
                # Its thumbnail and STAC item too: the item's relative hrefs resolve in the zip.
                for suffix in (".thumb.png", ".stac.json"):
                    companion = image.with_name(image.name + suffix)
                    if companion.is_file():
                        files.append(companion)
        if not files:
            raise StateError(f"job {job.uuid} has no finished rendering to put in an archive")
        response = StreamingHttpResponse(zip_stream(files), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="job-{job.uuid}.zip"'
        return response


@extend_schema(parameters=[JOB_UUID])
class JobContactSheetView(JobViewMixin, GenericAPIView):
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreAccept

    @extend_schema(
        summary="One PNG with every ended rendering's thumbnail side by side, labelled",
        description="Failed renderings are grey cells marked 'failed'; 409 while none has ended.",
        responses={(200, "image/png"): OpenApiTypes.BINARY, **errors(404, 409)},
    )
    def get(self, request: Request, job_uuid: str) -> FileResponse:
        path = job_contact_sheet(job=self.get_object())
        return FileResponse(path.open("rb"), content_type="image/png", filename=path.name)

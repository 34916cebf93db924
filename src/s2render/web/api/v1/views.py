"""The v1 API: products and jobs. Views validate, call one service, serialize.

Querysets come from the selectors, scoped to the requesting user: another user's job answers
404, never 403. Errors go through the one handler (api/errors.py).
"""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import api_view
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse

from s2render.web.api.throttling import JobCreateThrottle
from s2render.web.api.v1.filters import JobFilter
from s2render.web.api.v1.inputs import JobCreateSerializer, JobWriteSerializer
from s2render.web.api.v1.serializers import (
    ErrorSerializer,
    JobSerializer,
    JobSummarySerializer,
    RootSerializer,
)
from s2render.web.jobs import selectors, services
from s2render.web.jobs.models import Job

JOB_UUID = OpenApiParameter("job_uuid", OpenApiTypes.UUID, OpenApiParameter.PATH)
ERRORS = {
    400: OpenApiResponse(ErrorSerializer, description="Invalid input; `fields` says which."),
    404: OpenApiResponse(ErrorSerializer, description="No such object (or not yours)."),
    409: OpenApiResponse(ErrorSerializer, description="Not allowed in the job's status."),
}


def errors(*codes: int) -> dict:
    return {code: ERRORS[code] for code in codes}


@extend_schema(responses=RootSerializer, summary="The v1 resources")
@api_view(["GET"])
def root(request: Request) -> Response:
    return Response(
        {
            "products": reverse("v1:product-list", request=request),
            "jobs": reverse("v1:job-list", request=request),
            "presets": reverse("v1:preset-list", request=request),
            "colormaps": reverse("v1:colormap-list", request=request),
            "schema": reverse("schema", request=request),
            "docs": reverse("swagger-ui", request=request),
            "redoc": reverse("redoc", request=request),
        }
    )


# --- jobs --------------------------------------------------------------------------------------


class JobViewMixin:
    """A job of the requesting user (any job for staff) from the URL's UUID."""

    request: Request
    kwargs: dict

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no user
            return Job.objects.none()
        return selectors.job_list_detailed(user=self.request.user)

    def get_object(self) -> Job:
        return selectors.job_get(user=self.request.user, job_uuid=self.kwargs["job_uuid"])

    def job_response(self, job: Job, code: int = status.HTTP_200_OK) -> Response:
        # Read back through the selector: fresh status, renderings and counts in one snapshot.
        job = selectors.job_get(user=self.request.user, job_uuid=str(job.uuid))
        return Response(JobSerializer(job, context={"request": self.request}).data, status=code)


class JobListView(JobViewMixin, mixins.ListModelMixin, GenericAPIView):
    """Your jobs (every job for staff), newest first."""

    filterset_class = JobFilter
    throttle_classes = [JobCreateThrottle]

    def get_serializer_class(self):
        if self.request is not None and self.request.method == "POST":
            return JobCreateSerializer
        return JobSummarySerializer

    @extend_schema(
        summary="List jobs",
        description="Newest first, in pages; each job without its renderings (see its detail).",
        responses=JobSummarySerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        return self.list(request)

    @extend_schema(
        summary="Create a job",
        description="A rendering shows `bands`, a `preset` (GET /api/v1/presets/), three "
        "`expressions`, or one `expression` with `colormap` and `value_range`; optional: area "
        "(`bbox`, `geometry`), `crs`, size (`max_size`, `width`, `height`), `stretch` (range or "
        "percentiles with `stretch_scope`), `gamma`, `cloud_mask`, `cloud_dilation`, `format`. "
        "Each is planned against its product; every bad field is a 400 naming it "
        "(`renderings[1].bands`) with the fix. With `start: true` the job is queued at once.",
        request=JobCreateSerializer,
        responses={201: JobSerializer, **errors(400)},
    )
    def post(self, request: Request) -> Response:
        serializer = JobCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_submit(
            owner=request.user,
            renderings=serializer.specs(),
            title=serializer.validated_data["title"],
            start=serializer.validated_data["start"],
        )
        response = self.job_response(job, status.HTTP_201_CREATED)
        response["Location"] = response.data["links"]["self"]
        return response


@extend_schema(parameters=[JOB_UUID])
class JobDetailView(JobViewMixin, GenericAPIView):
    def get_serializer_class(self):
        if self.request is not None and self.request.method in ("PUT", "PATCH"):
            return JobWriteSerializer
        return JobSerializer

    @extend_schema(
        summary="One job: progress and each rendering's status",
        responses={200: JobSerializer, **errors(404)},
    )
    def get(self, request: Request, job_uuid: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(
        summary="Replace a job's title and renderings (not while queued or running)",
        request=JobWriteSerializer,
        responses={200: JobSerializer, **errors(400, 404, 409)},
    )
    def put(self, request: Request, job_uuid: str) -> Response:
        return self._update(partial=False)

    @extend_schema(
        summary="Change a job's title and/or renderings (not while queued or running)",
        request=JobWriteSerializer,
        responses={200: JobSerializer, **errors(400, 404, 409)},
    )
    def patch(self, request: Request, job_uuid: str) -> Response:
        return self._update(partial=True)

    def _update(self, *, partial: bool) -> Response:
        job = self.get_object()
        serializer = JobWriteSerializer(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        job = services.job_update(
            job=job, renderings=serializer.specs(), title=serializer.validated_data.get("title")
        )
        return self.job_response(job)

    @extend_schema(
        summary="Delete a job, its renderings and their files",
        responses={204: None, **errors(404)},
    )
    def delete(self, request: Request, job_uuid: str) -> Response:
        services.job_delete(job=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobActionView(JobViewMixin, GenericAPIView):
    """POST with no body: one state change, answered 202 with the job."""

    serializer_class = JobSerializer
    service: Callable[..., Job]  # the one service a subclass calls

    def post(self, request: Request, job_uuid: str) -> Response:
        job = type(self).service(job=self.get_object())
        return self.job_response(job, status.HTTP_202_ACCEPTED)


def action_schema(summary: str, description: str):
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[JOB_UUID],
        request=None,
        responses={202: JobSerializer, **errors(404, 409)},
    )


@action_schema(
    "Start a job",
    "Queues every rendering for the dispatcher (a job that has ended is rendered again from "
    "scratch); 409 while it is queued or running.",
)
class JobStartView(JobActionView):
    service = staticmethod(services.job_start)


@action_schema(
    "Cancel a job",
    "Renderings not yet ended become canceled; running ones are stopped and their files "
    "removed. 409 unless the job is queued or running.",
)
class JobCancelView(JobActionView):
    service = staticmethod(services.job_cancel)


@action_schema(
    "Retry a job's failed renderings",
    "Queues the renderings in error (or canceled) again; finished ones are kept. 409 while "
    "the job is queued or running, or when nothing failed.",
)
class JobRetryView(JobActionView):
    service = staticmethod(services.job_retry)

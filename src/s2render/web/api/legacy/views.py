"""The seed's endpoints (``/api/``), answering as the seed did; they run on the same engine as
the v1 API: job-run queues the job for the dispatcher and waits for it, never rendering in the
request thread."""

from __future__ import annotations

import contextlib
import time

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import api_view, throttle_classes
from rest_framework.request import Request
from rest_framework.response import Response

from s2render.web.api.legacy.serializers import LegacyJobSerializer, split
from s2render.web.api.throttling import JobCreateThrottle
from s2render.web.errors import FieldError, NotFoundError, StateError
from s2render.web.jobs import services
from s2render.web.jobs.models import ENDED, Job
from s2render.web.jobs.selectors import job_list
from s2render.web.products.downloads import product_register_remote
from s2render.web.products.models import Product
from s2render.web.products.selectors import product_lookup
from s2render.web.products.services import default_product, is_remote_name, product_register

OVERVIEW = {
    "Job List": "/job-list/",
    "Detail View": "/job-detail/<str:pk>/",
    "Create Job": "/job-create/",
    "Update Job": "/job-update/<str:pk>/",
    "Delete Job": "/job-delete/<str:pk>/",
    "Run Job": "/job-run/<str:pk>/",
}


def _legacy_jobs(request: Request):
    return job_list(user=request.user).exclude(res_list="")


def _get(request: Request, pk: str) -> Job:
    job = _legacy_jobs(request).filter(pk=pk).first() if pk.isdigit() else None
    if job is None:
        raise NotFoundError(f"no job {pk!r} (see /api/job-list/ for your jobs)")
    return job


def _product(ref: str | None) -> Product:
    if not ref:
        return default_product()
    stem = ref.removesuffix(".SAFE")
    if is_remote_name(stem):
        # A product name we may not have: registered products answer at once; otherwise the
        # seed's behaviour — it is fetched from the Copernicus Data Space when the job runs.
        try:
            return product_register_remote(name=stem)
        except FieldError as exc:
            raise FieldError("product", exc.message) from exc
    if "/" in ref or ref.endswith((".SAFE", ".zip")):
        return product_register(path=ref)
    return product_lookup(ref)


def _renderings(product: Product, data: dict) -> list[tuple[Product, dict]]:
    lists = [split(data[name]) for name in ("res_list", "r_list", "g_list", "b_list")]
    return [
        (product, {"resolution": int(res), "bands": [r, g, b], "format": "jpeg"})
        for res, r, g, b in zip(*lists, strict=True)
    ]


@extend_schema(responses=dict, summary="The seed's list of commands")
@api_view(["GET"])
def overview(request: Request) -> Response:
    return Response(OVERVIEW)


@extend_schema(responses=LegacyJobSerializer(many=True), summary="The seed's job list")
@api_view(["GET"])
def job_list_view(request: Request) -> Response:
    return Response(LegacyJobSerializer(_legacy_jobs(request), many=True).data)


@extend_schema(responses=LegacyJobSerializer)
@api_view(["GET"])
def job_detail(request: Request, pk: str) -> Response:
    return Response(LegacyJobSerializer(_get(request, pk)).data)


@extend_schema(request=LegacyJobSerializer, responses=LegacyJobSerializer)
@api_view(["POST"])
@throttle_classes([JobCreateThrottle])
def job_create(request: Request) -> Response:
    serializer = LegacyJobSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    product = _product(data.get("product"))
    legacy = {name: data[name] for name in ("res_list", "r_list", "g_list", "b_list")}
    job = services.job_create(
        owner=request.user, renderings=_renderings(product, data), legacy=legacy
    )
    return Response(LegacyJobSerializer(job).data)


@extend_schema(request=LegacyJobSerializer, responses=LegacyJobSerializer)
@api_view(["POST"])
def job_update(request: Request, pk: str) -> Response:
    job = _get(request, pk)
    serializer = LegacyJobSerializer(instance=job, data=request.data, partial=True)
    serializer.is_valid(raise_exception=True)
    data = {
        name: serializer.validated_data.get(name, getattr(job, name))
        for name in ("res_list", "r_list", "g_list", "b_list")
    }
    ref = serializer.validated_data.get("product")
    product = _product(ref) if ref else job.renderings.first().product
    job = services.job_update(job=job, renderings=_renderings(product, data), legacy=data)
    return Response(LegacyJobSerializer(job).data)


@extend_schema(responses=str)
@api_view(["DELETE"])
def job_delete(request: Request, pk: str) -> Response:
    services.job_delete(job=_get(request, pk))
    return Response("Item succsesfully delete!")  # sic: the seed's words, kept for its clients


@extend_schema(
    responses={200: LegacyJobSerializer, 202: LegacyJobSerializer},
    summary="Render every combination in parallel and answer with the job",
    description="Waits for the job to end (up to S2RENDER_JOB_RUN_TIMEOUT seconds); answers 202 "
    "with the job, status Pending, if it is still running then.",
)
@api_view(["GET"])
def job_run(request: Request, pk: str) -> Response:
    job = _get(request, pk)
    with contextlib.suppress(StateError):  # already queued or running: wait for that run
        job = services.job_start(job=job)
    deadline = time.monotonic() + float(settings.S2RENDER["JOB_RUN_TIMEOUT"])
    while job.status not in ENDED and time.monotonic() < deadline:
        time.sleep(0.1)
        job.refresh_from_db()
    code = status.HTTP_200_OK if job.status in ENDED else status.HTTP_202_ACCEPTED
    return Response(LegacyJobSerializer(job).data, status=code)

"""Job queries, always scoped to what the requesting user may see."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from s2render.web.errors import NotFoundError
from s2render.web.jobs.models import ENDED, Job, Rendering, Status


def job_list(*, user: Any) -> QuerySet[Job]:
    """The user's jobs (every job for staff), newest first, with rendering counts."""
    jobs = Job.objects.all() if user.is_staff else Job.objects.filter(owner=user)
    return jobs.annotate(
        rendering_count=Count("renderings"),
        ended_count=Count("renderings", filter=Q(renderings__status__in=ENDED)),
        finished_count=Count("renderings", filter=Q(renderings__status=Status.FINISHED)),
    ).order_by("-id")


def rendering_list(*, user: Any) -> QuerySet[Rendering]:
    rows = Rendering.objects.select_related("job", "product")
    return rows if user.is_staff else rows.filter(job__owner=user)


def job_progress(job: Job) -> float:
    """Share of renderings that have ended, 0..100."""
    total = getattr(job, "rendering_count", None)
    if total is None:
        total = job.renderings.count()
        ended = job.renderings.filter(status__in=ENDED).count()
    else:
        ended = job.ended_count  # type: ignore[attr-defined]
    return round(100.0 * ended / total, 1) if total else 0.0


def legacy_status(job: Job) -> str:
    """The seed's status words: Pending while not ended, Done when every rendering is done."""
    if job.status not in ENDED:
        return "Pending"
    statuses = set(job.renderings.values_list("status", flat=True))
    return "Done" if statuses == {Status.FINISHED} else "Failed"


def legacy_output(job: Job) -> str:
    """The seed's ``output``: image locations joined by commas, each followed by one (as the
    seed wrote them), in request order."""
    paths = job.renderings.filter(status=Status.FINISHED).order_by("index")
    return "".join(f"{p}," for p in paths.values_list("output", flat=True))


# --- the v1 API ------------------------------------------------------------------------------


def job_list_detailed(*, user: Any) -> QuerySet[Job]:
    """:func:`job_list` with each job's renderings (and their products) fetched in one go."""
    renderings = Rendering.objects.select_related("product").order_by("index")
    return job_list(user=user).prefetch_related(Prefetch("renderings", queryset=renderings))


def job_get(*, user: Any, job_uuid: str) -> Job:
    """One job the user may see, by UUID; NotFoundError otherwise (never a hint that a job of
    someone else exists)."""
    try:
        key = uuid.UUID(str(job_uuid))
    except ValueError:
        raise NotFoundError(f"no job {job_uuid!r}: job ids are UUIDs") from None
    job = job_list_detailed(user=user).filter(uuid=key).first()
    if job is None:
        raise NotFoundError(f"no job {job_uuid} (GET /api/v1/jobs/ lists yours)")
    return job


def rendering_get(*, job: Job, index: str | int) -> Rendering:
    """Rendering ``index`` of ``job`` (a job the caller already may see)."""
    found = None
    if str(index).isdigit():
        found = next((r for r in job.renderings.all() if r.index == int(index)), None)
    if found is None:
        count = len(job.renderings.all())
        raise NotFoundError(
            f"job {job.uuid} has no rendering {index!r}; its renderings are 0 to {count - 1}"
            if count
            else f"job {job.uuid} has no renderings"
        )
    return found


def job_summary(job: Job) -> dict[str, Any]:
    """Counts of the job's renderings per status and its progress (share ended, 0..100)."""
    counts = dict.fromkeys(Status.values, 0)
    for rendering in job.renderings.all():
        counts[rendering.status] += 1
    total = sum(counts.values())
    ended = sum(counts[s] for s in ENDED)
    return {
        "counts": counts,
        "total": total,
        "progress": round(100.0 * ended / total, 1) if total else 0.0,
    }


def job_downloads(job: Job) -> list[dict[str, Any]]:
    """The remote products this job's renderings still wait for, with download progress."""
    waiting = [
        r.product
        for r in job.renderings.all()
        if r.status in (Status.CREATED, Status.QUEUED) and r.product.state != "available"
    ]
    seen: dict[int, dict[str, Any]] = {}
    for product in waiting:
        total = product.size_bytes
        seen[product.pk] = {
            "product": product.name,
            "state": product.state,
            "bytes_done": product.bytes_done,
            "bytes_total": total,
            "percent": round(100.0 * product.bytes_done / total, 1) if total else None,
            "error": product.error,
        }
    return list(seen.values())


def rendering_sidecar(rendering: Rendering) -> dict[str, Any]:
    """The sidecar document of a finished rendering ({} when there is none or it is gone)."""
    if rendering.status != Status.FINISHED or not rendering.sidecar:
        return {}
    try:
        return json.loads(Path(rendering.sidecar).read_text())
    except (OSError, ValueError):
        return {}


def rendering_figures(rendering: Rendering, sidecar: dict[str, Any] | None = None) -> dict:
    """What the dispatcher recorded, with the sidecar's QA figures and timings added."""
    sidecar = rendering_sidecar(rendering) if sidecar is None else sidecar
    return {**rendering.figures, **sidecar.get("figures", {}), **sidecar.get("timings", {})}


def rendering_file(rendering: Rendering, kind: str = "output") -> Path:
    """The image (``output``), ``sidecar`` or ``thumbnail`` file of a finished rendering;
    NotFoundError until the rendering has finished or when its file is gone."""
    if rendering.status != Status.FINISHED:
        raise NotFoundError(
            f"rendering {rendering.index} of job {rendering.job.uuid} is {rendering.status}; "
            "its files exist once it has finished"
        )
    if kind == "thumbnail":  # written beside the image (core.output.companion)
        path = Path(rendering.output + ".thumb.png" if rendering.output else "")
    else:
        path = Path(getattr(rendering, kind) or "")
    if not path.name or not path.is_file():
        what = {"output": "image"}.get(kind, kind)
        raise NotFoundError(
            f"the {what} of rendering {rendering.index} "
            f"of job {rendering.job.uuid} is gone from the output folder; start the job again"
        )
    return path

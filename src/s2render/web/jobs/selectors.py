"""Job queries, always scoped to what the requesting user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

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

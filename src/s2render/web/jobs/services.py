"""Every change of job state. Views, serializers and the dispatcher call these; nothing else
writes jobs or renderings. Transitions are guarded: an illegal move raises StateError, and a
dispatcher's report about a rendering it no longer holds (canceled, re-queued, deleted) is
refused, so no rendering is ever recorded done twice.

Lock order, everywhere: a job's row before its renderings' rows, several jobs in id order. On
PostgreSQL two transactions that took row locks in opposite orders (a cancel locking the job then
its renderings, a completion locking a rendering then its job) would deadlock and one would fail.
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from s2render.core.output import companion
from s2render.web.errors import StateError
from s2render.web.jobs.models import ACTIVE, ENDED, Dispatcher, Job, Rendering, Status
from s2render.web.jobs.specs import job_output_dir, normalize_spec, standin_product
from s2render.web.products.models import Product, ProductSource, ProductState

log = logging.getLogger("s2render.jobs")


# --- jobs ----------------------------------------------------------------------------------


def job_create(
    *,
    owner: Any,
    renderings: Sequence[tuple[Product, dict]],
    title: str = "",
    legacy: dict[str, str] | None = None,
) -> Job:
    """A job in ``created`` with one rendering per (product, spec), each checked against its
    product; FieldError (naming ``renderings[i].<field>``) when one is wrong."""
    specs = _checked_specs(renderings)
    with transaction.atomic():
        job = Job.objects.create(owner=owner, title=title, **(legacy or {}))
        Rendering.objects.bulk_create(
            Rendering(job=job, index=i, product=product, spec=spec)
            for i, (product, spec) in enumerate(specs)
        )
    return job


def job_submit(
    *,
    owner: Any,
    renderings: Sequence[tuple[Product, dict]],
    title: str = "",
    start: bool = False,
) -> Job:
    """:func:`job_create`, and with ``start`` queued in the same transaction (no client ever
    sees it ``created``)."""
    with transaction.atomic():
        job = job_create(owner=owner, renderings=renderings, title=title)
        if start:
            job = job_start(job=job)
    return job


def job_update(
    *,
    job: Job,
    renderings: Sequence[tuple[Product, dict]] | None = None,
    title: str | None = None,
    legacy: dict[str, str] | None = None,
) -> Job:
    """Replace a job's renderings and/or title while it is not queued or running."""
    specs = _checked_specs(renderings) if renderings is not None else None
    with transaction.atomic():
        job = _locked(job)
        if job.status in ACTIVE:
            raise StateError(f"job {job.pk} is {job.status}; cancel it before changing it")
        if title is not None:
            job.title = title
        for name, value in (legacy or {}).items():
            setattr(job, name, value)
        if specs is not None:
            _remove_outputs(job)
            job.renderings.all().delete()
            Rendering.objects.bulk_create(
                Rendering(job=job, index=i, product=product, spec=spec)
                for i, (product, spec) in enumerate(specs)
            )
            job.status, job.started_at, job.finished_at = Status.CREATED, None, None
        job.save()
    return job


def job_start(*, job: Job) -> Job:
    """Queue every rendering (a job that has ended is rendered again from scratch)."""
    with transaction.atomic():
        job = _locked(job)
        if job.status in ACTIVE:
            raise StateError(f"job {job.pk} is already {job.status}")
        if not job.renderings.exists():
            raise StateError(f"job {job.pk} has no renderings to start")
        if job.status in ENDED:
            _remove_outputs(job)
        now = timezone.now()
        job.renderings.update(
            status=Status.QUEUED,
            queued_at=now,
            started_at=None,
            finished_at=None,
            error="",
            attempts=0,
            claimed_by="",
            claim="",
            output="",
            sidecar="",
            media_type="",
            figures={},
        )
        job.status, job.started_at, job.finished_at = Status.QUEUED, now, None
        job.save(update_fields=["status", "started_at", "finished_at", "updated_at"])
    return job


def job_cancel(*, job: Job) -> Job:
    """Cancel what has not ended; the dispatcher stops renderings already running."""
    with transaction.atomic():
        job = _locked(job)
        if job.status not in ACTIVE:
            raise StateError(f"job {job.pk} is {job.status}; only queued or running jobs cancel")
        now = timezone.now()
        job.renderings.filter(status__in=[Status.CREATED, *ACTIVE]).update(
            status=Status.CANCELED, finished_at=now, claim=""
        )
        return _refresh(job)


def job_retry(*, job: Job) -> Job:
    """Queue the renderings that failed (or were canceled) again."""
    with transaction.atomic():
        job = _locked(job)
        if job.status in ACTIVE:
            raise StateError(f"job {job.pk} is {job.status}; retry it once it has ended")
        failed = job.renderings.filter(status__in=[Status.ERROR, Status.CANCELED])
        if not failed.exists():
            raise StateError(f"job {job.pk} has no failed or canceled renderings to retry")
        failed.update(
            status=Status.QUEUED,
            queued_at=timezone.now(),
            error="",
            attempts=0,
            claimed_by="",
            claim="",
            finished_at=None,
        )
        job.finished_at = None
        return _refresh(job)


def job_delete(*, job: Job) -> None:
    """Delete a job, its renderings and its files (a dispatcher drops work it still holds)."""
    out_dir = job_output_dir(settings.OUTPUT_DIR, str(job.uuid))
    with transaction.atomic():
        job = _locked(job)
        job.delete()
        transaction.on_commit(lambda: shutil.rmtree(out_dir, ignore_errors=True))


def _checked_specs(renderings: Sequence[tuple[Product, dict]]) -> list[tuple[Product, dict]]:
    checked = []
    for i, (product, raw) in enumerate(renderings):
        # A remote product not fetched yet is checked against what its level holds; the
        # dispatcher fetches it before the rendering runs (and the core checks it again then).
        unfetched = (
            product.source == ProductSource.REMOTE and product.state != ProductState.AVAILABLE
        )
        standin = standin_product(product) if unfetched else None
        spec = normalize_spec(raw, product.location, prefix=f"renderings[{i}].", product=standin)
        checked.append((product, spec))
    return checked


def _locked(job: Job) -> Job:
    return Job.objects.select_for_update().get(pk=job.pk)


def _remove_outputs(job: Job) -> None:
    """Remove each recorded image with its sidecar, thumbnail and STAC item."""
    paths = job.renderings.exclude(output="").values_list("output", "sidecar")
    for output, sidecar in paths:
        image = Path(output)
        for path in (image, Path(sidecar) if sidecar else image, *outputs_beside(image)):
            path.unlink(missing_ok=True)


def outputs_beside(image: Path) -> tuple[Path, ...]:
    """The thumbnail and STAC item written beside ``image`` (core.output.companion)."""
    return (companion(image, ".thumb.png"), companion(image, ".stac.json"))


def derive_status(statuses: Iterable[str], previous: str) -> str:
    """A job's status from its renderings' (DESIGN.md section 11)."""
    counts: dict[str, int] = {}
    for s in statuses:
        counts[s] = counts.get(s, 0) + 1
    total = sum(counts.values())
    if total == 0:
        return Status.CREATED
    ended = sum(counts.get(s, 0) for s in ENDED)
    if counts.get(Status.RUNNING) or (counts.get(Status.QUEUED) and ended):
        return Status.RUNNING
    if counts.get(Status.QUEUED):
        return Status.QUEUED
    if counts.get(Status.CREATED) == total:
        return Status.CREATED
    if counts.get(Status.CANCELED):
        return Status.CANCELED
    if counts.get(Status.FINISHED):
        return Status.FINISHED
    return Status.ERROR


def _refresh(job: Job) -> Job:
    """Store the job's status derived from its renderings (call inside a transaction)."""
    status = derive_status(job.renderings.values_list("status", flat=True), job.status)
    fields = ["updated_at"]
    if status != job.status:
        job.status = status
        fields.append("status")
        if status in ENDED:
            job.finished_at = timezone.now()
            fields.append("finished_at")
    job.save(update_fields=fields)
    return job


# --- renderings (called by the dispatcher) -------------------------------------------------


def rendering_claim(*, dispatcher: str, limit: int) -> tuple[str, list[Rendering]]:
    """Claim up to ``limit`` queued renderings, oldest first.

    The jobs of the oldest queued renderings are locked first (the lock order) — on PostgreSQL
    with ``SKIP LOCKED``, so dispatchers never queue behind each other: one takes the jobs
    nobody else is touching, and finds the rest at its next poll. Their queued renderings are
    then read again and taken by one conditional UPDATE (``status = queued``) stamped with a
    fresh token, so a rendering goes to exactly one dispatcher on SQLite and PostgreSQL alike.
    """
    token = uuid.uuid4().hex
    # Only renderings whose product is there: a remote one waits while the dispatcher fetches it.
    queued = Rendering.objects.filter(
        status=Status.QUEUED, product__state=ProductState.AVAILABLE
    ).order_by("queued_at", "id")
    with transaction.atomic():
        # Jobs of the oldest few queued renderings: enough to find work beside busy jobs.
        job_ids = set(queued.values_list("job_id", flat=True)[: 4 * limit])
        if not job_ids:
            return token, []
        skip = transaction.get_connection().features.has_select_for_update_skip_locked
        jobs = list(
            Job.objects.filter(pk__in=job_ids).order_by("pk").select_for_update(skip_locked=skip)
        )
        ids = list(queued.filter(job__in=jobs).values_list("id", flat=True)[:limit])
        if not ids:
            return token, []
        Rendering.objects.filter(id__in=ids, status=Status.QUEUED).update(
            status=Status.RUNNING,
            claimed_by=dispatcher,
            claim=token,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
        claimed = list(
            Rendering.objects.filter(claim=token).select_related("job", "product").order_by("id")
        )
        for job_id in {r.job_id for r in claimed if r.spec.get("stretch_scope") == "job"}:
            claimed.extend(rendering_claim_job(dispatcher=dispatcher, claim=token, job_id=job_id))
        for job in jobs:
            if any(r.job_id == job.pk for r in claimed):
                _refresh(job)
        used = {r.product_id for r in claimed}
        Product.objects.filter(pk__in=used).update(last_used_at=timezone.now())  # for LRU eviction
    return token, claimed


def rendering_claim_job(*, dispatcher: str, claim: str, job_id: int) -> list[Rendering]:
    """Claim the rest of a job's queued renderings under ``claim``, beyond any capacity: a
    job-scope stretch is one mapping over every rendering that asks for it, so they must all be
    in the one batch the dispatcher submits for the job. Same conditional UPDATE as
    :func:`rendering_claim`, under the job's lock."""
    with transaction.atomic():
        if not Job.objects.filter(pk=job_id).select_for_update().exists():
            return []
        rest = Rendering.objects.filter(
            job_id=job_id, status=Status.QUEUED, product__state=ProductState.AVAILABLE
        )
        ids = list(rest.values_list("id", flat=True))
        if not ids:
            return []
        Rendering.objects.filter(id__in=ids, status=Status.QUEUED).update(
            status=Status.RUNNING,
            claimed_by=dispatcher,
            claim=claim,
            started_at=timezone.now(),
            attempts=F("attempts") + 1,
        )
        return list(
            Rendering.objects.filter(id__in=ids, claim=claim)
            .select_related("job", "product")
            .order_by("id")
        )


def rendering_complete(*, rendering_id: int, claim: str, result: dict[str, Any]) -> bool:
    """Record a finished rendering; False (nothing written) if the claim no longer holds."""
    figures = {
        k: result.get(k)
        for k in ("width", "height", "valid_percent", "seconds", "stretch", "offsets")
        if result.get(k) is not None
    }
    return _finish(
        rendering_id,
        claim,
        status=Status.FINISHED,
        output=result.get("path") or "",
        sidecar=result.get("sidecar") or "",
        media_type=result.get("media_type") or "",
        figures=figures,
        error="",
    )


def rendering_fail(*, rendering_id: int, claim: str, error: str) -> bool:
    """Record a failed rendering; False if the claim no longer holds."""
    return _finish(rendering_id, claim, status=Status.ERROR, error=error[:4000])


def renderings_fail_waiting(*, product_id: int, error: str) -> int:
    """Fail the queued renderings of a product that cannot be had (its fetch failed, or its
    files are gone), so their jobs end instead of waiting forever; ``retry`` queues them again."""
    with transaction.atomic():
        rows = Rendering.objects.filter(product_id=product_id, status=Status.QUEUED)
        jobs = _locked_jobs(rows.values_list("job_id", flat=True))
        count = rows.update(status=Status.ERROR, error=error[:4000], finished_at=timezone.now())
        for job in jobs:
            _refresh(job)
    return count


def rendering_release(*, claim: str, rendering_ids: Sequence[int] | None = None) -> int:
    """Give claimed renderings back to the queue (a dispatcher shutting down cleanly)."""
    with transaction.atomic():
        rows = Rendering.objects.filter(claim=claim, status=Status.RUNNING)
        if rendering_ids is not None:
            rows = rows.filter(id__in=rendering_ids)
        jobs = _locked_jobs(rows.values_list("job_id", flat=True))
        count = rows.update(status=Status.QUEUED, claim="", claimed_by="", started_at=None)
        for job in jobs:
            _refresh(job)
    return count


def _finish(rendering_id: int, claim: str, **values: Any) -> bool:
    with transaction.atomic():
        jobs = _locked_jobs(
            Rendering.objects.filter(pk=rendering_id).values_list("job_id", flat=True)
        )
        if not jobs:  # deleted
            return False
        updated = Rendering.objects.filter(
            pk=rendering_id, claim=claim, status=Status.RUNNING
        ).update(finished_at=timezone.now(), **values)
        if not updated:
            return False
        _refresh(jobs[0])
    return True


def _locked_jobs(job_ids: Iterable[Any]) -> list[Job]:
    """Lock these jobs in id order (call inside a transaction); deleted ones are left out."""
    return list(Job.objects.filter(pk__in=set(job_ids)).order_by("pk").select_for_update())


def claim_dir(out_dir: Path, claim: str) -> Path:
    """Where a claim's renderings are written until each is recorded done and moved into
    ``out_dir`` (so a dispatcher presumed dead can never overwrite a recorded image)."""
    return Path(out_dir) / f".claim-{claim}"


# --- dispatchers -----------------------------------------------------------------------------


def dispatcher_register(*, name: str, host: str, pid: int) -> Dispatcher:
    row, _ = Dispatcher.objects.update_or_create(
        name=name, defaults={"host": host, "pid": pid, "heartbeat_at": timezone.now()}
    )
    return row


def dispatcher_heartbeat(*, name: str) -> None:
    Dispatcher.objects.filter(name=name).update(heartbeat_at=timezone.now())


def dispatcher_unregister(*, name: str) -> None:
    Dispatcher.objects.filter(name=name).delete()


def dispatcher_recover(
    *, me: str, stale_seconds: float, max_attempts: int, dead: Iterable[str] = ()
) -> int:
    """Re-queue renderings left ``running`` by dispatchers that are gone.

    Gone: no heartbeat for ``stale_seconds``, unregistered, or named in ``dead`` (the caller
    knows, e.g. a process id on this host that no longer exists). A rendering that has already
    been started ``max_attempts`` times ends in ``error`` instead of looping forever.
    """
    cutoff = timezone.now() - timedelta(seconds=stale_seconds)
    alive = set(
        Dispatcher.objects.filter(heartbeat_at__gte=cutoff)
        .exclude(name__in=list(dead))
        .values_list("name", flat=True)
    )
    alive.add(me)
    recovered = 0
    with transaction.atomic():
        orphans = Rendering.objects.filter(status=Status.RUNNING).exclude(claimed_by__in=alive)
        jobs = _locked_jobs(orphans.values_list("job_id", flat=True))
        orphans = orphans.filter(job__in=jobs)  # read again under the jobs' locks
        rows = list(orphans.values_list("id", "attempts", "claimed_by", "claim", "job__uuid"))
        # The dead claims' files go before the rows are queued again (and claimed by a peer);
        # a dispatcher only presumed dead finds its folder gone and cannot write any more.
        for job_uuid, claim in {(r[4], r[3]) for r in rows if r[3]}:
            out_dir = job_output_dir(settings.OUTPUT_DIR, str(job_uuid))
            shutil.rmtree(claim_dir(out_dir, claim), ignore_errors=True)
        exhausted = [r[0] for r in rows if r[1] >= max_attempts]
        retried = [r[0] for r in rows if r[1] < max_attempts]
        if exhausted:
            Rendering.objects.filter(id__in=exhausted, status=Status.RUNNING).update(
                status=Status.ERROR,
                error=f"gave up after {max_attempts} attempts (its dispatcher died each time)",
                finished_at=timezone.now(),
                claim="",
            )
        if retried:
            recovered = Rendering.objects.filter(id__in=retried, status=Status.RUNNING).update(
                status=Status.QUEUED, claim="", claimed_by="", started_at=None
            )
        for job in jobs:
            _refresh(job)
        gone = {r[2] for r in rows} - alive
        Dispatcher.objects.filter(Q(name__in=gone) | Q(heartbeat_at__lt=cutoff)).exclude(
            name=me
        ).delete()
    if rows:
        log.warning(
            "re-queued %d renderings of dead dispatchers, gave up %d", recovered, len(exhausted)
        )
    return recovered

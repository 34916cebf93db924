"""Several dispatchers on one database (SQLite, or PostgreSQL in the PostgreSQL run): every
rendering is claimed by exactly one of them and done exactly once."""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from pathlib import Path

from django.conf import settings
from django.db import connections, transaction

from s2render.web.errors import StateError
from s2render.web.jobs import services
from s2render.web.jobs.models import Dispatcher, Job, Rendering, Status
from s2render.web.jobs.specs import job_output_dir
from tests.conftest import decode
from tests.web.conftest import wait_for

SPECS = [
    {"resolution": 20, "bands": ["B04", "B03", "B02"]},
    {"resolution": 20, "bands": ["B12", "B8A", "B04"]},
    {"resolution": 60, "bands": ["B8A", "B04", "B03"]},
]
JOBS = 10


def make_jobs(owner, product, count: int) -> list[Job]:
    return [
        services.job_create(owner=owner, renderings=[(product, spec) for spec in SPECS])
        for _ in range(count)
    ]


def test_two_dispatcher_processes_do_every_rendering_exactly_once(
    alice, product, start_dispatcher_process
):
    procs = [start_dispatcher_process(S2RENDER_DISPATCHER_CAPACITY="4") for _ in range(2)]
    names = {
        wait_for(
            lambda p=p: Dispatcher.objects.filter(pid=p.pid).values_list("name", flat=True).first(),
            timeout=60,
            message="both dispatchers to register",
        )
        for p in procs
    }
    jobs = make_jobs(alice, product, JOBS)
    with transaction.atomic():  # all 30 renderings queued at one instant: both race for them
        for job in jobs:
            services.job_start(job=job)
    ids = [job.pk for job in jobs]
    wait_for(
        lambda: (
            set(Job.objects.filter(pk__in=ids).values_list("status", flat=True))
            == {Status.FINISHED}
        ),
        timeout=180,
        message="every job to finish",
    )

    rows = Rendering.objects.filter(job_id__in=ids)
    assert rows.count() == JOBS * len(SPECS)
    # Claimed once (attempts counts claims) and recorded done once (a completion needs the
    # claim still held, and each rendering had exactly one).
    assert set(rows.values_list("status", "attempts")) == {(Status.FINISHED, 1)}
    assert set(rows.values_list("claimed_by", flat=True)) == names  # both took part
    outputs = [Path(p) for p in rows.values_list("output", flat=True)]
    assert len(set(outputs)) == len(outputs)
    for output, resolution in zip(
        outputs, rows.values_list("spec__resolution", flat=True), strict=True
    ):
        pixels, _ = decode(output)
        side = {20: 294, 60: 98}[resolution]
        assert pixels.shape == (3, side, side)
    for job in jobs:  # nothing but the images and their sidecars: no claim folder left
        folder = job_output_dir(settings.OUTPUT_DIR, str(job.uuid))
        assert len([p for p in folder.iterdir() if p.name.startswith(".")]) == 0
        assert len(list(folder.iterdir())) == 4 * len(SPECS)  # image, sidecar, thumbnail, STAC
    for proc in procs:
        assert proc.poll() is None, "a dispatcher died"
        assert "Traceback" not in proc.log_path.read_text()


def test_claims_racing_from_many_connections_never_share_a_rendering(
    alice, product, transactional_db
):
    jobs = make_jobs(alice, product, JOBS)
    for job in jobs:
        services.job_start(job=job)
    claimed: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def claimer(n: int) -> None:
        """Claim one at a time until nothing is queued (its own database connection)."""
        try:
            barrier.wait(timeout=30)
            while Rendering.objects.filter(status=Status.QUEUED).exists():
                _, rows = services.rendering_claim(dispatcher=f"racer-{n}", limit=1)
                claimed.append([r.pk for r in rows])
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    counts = Counter(pk for batch in claimed for pk in batch)
    rows = Rendering.objects.filter(job__in=jobs)
    assert set(counts) == set(rows.values_list("pk", flat=True))
    assert set(counts.values()) == {1}
    assert set(rows.values_list("status", "attempts")) == {(Status.RUNNING, 1)}
    statuses = Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)
    assert set(statuses) == {Status.RUNNING}


def test_cancels_racing_completions_neither_fail_nor_disagree(alice, product, transactional_db):
    """A user cancelling jobs while a dispatcher reports their renderings done: both lock the
    job and its renderings, in one order, so neither fails (PostgreSQL would abort one of two
    transactions locking in opposite orders) and each job ends consistent."""
    jobs = make_jobs(alice, product, JOBS)
    for job in jobs:
        services.job_start(job=job)
    claim, rows = services.rendering_claim(dispatcher="d1", limit=JOBS * len(SPECS))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2 * JOBS)

    def in_thread(work) -> None:
        try:
            barrier.wait(timeout=30)
            work()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    def complete(job_id: int) -> None:
        for row in reversed([r for r in rows if r.job_id == job_id]):
            services.rendering_complete(rendering_id=row.pk, claim=claim, result={"path": "x"})

    def cancel(job: Job) -> None:
        with contextlib.suppress(StateError):  # already finished: nothing to cancel
            services.job_cancel(job=job)

    threads = [threading.Thread(target=in_thread, args=(lambda j=j: complete(j.pk),)) for j in jobs]
    threads += [threading.Thread(target=in_thread, args=(lambda j=j: cancel(j),)) for j in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    for job in Job.objects.filter(pk__in=[j.pk for j in jobs]):
        statuses = list(job.renderings.values_list("status", flat=True))
        assert set(statuses) <= {Status.FINISHED, Status.CANCELED}
        assert job.status == services.derive_status(statuses, job.status)

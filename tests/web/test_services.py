"""Job services: the status a job derives from its renderings, guarded transitions, claims."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from s2render.web.errors import StateError
from s2render.web.jobs import services
from s2render.web.jobs.models import Dispatcher, Job, Rendering, Status
from s2render.web.jobs.specs import job_output_dir

C, Q, R, F, E, X = (
    Status.CREATED,
    Status.QUEUED,
    Status.RUNNING,
    Status.FINISHED,
    Status.ERROR,
    Status.CANCELED,
)

TRUE_COLOUR = {"resolution": 60, "bands": ["B04", "B03", "B02"]}
FALSE_COLOUR = {"resolution": 60, "bands": ["B08", "B04", "B03"]}


@pytest.mark.parametrize(
    ("renderings", "expected"),
    [
        ([], C),
        ([C, C], C),
        ([Q, Q], Q),
        ([Q, R], R),
        ([R, R], R),
        ([Q, F], R),  # some done, some waiting: in progress, not queued
        ([Q, E], R),  # a retry of one failed item
        ([R, F, E], R),
        ([F, F], F),
        ([F, E], F),  # partial: finished, the failure listed per rendering
        ([E, E], E),
        ([F, X], X),
        ([E, X], X),
        ([X, X], X),
    ],
)
def test_job_status_derives_from_its_renderings(renderings, expected):
    assert services.derive_status(renderings, C) == expected


def test_job_status_ignores_the_previous_status():
    assert services.derive_status([F, F], R) == services.derive_status([F, F], Q) == F


@pytest.fixture
def make_job(alice, product):
    def _make(*specs: dict) -> Job:
        return services.job_create(
            owner=alice, renderings=[(product, spec) for spec in specs or (TRUE_COLOUR,)]
        )

    return _make


def statuses(job: Job) -> list[str]:
    return list(job.renderings.order_by("index").values_list("status", flat=True))


def claim_all(dispatcher: str = "d1") -> tuple[str, list[Rendering]]:
    return services.rendering_claim(dispatcher=dispatcher, limit=100)


def complete(rendering: Rendering, claim: str) -> bool:
    return services.rendering_complete(
        rendering_id=rendering.pk, claim=claim, result={"path": f"/x/{rendering.pk}.jpg"}
    )


def reload(job: Job) -> Job:
    return Job.objects.get(pk=job.pk)


# --- guarded transitions -----------------------------------------------------------------------


def test_starting_a_queued_or_running_job_is_refused(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    with pytest.raises(StateError, match="already queued"):
        services.job_start(job=job)
    services.rendering_claim(dispatcher="d1", limit=1)
    assert reload(job).status == R
    with pytest.raises(StateError, match="already running"):
        services.job_start(job=job)


def test_updating_a_queued_job_is_refused(make_job, product):
    job = services.job_start(job=make_job())
    with pytest.raises(StateError, match="cancel it before changing it"):
        services.job_update(job=job, title="new", renderings=[(product, FALSE_COLOUR)])
    assert reload(job).title == ""
    assert job.renderings.get().spec["bands"] == TRUE_COLOUR["bands"]


def test_retry_with_nothing_failed_is_refused(make_job):
    job = services.job_start(job=make_job())
    claim, [rendering] = claim_all()
    assert complete(rendering, claim)
    assert reload(job).status == F
    with pytest.raises(StateError, match="no failed or canceled renderings"):
        services.job_retry(job=reload(job))


def test_retry_of_a_running_job_is_refused(make_job):
    job = services.job_start(job=make_job())
    claim_all()
    with pytest.raises(StateError, match="retry it once it has ended"):
        services.job_retry(job=job)


def test_retry_queues_only_the_failed_renderings(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    claim, (first, second) = claim_all()
    assert complete(first, claim)
    assert services.rendering_fail(rendering_id=second.pk, claim=claim, error="boom")
    assert reload(job).status == F
    assert services.job_retry(job=reload(job)).status == R  # one done, one waiting
    assert statuses(job) == [F, Q]
    assert job.renderings.get(index=1).attempts == 0


def test_cancelling_a_finished_job_is_refused(make_job):
    job = services.job_start(job=make_job())
    claim, [rendering] = claim_all()
    complete(rendering, claim)
    with pytest.raises(StateError, match="only queued or running jobs cancel"):
        services.job_cancel(job=reload(job))


def test_cancelling_a_created_job_is_refused(make_job):
    with pytest.raises(StateError, match="created"):
        services.job_cancel(job=make_job())


def test_starting_a_job_without_renderings_is_refused(alice):
    job = services.job_create(owner=alice, renderings=[])
    with pytest.raises(StateError, match="no renderings"):
        services.job_start(job=job)


def test_cancel_stops_what_has_not_ended_and_the_late_result_is_refused(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    claim, [first] = services.rendering_claim(dispatcher="d1", limit=1)
    assert services.job_cancel(job=job).status == X
    assert statuses(job) == [X, X]
    assert not complete(first, claim)
    assert statuses(job) == [X, X]


# --- claims and reports ------------------------------------------------------------------------


def test_a_claim_takes_queued_renderings_once_oldest_first(make_job):
    older = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    newer = services.job_start(job=make_job(TRUE_COLOUR))
    claim1, rows1 = services.rendering_claim(dispatcher="d1", limit=2)
    claim2, rows2 = services.rendering_claim(dispatcher="d2", limit=2)
    claim3, rows3 = services.rendering_claim(dispatcher="d3", limit=2)
    assert [r.job_id for r in rows1] == [older.pk, older.pk]
    assert [r.job_id for r in rows2] == [newer.pk]
    assert rows3 == []
    assert len({claim1, claim2, claim3}) == 3
    for claim, name, rows in ((claim1, "d1", rows1), (claim2, "d2", rows2)):
        for row in Rendering.objects.filter(pk__in=[r.pk for r in rows]):
            assert (row.status, row.claim, row.claimed_by, row.attempts) == (R, claim, name, 1)
    assert reload(older).status == reload(newer).status == R


def test_a_completion_is_recorded_once(make_job):
    job = services.job_start(job=make_job())
    claim, [rendering] = claim_all()
    assert complete(rendering, claim) is True
    first = Rendering.objects.get(pk=rendering.pk)
    assert complete(rendering, claim) is False
    assert services.rendering_fail(rendering_id=rendering.pk, claim=claim, error="late") is False
    again = Rendering.objects.get(pk=rendering.pk)
    assert (again.status, again.finished_at, again.error) == (F, first.finished_at, "")
    assert reload(job).status == F


def test_a_completion_under_a_stale_claim_is_refused(make_job):
    job = services.job_start(job=make_job())
    old_claim, [rendering] = claim_all("d-dead")
    # d-dead never registered: it counts as gone, so its rendering goes back to the queue.
    assert services.dispatcher_recover(me="d2", stale_seconds=30, max_attempts=3) == 1
    assert statuses(job) == [Q]
    assert complete(rendering, old_claim) is False
    assert statuses(job) == [Q]
    new_claim, [again] = claim_all("d2")
    assert complete(again, old_claim) is False
    assert statuses(job) == [R]
    assert complete(again, new_claim) is True
    row = Rendering.objects.get(pk=rendering.pk)
    assert (row.status, row.claimed_by, row.attempts) == (F, "d2", 2)


def test_a_completion_of_a_deleted_job_is_refused(make_job):
    job = services.job_start(job=make_job())
    claim, [rendering] = claim_all()
    services.job_delete(job=job)
    assert complete(rendering, claim) is False


def test_release_gives_claimed_renderings_back(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    claim, rows = claim_all()
    assert services.rendering_release(claim=claim, rendering_ids=[rows[0].pk]) == 1
    assert statuses(job) == [Q, R]
    assert reload(job).status == R
    assert services.rendering_release(claim=claim) == 1
    assert statuses(job) == [Q, Q]
    assert reload(job).status == Q


# --- recovery of dead dispatchers --------------------------------------------------------------


def register(name: str, *, age: float = 0.0) -> None:
    services.dispatcher_register(name=name, host="elsewhere", pid=1)
    Dispatcher.objects.filter(name=name).update(
        heartbeat_at=timezone.now() - timedelta(seconds=age)
    )


def test_recovery_leaves_the_work_of_live_dispatchers_alone(make_job):
    job = services.job_start(job=make_job())
    register("d1")
    claim_all("d1")
    assert services.dispatcher_recover(me="d2", stale_seconds=30, max_attempts=3) == 0
    assert statuses(job) == [R]
    assert Dispatcher.objects.filter(name="d1").exists()


def test_recovery_requeues_the_work_of_a_silent_dispatcher(make_job):
    job = services.job_start(job=make_job())
    register("d1", age=31)
    claim_all("d1")
    assert services.dispatcher_recover(me="d2", stale_seconds=30, max_attempts=3) == 1
    assert statuses(job) == [Q]
    row = job.renderings.get()
    assert (row.claim, row.claimed_by, row.attempts) == ("", "", 1)
    assert not Dispatcher.objects.filter(name="d1").exists()


def test_recovery_requeues_the_work_of_a_dispatcher_known_dead(make_job):
    job = services.job_start(job=make_job())
    register("d1")  # fresh heartbeat, but the caller saw its process gone
    claim_all("d1")
    assert services.dispatcher_recover(me="d2", stale_seconds=30, max_attempts=3, dead=["d1"]) == 1
    assert statuses(job) == [Q]


def test_recovery_removes_the_dead_claims_folder_only(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    dead_claim, _ = services.rendering_claim(dispatcher="d1", limit=1)
    register("d2")
    live_claim, _ = services.rendering_claim(dispatcher="d2", limit=1)
    out = job_output_dir(settings.OUTPUT_DIR, str(job.uuid))
    dead, live = services.claim_dir(out, dead_claim), services.claim_dir(out, live_claim)
    for folder in (dead, live):
        folder.mkdir(parents=True)
        (folder / ".000_R60m_B04_B03_B02.1234-5678.canvas").write_bytes(b"x")
        (folder / ".000_R60m_B04_B03_B02.jpg.0123456789ab.part").write_bytes(b"x")
    recorded = out / "000_R60m_B04_B03_B02.jpg"
    recorded.write_bytes(b"x")
    assert services.dispatcher_recover(me="d3", stale_seconds=30, max_attempts=3) == 1
    assert not dead.exists()
    assert len(list(live.iterdir())) == 2
    assert recorded.exists()


def test_recovery_gives_up_after_max_attempts(make_job):
    job = services.job_start(job=make_job(TRUE_COLOUR, FALSE_COLOUR))
    claim_all("d1")  # attempt 1 of both; d1 dies
    assert services.dispatcher_recover(me="me", stale_seconds=30, max_attempts=2) == 2
    claim, (first, second) = claim_all("d2")  # attempt 2 of both
    assert (first.attempts, second.attempts) == (2, 2)
    assert complete(second, claim)
    # d2 dies too: the first rendering has had its two attempts and is given up.
    assert services.dispatcher_recover(me="me", stale_seconds=30, max_attempts=2) == 0
    assert statuses(job) == [E, F]
    failed = job.renderings.get(index=0)
    assert "gave up after 2 attempts" in failed.error
    assert failed.finished_at is not None
    assert reload(job).status == F

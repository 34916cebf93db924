"""A dispatcher that dies (SIGKILL) or stalls in the middle of a job: its successor finishes the
job; no rendering is lost, none is done twice, no half-written file is left or published.

Dispatchers are real `s2render dispatcher` processes on the test database. To stop one
*in the middle* of a job deterministically it is first frozen (SIGSTOP) and inspected: only a
moment at which renderings are done, one is being written and (for a pause) no database
transaction is open is taken; otherwise it is resumed and looked at again a little later.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from s2render.web.jobs import services
from s2render.web.jobs.models import Dispatcher, Job, Rendering, Status
from s2render.web.jobs.specs import job_output_dir
from tests.conftest import decode
from tests.web.conftest import wait_for

COMPOSITES = (["B04", "B03", "B02"], ["B08", "B04", "B03"], ["B03", "B02", "B04"])
# PNG at 10 m on the 588 px demo product: about half a second each on one thread, a good part
# of it writing (canvas, then the encoder's partial file).
RENDERINGS = 8


@pytest.fixture
def job(alice, product, transactional_db) -> Job:
    specs = [
        {"resolution": 10, "bands": COMPOSITES[i % len(COMPOSITES)], "format": "png"}
        for i in range(RENDERINGS)
    ]
    created = services.job_create(owner=alice, renderings=[(product, s) for s in specs])
    return services.job_start(job=created)


def out_dir(job: Job) -> Path:
    return job_output_dir(settings.OUTPUT_DIR, str(job.uuid))


def unpublished(job: Job) -> list[Path]:
    """Files not (yet) recorded: canvases, partial files and images in claim folders."""
    folder = out_dir(job)
    try:
        return [p for p in folder.glob(".claim-*/*") if p.is_file()] if folder.exists() else []
    except FileNotFoundError:  # a claim folder removed while listed: look again next round
        return []


def rows(job: Job) -> dict[int, Rendering]:
    return {r.pk: r for r in Rendering.objects.filter(job=job)}


def name_of(proc: subprocess.Popen) -> str:
    """The dispatcher name a process registered under (host:pid:suffix)."""
    return wait_for(
        lambda: Dispatcher.objects.filter(pid=proc.pid).values_list("name", flat=True).first(),
        timeout=60,
        message=f"dispatcher process {proc.pid} to register",
    )


def no_transaction_open() -> bool:
    """True if no other connection has a transaction open on the test database (a frozen
    process inside one would hold its locks and stall everyone else)."""
    if connection.vendor == "sqlite":
        probe = sqlite3.connect(connection.settings_dict["NAME"], timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.rollback()
            return True
        except sqlite3.OperationalError:  # database is locked: a writer is inside a transaction
            return False
        finally:
            probe.close()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL"
        )
        return cursor.fetchone()[0] == 0


def freeze_mid_job(
    proc: subprocess.Popen, job: Job, *, outside_transactions: bool = False
) -> list[Path]:
    """SIGSTOP ``proc`` at a moment when at least two renderings are finished, at least one is
    still queued, and one is being written by it (files in its claim folder); return those
    files. Polls tightly: a rendering spends only part of its time writing."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        done = Rendering.objects.filter(job=job, status=Status.FINISHED).count()
        if 2 <= done <= RENDERINGS - 2 and unpublished(job):
            os.kill(proc.pid, signal.SIGSTOP)
            running = Rendering.objects.filter(job=job, status=Status.RUNNING).exists()
            files = unpublished(job)
            if running and files and (not outside_transactions or no_transaction_open()):
                return files
            os.kill(proc.pid, signal.SIGCONT)
        time.sleep(0.002)
    pytest.fail("no moment in the middle of the job within 120 s")


def assert_job_folder_holds_exactly_the_images(job: Job) -> None:
    outputs = sorted(Path(r.output) for r in Rendering.objects.filter(job=job))
    suffixes = ("", ".json", ".thumb.png", ".stac.json")  # the image and its companions
    expected = sorted(p.with_name(p.name + suffix) for p in outputs for suffix in suffixes)
    assert sorted(out_dir(job).iterdir()) == expected  # no claim folder, canvas or .part left
    for output in outputs:
        pixels, profile = decode(output)
        assert profile["driver"] == "PNG"
        assert pixels.shape == (4, 588, 588)  # RGB + alpha
        assert pixels.std() > 5


def file_identity(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_ino, stat.st_mtime_ns


def log_of(proc: subprocess.Popen) -> str:
    return proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]


def test_a_dispatcher_killed_mid_job_is_taken_over_and_nothing_is_lost_or_done_twice(
    job, start_dispatcher_process
):
    first = start_dispatcher_process(S2RENDER_DISPATCHER_CAPACITY="1")
    first_name = name_of(first)
    unrecorded = freeze_mid_job(first, job)
    first.kill()
    first.wait()  # reaped: its pid is gone, as after a crash

    at_kill = rows(job)
    finished = {pk for pk, r in at_kill.items() if r.status == Status.FINISHED}
    running = {pk for pk, r in at_kill.items() if r.status == Status.RUNNING}
    queued = {pk for pk, r in at_kill.items() if r.status == Status.QUEUED}
    assert len(running) == 1 and finished and queued
    assert {at_kill[pk].claimed_by for pk in running | finished} == {first_name}
    files = {pk: file_identity(at_kill[pk].output) for pk in finished}
    assert all(p.exists() for p in unrecorded)

    # The successor is told to wait an hour for silent peers: it must see at once that the
    # first one's process (same host) is gone.
    second = start_dispatcher_process(S2RENDER_DISPATCHER_STALE="3600")
    second_name = name_of(second)
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Status.FINISHED,
        timeout=120,
        message="the job to finish",
    )

    after = rows(job)
    assert {r.status for r in after.values()} == {Status.FINISHED}
    for pk in finished:  # done before the kill: not done again
        assert after[pk].attempts == 1
        assert after[pk].claimed_by == first_name
        assert after[pk].finished_at == at_kill[pk].finished_at
        assert file_identity(after[pk].output) == files[pk]
    for pk in running:  # interrupted: done once more, by the successor
        assert (after[pk].attempts, after[pk].claimed_by) == (2, second_name)
    for pk in queued:
        assert (after[pk].attempts, after[pk].claimed_by) == (1, second_name)
    assert not any(p.exists() for p in unrecorded)
    assert_job_folder_holds_exactly_the_images(job)
    assert not Dispatcher.objects.filter(name=first_name).exists()
    assert "re-queued 1 renderings of dead dispatchers" in log_of(second)
    assert "Traceback" not in log_of(second)


def test_a_stalled_dispatcher_presumed_dead_cannot_replace_or_remove_what_its_successor_did(
    job, start_dispatcher_process
):
    first = start_dispatcher_process(S2RENDER_DISPATCHER_CAPACITY="1")
    first_name = name_of(first)
    freeze_mid_job(first, job, outside_transactions=True)
    at_freeze = rows(job)
    [stalled] = [pk for pk, r in at_freeze.items() if r.status == Status.RUNNING]

    # Still a process on this host, but silent: presumed dead after 2 s without a heartbeat.
    second = start_dispatcher_process(S2RENDER_DISPATCHER_STALE="2")
    second_name = name_of(second)
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Status.FINISHED,
        timeout=120,
        message="the job to finish",
    )
    after = rows(job)
    assert (after[stalled].attempts, after[stalled].claimed_by) == (2, second_name)
    files = {pk: file_identity(r.output) for pk, r in after.items()}

    # The first one wakes up with a claim that no longer holds: it drops its rendering.
    os.kill(first.pid, signal.SIGCONT)
    wait_for(
        lambda: f"rendering {stalled}: claim {at_freeze[stalled].claim}" in log_of(first),
        timeout=60,
        message="the woken dispatcher to drop its stale rendering",
    )
    assert first.poll() is None  # it goes on working as a normal dispatcher
    # Its next heartbeat (within a second; the drop may come first) registers it again.
    wait_for(
        lambda: Dispatcher.objects.filter(name=first_name).exists(),
        timeout=10,
        message="the woken dispatcher to register again",
    )
    final = rows(job)
    assert {r.status for r in final.values()} == {Status.FINISHED}
    assert {pk: (r.attempts, r.finished_at) for pk, r in final.items()} == {
        pk: (r.attempts, r.finished_at) for pk, r in after.items()
    }
    assert {pk: file_identity(r.output) for pk, r in final.items()} == files
    assert_job_folder_holds_exactly_the_images(job)
    assert "Traceback" not in log_of(first) + log_of(second)


@pytest.mark.postgresql_only  # cuts server-side connections
def test_a_dispatcher_whose_database_connections_are_cut_carries_on(job, start_dispatcher_process):
    proc = start_dispatcher_process(S2RENDER_DISPATCHER_CAPACITY="1")
    name_of(proc)

    def cut() -> int:
        """Terminate every other session on the test database (the dispatcher's)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    for finished in (2, 4):  # twice, in the middle of the job
        wait_for(
            lambda n=finished: (
                Rendering.objects.filter(job=job, status=Status.FINISHED).count() >= n
            ),
            timeout=120,
        )
        wait_for(cut, timeout=30, message="a session of the dispatcher to cut")
    wait_for(
        lambda: Job.objects.get(pk=job.pk).status == Status.FINISHED,
        timeout=120,
        message="the job to finish",
    )
    assert proc.poll() is None, log_of(proc)
    assert "database error, retrying" in log_of(proc)
    assert {r.status for r in rows(job).values()} == {Status.FINISHED}
    assert_job_folder_holds_exactly_the_images(job)

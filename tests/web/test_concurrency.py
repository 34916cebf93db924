"""Many clients at once against a real HTTP server (waitress, as `s2render serve` runs it), a
dispatcher process and the test database (SQLite in WAL mode, or PostgreSQL): no 5xx, no job
lost, every job rendered once."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rest_framework.authtoken.models import Token

from s2render.web.jobs.models import ENDED, Job, Rendering, Status
from tests.conftest import decode
from tests.web.conftest import http_json, wait_for

CLIENTS = 50  # half through the seed's endpoints, half through v1
# Two small renderings per job: 50 jobs, 100 renderings, a few seconds of work on two cores.
JOB = {"res_list": "60,60", "r_list": "B04,B8A", "g_list": "B03,B04", "b_list": "B02,B03"}


def seed_client(url: str, token: str) -> list[tuple[str, int, object]]:
    """The seed's way: create, then job-run (which waits for the end), then read it back."""
    calls: list[tuple[str, int, object]] = []
    status, job = http_json("POST", f"{url}/api/job-create/", token=token, body=JOB)
    calls.append(("create", status, job))
    if status != 200:
        return calls
    pk = job["id"]  # type: ignore[index]
    status, ran = http_json("GET", f"{url}/api/job-run/{pk}/", token=token)
    calls.append(("run", status, ran))
    if status == 200 and ran["status"] != "Done":  # type: ignore[index]
        calls.append(("not done", 0, ran))
    return calls


def v1_client(url: str, token: str, product_id: int) -> list[tuple[str, int, object]]:
    """The v1 way: create, start (202), poll the detail until the job has ended."""
    calls: list[tuple[str, int, object]] = []
    renderings = [
        {"product": product_id, "resolution": 60, "bands": bands}
        for bands in (["B04", "B03", "B02"], ["B8A", "B04", "B03"])
    ]
    status, job = http_json(
        "POST", f"{url}/api/v1/jobs/", token=token, body={"renderings": renderings}
    )
    calls.append(("create", status, job))
    if status != 201:
        return calls
    status, started = http_json("POST", job["links"]["start"], token=token)  # type: ignore[index]
    calls.append(("start", status, started))

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        status, detail = http_json("GET", job["links"]["self"], token=token)  # type: ignore[index]
        if status != 200:
            calls.append(("detail", status, detail))
            return calls
        if detail["status"] in ENDED:  # type: ignore[index]
            if detail["status"] != Status.FINISHED:  # type: ignore[index]
                calls.append(("not finished", 0, detail))
            return calls
        time.sleep(0.25)  # as a polite client polls
    calls.append(("timed out", 0, detail))
    return calls


def test_fifty_concurrent_clients_create_and_start_jobs_without_errors_or_losses(
    http_server, make_user, product, start_dispatcher_process
):
    tokens = [Token.objects.create(user=make_user(f"client{i:02d}")).key for i in range(CLIENTS)]
    dispatcher = start_dispatcher_process()
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> list[tuple[str, int, object]]:
        barrier.wait(timeout=60)  # every client sends its first request at the same moment
        if n % 2:
            return v1_client(http_server, tokens[n], product.pk)
        return seed_client(http_server, tokens[n])

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = list(pool.map(client, range(CLIENTS)))

    failures = [c for calls in answers for c in calls if c[1] >= 500]
    assert not failures, failures[:3]
    for n, calls in enumerate(answers):
        expected = [("start", 202)] if n % 2 else [("run", 200)]
        expected.insert(0, ("create", 201 if n % 2 else 200))
        assert [(name, status) for name, status, _ in calls] == expected, calls

    # Nothing lost: every job the clients were told about is in the database, finished, each
    # rendering finished once, with an image that decodes.
    told = {str(calls[0][2]["id"]) for calls in answers}  # type: ignore[index]
    assert len(told) == CLIENTS
    jobs = Job.objects.filter(owner__username__startswith="client")
    stored = {str(pk) for pk in jobs.values_list("id", flat=True)}
    stored |= {str(uuid) for uuid in jobs.values_list("uuid", flat=True)}
    assert told <= stored and jobs.count() == CLIENTS
    assert set(jobs.values_list("status", flat=True)) == {Status.FINISHED}
    renderings = Rendering.objects.filter(job__in=jobs)
    assert renderings.count() == 2 * CLIENTS
    assert set(renderings.values_list("status", "attempts")) == {(Status.FINISHED, 1)}
    for output in renderings.values_list("output", flat=True):
        pixels, _ = decode(Path(output))
        assert pixels.shape == (3, 98, 98)
    assert "Traceback" not in dispatcher.log_path.read_text()


def test_concurrent_creates_by_one_user_are_all_kept(http_server, make_user):
    """The same user from 20 connections at once: 20 jobs, distinct ids, none lost."""
    token = Token.objects.create(user=make_user("busy")).key
    barrier = threading.Barrier(20)

    def create(_: int) -> tuple[int, object]:
        barrier.wait(timeout=60)
        return http_json("POST", f"{http_server}/api/job-create/", token=token, body=JOB)

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(create, range(20)))
    assert [status for status, _ in answers] == [200] * 20
    ids = {body["id"] for _, body in answers}  # type: ignore[index]
    assert len(ids) == 20
    wait_for(lambda: Job.objects.filter(owner__username="busy").count() == 20, timeout=5)
    status, listed = http_json("GET", f"{http_server}/api/job-list/", token=token)
    assert status == 200
    assert {job["id"] for job in listed} == ids  # type: ignore[union-attr]

"""`s2render serve`: one command on an empty data folder — database, demo product, web server and
dispatcher — answers the seed's README job over HTTP, and takes its dispatcher down with it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.conftest import decode
from tests.web.conftest import http_json, wait_for

SEED_JOB = {
    "res_list": "20,20,60",
    "r_list": "B04,B12,B06",
    "g_list": "B03,B11,B04",
    "b_list": "B02,B03,B02",
}

# Runs its own database (never the test database): once, in the SQLite run, is enough.
pytestmark = pytest.mark.own_database


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """One data folder for the module: the first `serve` writes the demo product and the
    database, later ones find them."""
    return tmp_path_factory.mktemp("serve-data")


@pytest.fixture
def start_serve(data_dir, tmp_path) -> Iterator:
    """Start `s2render serve` on a free port (its own SQLite database under the data folder,
    never the test database); yields (process, base URL) once it accepts connections."""
    procs: list[subprocess.Popen] = []

    def _start() -> tuple[subprocess.Popen, str]:
        port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("S2RENDER_", "DJANGO_")) and k != "DATABASE_URL"
        }
        env.update(S2RENDER_DATA_DIR=str(data_dir), S2RENDER_DISPATCHER_POLL="0.05")
        with open(tmp_path / f"serve-{len(procs)}.log", "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "s2render", "serve", "--port", str(port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        procs.append(proc)
        wait_for(
            lambda: listening(port) or proc.poll() is not None,
            timeout=180,
            message="serve to listen",
        )
        assert proc.poll() is None, (tmp_path / f"serve-{len(procs) - 1}.log").read_text()
        return proc, f"http://127.0.0.1:{port}"

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def dispatcher_children(proc: subprocess.Popen) -> list[psutil.Process]:
    """The live dispatcher processes under ``proc`` (a killed one not yet reaped is left out)."""
    found = []
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            if "dispatcher" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                found.append(child)
        except (psutil.ZombieProcess, psutil.NoSuchProcess):
            continue
    return found


def gone(processes: list[psutil.Process]) -> bool:
    def dead(p: psutil.Process) -> bool:
        try:
            return p.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return True

    return all(dead(p) for p in processes)


def test_serve_answers_the_seed_readme_job_and_stops_with_its_dispatcher(start_serve, data_dir):
    proc, url = start_serve()
    dispatchers = wait_for(lambda: dispatcher_children(proc), timeout=30)

    status, job = http_json("POST", f"{url}/api/job-create/", body=SEED_JOB)  # no credentials
    assert status == 200, job
    assert job["status"] == "Pending"  # type: ignore[index]
    status, ran = http_json("GET", f"{url}/api/job-run/{job['id']}/", timeout=180)  # type: ignore[index]
    assert status == 200, ran
    assert ran["status"] == "Done"  # type: ignore[index]
    paths = [Path(p) for p in ran["output"].split(",")[:-1]]  # type: ignore[index]
    side = {"20": 549, "60": 183}  # the default demo product: 1098 px at 10 m
    for path, res in zip(paths, ["20", "20", "60"], strict=True):
        assert path.is_relative_to(data_dir)
        pixels, profile = decode(path)
        assert profile["driver"] == "JPEG"
        assert pixels.shape == (3, side[res], side[res])
        assert pixels.std() > 5

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0
    assert gone(dispatchers)
    with sqlite3.connect(data_dir / "s2render.sqlite3") as db:  # it signed off
        assert db.execute("SELECT count(*) FROM jobs_dispatcher").fetchone() == (0,)


def test_the_dispatcher_of_a_killed_serve_stops_by_itself(start_serve):
    proc, _ = start_serve()
    dispatchers = wait_for(lambda: dispatcher_children(proc), timeout=30)
    proc.kill()
    proc.wait()
    wait_for(lambda: gone(dispatchers), timeout=30, message="the orphaned dispatcher to exit")


def test_serve_starts_a_new_dispatcher_when_its_dispatcher_dies(start_serve):
    proc, url = start_serve()
    first = wait_for(lambda: dispatcher_children(proc), timeout=30)
    for child in first:
        child.kill()
    wait_for(
        lambda: [p for p in dispatcher_children(proc) if p.pid not in {c.pid for c in first}],
        timeout=60,
        message="a new dispatcher",
    )
    status, job = http_json("POST", f"{url}/api/job-create/", body=SEED_JOB)
    assert status == 200, job
    status, ran = http_json("GET", f"{url}/api/job-run/{job['id']}/", timeout=180)  # type: ignore[index]
    assert status == 200 and ran["status"] == "Done", ran  # type: ignore[index]
    for path in ran["output"].split(",")[:-1]:  # type: ignore[index]
        pixels, _ = decode(Path(path))
        assert pixels.shape[0] == 3 and pixels.dtype.name == "uint8" and pixels.std() > 5
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 0

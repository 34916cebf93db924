"""Web fixtures: users and API clients, the demo product under the data root, dispatchers.

The database is the test database of the configured backend (SQLite file by default,
PostgreSQL when DATABASE_URL names one). Dispatchers are real: a thread running the
dispatcher loop on a real in-process Dask LocalCluster, or `s2render dispatcher` processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection, connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from s2render.execution.cluster import ClusterOptions, dask_client


def wait_for(condition: Callable[[], object], *, timeout: float = 60, message: str = "") -> object:
    """Poll ``condition`` until it is truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {message or condition}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def demo_safe(demo_l2a) -> Path:
    """The small demo product, copied under the data root as the default product."""
    target = Path(settings.S2RENDER["DEMO_DIR"]) / demo_l2a.name
    if not target.exists():
        tmp = target.with_name(target.name + ".copy")
        shutil.copytree(demo_l2a, tmp)
        tmp.rename(target)
    return target


@pytest.fixture
def product(db, demo_safe):
    from s2render.web.products.services import product_register

    return product_register(path=demo_safe)


@pytest.fixture
def make_user(db):
    from django.contrib.auth import get_user_model

    def _make(username: str, *, staff: bool = False):
        return get_user_model().objects.create_user(
            username=username, password="pw-" + username, is_staff=staff
        )

    return _make


@pytest.fixture
def client_for():
    """An APIClient authenticated by token as ``user`` (None: no credentials)."""

    def _client(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return _client


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def api(client_for, alice) -> APIClient:
    return client_for(alice)


@pytest.fixture(scope="session")
def dask_threads() -> Iterator:
    """One in-process LocalCluster (threads) for the session's in-thread dispatchers."""
    with dask_client(ClusterOptions(workers=1, threads=2)) as client:
        yield client


@pytest.fixture
def dispatcher(transactional_db, dask_threads, demo_safe) -> Iterator:
    """A dispatcher loop in a thread on a real LocalCluster, stopped (and its work handed
    back) at the end of the test."""
    from s2render.web.jobs.dispatcher import DispatcherConfig, JobDispatcher

    stop = threading.Event()
    config = DispatcherConfig(output_root=settings.OUTPUT_DIR, poll=0.05, stale=30)
    loop = JobDispatcher(dask_threads, config)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            loop.run(stop)
        except BaseException as exc:  # surfaced by the fixture's teardown
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="dispatcher", daemon=True)
    thread.start()
    yield loop
    stop.set()
    thread.join(timeout=60)
    assert not thread.is_alive(), "dispatcher thread did not stop"
    assert not errors, f"dispatcher crashed: {errors[0]!r}"


def database_url() -> str:
    """A DATABASE_URL naming the test database (for dispatcher processes)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def start_dispatcher_process(
    transactional_db, demo_safe, tmp_path
) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `s2render dispatcher` processes against the test database; killed at the end.

    Each process's stderr (its log) goes to a file, ``proc.log_path`` (a pipe nobody reads
    would block a chatty dispatcher once full).
    """
    procs: list[subprocess.Popen] = []

    def _start(**env: str) -> subprocess.Popen:
        environment = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "S2RENDER_DATA_DIR": str(settings.DATA_DIR),
            "S2RENDER_OUTPUT_DIR": str(settings.OUTPUT_DIR),
            "S2RENDER_DISPATCHER_POLL": "0.05",
            "DJANGO_SETTINGS_MODULE": "s2render.web.settings.local",
            **env,
        }
        log_path = tmp_path / f"dispatcher-{len(procs)}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "s2render", "dispatcher", "--threads", "1"],
                env=environment,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        proc.log_path = log_path  # type: ignore[attr-defined]
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.send_signal(signal.SIGCONT)  # a test may have left it frozen (SIGSTOP)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers",
        "own_database: the test runs its own database, not the configured test database "
        "(the PostgreSQL run of `make test` leaves it out)",
    )
    config.addinivalue_line(
        "markers",
        "postgresql_only: the behaviour under test exists on PostgreSQL only (the SQLite run of "
        "`make test` leaves it out; the PostgreSQL run runs it)",
    )


def pytest_collection_modifyitems(config, items) -> None:
    """Leave out (deselect, not skip) PostgreSQL-only tests when the database is not PostgreSQL:
    `make test` runs them in its PostgreSQL run."""
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    kept = [item for item in items if item.get_closest_marker("postgresql_only") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


def pytest_report_header(config) -> str:
    db = settings.DATABASES["default"]
    where = db["NAME"] if db["ENGINE"].endswith("sqlite3") else f"{db['HOST']}:{db['PORT']}"
    return f"web tests database: {db['ENGINE'].rsplit('.', 1)[-1]} ({where})"


def http_json(
    method: str, url: str, *, token: str | None = None, body: object = None, timeout: float = 120
) -> tuple[int, object]:
    """One HTTP request with a JSON body; (status, decoded JSON answer or the raw text)."""
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


@pytest.fixture
def http_server(transactional_db, demo_safe) -> Iterator[str]:
    """The WSGI application served by waitress (as `s2render serve` serves it) on a free port of
    127.0.0.1 from a thread, against the test database; yields the base URL."""
    from django.core.wsgi import get_wsgi_application
    from waitress.server import create_server

    server = create_server(
        get_wsgi_application(), host="127.0.0.1", port=0, threads=16, ident="s2render-test"
    )
    thread = threading.Thread(target=server.run, name="waitress", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    thread.join(timeout=10)

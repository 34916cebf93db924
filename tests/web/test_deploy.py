"""The production settings: Django's deployment checklist passes, every API request needs
credentials, and the service refuses to start without a secret key. Each case runs in a fresh
interpreter, as a deployment would start."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

PRODUCTION = "s2render.web.settings.production"

# Runs its own database (never the test database): once, in the SQLite run, is enough.
pytestmark = pytest.mark.own_database


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("S2RENDER_", "DJANGO_")) and k != "DATABASE_URL"
    }
    env.update(
        DJANGO_SETTINGS_MODULE=PRODUCTION,
        S2RENDER_SECRET_KEY=secrets.token_urlsafe(64),
        S2RENDER_ALLOWED_HOSTS="example.org",
        S2RENDER_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}",
    )
    env.update(extra)
    return env


def run_python(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_the_deployment_checklist_passes_with_the_production_settings(tmp_path):
    done = run_python(
        ["-m", "django", "check", "--deploy", "--fail-level", "WARNING"], production_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_the_deployment_checklist_fails_on_a_weak_secret_key(tmp_path):
    env = production_env(tmp_path, S2RENDER_SECRET_KEY="too-short")
    done = run_python(["-m", "django", "check", "--deploy", "--fail-level", "WARNING"], env)
    assert done.returncode != 0
    assert "security.W009" in done.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    env = production_env(tmp_path)
    del env["S2RENDER_SECRET_KEY"]
    done = run_python(["-c", "import django; django.setup()"], env)
    assert done.returncode != 0
    assert "S2RENDER_SECRET_KEY" in done.stderr


# Requests through the whole stack (middleware included) with Django's test client, on a
# migrated database; answers printed as JSON.
REQUESTS = textwrap.dedent(
    """
    import json
    import django
    django.setup()
    from django.core.management import call_command
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    user = get_user_model().objects.create_user("operator", password="a-long-pass-phrase")
    token = Token.objects.create(user=user).key
    seed_job = {"res_list": "60", "r_list": "B04", "g_list": "B03", "b_list": "B02"}
    client = Client(HTTP_HOST="example.org")
    answers = {}
    for method, url, body in [
        ("get", "/api/", None),
        ("get", "/api/job-list/", None),
        ("get", "/api/job-detail/1/", None),
        ("post", "/api/job-create/", seed_job),
        ("get", "/api/job-run/1/", None),
        ("delete", "/api/job-delete/1/", None),
        ("get", "/api/v1/jobs/", None),
        ("post", "/api/v1/jobs/", {"renderings": []}),
        ("get", "/api/v1/products/", None),
        ("get", "/api/v1/schema/", None),
    ]:
        kwargs = {"secure": True}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        anonymous = getattr(client, method)(url, **kwargs)
        answers[f"{method} {url}"] = anonymous.status_code
    answers["with token"] = client.get(
        "/api/job-list/", secure=True, HTTP_AUTHORIZATION="Token " + token
    ).status_code
    answers["plain http"] = client.get("/api/job-list/").status_code
    print(json.dumps(answers))
    """
)


@pytest.fixture(scope="module")
def production_answers(tmp_path_factory) -> dict[str, int]:
    tmp_path = tmp_path_factory.mktemp("production")
    # Anonymous use asked for explicitly: production ignores it.
    env = production_env(tmp_path, S2RENDER_ANONYMOUS="1")
    done = run_python(["-c", REQUESTS], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "request_line",
    [
        "get /api/",
        "get /api/job-list/",
        "get /api/job-detail/1/",
        "post /api/job-create/",
        "get /api/job-run/1/",
        "delete /api/job-delete/1/",
        "get /api/v1/jobs/",
        "post /api/v1/jobs/",
        "get /api/v1/products/",
        "get /api/v1/schema/",
    ],
)
def test_production_refuses_requests_without_credentials(production_answers, request_line):
    assert production_answers[request_line] == 401


def test_production_serves_requests_with_a_token(production_answers):
    assert production_answers["with token"] == 200


def test_production_redirects_plain_http_to_https(production_answers):
    assert production_answers["plain http"] == 301

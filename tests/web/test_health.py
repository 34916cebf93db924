"""Liveness and readiness answer without credentials."""

from __future__ import annotations


def test_healthz_answers_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_database_and_dispatchers(db, client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "dispatchers": 0}


def test_readyz_counts_a_running_dispatcher(dispatcher, client):
    from tests.web.conftest import wait_for

    wait_for(lambda: client.get("/readyz").json()["dispatchers"] == 1, timeout=30)

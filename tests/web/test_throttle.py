"""Job creation is throttled per user; other users and reads are not affected."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from tests.web.test_legacy_api import SEED_JOB


@pytest.fixture
def two_per_minute(settings):
    rest = {**settings.REST_FRAMEWORK}
    rest["DEFAULT_THROTTLE_RATES"] = {"job-create": "2/min"}
    settings.REST_FRAMEWORK = rest
    cache.clear()
    yield
    cache.clear()


def test_job_creation_beyond_the_rate_is_429_for_that_user_only(
    two_per_minute, api, client_for, bob, product
):
    codes = [api.post("/api/job-create/", SEED_JOB, format="json").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = api.post("/api/job-create/", SEED_JOB, format="json")
    assert refused.json()["code"] == "throttled"
    assert int(refused["Retry-After"]) > 0
    assert client_for(bob).post("/api/job-create/", SEED_JOB, format="json").status_code == 200
    assert api.get("/api/job-list/").status_code == 200
    assert len(api.get("/api/job-list/").json()) == 2

"""Removing a product removes its files; never while a queued or running job uses it."""

from __future__ import annotations

import shutil
import uuid

import pytest
from django.conf import settings

from s2render.web.jobs.models import Status
from s2render.web.products.models import Product
from s2render.web.products.services import product_register
from tests.web.v1_helpers import create_job, spec


@pytest.fixture
def own_copy(db, demo_l2a):
    """The demo product copied to its own folder under the data root and registered."""
    folder = settings.DATA_DIR / f"delete-{uuid.uuid4().hex[:8]}"
    shutil.copytree(demo_l2a, folder / demo_l2a.name)
    yield product_register(path=folder / demo_l2a.name)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def staff_api(client_for, make_user):
    return client_for(make_user("operator", staff=True))


def test_delete_removes_the_files_and_the_record(staff_api, own_copy):
    folder = own_copy.location
    response = staff_api.delete(f"/api/v1/products/{own_copy.pk}/")
    assert response.status_code == 204
    assert not Product.objects.filter(pk=own_copy.pk).exists()
    assert not (settings.DATA_DIR / folder).exists()


def test_a_user_who_is_not_staff_may_not_delete(api, own_copy):
    response = api.delete(f"/api/v1/products/{own_copy.pk}/")
    assert response.status_code == 403
    assert "staff" in response.json()["detail"]
    assert Product.objects.filter(pk=own_copy.pk).exists()


def test_the_local_user_of_a_single_user_install_may_delete(client_for, own_copy, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "rest_framework.authentication.TokenAuthentication",
            "s2render.web.api.auth.LocalUserAuthentication",
        ],
    }
    response = client_for(None).delete(f"/api/v1/products/{own_copy.pk}/")
    assert response.status_code == 204, response.content


def test_delete_is_refused_while_a_queued_job_uses_the_product(staff_api, api, own_copy):
    job = create_job(api, spec(own_copy), title="waiting")
    assert api.post(f"/api/v1/jobs/{job['id']}/start/").status_code in (200, 202)
    response = staff_api.delete(f"/api/v1/products/{own_copy.pk}/")
    assert response.status_code == 409
    assert job["id"] in response.json()["detail"]
    assert (settings.DATA_DIR / own_copy.location).exists()


def test_a_product_ended_jobs_refer_to_keeps_its_record_as_missing(staff_api, api, own_copy):
    job = create_job(api, spec(own_copy), title="history")
    api.post(f"/api/v1/jobs/{job['id']}/start/")
    api.post(f"/api/v1/jobs/{job['id']}/cancel/")
    response = staff_api.delete(f"/api/v1/products/{own_copy.pk}/")
    assert response.status_code == 200, response.json()
    assert response.json()["state"] == "missing"
    assert not (settings.DATA_DIR / own_copy.location).exists()
    row = Product.objects.get(pk=own_copy.pk)
    assert row.renderings.get().status == Status.CANCELED

"""A job's contact sheet: every ended rendering's thumbnail in one labelled PNG."""

from __future__ import annotations

import numpy as np

from s2render.core.contact_sheet import _PAD
from s2render.core.thumbnail import THUMBNAIL_SIZE
from tests.conftest import decode
from tests.web.v1_helpers import create_job, path_of, save, spec, wait_ended


def test_contact_sheet_shows_every_rendering_side_by_side(api, product, dispatcher, tmp_path):
    job = create_job(
        api,
        spec(product, resolution=60),
        {"product": product.pk, "resolution": 60, "preset": "ndvi", "format": "png"},
    )
    assert api.get(path_of(job["links"]["contact_sheet"])).status_code == 409  # nothing ended
    api.post(path_of(job["links"]["start"]))
    job = wait_ended(api, job)
    assert job["status"] == "finished"

    response = api.get(path_of(job["links"]["contact_sheet"]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    pixels, profile = decode(save(response, tmp_path))
    assert profile["driver"] == "PNG" and pixels.dtype == np.uint8 and pixels.shape[0] == 3
    cell = THUMBNAIL_SIZE + 2 * _PAD
    assert pixels.shape[2] == 2 * cell  # two renderings: two columns, one row
    assert cell < pixels.shape[1] < 2 * cell  # one row of cells with their labels
    left, right = pixels[:, _PAD : cell - _PAD, :cell], pixels[:, _PAD : cell - _PAD, cell:]
    assert left.std() > 5 and right.std() > 5  # both cells hold an image
    assert not np.array_equal(left, right)  # true colour and NDVI differ


def test_another_users_contact_sheet_is_404(api, client_for, bob, product):
    job = create_job(api, spec(product))
    response = client_for(bob).get(path_of(job["links"]["contact_sheet"]))
    assert response.status_code == 404

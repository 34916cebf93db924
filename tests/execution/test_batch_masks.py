"""Cloud masks, thumbnails, STAC items and the contact sheet in the Dask batch, on worker
processes: the same pixels and figures as in-process, the SCL read shared."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from s2render.core.encode import OutputFormat
from s2render.core.render import RenderSpec, render, spec_from_preset
from s2render.execution.batch import plan_batch, run_batch, submit_batch
from s2render.execution.cluster import ClusterOptions, dask_client
from tests.conftest import decode

PNG = OutputFormat.PNG


@pytest.fixture(scope="module")
def process_cluster():
    with dask_client(ClusterOptions(workers=2, threads=1, processes=True)) as client:
        yield client


def specs_of(product: Path) -> list[RenderSpec]:
    masked = {"resolution": 20, "format": PNG, "cloud_mask": "clouds", "cloud_dilation": 2}
    return [
        spec_from_preset("true-color", str(product), **masked),
        spec_from_preset("ndvi", str(product), **masked),
        spec_from_preset("scl", str(product), **masked),
        RenderSpec(str(product), ("B12", "B11", "B04"), 60),  # no mask: cloud % from 60 m SCL
    ]


def test_masked_batch_matches_in_process_rendering(process_cluster, demo_l2a, tmp_path):
    specs = specs_of(demo_l2a)
    results = run_batch(process_cluster, specs, tmp_path / "batch")
    for spec, result in zip(specs, results, strict=True):
        assert result.status == "done", result.error
        alone = render(spec, tmp_path / "alone")
        batch_pixels, _ = decode(Path(result.path or ""))
        alone_pixels, _ = decode(Path(alone.path or ""))
        assert batch_pixels.dtype == np.uint8 and batch_pixels.shape == alone_pixels.shape
        assert np.array_equal(batch_pixels, alone_pixels)
        assert result.figures == alone.figures
        assert result.cloud_percent is not None and 0 < result.cloud_percent < 100
        for path in (result.thumbnail, result.stac_item, result.sidecar):
            assert path and Path(path).is_file()
    masked = [r.figures["cloud_masked_percent"] for r in results if r.figures]
    assert masked[0] == masked[1] == masked[2] > 0 and masked[3] is None


def test_renderings_with_the_same_mask_share_one_scl_read(process_cluster, demo_l2a, tmp_path):
    plans = plan_batch(specs_of(demo_l2a)[:3], tmp_path)
    submitted = submit_batch(process_cluster, plans, "share-scl")
    for future in submitted.finals:
        assert future.result().status == "done"
    assert len({p.strips for p in plans}) == 1
    strips = len(plans[0].strips)
    # true-color B04 B03 B02, ndvi B04 B08 (B08 from 10 m), scl SCL, and the mask's SCL with its
    # 2-pixel margin: one read each per strip.
    assert len(submitted.read_keys) == strips * 6


def test_run_batch_draws_the_contact_sheet(process_cluster, demo_l2a, tmp_path):
    specs = [*specs_of(demo_l2a), RenderSpec(str(demo_l2a), ("B10", "B04", "B03"), 60)]
    sheet = tmp_path / "sheet.png"
    results = run_batch(process_cluster, specs, tmp_path / "out", contact_sheet=sheet)
    assert [r.status for r in results] == ["done"] * 4 + ["error"]
    with Image.open(sheet) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        pixels = np.asarray(image)
    height, width = pixels.shape[0] // 2, pixels.shape[1] // 3  # 5 renderings: 3 x 2
    assert pixels.shape[0] % 2 == 0 and pixels.shape[1] % 3 == 0
    failed = pixels[height + 8 : height + 8 + 256, width + 8 : width + 8 + 256]
    assert ((failed == 150).all(axis=-1)).mean() > 0.9  # the B10 rendering: a grey cell
    first = pixels[8 : 8 + 256, 8 : 8 + 256]
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 100
    assert json.loads(Path(results[0].sidecar or "").read_text())["cloud_mask"]["classes"] == [
        3,
        8,
        9,
        10,
    ]

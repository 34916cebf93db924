"""Polygon areas, output CRS and previews in the Dask batch, on worker processes: the same
pixels as in-process rendering, and reads shared by key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from s2render.core.encode import OutputFormat
from s2render.core.render import RenderSpec, render, spec_from_preset
from s2render.core.stretch import parse_stretch
from s2render.execution.batch import plan_batch, run_batch, submit_batch
from s2render.execution.cluster import ClusterOptions, dask_client
from tests.conftest import decode

TRUE = ("B04", "B03", "B02")
PNG, GTIFF = OutputFormat.PNG, OutputFormat.GTIFF
TRIANGLE = {
    "type": "Polygon",
    "coordinates": [[[12.02, 53.17], [12.08, 53.172], [12.05, 53.205], [12.02, 53.17]]],
}


@pytest.fixture(scope="module")
def process_cluster():
    with dask_client(ClusterOptions(workers=2, threads=1, processes=True)) as client:
        yield client


def specs_for(product: str) -> list[RenderSpec]:
    return [
        RenderSpec(product, TRUE, max_size=100, format=PNG),
        RenderSpec(product, TRUE, geometry=TRIANGLE, crs="EPSG:3857", format=GTIFF),
        RenderSpec(product, TRUE, geometry=TRIANGLE, stretch=parse_stretch("p2,98"), format=PNG),
        spec_from_preset("ndvi", product, crs="EPSG:4326", max_size=120, format=PNG),
    ]


def test_batch_renders_areas_and_sizes_as_render_does(process_cluster, demo_l2a, tmp_path):
    specs = specs_for(str(demo_l2a))
    results = run_batch(process_cluster, specs, tmp_path / "batch")
    for spec, result in zip(specs, results, strict=True):
        assert result.status == "done", result.error
        alone = render(spec, tmp_path / "alone")
        got, profile = decode(Path(result.path))
        want, want_profile = decode(Path(alone.path))
        assert got.dtype == np.uint8 and got.shape[0] == 4
        np.testing.assert_array_equal(got, want)
        assert profile.get("crs") == want_profile.get("crs")
        assert result.valid_percent == alone.valid_percent
    assert max(results[0].width, results[0].height) == 100
    assert max(results[3].width, results[3].height) == 120


def test_equal_previews_share_their_reads(process_cluster, demo_l2a, tmp_path):
    product = str(demo_l2a)
    specs = [
        RenderSpec(product, TRUE, max_size=100, format=PNG),
        RenderSpec(product, ("B04", "B03", "B02"), max_size=100, stretch=parse_stretch("0,0.2")),
        RenderSpec(product, TRUE, format=PNG),  # full resolution: other reads
    ]
    plans = plan_batch(specs, tmp_path)
    submitted = submit_batch(process_cluster, plans, "share")
    preview_reads = {r.token() for i in range(len(plans[0].strips)) for r in plans[0].reads(i)}
    full_reads = {r.token() for i in range(len(plans[2].strips)) for r in plans[2].reads(i)}
    assert len(submitted.read_keys) == len(preview_reads) + len(full_reads)
    for future in submitted.finals:
        assert future.result().status == "done"

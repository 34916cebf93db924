"""Presets, band maths and percentile stretches in the Dask batch, on worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from s2render.core.encode import OutputFormat
from s2render.core.product import open_product
from s2render.core.render import RenderSpec, render, spec_from_preset
from s2render.core.stretch import build_lut, parse_stretch
from s2render.execution.batch import plan_batch, run_batch, submit_batch
from s2render.execution.cluster import ClusterOptions, dask_client
from tests.conftest import decode

RES = 60
PNG = OutputFormat.PNG
JOB = parse_stretch("p2,98", gamma=1.0, scope="job")
OWN = parse_stretch("p2,98", gamma=1.0)


@pytest.fixture(scope="module")
def process_cluster():
    with dask_client(ClusterOptions(workers=2, threads=1, processes=True)) as client:
        yield client


def native(product: Path, band: str) -> np.ndarray:
    with rasterio.open(open_product(product).files[(band, RES)].path) as src:
        return src.read(1)


def outputs(results) -> list[tuple[np.ndarray, dict]]:
    decoded = []
    for r in results:
        assert r.status == "done", r.error
        pixels, profile = decode(Path(r.path))
        assert profile["dtype"] == "uint8" and pixels.shape[0] == 4
        decoded.append((pixels, json.loads(Path(r.sidecar).read_text())))
    return decoded


def test_job_scope_gives_every_rendering_the_same_mapping(
    process_cluster, demo_l2a, demo_l1c, tmp_path
):
    product = str(demo_l2a)
    # The north-west quarter of the 588 px (5880 m) product, in its own CRS.
    left, _bottom, _right, top = open_product(demo_l2a).bounds
    quarter = (left, top - 2940, left + 2940, top)
    specs = [
        RenderSpec(product, ("B04", "B03", "B02"), RES, stretch=JOB, format=PNG),
        RenderSpec(product, ("B8A", "B04", "B03"), RES, stretch=JOB, format=PNG),
        RenderSpec(
            product, expressions=("B04", "B03", "B02"), resolution=RES, stretch=JOB, format=PNG
        ),
        RenderSpec(
            product,
            ("B04", "B03", "B02"),
            RES,
            stretch=JOB,
            format=PNG,
            bbox=quarter,
            bbox_crs="product",
            name="quarter-job",
        ),
        RenderSpec(
            product,
            ("B04", "B03", "B02"),
            RES,
            stretch=OWN,
            format=PNG,
            bbox=quarter,
            bbox_crs="product",
            name="quarter-own",
        ),
        spec_from_preset("scl", str(demo_l1c), resolution=RES),  # refused when planned
    ]
    results = run_batch(process_cluster, specs, tmp_path)
    assert results[-1].status == "error" and "needs an L2A product" in results[-1].error
    (full, a), (_, b), (maths, c), (crop, d), (own_crop, e) = outputs(results[:-1])

    # One mapping, recorded identically by every job-scope rendering...
    shared = a["stretch"]
    assert shared["scope"] == "job" and shared["renderings"] == 4
    assert b["stretch"] == c["stretch"] == d["stretch"] == shared
    assert e["stretch"]["scope"] == "rendering" and e["stretch"]["ranges"] != shared["ranges"]
    # ...computed over the valid pixels of all of them, channel position by channel position.
    dn = {band: native(demo_l2a, band) for band in ("B02", "B03", "B04", "B8A")}
    valid = np.logical_and.reduce([dn[b] != 0 for b in ("B02", "B03", "B04")])
    valid_b = np.logical_and.reduce([dn[b] != 0 for b in ("B8A", "B04", "B03")])
    rows, cols = crop.shape[1:]

    def reflectance(band, mask):
        return np.maximum((dn[band][mask] - 1000) / 10000, 0)

    quarter_mask = np.zeros_like(valid)
    quarter_mask[:rows, :cols] = valid[:rows, :cols]
    red_values = np.concatenate(
        [
            reflectance("B04", valid),
            reflectance("B8A", valid_b),
            reflectance("B04", valid),
            reflectance("B04", quarter_mask),
        ]
    )
    lo, hi = shared["ranges"][0]
    assert lo == pytest.approx(np.percentile(red_values, 2), abs=0.001)
    assert hi == pytest.approx(np.percentile(red_values, 98), abs=0.001)
    # The pixels follow the shared mapping: the same band at the same channel position gives
    # the same colour in every rendering, whatever area or content kind it has.
    lut = build_lut(offset=-1000, quantification=10000, low=lo, high=hi, gamma=1.0)
    np.testing.assert_array_equal(full[0], lut[dn["B04"]])
    np.testing.assert_array_equal(crop[:3], full[:3, :rows, :cols])
    assert np.abs(maths.astype(int) - full).max() <= 1
    assert not np.array_equal(own_crop[:3], crop[:3])  # its own percentiles: another mapping


def test_rendering_scope_in_the_batch_equals_the_in_process_render(
    process_cluster, demo_l2a, tmp_path
):
    spec = RenderSpec(str(demo_l2a), ("B12", "B8A", "B04"), RES, stretch=OWN, format=PNG)
    ((batch_pixels, batch),) = outputs(run_batch(process_cluster, [spec], tmp_path / "batch"))
    ((alone_pixels, alone),) = outputs([render(spec, tmp_path / "alone")])
    assert batch["stretch"] == alone["stretch"]
    np.testing.assert_array_equal(batch_pixels, alone_pixels)


def test_presets_share_reads_and_render_on_workers(process_cluster, demo_l2a, tmp_path):
    product = str(demo_l2a)
    specs = [
        spec_from_preset(p, product, resolution=RES, format=PNG)
        for p in ("ndvi", "ndwi", "false-color", "true-color", "true-color-optimized", "scl")
    ]
    plans = plan_batch(specs, tmp_path)
    strips = len(plans[0].strips)
    submitted = submit_batch(process_cluster, plans, "presets-share")
    # B02 B03 B04 B08 and SCL, once each per strip, for six renderings.
    assert len(submitted.read_keys) == 5 * strips
    results = sorted((f.result() for f in submitted.finals), key=lambda r: r.index)
    decoded = outputs(results)
    for (pixels, sidecar), spec in zip(decoded, specs, strict=True):
        assert pixels.shape == (4, 98, 98) and sidecar["preset"]["id"] == spec.preset

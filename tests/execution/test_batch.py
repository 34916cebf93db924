"""The Dask batch on a real LocalCluster of worker processes and on a separately started
``dask scheduler`` + ``dask worker``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from distributed import Client

from s2render.core.render import RenderSpec
from s2render.execution.batch import plan_batch, run_batch, submit_batch
from s2render.execution.cluster import ClusterOptions, dask_client
from tests.conftest import decode

SEED = [(20, ("B04", "B03", "B02")), (20, ("B12", "B11", "B03")), (60, ("B06", "B04", "B02"))]


@pytest.fixture(scope="module")
def process_cluster():
    with dask_client(ClusterOptions(workers=2, threads=1, processes=True)) as client:
        yield client


def check_outputs(results, expected_shapes):
    for result, shape in zip(results, expected_shapes, strict=True):
        assert result.status == "done", result.error
        pixels, _profile = decode(result.path)
        assert pixels.shape == shape and pixels.dtype == np.uint8
        assert pixels.max() > pixels.min()
        sidecar = json.loads(Path(result.sidecar).read_text())
        assert sidecar["figures"]["valid_percent"] == result.valid_percent


def test_seed_batch_on_worker_processes(process_cluster, uuu, tmp_path):
    specs = [RenderSpec(str(uuu), bands, res) for res, bands in SEED]
    seen = []
    results = run_batch(process_cluster, specs, tmp_path, on_progress=seen.append)
    check_outputs(results, [(3, 384, 768), (3, 384, 768), (3, 128, 256)])
    assert sorted(r.index for r in seen) == [0, 1, 2]  # progress once per rendering
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_a_failing_rendering_fails_alone(process_cluster, uuu, tmp_path):
    broken = tmp_path / "product"
    shutil.copytree(uuu, broken)
    band = broken / "T33UUU_20170216T102101_B02.jp2"
    band.write_bytes(band.read_bytes()[:20000])  # opens, but the codestream is cut short
    specs = [
        RenderSpec(str(broken), ("B04", "B03", "B02"), 10),  # needs the broken band
        RenderSpec(str(broken), ("B08", "B04", "B03"), 10),
        RenderSpec(str(broken), ("B10", "B04", "B03"), 10),  # L1C has B10
        RenderSpec(str(broken), ("SCL", "B04", "B03"), 10),  # refused when planned
    ]
    out = tmp_path / "out"
    results = run_batch(process_cluster, specs, out)
    assert [r.status for r in results] == ["error", "done", "done", "error"]
    assert "B02" in results[0].error or "read" in results[0].error.lower()
    assert "SCL is not available in L1C" in results[3].error
    check_outputs(results[1:3], [(3, 768, 1536)] * 2)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        Path(path).name
        for r in results[1:3]
        for path in (r.path, r.sidecar, r.thumbnail, r.stac_item)
    )


def test_renderings_share_their_common_reads(process_cluster, uuu, tmp_path):
    specs = [
        RenderSpec(str(uuu), ("B04", "B03", "B02"), 10),
        RenderSpec(str(uuu), ("B08", "B04", "B03"), 10),
        RenderSpec(str(uuu), ("B04", "B03", "B02"), 10, name="again"),
    ]
    plans = plan_batch(specs, tmp_path)
    strips = len(plans[0].strips)
    submitted = submit_batch(process_cluster, plans, "share-test")
    assert len(submitted.read_keys) == 4 * strips  # B02 B03 B04 B08, once each per strip
    for future in submitted.finals:
        assert future.result().status == "done"


def test_batch_on_a_separately_started_scheduler_and_worker(uuu, tmp_path):
    scheduler_file = tmp_path / "scheduler.json"
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [
                str(bin_dir / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--no-dashboard",
                "--scheduler-file",
                str(scheduler_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert time.monotonic() < deadline, "scheduler did not start"
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "dask"),
                    "worker",
                    address,
                    "--nthreads",
                    "2",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        with dask_client(ClusterOptions(address=address)) as client:
            client.wait_for_workers(1, timeout=60)
            specs = [RenderSpec(str(uuu), bands, res) for res, bands in SEED]
            results = run_batch(client, specs, tmp_path / "out")
        check_outputs(results, [(3, 384, 768), (3, 384, 768), (3, 128, 256)])
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


def test_default_local_cluster_runs_in_threads(uuu, tmp_path):
    with dask_client() as client:
        assert isinstance(client, Client)
        info = client.scheduler_info()
        assert info["address"].startswith("inproc://")
        results = run_batch(client, [RenderSpec(str(uuu), ("B04", "B03", "B02"), 60)], tmp_path)
    check_outputs(results, [(3, 128, 256)])

"""The decode-alone worker reads exactly the windows it is asked for."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from s2render.benchmark.decode import WindowRead, decode_windows, read_window, write_spec

SIZE = 300


@pytest.fixture(scope="module")
def band(tmp_path_factory):
    path = tmp_path_factory.mktemp("decode") / "T31TCJ_20240101T103021_B04_10m.jp2"
    data = np.random.default_rng(0).integers(1, 20000, (SIZE, SIZE), dtype="uint16")
    profile = dict(
        driver="JP2OpenJPEG", width=SIZE, height=SIZE, count=1, dtype="uint16",
        crs="EPSG:32631", transform=Affine(10, 0, 300000, 0, -10, 5000040),
        QUALITY=100, REVERSIBLE="YES", BLOCKXSIZE=128, BLOCKYSIZE=128,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data, 1)
    return path, data


def digest(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


WINDOWS = [(0, 0, SIZE, SIZE), (75, 85, 150, 129), (290, 0, 10, 300), (128, 128, 1, 1)]


@pytest.mark.parametrize("window", WINDOWS)
def test_read_window_returns_exactly_that_window(band, window):
    path, data = band
    col, row, width, height = window
    result = read_window(WindowRead(str(path), *window), checksum=True)
    assert result["shape"] == [height, width]
    assert result["dtype"] == "uint16"
    assert result["sha256"] == digest(data[row : row + height, col : col + width])


def test_pool_returns_every_window_in_task_order(band):
    path, data = band
    tasks = [WindowRead(str(path), *w) for w in WINDOWS]
    results = decode_windows(tasks, processes=2, checksum=True)
    assert [r["window"] for r in results] == [list(w) for w in WINDOWS]
    assert [r["sha256"] for r in results] == [
        digest(data[r : r + h, c : c + w]) for c, r, w, h in WINDOWS
    ]


@pytest.mark.parametrize("gdal_threads", ["1", "ALL_CPUS"])
def test_decode_command_prints_one_record_per_window(band, tmp_path, gdal_threads):
    path, _ = band
    spec = write_spec([WindowRead(str(path), *w) for w in WINDOWS], tmp_path / "spec.json")
    run = subprocess.run(
        [sys.executable, "-m", "s2render.benchmark.decode", str(spec),
         "--gdal-threads", gdal_threads],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    records = json.loads(run.stdout)
    assert [(r["window"], r["shape"]) for r in records] == [
        ([c, r, w, h], [h, w]) for c, r, w, h in WINDOWS
    ]

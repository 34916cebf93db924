"""``s2render render`` and ``s2render info`` end to end; outputs reopened and checked."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.cli.helpers import invoke
from tests.conftest import decode

SEED_ARGS = ["--res", "20,20,60", "--r", "B04,B12,B06", "--g", "B03,B11,B04", "--b", "B02,B03,B02"]


def test_seed_batch_prints_the_rendered_files(uuu, tmp_path):
    result = invoke("render", uuu, *SEED_ARGS, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    paths = [line for line in result.stdout.splitlines() if line]
    assert len(paths) == 3
    shapes = [(3, 384, 768), (3, 384, 768), (3, 128, 256)]
    for path, shape in zip(paths, shapes, strict=True):
        pixels, profile = decode(Path(path))
        assert profile["driver"] == "JPEG" and pixels.shape == shape
        assert pixels.dtype == np.uint8 and pixels.std() > 5
    # L1C has no R20m folder: the 10 m bands are resampled, and the user is told.
    assert "note: B04 is not native at 20 m" in result.stderr


def test_json_output_lists_every_rendering_with_its_status(uuu, tmp_path):
    result = invoke(
        "render",
        uuu,
        "--res",
        "60,60",
        "--r",
        "B04,SCL",
        "--g",
        "B03,B03",
        "--b",
        "B02,B02",
        "--out",
        tmp_path,
        "--json",
    )
    assert result.exit_code == 2  # SCL refused before anything runs
    assert "SCL is not available in L1C" in result.output
    result = invoke(
        "render",
        uuu,
        "--res",
        "60,60",
        "--r",
        "B04,B08",
        "--g",
        "B03,B04",
        "--b",
        "B02,B03",
        "--out",
        tmp_path,
        "--json",
        "--format",
        "png",
    )
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["status"] for r in records] == ["done", "done"]
    for r in records:
        pixels, profile = decode(Path(r["path"]))
        assert profile["driver"] == "PNG" and pixels.shape == (4, 128, 256)
        assert (pixels[3] == 255).all()


def test_geotiff_with_a_product_crs_bbox(uuu, tmp_path):
    result = invoke(
        "render",
        uuu,
        "--res",
        "10",
        "--r",
        "B08",
        "--g",
        "B04",
        "--b",
        "B03",
        "--format",
        "geotiff",
        "--bbox",
        "334000,5816000,336000,5818000",
        "--bbox-crs",
        "product",
        "--stretch",
        "0,0.4",
        "--gamma",
        "1",
        "--out",
        tmp_path,
        "--json",
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)[0]
    pixels, profile = decode(Path(record["path"]))
    assert pixels.shape == (4, 200, 200)
    assert profile["crs"].to_epsg() == 32633
    assert tuple(profile["transform"])[:6] == (10.0, 0.0, 334000.0, 0.0, -10.0, 5818000.0)
    sidecar = json.loads(Path(record["sidecar"]).read_text())
    assert sidecar["stretch"] == {
        "type": "fixed",
        "ranges": [[0.0, 0.4]] * 3,
        "gamma": 1.0,
        "unit": "reflectance",
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--res", "20,20", "--r", "B04,B12,B06", "--g", "B03,B11,B04", "--b", "B02,B03,B02"],
            "same length",
        ),
        (
            ["--res", "20,x", "--r", "B04,B12", "--g", "B03,B11", "--b", "B02,B03"],
            "not a resolution",
        ),
        (
            ["--res", "20,,60", "--r", "B04,B12,B06", "--g", "B03,B11,B04", "--b", "B02,B03,B02"],
            "without gaps",
        ),
        (["--res", "10", "--r", "B13", "--g", "B03", "--b", "B02"], "not a Sentinel-2 band"),
        (["--res", "10", "--r", "B04"], "missing --g, --b"),
        (
            ["--res", "10", "--r", "B04", "--g", "B03", "--b", "B02", "--format", "bmp"],
            "choose jpeg, png, webp or geotiff",
        ),
        (
            ["--res", "10", "--r", "B04", "--g", "B03", "--b", "B02", "--stretch", "0,3000"],
            "looks like DN",
        ),
        (
            ["--res", "20", "--r", "B04", "--g", "B03", "--b", "B02", "--native-only"],
            "B04 is not native at 20 m",
        ),
        (
            ["--res", "10", "--r", "B04", "--g", "B03", "--b", "B02", "--bbox", "1,2,3"],
            "four numbers",
        ),
    ],
)
def test_bad_input_is_one_clear_line(uuu, tmp_path, args, message):
    result = invoke("render", uuu, *args, "--out", tmp_path)
    assert result.exit_code == 2
    assert message in result.output
    assert not list(tmp_path.iterdir())


def test_area_outside_the_product_fails_cleanly(uuu, tmp_path):
    result = invoke(
        "render",
        uuu,
        "--res",
        "10",
        "--r",
        "B04",
        "--g",
        "B03",
        "--b",
        "B02",
        "--bbox",
        "2.0,48.0,2.1,48.1",
        "--out",
        tmp_path,
    )
    assert result.exit_code == 1
    assert "does not intersect the product" in result.output


def test_missing_product_is_a_usage_error(tmp_path):
    result = invoke("render", tmp_path / "nope", *SEED_ARGS)
    assert result.exit_code == 2 and "does not exist" in result.output


def test_without_lists_and_without_a_terminal_it_says_what_to_give(uuu, tmp_path):
    result = invoke("render", uuu, "--out", tmp_path)
    assert result.exit_code == 2 and "give --res, --r, --g and --b" in result.output


def test_interactive_mode_offers_only_native_bands(uuu, tmp_path):
    # one rendering; resolution 20; B08 is refused at 20 m in L1C (not native), then B8A taken.
    answers = "1\n20\nB08\nB8A\nB11\nB12\n"
    result = invoke("render", uuu, "--interactive", "--out", tmp_path, "--json", input=answers)
    assert result.exit_code == 0, result.output
    assert "B08 is not one of" in result.output or "'B08' is not one of" in result.output
    record = json.loads(result.stdout[result.stdout.index("[") :])[0]
    assert Path(record["path"]).name.endswith("_20m_B8A-B11-B12.jpg")
    pixels, _ = decode(Path(record["path"]))
    assert pixels.shape == (3, 384, 768)


def test_info_describes_the_product(uuu):
    result = invoke("info", uuu)
    assert result.exit_code == 0
    assert "33UUU" in result.output and "bands 60m    B01 B09 B10" in result.output
    described = json.loads(invoke("info", uuu, "--json").output)
    assert described["level"] == "L1C" and described["crs"] == "EPSG:32633"


def test_console_script_runs_as_a_user_would(uuu, tmp_path):
    exe = Path(sys.executable).parent / "s2render"
    proc = subprocess.run(
        [
            str(exe),
            "render",
            str(uuu),
            "--res",
            "60",
            "--r",
            "B04",
            "--g",
            "B03",
            "--b",
            "B02",
            "--out",
            str(tmp_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)[0]
    pixels, _ = decode(Path(record["path"]))
    assert pixels.shape == (3, 128, 256)

"""Scenario planning, output checks and the report, on a tiny product."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from s2render.benchmark.geometry import Bounds, seed_crop_bounds
from s2render.benchmark.report import BenchReport, Run, ScenarioResult, evaluate_targets
from s2render.benchmark.report import format_report as format_text
from s2render.benchmark.run import measure_scenario
from s2render.benchmark.scenarios import (
    ExpectedImage,
    batch_windows,
    check_image,
    plan_scenarios,
    preview_expected,
    render_record_paths,
    tile_bounds,
)
from s2render.benchmark.seed import SEED_BATCH
from s2render.core.demo import write_demo_product
from tests.benchmark import NORTH, WEST, write_tiny_l2a

SIZE = 294  # px at 10 m: 2940 m


@pytest.fixture(scope="module")
def product(tmp_path_factory):
    return write_tiny_l2a(tmp_path_factory.mktemp("plan"), size=SIZE)


def test_bbox_is_the_seeds_centre_crop_of_the_tile(product):
    area = seed_crop_bounds(tile_bounds(product))
    extent = SIZE * 10
    assert area == Bounds(
        WEST + extent / 4, NORTH - 5 * extent / 7, WEST + 3 * extent / 4, NORTH - 2 * extent / 7
    )
    assert area.as_option() == "300735.0,4997940.0,302205.0,4999200.0"


def test_seed_batch_needs_eight_distinct_windows_covering_the_crop(product):
    windows = batch_windows(product, SEED_BATCH, seed_crop_bounds(tile_bounds(product)))
    # B03 at 20 m serves two renderings; it is decoded once.
    assert len(windows) == 8
    boxes = {tuple(Path(w.path).stem.split("_")[-2:]): w for w in windows}
    assert sorted(boxes) == sorted(
        [(b, "20m") for b in ("B02", "B03", "B04", "B11", "B12")]
        + [(b, "60m") for b in ("B02", "B04", "B06")]
    )
    # 20 m: x 36.75..110.25 -> columns 36..111; y 42..105 exactly.
    b03 = boxes["B03", "20m"]
    assert (b03.col_off, b03.row_off, b03.width, b03.height) == (36, 42, 75, 63)
    # 60 m: x 12.25..36.75 -> columns 12..37; y 14..35.
    b06 = boxes["B06", "60m"]
    assert (b06.col_off, b06.row_off, b06.width, b06.height) == (12, 14, 25, 21)


def test_whole_band_windows_without_an_area(product):
    windows = batch_windows(product, SEED_BATCH[:1], None)
    assert {(w.col_off, w.row_off, w.width, w.height) for w in windows} == {(0, 0, 147, 147)}


@pytest.fixture(scope="module")
def demo_product(tmp_path_factory):
    return write_demo_product(tmp_path_factory.mktemp("demo"), size=294)


@pytest.mark.parametrize("key", ["d_b", "d_c", "a", "b", "c", "e"])
def test_every_scenario_runs_on_the_demo_product_and_passes_its_output_check(
    demo_product, tmp_path, key
):
    scenario = next(s for s in plan_scenarios(demo_product, tmp_path, "1") if s.key == key)
    run, problems = measure_scenario(scenario, tmp_path)
    assert problems == []
    assert run.peak_pss > 0 and run.wall_s > 0


def test_ours_scenarios_are_the_users_render_commands(product, tmp_path):
    plan = {s.key: s for s in plan_scenarios(product, tmp_path, "1")}
    b = plan["b"].argv
    assert b[b.index("render") + 1 :] == (
        str(product), "--res", "20,20,60", "--r", "B04,B12,B06", "--g", "B03,B11,B04",
        "--b", "B02,B03,B02", "--out", str(tmp_path / "b"), "--format", "jpeg",
        "--bbox", "300735.0,4997940.0,302205.0,4999200.0", "--bbox-crs", "product", "--json",
    )  # fmt: skip
    c = plan["c"].argv
    assert c[c.index("render") + 1 :] == (
        str(product), "--res", "10", "--r", "B04", "--g", "B03", "--b", "B02",
        "--out", str(tmp_path / "c"), "--format", "jpeg", "--json",
    )  # fmt: skip
    e = plan["e"].argv
    assert e[e.index("render") + 1 :] == (
        str(product), "--res", "10", "--r", "B04", "--g", "B03", "--b", "B02",
        "--out", str(tmp_path / "e"), "--format", "jpeg", "--max-size", "1024", "--json",
    )  # fmt: skip
    assert list(plan) == ["d_b", "d_c", "a", "b", "c", "e"]  # (e) right after (c)


def test_the_preview_scenario_decodes_reduced_levels(demo_product, tmp_path):
    plan = {s.key: s for s in plan_scenarios(demo_product, tmp_path, "1", preview_size=32)}
    decoded = {}
    for key in ("c", "e"):
        run, problems = measure_scenario(plan[key], tmp_path)
        assert problems == [] and run.wall_s > 0
        (sidecar,) = (tmp_path / key).glob("*.jpg.json")
        document = json.loads(sidecar.read_text())
        decoded[key] = document["reads"]["decoded_pixels"]
    assert (document["width"], document["height"]) == (32, 32)
    assert decoded["c"] == 3 * 294 * 294
    assert decoded["e"] == 3 * 49 * 49  # the 294 px demo's coarsest level: its 60 m files


@pytest.mark.parametrize(
    ("size", "expected"),
    [((10980, 10980), (1024, 1024)), ((800, 400), (800, 400)), ((3000, 1500), (1024, 512)),
     ((1500, 3000), (512, 1024))],
)  # fmt: skip
def test_preview_size_is_the_long_side_capped(size, expected):
    image = preview_expected(*size, 1024)
    assert (image.width, image.height) == expected


def test_render_records_give_paths_and_flag_failed_items(tmp_path):
    stdout = "rendering...\n" + json.dumps(
        [{"path": "x.jpg", "status": "finished"}, {"path": None, "status": "error"}]
    )
    paths, problems = render_record_paths(stdout, tmp_path)
    assert paths == [tmp_path / "x.jpg"]
    assert len(problems) == 1 and "'error'" in problems[0]


@pytest.fixture
def jpeg(tmp_path):
    path = tmp_path / "out.jpg"
    Image.new("RGB", (40, 30), (10, 20, 30)).save(path)
    return path


@pytest.mark.parametrize(
    ("expected", "problem"),
    [
        (ExpectedImage(40, 30), None),
        (ExpectedImage(41, 29, tolerance=1), None),
        (ExpectedImage(42, 30, tolerance=1), "size 40x30, expected 42x30 (±1)"),
        (ExpectedImage(40, 30, mode="RGBA"), "mode RGB, expected RGBA"),
    ],
)
def test_check_image_compares_size_and_mode(jpeg, expected, problem):
    problems = check_image(jpeg, expected)
    assert problems == ([] if problem is None else [f"{jpeg}: {problem}"])


def test_check_image_rejects_a_truncated_file(jpeg):
    jpeg.write_bytes(jpeg.read_bytes()[:200])
    (problem,) = check_image(jpeg, ExpectedImage(40, 30))
    assert "does not decode" in problem


def result(key, wall, pss):
    return ScenarioResult(key, key, (), runs=[Run(wall, wall * 1.5, pss, pss * 2, 1)])


def test_targets_from_figures_and_failed_scenarios_are_not_applicable():
    results = {
        "a": result("a", 40.0, 4_000_000_000), "b": result("b", 8.0, 300_000_000),
        "c": result("c", 11.0, 900_000_000), "d_b": result("d_b", 7.0, 100_000_000),
        "d_c": result("d_c", 10.0, 100_000_000), "e": result("e", 0.5, 150_000_000),
    }  # fmt: skip
    verdicts = {t.target.name: (round(t.value, 3), t.met) for t in evaluate_targets(results)}
    assert verdicts == {
        "speed-up (a)/(b)": (5.0, True),
        "peak PSS (b)/(a)": (0.075, True),
        "time (b)/(d_b)": (1.143, True),
        "time (c)/(d_c)": (1.1, True),
        "peak PSS (c)": (900.0, True),
        "speed-up (c)/(e)": (22.0, True),
    }
    results["b"].problems.append("exit status 2")
    missing = {t.target.name: t.met for t in evaluate_targets(results)}
    assert missing["speed-up (a)/(b)"] is None and missing["time (c)/(d_c)"] is True
    del results["e"]  # a report from before scenario (e) existed
    assert {t.target.name: t.met for t in evaluate_targets(results)}["speed-up (c)/(e)"] is None


def test_report_table_lists_scenarios_targets_and_problems():
    results = {k: result(k, 2.0, 50_000_000) for k in ("d_b", "d_c", "a", "b", "c", "e")}
    results["c"].problems.append("exit status 2: s2render render ...")
    machine = dict(cpu_count=2, cpu_model="cpu", memory_gb=24.0, gdal="3.10.3", rasterio="1.4.4",
                   openjpeg="2.5.4", pillow="12", python="3.11")  # fmt: skip
    product = dict(path="/p.SAFE", width=294, height=294, band10_mb=0.1, band20_mb=0.03)
    report = BenchReport(machine, product, 1, "2 processes", results, evaluate_targets(results))
    text = format_text(report)
    assert "GDAL 3.10.3" in text
    assert "(a) a" in text and "50" in text
    assert "peak PSS (c)" in text and "n/a" in text
    assert "exit status 2" in text
    assert not report.ok
    assert report.to_json()["scenarios"]["c"]["wall_s"] is None

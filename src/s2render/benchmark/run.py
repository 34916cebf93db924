"""The whole benchmark: product, page cache, scenarios (with repeats), report."""

from __future__ import annotations

import os
import platform
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy
import PIL
import psutil
import rasterio
from PIL import features

from s2render.benchmark.decode import DECODE_THREADS_NOTE, DEFAULT_GDAL_THREADS
from s2render.benchmark.memory import measure_command
from s2render.benchmark.report import BenchReport, Run, ScenarioResult, evaluate_targets
from s2render.benchmark.scenarios import Scenario, plan_scenarios, raster_size
from s2render.benchmark.seed import find_band_file

DEMO_SIZE = 10980  # a full Sentinel-2 tile at 10 m
COMMAND_TIMEOUT_S = 3600.0


def ensure_demo_product(data: Path, size: int = DEMO_SIZE, processes: int = 2) -> Path:
    """The cached synthetic L2A product of ``size`` px under ``data`` (written the first time)."""
    from s2render.core.demo import write_demo_product  # the generator is heavy; load on use

    return write_demo_product(
        data / f"demo-L2A-{size}", level="L2A", size=size, seed=0, processes=processes
    )


def machine_facts() -> dict[str, Any]:
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": psutil.virtual_memory().total / 2**30,
        # Other work on the machine skews wall times; the 1-minute load says how much there was.
        "load_1min": os.getloadavg()[0],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "pillow": PIL.__version__,
        "openjpeg": features.version("jpg_2000"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def product_facts(product: Path) -> dict[str, Any]:
    band10 = find_band_file(product, "B04", 10)
    band20 = find_band_file(product, "B12", 20)
    width, height = raster_size(band10)
    return {
        "path": str(product),
        "width": width,
        "height": height,
        "band10_mb": band10.stat().st_size / 1e6,
        "band20_mb": band20.stat().st_size / 1e6,
    }


def warm_page_cache(product: Path) -> None:
    """Read every file of the product once, so that no scenario pays for the disk."""
    for path in sorted(p for p in product.rglob("*") if p.is_file()):
        with path.open("rb") as f:
            while f.read(16 << 20):
                pass


def measure_scenario(scenario: Scenario, workdir: Path) -> tuple[Run | None, list[str]]:
    """Run one scenario once; its figures, or the problems that make them worthless."""
    scenario.prepare()
    m = measure_command(scenario.argv, cwd=workdir, timeout=COMMAND_TIMEOUT_S)
    if m.returncode != 0:
        tail = "\n    ".join(m.stderr.strip().splitlines()[-8:])
        return None, [f"exit status {m.returncode}: {' '.join(m.argv)}\n    {tail}"]
    try:
        problems = scenario.check_output(m.stdout)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        problems = [f"unexpected output ({type(exc).__name__}: {exc}): {m.stdout[-300:]!r}"]
    if problems:
        return None, problems
    return Run(m.wall_s, m.cpu_s, m.peak_pss, m.peak_rss, m.peak_processes), []


def run_benchmark(
    product: Path,
    workdir: Path,
    *,
    repeat: int = 1,
    gdal_threads: str = DEFAULT_GDAL_THREADS,
    echo: Callable[[str], None] = lambda _: None,
) -> BenchReport:
    """Measure every scenario ``repeat`` times (decode alone first in each round)."""
    scenarios = plan_scenarios(product, workdir, gdal_threads)
    results = {s.key: ScenarioResult(s.key, s.title, s.argv) for s in scenarios}
    echo(f"warming the page cache with {product} ...")
    warm_page_cache(product)
    machine = machine_facts()
    for round_ in range(1, repeat + 1):
        for scenario in scenarios:
            result = results[scenario.key]
            if result.problems:  # broken once: its later runs would not count either
                continue
            echo(f"[{round_}/{repeat}] ({scenario.key}) {scenario.title} ...")
            run, problems = measure_scenario(scenario, workdir)
            if run is None:
                result.problems += problems
                echo(f"    failed: {problems[0]}")
                continue
            result.runs.append(run)
            echo(
                f"    {run.wall_s:.2f} s ({run.cpu_s:.2f} s CPU), "
                f"peak PSS {run.peak_pss / 1e6:.0f} MB, peak RSS {run.peak_rss / 1e6:.0f} MB, "
                f"{run.peak_processes} processes"
            )
    note = f"{os.cpu_count()} processes, GDAL_NUM_THREADS={gdal_threads} ({DECODE_THREADS_NOTE})"
    return BenchReport(
        machine=machine,
        product=product_facts(product),
        repeat=repeat,
        decode_note=note,
        results=results,
        targets=evaluate_targets(results),
    )

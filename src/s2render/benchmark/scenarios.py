"""The commands the benchmark measures, and what each must have produced for its time to count.

(a) the seed's algorithm on the seed's batch; (b) our ``s2render render`` on the same batch and
crop; (c) our renderer on one whole 10 m true colour; (d_b)/(d_c) decode alone of exactly the
band windows (b)/(c) need; (e) a 1024 px true colour preview of the whole product
(``--max-size 1024``), which must come from the JPEG 2000 reduced-resolution levels, not from
decoding (c)'s pixels and shrinking them. Every output image is decoded and its size and mode
checked: a fast benchmark of a broken output is worthless.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
from PIL import Image

from s2render.benchmark.decode import WindowRead, write_spec
from s2render.benchmark.geometry import Bounds, covering_window, seed_crop_bounds, seed_crop_size
from s2render.benchmark.seed import SEED_BATCH, Rendering, find_band_file

TRUE_COLOUR: tuple[Rendering, ...] = (Rendering(10, "B04", "B03", "B02"),)
PREVIEW_SIZE = 1024  # px, the long side of scenario (e)'s preview
# What `s2render render --json` may call a rendering that worked.
SUCCESS_STATUSES = frozenset({"finished", "ok", "done", "success", "succeeded"})


@dataclass(frozen=True)
class ExpectedImage:
    """An output image's expected pixel size (give or take ``tolerance`` pixels), mode, format."""

    width: int
    height: int
    mode: str = "RGB"
    tolerance: int = 0
    format: str = "JPEG"


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    argv: tuple[str, ...]
    outdir: Path | None
    check_output: Callable[[str], list[str]]  # stdout -> problems (empty when all is well)

    def prepare(self) -> None:
        """Start from an empty output folder, so no stale file can pass for an output."""
        if self.outdir is not None:
            shutil.rmtree(self.outdir, ignore_errors=True)
            self.outdir.mkdir(parents=True)


def s2render_command() -> list[str]:
    """How a user runs our CLI from this environment: the console script beside this Python."""
    script = Path(sys.executable).with_name("s2render")
    return [str(script)] if script.exists() else [sys.executable, "-m", "s2render"]


def batch_options(batch: Sequence[Rendering]) -> list[str]:
    """``--res --r --g --b`` in the seed's comma-separated form."""
    options: list[str] = []
    for key in ("res", "r", "g", "b"):
        options += [f"--{key}", ",".join(str(getattr(item, key)) for item in batch)]
    return options


def tile_bounds(product: Path) -> Bounds:
    """The tile's extent in its CRS, read from a 10 m band."""
    with rasterio.open(find_band_file(product, "B02", 10)) as src:
        left, bottom, right, top = src.bounds
    return Bounds(left, bottom, right, top)


def raster_size(path: Path) -> tuple[int, int]:
    with rasterio.open(path) as src:
        return src.width, src.height


def check_image(path: Path, expected: ExpectedImage) -> list[str]:
    """Decode ``path`` completely; list what differs from ``expected``."""
    if not path.is_file():
        return [f"{path}: missing"]
    try:
        with Image.open(path) as image:
            image.load()  # full decode: a truncated file fails here, not at open
            size, mode, kind = image.size, image.mode, image.format
    except (OSError, Image.DecompressionBombError) as exc:
        return [f"{path}: does not decode: {exc}"]
    problems = []
    dw, dh = abs(size[0] - expected.width), abs(size[1] - expected.height)
    if max(dw, dh) > expected.tolerance:
        want = f"{expected.width}x{expected.height}"
        if expected.tolerance:
            want += f" (±{expected.tolerance})"
        problems.append(f"{path}: size {size[0]}x{size[1]}, expected {want}")
    if mode != expected.mode:
        problems.append(f"{path}: mode {mode}, expected {expected.mode}")
    if kind != expected.format:
        problems.append(f"{path}: format {kind}, expected {expected.format}")
    return problems


def check_images(paths: Sequence[Path], expected: Sequence[ExpectedImage]) -> list[str]:
    if len(paths) != len(expected):
        return [f"{len(paths)} output images, expected {len(expected)}: {[str(p) for p in paths]}"]
    # Whole-tile outputs (10980 x 10980) exceed Pillow's decompression-bomb guard; they are ours.
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        return [
            p for path, exp in zip(paths, expected, strict=True) for p in check_image(path, exp)
        ]
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def parse_json_stdout(stdout: str) -> Any:
    """The JSON document a command printed: all of stdout, or else its last line that parses."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        for line in reversed(stdout.strip().splitlines()):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    raise ValueError(f"no JSON on stdout: {stdout[-500:]!r}")


def render_record_paths(stdout: str, base: Path) -> tuple[list[Path], list[str]]:
    """Output paths from ``s2render render --json`` records, and the records that did not work."""
    records = parse_json_stdout(stdout)
    if isinstance(records, dict):  # tolerate {"renderings": [...]}
        records = next((v for v in records.values() if isinstance(v, list)), [records])
    paths, problems = [], []
    for record in records:
        status = str(record.get("status", "")).lower()
        if status not in SUCCESS_STATUSES:
            problems.append(f"rendering status {status!r}: {record}")
        if record.get("path"):
            path = Path(record["path"])
            paths.append(path if path.is_absolute() else base / path)
    return paths, problems


def seed_expected(product: Path, batch: Sequence[Rendering]) -> list[ExpectedImage]:
    """The seed's crop of each rendering's red band, to the pixel."""
    return [
        ExpectedImage(*seed_crop_size(*raster_size(find_band_file(product, item.r, item.res))))
        for item in batch
    ]


def seed_scenario(product: Path, outdir: Path, batch: Sequence[Rendering]) -> Scenario:
    expected = seed_expected(product, batch)

    def check(stdout: str) -> list[str]:
        paths = [Path(p) for p in parse_json_stdout(stdout)]
        return check_images(paths, expected)

    argv = (
        sys.executable,
        "-m",
        "s2render.benchmark.seed",
        str(product),
        str(outdir),
        *batch_options(batch),
    )
    return Scenario("a", "seed algorithm, seed batch", argv, outdir, check)


def ours_scenario(
    key: str,
    title: str,
    product: Path,
    outdir: Path,
    batch: Sequence[Rendering],
    expected: Sequence[ExpectedImage],
    extra: Sequence[str] = (),
) -> Scenario:
    def check(stdout: str) -> list[str]:
        paths, problems = render_record_paths(stdout, outdir)
        return problems + check_images(paths, expected)

    argv = (
        *s2render_command(),
        "render",
        str(product),
        *batch_options(batch),
        "--out",
        str(outdir),
        "--format",
        "jpeg",
        *extra,
        "--json",
    )
    return Scenario(key, title, tuple(argv), outdir, check)


def batch_windows(
    product: Path, batch: Sequence[Rendering], area: Bounds | None
) -> list[WindowRead]:
    """The distinct (band, resolution) windows a batch needs: covering ``area``, or whole files."""
    seen: dict[tuple[str, int], WindowRead] = {}
    for item in batch:
        for band in item.bands:
            if (band, item.res) in seen:
                continue
            path = find_band_file(product, band, item.res)
            with rasterio.open(path) as src:
                if area is None:
                    window = (0, 0, src.width, src.height)
                else:
                    w = covering_window(area, src.transform, src.width, src.height)
                    window = (int(w.col_off), int(w.row_off), int(w.width), int(w.height))
            seen[band, item.res] = WindowRead(str(path), *window)
    return list(seen.values())


def decode_scenario(
    key: str, title: str, windows: Sequence[WindowRead], spec: Path, gdal_threads: str
) -> Scenario:
    write_spec(windows, spec)

    def check(stdout: str) -> list[str]:
        results = parse_json_stdout(stdout)
        got = sorted((r["path"], *r["window"], *r["shape"]) for r in results)
        want = sorted(
            (w.path, w.col_off, w.row_off, w.width, w.height, w.height, w.width) for w in windows
        )
        return [] if got == want else [f"decoded {got}, expected {want}"]

    argv = (
        sys.executable,
        "-m",
        "s2render.benchmark.decode",
        str(spec),
        "--gdal-threads",
        gdal_threads,
    )
    return Scenario(key, f"{title}, {len(windows)} windows", argv, None, check)


def preview_expected(width: int, height: int, max_size: int) -> ExpectedImage:
    """A ``--max-size`` output: the long side ``max_size`` exactly (never enlarged), the other
    in proportion."""
    if max(width, height) <= max_size:
        return ExpectedImage(width, height)
    if width >= height:
        return ExpectedImage(max_size, max(1, round(max_size * height / width)))
    return ExpectedImage(max(1, round(max_size * width / height)), max_size)


def plan_scenarios(
    product: Path, workdir: Path, gdal_threads: str, preview_size: int = PREVIEW_SIZE
) -> list[Scenario]:
    """All six scenarios, decode-alone first (it leaves the file cache warm for the others);
    the preview (e) right after the full rendering (c) it is compared with."""
    workdir.mkdir(parents=True, exist_ok=True)
    area = seed_crop_bounds(tile_bounds(product))
    crop = ["--bbox", area.as_option(), "--bbox-crs", "product"]
    b10 = find_band_file(product, "B04", 10)
    # Our crop is georeferenced, the seed's rounds each edge to the nearest pixel: a renderer
    # that covers the box (floor/ceil) may differ by one pixel at each edge.
    ours_expected = [
        ExpectedImage(w.width, w.height, tolerance=2) for w in seed_expected(product, SEED_BATCH)
    ]
    return [
        decode_scenario(
            "d_b",
            "decode alone for (b)",
            batch_windows(product, SEED_BATCH, area),
            workdir / "d_b.json",
            gdal_threads,
        ),
        decode_scenario(
            "d_c",
            "decode alone for (c)",
            batch_windows(product, TRUE_COLOUR, None),
            workdir / "d_c.json",
            gdal_threads,
        ),
        seed_scenario(product, workdir / "a", SEED_BATCH),
        ours_scenario(
            "b",
            "s2render, seed batch + crop",
            product,
            workdir / "b",
            SEED_BATCH,
            ours_expected,
            crop,
        ),
        ours_scenario(
            "c",
            "s2render, whole 10 m true colour",
            product,
            workdir / "c",
            TRUE_COLOUR,
            [ExpectedImage(*raster_size(b10))],
        ),
        ours_scenario(
            "e",
            f"s2render, {preview_size} px true colour preview",
            product,
            workdir / "e",
            TRUE_COLOUR,
            [preview_expected(*raster_size(b10), preview_size)],
            ["--max-size", str(preview_size)],
        ),
    ]

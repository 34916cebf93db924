"""Writing a rendering's output: JPEG segments from the canvas, the encoded image, its thumbnail,
its STAC item and its JSON sidecar (what was rendered, from what, with which radiometry and
stretch, and the quality figures).

Every file is written under a temporary name and renamed into place
(:func:`s2render.core.encode.atomic_path`), so a failed rendering never leaves a half-written
file under a final name.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import rasterio

from s2render import __version__
from s2render.core.colormap import Colormap
from s2render.core.encode import CANVAS_BANDS, atomic_path, encode_canvas, write_json_atomic
from s2render.core.errors import RenderError
from s2render.core.jpeg import encode_segment, stitch_segments
from s2render.core.plan import RenderPlan, RenderResult, StripResult
from s2render.core.quality import quality_figures
from s2render.core.stac import rendering_item, write_stac_item
from s2render.core.statistics import PercentileRanges
from s2render.core.thumbnail import canvas_thumbnail, write_thumbnail


def describe_stretch(plan: RenderPlan, ranges: PercentileRanges | None) -> dict:
    """The mapping to display values actually applied, for the sidecar."""
    if plan.kind == "optimized":
        assert plan.tone_curve is not None
        return {
            "type": "optimized",
            "curve": asdict(plan.tone_curve),
            "source": "core/tonemap.py, after Sentinel Hub's True Color Optimized scripts",
        }
    if plan.kind == "colormap":
        table = plan.color_table
        assert table is not None
        if isinstance(table, Colormap):
            return {"type": "colormap", "colormap": table.name, "range": list(table.value_range)}
        return {"type": "classes", "colormap": table.name}
    described = plan.spec.stretch.describe()
    if ranges is not None:
        described.update(ranges.describe())
    return described


def applied_job_ranges(stretch: dict | None) -> PercentileRanges | None:
    """The job-scope percentile ranges a rendering's sidecar says were applied (its
    ``"stretch"``, as :func:`describe_stretch` wrote it), to apply again to the job's other
    renderings; None for any other stretch."""
    if not stretch or stretch.get("type") != "percentile" or stretch.get("scope") != "job":
        return None
    if not stretch.get("ranges") or not stretch.get("percentiles"):
        return None
    low, high = stretch["percentiles"]
    return PercentileRanges(
        ranges=tuple((float(lo), float(hi)) for lo, hi in stretch["ranges"]),
        percentiles=(float(low), float(high)),
        scope="job",
        pixels=int(stretch.get("pixels", 0)),
        renderings=int(stretch.get("renderings", 0)),
        fallback=bool(stretch.get("fallback", False)),
    )


def encode_jpeg_segment(plan: RenderPlan, segment: int, *_strips_done: StripResult) -> bytes:
    """JPEG-encode one segment's rows from the canvas (call once its strips are composed)."""
    a, b = plan.segments[segment]
    row_bytes = plan.width * CANVAS_BANDS
    with open(plan.canvas, "rb") as f:
        f.seek(a * row_bytes)
        raw = f.read((b - a) * row_bytes)
    if len(raw) != (b - a) * row_bytes:
        raise RenderError(f"canvas {plan.canvas} is short: segment {segment} rows {a}-{b}")
    rgba = np.frombuffer(raw, dtype=np.uint8).reshape(b - a, plan.width, CANVAS_BANDS)
    return encode_segment(np.ascontiguousarray(rgba[..., :3]))


def companion(image: Path, suffix: str) -> Path:
    """A file that goes with an output image: ``X.jpg`` -> ``X.jpg.json`` (sidecar),
    ``X.jpg.thumb.png`` (thumbnail), ``X.jpg.stac.json`` (STAC item). Named after the whole
    image name, so renderings that differ only by format do not share them."""
    return image.with_name(image.name + suffix)


def finalize_rendering(
    plan: RenderPlan,
    strips: list[StripResult],
    segments: list[bytes] | None = None,
    *,
    index: int = 0,
    started: float | None = None,
    ranges: PercentileRanges | None = None,
) -> RenderResult:
    """Encode the canvas into the output file, write its thumbnail, STAC item and sidecar (with
    the stretch actually applied: ``ranges`` of a percentile stretch); remove the canvas."""
    t0 = time.perf_counter()
    thumbnail = companion(plan.output, ".thumb.png")
    try:
        if plan.segments:
            if segments is None or len(segments) != len(plan.segments):
                raise RenderError(f"{plan.output.name}: JPEG segments missing")
            with atomic_path(plan.output) as tmp, open(tmp, "wb") as out:
                stitch_segments(segments, plan.height, out)
        else:
            expected = plan.width * plan.height * CANVAS_BANDS
            if not plan.canvas.exists() or plan.canvas.stat().st_size != expected:
                raise RenderError(f"canvas {plan.canvas} is incomplete; a strip failed to write")
            encode_canvas(
                plan.canvas,
                plan.output,
                plan.spec.format,
                width=plan.width,
                height=plan.height,
                crs=plan.grid.crs,
                transform=plan.transform,
            )
        write_thumbnail(canvas_thumbnail(plan.canvas, plan.width, plan.height), thumbnail)
    finally:
        plan.canvas.unlink(missing_ok=True)
    figures = quality_figures(plan, strips)
    sidecar = companion(plan.output, ".json")
    stac_path = companion(plan.output, ".stac.json")
    bounds = rasterio.windows.bounds(plan.window, plan.grid.transform)
    offsets = dict(zip(plan.bands, plan.offsets, strict=True))
    document = {
        "s2render": __version__,
        "file": plan.output.name,
        "format": plan.spec.format.name.lower(),
        "media_type": plan.spec.format.info.media_type,
        "assets": {
            "image": plan.output.name,
            "thumbnail": thumbnail.name,
            "stac_item": stac_path.name,
        },
        **plan.record,
        "width": plan.width,
        "height": plan.height,
        "crs": plan.grid.crs.to_string(),
        "transform": list(plan.transform)[:6],
        "bounds": list(bounds),
        "radiometry": {
            "formula": "reflectance = (DN + offset) / quantification; DN 0 = no data, "
            "DN 65535 = saturated",
            "coarsening": "average of the valid inputs (DN 0 and 65535 left out); saturated "
            "where no input is valid and one is saturated",
            "offsets": offsets,
            "offset_source": plan.offset_source,
            "quantification": dict(zip(plan.bands, plan.quantification, strict=True)),
        },
        "stretch": describe_stretch(plan, ranges),
        "figures": figures,
        "timings": {
            "compose_seconds": round(sum(s.seconds for s in strips), 3),
            "encode_seconds": round(time.perf_counter() - t0, 3),
        },
    }
    item = rendering_item(
        document, image=plan.output.name, thumbnail=thumbnail.name, sidecar=sidecar.name
    )
    write_stac_item(item, stac_path)
    write_json_atomic(sidecar, document)  # last: its presence means every file is in place
    return RenderResult(
        index=index,
        status="done",
        path=str(plan.output),
        sidecar=str(sidecar),
        name=plan.output.name,
        width=plan.width,
        height=plan.height,
        valid_percent=figures["valid_percent"],
        seconds=round(time.perf_counter() - (started if started is not None else t0), 3),
        cloud_percent=figures["cloud_percent"],
        saturated_percent=figures["saturated_percent"],
        figures=figures,
        offsets=offsets,
        thumbnail=str(thumbnail),
        stac_item=str(stac_path),
    )

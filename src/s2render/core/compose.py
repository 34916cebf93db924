"""Strips of the float kinds — band maths, colour maps, class tables, the optimized tone curve —
and the strip statistics of a percentile stretch.

Where a plain band composite maps DN to 8 bits through one lookup table per channel
(:func:`s2render.core.render.compose_strip`), these kinds need real values: each band window
becomes float32 reflectance, ``(DN + offset) / quantification`` clamped at 0 (DESIGN.md section
5), with DN 0 and DN 65535 (saturated) as NaN. SCL keeps its class values (0 = no data, NaN
too). Expressions are evaluated on those arrays, then coloured (ramp or class table) or stretched
to 8 bits, and the RGBA rows go into the rendering's canvas like every other strip.

Every kind hides the same pixels (:func:`hidden_pixels`): no data in any band read, saturated in
any band, and the cloud mask's SCL classes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from s2render.core.bands import BANDS
from s2render.core.colormap import Colormap
from s2render.core.encode import CANVAS_BANDS
from s2render.core.errors import RenderError
from s2render.core.masks import CLOUD_CLASSES, SATURATED_DN, classes_in, scl_mask
from s2render.core.plan import RenderPlan, StripResult
from s2render.core.statistics import PercentileRanges, histogram_of_dn, histogram_of_values
from s2render.core.tonemap import optimized_true_color


@dataclass(frozen=True)
class Hidden:
    """The pixels a strip's masks hide, and their counts (see :class:`StripResult`)."""

    pixels: np.ndarray | None  # pixels with data that are hidden; None when there are none
    data: int  # pixels with data in every band
    saturated: int = 0
    masked: int = 0
    cloudy: int = -1


def split_arrays(
    plan: RenderPlan, strip: int, arrays: Sequence[np.ndarray]
) -> tuple[Sequence[np.ndarray], np.ndarray | None]:
    """The band windows and the cloud mask's SCL window (None without a cloud mask)."""
    expected = len(plan.bands) + (plan.mask_file is not None)
    if len(arrays) != expected:
        raise RenderError(
            f"strip {strip}: {len(arrays)} windows for bands {plan.bands}"
            + (" and the SCL mask" if plan.mask_file is not None else "")
        )
    if plan.mask_file is None:
        return arrays, None
    return arrays[:-1], arrays[-1]


def saturated_pixels(arrays: Sequence[np.ndarray]) -> np.ndarray | None:
    """Pixels at DN 65535 in any band (None when there are none): a max per band first, so a
    strip without saturation costs one quick reduction per band."""
    found = None
    for dn in arrays:
        if dn.dtype.kind not in "ui" or np.iinfo(dn.dtype).max < SATURATED_DN:
            continue
        if int(dn.max(initial=0)) == SATURATED_DN:
            hit = dn == SATURATED_DN
            found = hit if found is None else found | hit
    return found


def hidden_pixels(
    plan: RenderPlan, arrays: Sequence[np.ndarray], scl: np.ndarray | None, data: np.ndarray
) -> Hidden:
    """What the masks hide among the pixels with ``data``: saturated, then cloud-masked."""
    n_data = int(np.count_nonzero(data))
    saturated = saturated_pixels(arrays)
    pixels = None
    n_saturated = 0
    if saturated is not None:
        pixels = saturated & data
        n_saturated = int(np.count_nonzero(pixels))
    if scl is None:
        return Hidden(pixels, n_data, n_saturated)
    classes = plan.spec.cloud_mask or ()
    d = plan.spec.cloud_dilation
    inner = scl[d : scl.shape[0] - d, d : scl.shape[1] - d] if d else scl
    if inner.shape != data.shape:
        raise RenderError(f"SCL window {scl.shape} does not fit the strip {data.shape} + {d}")
    cloudy = int(np.count_nonzero(classes_in(inner, CLOUD_CLASSES) & data))
    masked = scl_mask(scl, classes, d) & data
    if pixels is not None:
        masked &= ~pixels
        pixels |= masked
    else:
        pixels = masked
    return Hidden(pixels, n_data, n_saturated, int(np.count_nonzero(masked)), cloudy)


def _shown(
    plan: RenderPlan, strip: int, arrays: Sequence[np.ndarray]
) -> tuple[Sequence[np.ndarray], np.ndarray, Hidden]:
    """The band windows, the pixels that stay visible (data in every band, not hidden), and
    what the masks hid."""
    bands, scl = split_arrays(plan, strip, arrays)
    data = np.logical_and.reduce([dn != 0 for dn in bands])
    hidden = hidden_pixels(plan, bands, scl, data)
    shown = data if hidden.pixels is None else data & ~hidden.pixels
    return bands, shown, hidden


def band_values(
    plan: RenderPlan, strip: int, arrays: Sequence[np.ndarray]
) -> dict[str, np.ndarray]:
    """Each band window as float32: reflectance for spectral bands, class values for SCL; NaN
    where the DN is 0 (no data)."""
    w = plan.strips[strip]
    shape = (int(w.height), int(w.width))
    if len(arrays) != len(plan.bands):
        raise RenderError(f"strip {strip}: {len(arrays)} band windows for bands {plan.bands}")
    values = {}
    for band, dn, offset, quant in zip(
        plan.bands, arrays, plan.offsets, plan.quantification, strict=True
    ):
        if dn.shape != shape:
            raise RenderError(f"strip {strip}: {band} window {dn.shape} != {shape}")
        v = dn.astype(np.float32)
        if BANDS[band].spectral:
            v += np.float32(offset)
            v /= np.float32(quant)
            np.maximum(v, 0, out=v)
        v[dn == 0] = np.nan
        if dn.dtype.kind in "ui" and np.iinfo(dn.dtype).max >= SATURATED_DN:
            v[dn == SATURATED_DN] = np.nan
        values[band] = v
    return values


def channel_values(plan: RenderPlan, strip: int, arrays: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The three display channels of a composite kind, float32 with NaN = no data."""
    values = band_values(plan, strip, arrays)
    if plan.kind == "expressions":
        return [expression.evaluate(values) for expression in plan.channels]
    return [values[band] for band in plan.bands]


def strip_statistics(plan: RenderPlan, strip: int, *arrays: np.ndarray) -> np.ndarray:
    """Per-channel histograms (3, HIST_BINS) of the strip's valid pixels (valid in every
    channel and not masked: the pixels that will be opaque)."""
    bands, shown, _ = _shown(plan, strip, arrays)
    if plan.kind == "bands":
        return np.stack(
            [
                histogram_of_dn(dn, shown, offset=off, quantification=q)
                for dn, off, q in zip(bands, plan.offsets, plan.quantification, strict=True)
            ]
        )
    channels = channel_values(plan, strip, bands)
    valid = np.logical_and.reduce([np.isfinite(c) for c in channels]) & shown
    return np.stack([histogram_of_values(c, valid) for c in channels])


def stretch_to_uint8(values: np.ndarray, low: float, high: float, gamma: float) -> np.ndarray:
    """``values`` from [low, high] to 0-255 with gamma (rio-color's ``v ** (1 / gamma)``);
    NaN becomes 0."""
    v = (values - np.float32(low)) * np.float32(1.0 / (high - low))
    np.clip(v, 0.0, 1.0, out=v)
    if gamma != 1.0:
        np.power(v, np.float32(1.0 / gamma), out=v)
    v *= 255
    return np.rint(np.nan_to_num(v, nan=0.0)).astype(np.uint8)


def compose_values_strip(
    plan: RenderPlan,
    strip: int,
    *arrays: np.ndarray,
    ranges: PercentileRanges | None = None,
) -> StripResult:
    """One strip of an expressions, colormap or optimized rendering, written into the canvas."""
    start = time.perf_counter()
    bands, shown, hidden = _shown(plan, strip, arrays)
    if plan.kind == "colormap":
        rgba, low, high = _coloured(plan, strip, bands, shown)
    else:
        rgba, low, high = _composited(plan, strip, bands, shown, ranges)
    valid = int(np.count_nonzero(rgba[..., 3]))
    return store_strip(plan, strip, rgba, valid, low, high, hidden, start)


def store_strip(
    plan: RenderPlan,
    strip: int,
    rgba: np.ndarray,
    valid: int,
    low: tuple[int, ...],
    high: tuple[int, ...],
    hidden: Hidden,
    start: float,
) -> StripResult:
    """Write a composed strip into the canvas and count it (every rendering kind ends here)."""
    write_strip(plan, strip, rgba)
    return StripResult(
        rgba.shape[0],
        valid,
        low,
        high,
        time.perf_counter() - start,
        saturated=hidden.saturated,
        masked=hidden.masked,
        cloudy=hidden.cloudy,
        data=hidden.data,
    )


def _coloured(
    plan: RenderPlan, strip: int, arrays: Sequence[np.ndarray], shown: np.ndarray
) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    assert plan.color_table is not None and len(plan.channels) == 1
    values = plan.channels[0].evaluate(band_values(plan, strip, arrays))
    values[~shown] = np.nan  # where() may turn a no-data input into a value
    rgba = plan.color_table.apply(values)
    if not isinstance(plan.color_table, Colormap):
        return rgba, (), ()
    lo, hi = plan.color_table.value_range
    finite = np.isfinite(values)
    return (
        rgba,
        (int(np.count_nonzero(finite & (values < lo))),),
        (int(np.count_nonzero(finite & (values > hi))),),
    )


def _composited(
    plan: RenderPlan,
    strip: int,
    arrays: Sequence[np.ndarray],
    shown: np.ndarray,
    ranges: PercentileRanges | None,
) -> tuple[np.ndarray, tuple[int, ...], tuple[int, ...]]:
    channels = channel_values(plan, strip, arrays)
    valid = np.logical_and.reduce([np.isfinite(c) for c in channels]) & shown
    rgba = np.empty((*valid.shape, CANVAS_BANDS), dtype=np.uint8)
    if plan.kind == "optimized":
        assert plan.tone_curve is not None
        display = optimized_true_color(*channels, curve=plan.tone_curve)
        for c, v in enumerate(display):
            rgba[..., c] = stretch_to_uint8(v, 0.0, 1.0, 1.0)
    else:
        stretch = plan.spec.stretch
        if stretch.is_percentile and ranges is None:
            raise RenderError(f"{plan.output.name}: percentile stretch without its statistics")
        for c, v in enumerate(channels):
            lo, hi = ranges.ranges[c] if ranges is not None else stretch.channel_range(c)
            rgba[..., c] = stretch_to_uint8(v, lo, hi, stretch.gamma)
    invalid = int(valid.size - np.count_nonzero(valid))
    if invalid:
        rgba[~valid, :3] = 0
    rgba[..., 3] = valid
    rgba[..., 3] *= 255
    low = tuple(int(np.count_nonzero(rgba[..., c] == 0)) - invalid for c in range(3))
    high = tuple(int(np.count_nonzero(rgba[..., c] == 255)) for c in range(3))
    return rgba, low, high


def write_strip(plan: RenderPlan, strip: int, rgba: np.ndarray) -> None:
    """Write a strip's RGBA rows at their place in the rendering's raw canvas file."""
    w = plan.strips[strip]
    rows, cols = int(w.height), int(w.width)
    if rgba.shape != (rows, cols, CANVAS_BANDS) or rgba.dtype != np.uint8:
        raise RenderError(f"strip {strip}: RGBA {rgba.shape} {rgba.dtype} != {(rows, cols, 4)}")
    data = np.ascontiguousarray(rgba).data.cast("B")
    offset = (int(w.row_off) - int(plan.window.row_off)) * cols * CANVAS_BANDS
    fd = os.open(plan.canvas, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while len(data):
            n = os.pwrite(fd, data, offset)
            data, offset = data[n:], offset + n
    finally:
        os.close(fd)

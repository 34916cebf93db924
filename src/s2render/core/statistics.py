"""Percentile stretch statistics: fixed-bin histograms per channel, summed, then cut.

A percentile needs every valid pixel of its scope (a rendering, or every rendering of a job), but
holding pixels would make memory grow with the area. Each strip is reduced to a histogram with
fixed bins instead; histograms add up across strips and renderings, and the percentiles are read
off the summed cumulative counts (interpolating linearly inside a bin). With 8,192 bins over
reflectance -1..2 a bin is 0.00037 wide, about 4 DN: finer than any display step of a stretch
over at least 0.1 reflectance. The range leaves room below 0 and above 1.5 for band-maths
channels; values beyond it count in the end bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from s2render.core.stretch import Stretch

HIST_BINS = 8192
HIST_RANGE: tuple[float, float] = (-1.0, 2.0)
BIN_WIDTH = (HIST_RANGE[1] - HIST_RANGE[0]) / HIST_BINS
_SCALE = HIST_BINS / (HIST_RANGE[1] - HIST_RANGE[0])


def histogram_of_values(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Counts (HIST_BINS,) int64 of ``values`` where ``valid``; out-of-range values go to the end
    bins."""
    picked = values[valid].astype(np.float64)
    index = np.clip(np.floor((picked - HIST_RANGE[0]) * _SCALE), 0, HIST_BINS - 1)
    return np.bincount(index.astype(np.intp), minlength=HIST_BINS).astype(np.int64)


def histogram_of_dn(
    dn: np.ndarray, valid: np.ndarray, *, offset: float, quantification: float
) -> np.ndarray:
    """Counts (HIST_BINS,) of the reflectance of integer ``dn`` where ``valid``.

    Counting DN first (one bincount over at most 65,536 values) and moving the counts to
    reflectance bins afterwards costs one pass over the pixels, like the lookup-table path.
    Negative reflectance is clamped to 0, as in :func:`s2render.core.stretch.build_lut`.
    """
    per_dn = np.bincount(dn[valid].ravel(), minlength=65536)
    reflectance = np.maximum((np.arange(per_dn.size) + offset) / quantification, 0.0)
    index = np.clip(np.floor((reflectance - HIST_RANGE[0]) * _SCALE), 0, HIST_BINS - 1)
    counts = np.bincount(index.astype(np.intp), weights=per_dn, minlength=HIST_BINS)
    return np.rint(counts).astype(np.int64)


def percentile_of(counts: np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of a histogram, interpolated inside its bin."""
    cumulative = np.cumsum(counts)
    total = int(cumulative[-1])
    target = q / 100.0 * total
    i = int(np.searchsorted(cumulative, target, side="left"))
    i = min(i, HIST_BINS - 1)
    before = int(cumulative[i - 1]) if i else 0
    inside = int(counts[i])
    fraction = (target - before) / inside if inside else 0.0
    return HIST_RANGE[0] + (i + min(max(fraction, 0.0), 1.0)) * BIN_WIDTH


@dataclass(frozen=True)
class PercentileRanges:
    """The outcome of a percentile stretch: one reflectance range per channel, and over what."""

    ranges: tuple[tuple[float, float], ...]
    percentiles: tuple[float, float]
    scope: str
    pixels: int  # valid pixels counted (per channel position, the first channel's)
    renderings: int
    fallback: bool = False  # no valid pixel: the stretch's fixed ranges were used

    def describe(self) -> dict:
        return {
            "ranges": [list(r) for r in self.ranges],  # exact: the mapping can be rebuilt
            "pixels": self.pixels,
            "renderings": self.renderings,
            "fallback": self.fallback,
            "histogram": {"bins": HIST_BINS, "range": list(HIST_RANGE)},
        }


def reduce_histograms(
    stretch: Stretch, renderings: int, *histograms: np.ndarray
) -> PercentileRanges:
    """Sum per-strip histograms (each (channels, HIST_BINS)) and cut them at the stretch's
    percentiles, channel by channel. Histograms with fewer channels add to the first ones."""
    assert stretch.percentiles is not None, "reduce_histograms needs a percentile stretch"
    channels = max((h.shape[0] for h in histograms), default=3)
    total = np.zeros((channels, HIST_BINS), dtype=np.int64)
    for h in histograms:
        total[: h.shape[0]] += h
    pixels = int(total[0].sum())
    lo_q, hi_q = stretch.percentiles
    ranges = []
    fallback = False
    for c in range(channels):
        if not total[c].any():
            ranges.append(stretch.channel_range(c))
            fallback = True
            continue
        lo, hi = percentile_of(total[c], lo_q), percentile_of(total[c], hi_q)
        ranges.append((lo, max(hi, lo + BIN_WIDTH)))  # a flat channel still gets a range
    return PercentileRanges(
        tuple(ranges), stretch.percentiles, stretch.scope, pixels, renderings, fallback
    )

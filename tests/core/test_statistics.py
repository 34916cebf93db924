"""Percentile statistics from fixed-bin histograms agree with numpy on the pixels themselves."""

from __future__ import annotations

import numpy as np
import pytest

from s2render.core.statistics import (
    BIN_WIDTH,
    HIST_BINS,
    histogram_of_dn,
    histogram_of_values,
    reduce_histograms,
)
from s2render.core.stretch import Stretch, parse_stretch

RNG = np.random.default_rng(4)


def test_dn_histogram_counts_reflectance_with_the_offset_and_no_data():
    dn = np.array([[0, 1000, 1500], [500, 4000, 65535]], dtype=np.uint16)
    valid = dn != 0
    counts = histogram_of_dn(dn, valid, offset=-1000, quantification=10000)
    assert counts.sum() == 5  # DN 0 is not counted
    values = histogram_of_values(
        np.maximum((dn.astype(np.float32) - 1000) / 10000, 0), valid
    )  # negative reflectance clamps to 0, like the lookup table
    np.testing.assert_array_equal(counts, values)


@pytest.mark.parametrize("cut", [(2.0, 98.0), (0.5, 99.5), (10.0, 90.0)])
def test_percentiles_match_numpy_within_a_bin(cut):
    values = RNG.gamma(2.0, 0.05, size=(3, 200, 300)).astype(np.float32)
    valid = RNG.random((200, 300)) > 0.1
    histograms = np.stack([histogram_of_values(v, valid) for v in values])
    ranges = reduce_histograms(Stretch(percentiles=cut), 1, histograms)
    assert ranges.pixels == np.count_nonzero(valid) and not ranges.fallback
    for c in range(3):
        expected = np.percentile(values[c][valid], cut)
        assert ranges.ranges[c] == pytest.approx(tuple(expected), abs=2 * BIN_WIDTH)


def test_strip_histograms_add_up_to_the_whole():
    values = RNG.random((3, 100, 50)).astype(np.float32)
    valid = np.ones((100, 50), dtype=bool)
    whole = np.stack([histogram_of_values(v, valid) for v in values])
    strips = [
        np.stack([histogram_of_values(v[a:b], valid[a:b]) for v in values])
        for a, b in ((0, 30), (30, 64), (64, 100))
    ]
    stretch = parse_stretch("p")
    assert reduce_histograms(stretch, 1, whole) == reduce_histograms(stretch, 1, *strips)


def test_no_valid_pixel_falls_back_to_the_fixed_range():
    empty = np.zeros((3, HIST_BINS), dtype=np.int64)
    ranges = reduce_histograms(Stretch(((0.0, 0.2),), percentiles=(2, 98)), 1, empty)
    assert ranges.fallback and ranges.ranges == ((0.0, 0.2),) * 3 and ranges.pixels == 0


def test_a_flat_channel_still_gets_a_range():
    flat = np.full((10, 10), 0.1, dtype=np.float32)
    h = histogram_of_values(flat, np.ones_like(flat, dtype=bool))
    (lo, hi), *_ = reduce_histograms(parse_stretch("p"), 1, np.stack([h, h, h])).ranges
    assert hi > lo and lo == pytest.approx(0.1, abs=BIN_WIDTH)


def test_values_beyond_the_histogram_land_in_the_end_bins():
    values = np.array([-5.0, 0.0, 9.0], dtype=np.float32)
    counts = histogram_of_values(values, np.ones(3, dtype=bool))
    assert counts[0] == 1 and counts[-1] == 1 and counts.sum() == 3

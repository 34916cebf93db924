import numpy as np
import pytest

from s2render.core.tonemap import (
    OPTIMIZED_CURVES,
    ToneCurve,
    compress_highlights,
    optimized_true_color,
    srgb_encode,
)

L2A = OPTIMIZED_CURVES["L2A"]


def _grey(reflectance: float, curve=L2A) -> float:
    x = np.array([reflectance], dtype=np.float32)
    return float(optimized_true_color(x, x, x, curve=curve)[0][0])


def test_mid_grey_matches_a_hand_computation():
    m = 0.13 / 3.0
    y = (1 + m) / 2  # the highlight curve at mid reflectance
    z = ((y + 0.01) ** 1.8 - 0.01**1.8) / (1.01**1.8 - 0.01**1.8)
    expected = 1.055 * z ** (1 / 2.4) - 0.055
    assert _grey(0.13) == pytest.approx(expected, abs=1e-5)
    assert expected == pytest.approx(0.5968, abs=1e-4)


@pytest.mark.parametrize(
    ("reflectance", "display"), [(0.0, 0.0), (-0.2, 0.0), (3.0, 1.0), (7.0, 1.0)]
)
def test_black_and_white_points(reflectance, display):
    assert _grey(reflectance) == pytest.approx(display, abs=1e-5)


def test_grey_ramp_is_monotone_and_in_range():
    x = np.linspace(-0.1, 4.0, 500, dtype=np.float32)
    out = optimized_true_color(x, x, x)[0]
    assert (np.diff(out) >= 0).all() and out.min() >= 0 and out.max() <= 1


def test_greys_stay_grey():
    x = np.array([0.05, 0.2, 0.9], dtype=np.float32)
    r, g, b = optimized_true_color(x, x, x)
    np.testing.assert_allclose(r, g)
    np.testing.assert_allclose(g, b)


def test_colours_get_more_saturated():
    r, g, b = (np.array([v], dtype=np.float32) for v in (0.08, 0.1, 0.12))
    out = np.concatenate(optimized_true_color(r, g, b))
    no_boost = np.concatenate(optimized_true_color(r, g, b, curve=ToneCurve(saturation=1.0)))
    assert np.ptp(out) > np.ptp(no_boost)


def test_clouds_keep_texture_instead_of_clipping():
    # A fixed 0-0.3 stretch maps both to 255; the highlight curve keeps them 8-bit levels apart.
    bright, brighter = round(255 * _grey(0.6)), round(255 * _grey(0.9))
    assert brighter - bright >= 8 and brighter < 255


def test_no_data_stays_no_data():
    x = np.array([np.nan, 0.1], dtype=np.float32)
    r, _, _ = optimized_true_color(x, x, x)
    assert np.isnan(r[0]) and not np.isnan(r[1])


def test_l1c_removes_the_rayleigh_haze():
    r, g, b = (np.array([v], dtype=np.float32) for v in OPTIMIZED_CURVES["L1C"].rayleigh)
    out = optimized_true_color(r, g, b, curve=OPTIMIZED_CURVES["L1C"])
    assert max(float(c[0]) for c in out) == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize(
    ("reflectance", "expected"),
    [(0.0, 0.0), (3.0, 1.0), (0.13, (1 + 0.13 / 3) / 2), (0.0003, 0.0003 / 0.13)],
)
def test_highlight_curve(reflectance, expected):
    y = compress_highlights(np.array([reflectance]), mid=0.13, maximum=3.0)
    assert float(y[0]) == pytest.approx(expected, rel=1e-2, abs=1e-6)


@pytest.mark.parametrize(
    ("linear", "encoded"), [(0.0, 0.0), (0.0031308, 0.04045), (0.5, 0.735357), (1.0, 1.0)]
)
def test_srgb_transfer_function(linear, encoded):
    assert float(srgb_encode(np.array([linear]))[0]) == pytest.approx(encoded, abs=1e-4)

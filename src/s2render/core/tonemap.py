"""Tone mapping for optimised true colour: highlight compression, gamma, saturation, sRGB.

After Sentinel Hub's "Sentinel-2 L2A / L1C True Color Optimized" custom scripts
(https://custom-scripts.sentinel-hub.com/sentinel-2/l2a_optimized/ and .../l1c_optimized/,
CC BY-SA 4.0): the maths is reimplemented here over numpy arrays; no script text is used.

Per channel, reflectance ``ρ`` becomes a display value in [0, 1] in four steps:

1. Highlight compression. With ``x = clip(ρ / ρmax, 0, 1)`` and ``m = ρmid / ρmax``::

       y = x (m x - 1) / ((2m - 1) x - m)

   a rational curve with y(0) = 0, y(1) = 1 and slope 1/m at 0: dark pixels are stretched as if
   the display range were 0..ρmid, while the curve flattens towards ρmax so that clouds and snow
   keep their texture instead of clipping. Mid reflectance lands at y(m) = (1 + m) / 2.
2. Offset gamma: ``z = ((y + o)^γ - o^γ) / ((1 + o)^γ - o^γ)`` with o = 0.01. It keeps 0 -> 0 and
   1 -> 1 and pulls mid-tones back down; the offset bounds the slope at 0, so shadow noise is
   not amplified the way a plain power law would.
3. Saturation boost around the pixel's grey level: ``c' = clip(mean + s (c - mean), 0, 1)``.
4. sRGB transfer function (IEC 61966-2-1), so shadows are not darkened a second time by the
   display.

The L1C variant first subtracts a minimum Rayleigh path reflectance per channel (top-of-
atmosphere data carries the blue haze that L2A's correction removes) and uses stronger gamma and
saturation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ToneCurve:
    """Constants of the optimised true-colour tone mapping (see the module docstring)."""

    max_reflectance: float = 3.0
    mid_reflectance: float = 0.13
    gamma: float = 1.8
    gamma_offset: float = 0.01
    saturation: float = 1.2
    rayleigh: tuple[float, float, float] = (0.0, 0.0, 0.0)  # subtracted from R, G, B first


OPTIMIZED_CURVES: dict[str, ToneCurve] = {
    "L2A": ToneCurve(),
    "L1C": ToneCurve(gamma=2.3, saturation=1.3, rayleigh=(0.013, 0.024, 0.041)),
}


def compress_highlights(reflectance: np.ndarray, *, mid: float, maximum: float) -> np.ndarray:
    """Step 1: reflectance to [0, 1], steep below ``mid``, flattening towards ``maximum``."""
    x = np.clip(np.asarray(reflectance, dtype=np.float32) / np.float32(maximum), 0.0, 1.0)
    m = np.float32(mid / maximum)
    return x * (m * x - 1) / ((2 * m - 1) * x - m)


def offset_gamma(values: np.ndarray, *, gamma: float, offset: float) -> np.ndarray:
    """Step 2: a power curve through (0, 0) and (1, 1) with a finite slope at 0."""
    low = offset**gamma
    return ((values + np.float32(offset)) ** np.float32(gamma) - np.float32(low)) / np.float32(
        (1 + offset) ** gamma - low
    )


def boost_saturation(
    r: np.ndarray, g: np.ndarray, b: np.ndarray, *, saturation: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 3: push each channel away from the pixel's mean by ``saturation``, clipped to [0, 1]."""
    mean = (r + g + b) / np.float32(3)
    s = np.float32(saturation)
    red, green, blue = (np.clip(mean + s * (c - mean), 0.0, 1.0) for c in (r, g, b))
    return red, green, blue


def srgb_encode(linear: np.ndarray) -> np.ndarray:
    """Step 4: the sRGB transfer function (IEC 61966-2-1) of linear values in [0, 1]."""
    linear = np.asarray(linear, dtype=np.float32)
    with np.errstate(invalid="ignore"):  # the power branch is discarded below 0.0031308
        curve = np.float32(1.055) * np.power(linear, np.float32(1 / 2.4)) - np.float32(0.055)
    return np.where(linear <= 0.0031308, np.float32(12.92) * linear, curve)


def optimized_true_color(
    r: np.ndarray, g: np.ndarray, b: np.ndarray, *, curve: ToneCurve = OPTIMIZED_CURVES["L2A"]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reflectance R, G, B (B04, B03, B02) to display values in [0, 1]; NaN stays NaN."""
    adjusted = []
    for channel, haze in zip((r, g, b), curve.rayleigh, strict=True):
        reflectance = np.asarray(channel, dtype=np.float32) - np.float32(haze)
        y = compress_highlights(
            reflectance, mid=curve.mid_reflectance, maximum=curve.max_reflectance
        )
        adjusted.append(offset_gamma(y, gamma=curve.gamma, offset=curve.gamma_offset))
    saturated = boost_saturation(*adjusted, saturation=curve.saturation)
    red, green, blue = (srgb_encode(c) for c in saturated)
    return red, green, blue

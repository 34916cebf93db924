"""Mapping reflectance to 8-bit display values: fixed or percentile ranges per channel, then gamma.

The whole DN -> 8-bit chain (offset, quantification, clamp, range, gamma, quantise) is folded into
one 65,536-entry lookup table per channel, so a 10980 x 10980 band costs one table lookup per
pixel instead of several float passes over the array.

A percentile stretch has no range until the data is seen: :mod:`s2render.core.statistics` reduces
histograms over the rendering (or over every rendering of a job) to per-channel ranges first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np

from s2render.core.errors import SpecError

# 0-0.3 reflectance with gamma 1.25 keeps vegetation, soil and water distinguishable while
# clouds saturate: the range most true-colour quicklooks use (Sentinel Hub's EO Browser applies
# a gain of 2.5 = 0-0.4; ESA's TCI maps 0-0.2558 linearly). The mild gamma lifts dark land.
DEFAULT_RANGE: tuple[float, float] = (0.0, 0.3)
DEFAULT_GAMMA = 1.25
# The 2-98 % cumulative count cut: QGIS's default band stretch and EO Browser's "auto" contrast.
DEFAULT_PERCENTILES: tuple[float, float] = (2.0, 98.0)

StretchScope = Literal["rendering", "job"]
SCOPES: tuple[str, ...] = ("rendering", "job")


@dataclass(frozen=True)
class Stretch:
    """Reflectance ranges (one for all channels, or one per channel) and a display gamma.

    Gamma follows rio-color's convention: ``out = v ** (1 / gamma)``, so gamma > 1 brightens.
    With ``percentiles`` the ranges are computed per channel from the valid pixels of the
    rendering (``scope="rendering"``) or of every rendering of the job that asks for job scope
    (``scope="job"``, so a batch is comparable side by side); ``ranges`` is then the fallback
    used when there is no valid pixel at all.
    """

    ranges: tuple[tuple[float, float], ...] = (DEFAULT_RANGE,)
    gamma: float = DEFAULT_GAMMA
    percentiles: tuple[float, float] | None = None
    scope: StretchScope = "rendering"

    def __post_init__(self) -> None:
        if len(self.ranges) not in (1, 3):
            raise SpecError(
                "stretch needs one MIN,MAX range or three (one per channel)", field="stretch"
            )
        for lo, hi in self.ranges:
            if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
                raise SpecError(
                    f"stretch range {lo},{hi} is empty: MAX must be greater than MIN "
                    "(reflectance, e.g. 0,0.3)",
                    field="stretch",
                )
        if not (np.isfinite(self.gamma) and self.gamma > 0):
            raise SpecError(f"gamma must be a positive number, got {self.gamma}", field="gamma")
        if self.percentiles is not None:
            lo, hi = self.percentiles
            if not (0 <= lo < hi <= 100):
                raise SpecError(
                    f"percentiles {lo},{hi} must satisfy 0 <= LOW < HIGH <= 100 (e.g. p2,98)",
                    field="stretch",
                )
        if self.scope not in SCOPES:
            raise SpecError(
                f"stretch scope {self.scope!r} is unknown; use rendering or job", field="stretch"
            )

    @property
    def is_percentile(self) -> bool:
        return self.percentiles is not None

    def channel_range(self, channel: int) -> tuple[float, float]:
        return self.ranges[0] if len(self.ranges) == 1 else self.ranges[channel]

    def describe(self, channels: int = 3) -> dict:
        """What was asked; a percentile stretch's applied ranges are added by the renderer."""
        if self.percentiles is not None:
            return {
                "type": "percentile",
                "percentiles": list(self.percentiles),
                "scope": self.scope,
                "gamma": self.gamma,
                "unit": "reflectance",
            }
        return {
            "type": "fixed",
            "ranges": [list(self.channel_range(c)) for c in range(channels)],
            "gamma": self.gamma,
            "unit": "reflectance",
        }


_PERCENTILE_RE = re.compile(r"^(?:percentiles?|p)\s*(?P<cut>.*)$")


def parse_stretch(
    text: str | None, *, gamma: float | None = None, scope: StretchScope = "rendering"
) -> Stretch:
    """Parse ``"MIN,MAX"`` or ``"MIN,MAX;MIN,MAX;MIN,MAX"`` (reflectance), or ``"pLOW,HIGH"``
    (percentiles of the valid pixels; ``"p"`` alone is 2,98) into a Stretch."""
    g = DEFAULT_GAMMA if gamma is None else gamma
    if text is None or not text.strip():
        return Stretch(gamma=g, scope=scope)
    match = _PERCENTILE_RE.match(text.strip().lower())
    if match:
        return Stretch(gamma=g, percentiles=_percentiles(text, match), scope=scope)
    ranges = []
    for part in text.split(";"):
        values = [v for v in part.replace(" ", "").split(",") if v]
        if len(values) != 2:
            raise SpecError(
                f"stretch {text!r}: each range is MIN,MAX (e.g. 0,0.3 or 0,0.3;0,0.25;0,0.2)",
                field="stretch",
            )
        try:
            lo, hi = float(values[0]), float(values[1])
        except ValueError:
            raise SpecError(
                f"stretch {text!r}: {part!r} is not two numbers", field="stretch"
            ) from None
        if max(abs(lo), abs(hi)) > 2:
            raise SpecError(
                f"stretch {text!r} looks like DN: ranges are reflectance, e.g. 0,0.3 for DN 0-3000",
                field="stretch",
            )
        ranges.append((lo, hi))
    return Stretch(tuple(ranges), g, scope=scope)


def _percentiles(text: str, match: re.Match[str]) -> tuple[float, float]:
    cut = match.group("cut").replace(" ", "")
    if not cut:
        return DEFAULT_PERCENTILES
    values = cut.split(",")
    try:
        if len(values) != 2:
            raise ValueError
        return float(values[0]), float(values[1])
    except ValueError:
        raise SpecError(
            f"stretch {text!r}: percentiles are LOW,HIGH, e.g. p2,98 (or p for 2,98)",
            field="stretch",
        ) from None


def build_lut(
    *, offset: float, quantification: float, low: float, high: float, gamma: float
) -> np.ndarray:
    """A uint8 table indexed by DN: reflectance = (DN + offset) / quantification, clamped at 0,
    scaled from [low, high] to [0, 255] with gamma, quantised last. DN 0 (no data) maps to 0."""
    dn = np.arange(65536, dtype=np.float64)
    reflectance = np.maximum((dn + offset) / quantification, 0.0)
    v = np.clip((reflectance - low) / (high - low), 0.0, 1.0)
    if gamma != 1.0:
        v = v ** (1.0 / gamma)
    lut = np.rint(v * 255.0).astype(np.uint8)
    lut[0] = 0
    return lut

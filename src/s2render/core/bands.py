"""The Sentinel-2 MSI band catalogue and which bands each product level holds at each resolution.

Sources: ESA Sentinel-2 User Handbook (ESA-EOPG-CSCOP-TN-0001) table 1 for native resolutions;
S2A spectral response functions (COPE-GSEG-EOPG-TN-15-0007 v3.1) for central wavelengths;
the L2A Product Specification Document (S2-PDGS-TAS-DI-PSD, v14.9) for the R10m/R20m/R60m folder
contents, which the manifests in ``shared/data/safe_layouts_from_manifests`` confirm.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Level = Literal["L1C", "L2A"]
RESOLUTIONS: tuple[int, ...] = (10, 20, 60)


@dataclass(frozen=True)
class BandInfo:
    name: str
    native_resolution: int
    wavelength_nm: float | None  # S2A central wavelength; None for derived L2A layers
    description: str
    levels: tuple[str, ...]
    spectral: bool = True
    categorical: bool = False  # class values: resample with nearest, never average


SPECTRAL_BANDS: tuple[BandInfo, ...] = (
    BandInfo("B01", 60, 442.7, "coastal aerosol", ("L1C", "L2A")),
    BandInfo("B02", 10, 492.4, "blue", ("L1C", "L2A")),
    BandInfo("B03", 10, 559.8, "green", ("L1C", "L2A")),
    BandInfo("B04", 10, 664.6, "red", ("L1C", "L2A")),
    BandInfo("B05", 20, 704.1, "red edge 1", ("L1C", "L2A")),
    BandInfo("B06", 20, 740.5, "red edge 2", ("L1C", "L2A")),
    BandInfo("B07", 20, 782.8, "red edge 3", ("L1C", "L2A")),
    BandInfo("B08", 10, 832.8, "near infrared (broad)", ("L1C", "L2A")),
    BandInfo("B8A", 20, 864.7, "near infrared (narrow)", ("L1C", "L2A")),
    BandInfo("B09", 60, 945.1, "water vapour", ("L1C", "L2A")),
    BandInfo("B10", 60, 1373.5, "SWIR cirrus", ("L1C",)),
    BandInfo("B11", 20, 1613.7, "SWIR 1", ("L1C", "L2A")),
    BandInfo("B12", 20, 2202.4, "SWIR 2", ("L1C", "L2A")),
)
L2A_LAYERS: tuple[BandInfo, ...] = (
    BandInfo("SCL", 20, None, "scene classification", ("L2A",), spectral=False, categorical=True),
    BandInfo("AOT", 10, None, "aerosol optical thickness", ("L2A",), spectral=False),
    BandInfo("WVP", 10, None, "water vapour", ("L2A",), spectral=False),
)
BANDS: dict[str, BandInfo] = {b.name: b for b in SPECTRAL_BANDS + L2A_LAYERS}

# What the L2A IMG_DATA/R{res}m folders hold (PSD v14.9 section 4.3; TCI left out: it is 8-bit
# RGB, not a band). B01 appears in R20m from processing baseline 04.00 on.
L2A_NATIVE: dict[int, tuple[str, ...]] = {
    10: ("B02", "B03", "B04", "B08", "AOT", "WVP"),
    20: ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B8A", "B11", "B12", "SCL", "AOT", "WVP"),
    60: (
        "B01",
        "B02",
        "B03",
        "B04",
        "B05",
        "B06",
        "B07",
        "B8A",
        "B09",
        "B11",
        "B12",
        "SCL",
        "AOT",
        "WVP",
    ),
}

_BAND_RE = re.compile(r"^B?(\d{1,2}|8A)$", re.IGNORECASE)


def normalize_band(name: str) -> str:
    """Return the canonical spelling of a band name: ``b4`` -> ``B04``, ``8a`` -> ``B8A``."""
    text = name.strip().upper()
    if text in BANDS:
        return text
    m = _BAND_RE.match(text)
    if m:
        number = m.group(1)
        canonical = "B8A" if number == "8A" else f"B{int(number):02d}"
        if canonical in BANDS:
            return canonical
    return text


def l2a_native_bands(resolution: int, baseline: str | None = None) -> tuple[str, ...]:
    """Bands an ESA L2A product holds natively in its ``R{resolution}m`` folder."""
    bands = L2A_NATIVE.get(resolution, ())
    if resolution == 20 and baseline is not None and baseline_number(baseline) < 4.0:
        bands = tuple(b for b in bands if b != "B01")
    return bands


def baseline_number(baseline: str) -> float:
    """``"04.00"`` -> 4.0; unparseable baselines sort first."""
    try:
        return float(baseline)
    except ValueError:
        return -1.0


def check_band(name: str, level: str) -> str:
    """Normalise ``name`` and make sure a product of ``level`` can hold it, or raise BandError."""
    from s2render.core.errors import BandError

    band = normalize_band(name)
    info = BANDS.get(band)
    if info is None:
        known = ", ".join(BANDS)
        raise BandError(f"{name!r} is not a Sentinel-2 band; choose one of {known}")
    if level not in info.levels:
        if band == "B10":
            hint = (
                "L2A products drop the cirrus band B10; use an L1C product, or B09 for water vapour"
            )
        elif level == "L1C":
            hint = f"{band} is an L2A product layer; use an L2A product of the same scene"
        else:
            hint = f"{band} exists only in {', '.join(info.levels)} products"
        raise BandError(f"{band} is not available in {level} products: {hint}")
    return band

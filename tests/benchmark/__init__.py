"""Benchmark tests. ``write_tiny_l2a`` builds a small L2A SAFE folder for them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import Affine

from s2render.core.bands import L2A_NATIVE

TILE, SENSED = "T31TCJ", "20240101T103021"
WEST, NORTH = 300000.0, 5000040.0
# A constant DN per band, so that the seed's radiometry (DN // 256 * 10) can be checked exactly.
BAND_DN = {"B02": 5120, "B03": 2560, "B04": 1280, "B06": 768, "B11": 2048, "B12": 3072}


def write_tiny_l2a(root: Path, size: int = 294, bands: dict[str, int] = BAND_DN) -> Path:
    """An L2A .SAFE folder, ``size`` px at 10 m, holding ``bands`` (constant DN) as lossless JP2."""
    safe = root / f"S2B_MSIL2A_{SENSED}_N0510_R008_{TILE}_{SENSED}.SAFE"
    granule = safe / "GRANULE" / f"L2A_{TILE}_A000001_{SENSED}" / "IMG_DATA"
    for res, native in L2A_NATIVE.items():
        folder = granule / f"R{res}m"
        folder.mkdir(parents=True, exist_ok=True)
        n = size * 10 // res
        for band in (b for b in native if b in bands):
            profile = dict(
                driver="JP2OpenJPEG", width=n, height=n, count=1, dtype="uint16",
                crs="EPSG:32631", transform=Affine(res, 0, WEST, 0, -res, NORTH),
                QUALITY=100, REVERSIBLE="YES",
            )  # fmt: skip
            with rasterio.open(folder / f"{TILE}_{SENSED}_{band}_{res}m.jp2", "w", **profile) as d:
                d.write(np.full((n, n), bands[band], dtype="uint16"), 1)
    return safe

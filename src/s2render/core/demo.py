"""A synthetic Sentinel-2 product in the real SAFE layout: the embedded default and benchmark input.

The scene (lakes, a river, a town, fields, forest, clouds with their shadows, thin cirrus and a
partial-swath no-data wedge) is a function of continuous tile coordinates, so every ``size`` shows
the same landscape, with more detail at larger sizes. The band files are encoded like ESA's
(lossless JPEG 2000, 15 significant bits, 1024/640/192 px tiles, 5 resolution levels, PLT
markers; DESIGN.md section 5) and the scene carries enough texture and sensor noise to land at
about the bits per pixel of real band files, so that decoding benchmarks on it mean something.

Generation runs in row strips written to raw memory-mapped files, then each band file is encoded;
both phases can run in worker processes. Everything random is derived from ``seed`` by hashing, so
the same seed gives byte-identical band files whatever the number of processes.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import glob
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import socket
import tempfile
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.warp import transform as warp_transform

from s2render.core.bands import L2A_NATIVE, SPECTRAL_BANDS
from s2render.core.errors import ProductError, RenderError, SpecError

DEFAULT_SIZE = 1098  # a tenth of a tile side at 10 m
FULL_SIZE = 10980  # an ESA tile: 109.8 km at 10 m
MIN_SIZE = 192  # 60 m files of 32 px: GDAL's JP2OpenJPEG driver needs 32 px tiles at least
_MARKER = ".s2render-demo.json"  # written last, so its presence means "complete"

# --- identity of the product -------------------------------------------------------------------
# Tile 33UUU (Brandenburg, DE): MGRS square U/U of UTM zone 33N starts at E 300 km, N 5800 km; the
# Sentinel-2 tile grid puts its upper-left corner at (300000, 5900040) (ESA S2 tiling grid KML).
TILE = "33UUU"
EPSG = 32633
ULX, ULY = 300000.0, 5900040.0
SPACECRAFT = "Sentinel-2B"
SENSING = "20230710T102021"  # after 2022-01-25, so baseline 05.09 with the -1000 offset
DATASTRIP_START = "20230710T102023"
RELATIVE_ORBIT = 65
ABSOLUTE_ORBIT = 33124  # S2B: relative = (absolute - 27) % 143 + 1
GENERATION = {"L1C": "20230710T113209", "L2A": "20230710T131540"}
BASELINE = "05.09"
SUN_ZENITH, SUN_AZIMUTH = 31.6, 158.0  # 52.5 N, 10 July, 10:20 UTC
QUANTIFICATION = 10000
RADIO_OFFSET = -1000  # BOA_ADD_OFFSET / RADIO_ADD_OFFSET from baseline 04.00 (ESA, Jan 2022)
AOT_WVP_QUANTIFICATION = 1000

# --- encoding like ESA's -------------------------------------------------------------------------
# Tile sizes and levels of ESA band files (DESIGN.md section 5; GDAL's JP2OpenJPEG driver doc for
# the option names). Precincts 256x256 at every level as in ESA files (E. Rouault, OpenJPEG PR
# #1246, recompressing an S2 band "with similar parameters as original").
_JP2_TILE = {10: 1024, 20: 640, 60: 192}
_JP2_LEVELS = 5
_TCI_SATURATION = 0.2558  # TCI: reflectance 0..0.2558 -> 1..255, 0 = no data

# --- spectral signatures -------------------------------------------------------------------------
# Surface reflectance per band B01..B12 (B8A after B08; B10 only reaches the sensor through the
# atmosphere model below). Rounded band averages of: green crops/grass and conifers from the
# USGS Spectral Library v7 (Kokaly et al. 2017, USGS DS 1035: "Lawn_Grass", "Pine_Needles") and
# the ESA Sentinel-2 User Handbook vegetation curve; dry cereal straw from USGS v7 "Dry_Grass";
# sandy loam, concrete, asphalt and red clay tiles from the ASTER/ECOSTRESS spectral library
# (Baldridge et al. 2009; Meerdink et al. 2019); lake water from typical inland-water Sentinel-2
# spectra (Pahlevan et al. 2017, RSE 201); thick-cloud top reflectance and its SWIR drop as used
# by Fmask for Sentinel-2 (Zhu & Woodcock 2012; Qiu et al. 2019, RSE 231).
_ENDMEMBERS = ("vegetation", "forest", "dry", "soil", "water", "concrete", "asphalt", "roof")
# fmt: off
_SPECTRA = np.array([  # B01 .. B12 as in SPECTRAL_BANDS; rows follow _ENDMEMBERS
    [0.030, 0.035, 0.075, 0.035, 0.110, 0.300, 0.400, 0.430, 0.450, 0.450, 0.250, 0.190, 0.090],
    [0.020, 0.022, 0.045, 0.022, 0.075, 0.190, 0.245, 0.265, 0.280, 0.280, 0.140, 0.125, 0.055],
    [0.055, 0.065, 0.095, 0.125, 0.165, 0.215, 0.245, 0.270, 0.290, 0.295, 0.320, 0.350, 0.250],
    [0.085, 0.100, 0.130, 0.170, 0.195, 0.215, 0.230, 0.245, 0.255, 0.265, 0.290, 0.305, 0.265],
    [0.065, 0.060, 0.050, 0.030, 0.020, 0.012, 0.010, 0.009, 0.008, 0.006, 0.004, 0.004, 0.003],
    [0.190, 0.210, 0.235, 0.250, 0.260, 0.270, 0.275, 0.285, 0.290, 0.290, 0.300, 0.310, 0.285],
    [0.060, 0.065, 0.070, 0.075, 0.080, 0.085, 0.090, 0.095, 0.098, 0.100, 0.105, 0.115, 0.105],
    [0.060, 0.065, 0.085, 0.170, 0.230, 0.260, 0.280, 0.290, 0.300, 0.300, 0.320, 0.350, 0.300],
], dtype=np.float32).T  # (13 bands, 8 endmembers)
_CLOUD = np.array(
    [0.700, 0.680, 0.670, 0.660, 0.660, 0.650, 0.650, 0.640, 0.630, 0.450, 0.200, 0.420, 0.280],
    dtype=np.float32)
# Thin cirrus adds this spectrum times its thickness (flat in the VNIR, weaker in the SWIR).
_CIRRUS = np.array(
    [1.000, 1.000, 0.950, 0.900, 0.900, 0.900, 0.900, 0.850, 0.850, 0.800, 1.000, 0.600, 0.450],
    dtype=np.float32)
# Share of direct sunlight in the illumination: a cloud shadow keeps only the diffuse sky light,
# which is larger in the blue (Rayleigh scattering).
_DIRECT = np.array(
    [0.550, 0.600, 0.680, 0.740, 0.780, 0.800, 0.820, 0.840, 0.850, 0.850, 0.850, 0.900, 0.920],
    dtype=np.float32)
# L1C top of atmosphere = path + transmittance * surface: order-of-magnitude values of a
# mid-latitude summer atmosphere with AOT550 ~ 0.15 (6S, Vermote et al. 1997). B09 and B10 sit in
# water-vapour absorption bands, so little of the surface reaches the sensor there.
_PATH = np.array(
    [0.100, 0.070, 0.045, 0.028, 0.022, 0.018, 0.015, 0.013, 0.012, 0.008, 0.001, 0.004, 0.002],
    dtype=np.float32)
_TRANSMITTANCE = np.array(
    [0.800, 0.840, 0.880, 0.910, 0.920, 0.930, 0.940, 0.950, 0.950, 0.400, 0.020, 0.960, 0.950],
    dtype=np.float32)
# fmt: on
_BAND_INDEX = {b.name: i for i, b in enumerate(SPECTRAL_BANDS)}

# Sensor noise: sigma^2 = a + b * DN (read noise plus photon noise). S2 SNR at reference radiance
# is ~100-170 (ESA S2 User Handbook table 3), i.e. sigma ~ 12 DN at reflectance 0.2.
_NOISE_VARIANCE = (16.0, 0.07)
# Speckle: sub-pixel heterogeneity of the ground, drawn independently at each resolution (block
# means of 10 m pixels would smooth it away): sigma = additive + multiplicative * reflectance.
# Tuned so that full-tile lossless files land at ESA's bits per pixel (DESIGN.md section 5:
# ~7.5 at 10 m, ~8 at 20 m). Smaller sizes squeeze the same landscape into fewer pixels, so
# their scene structure already carries more bits: the speckle shrinks as (size/10980)^exponent
# (exponents fitted at sizes 2196 and 10980), which keeps the bits per pixel about constant.
_SPECKLE = {  # resolution: (additive, multiplicative, size exponent)
    10: (0.0038, 0.0053, 0.27),
    20: (0.0050, 0.0090, 0.37),
    60: (0.0036, 0.0060, 0.86),
}

# Scene Classification codes (Sen2Cor L2A ATBD, S2-PDGS-MPC-ATBD-L2A, table 3).
SCL_NODATA, SCL_DARK, SCL_SHADOW, SCL_VEGETATION, SCL_NOT_VEGETATED = 0, 2, 3, 4, 5
SCL_WATER, SCL_UNCLASSIFIED, SCL_CLOUD_MEDIUM, SCL_CLOUD_HIGH, SCL_CIRRUS = 6, 7, 8, 9, 10

# Where things are, in fractions of the tile side (u east, v south).
_LAKES = ((0.27, 0.64, 0.08), (0.12, 0.20, 0.022), (0.44, 0.88, 0.028), (0.80, 0.74, 0.018))
_TOWN_V, _TOWN_RADIUS = 0.30, 0.12
# Shadows: the cloud seen from the ground towards the sun; a cloud 3.5 km high casts its shadow
# 3.5 * tan(31.6 deg) = 2.2 km away, 0.02 of the tile side.
_SHADOW_SHIFT = 0.02
_CLOUD_COVER, _CIRRUS_COVER = 0.12, 0.04  # fractions of the tile
_SUN_DU = _SHADOW_SHIFT * math.sin(math.radians(SUN_AZIMUTH))
_SUN_DV = -_SHADOW_SHIFT * math.cos(math.radians(SUN_AZIMUTH))  # v grows southwards


def _nodata_edge(v: np.ndarray) -> np.ndarray:
    """u of the swath edge at v: east of it the tile is outside the orbit's swath (~8%)."""
    return 0.955 - 0.075 * v


# =================================================================================================
# Public API


def write_demo_product(
    dest_dir: str | Path,
    *,
    level: Literal["L2A", "L1C"] = "L2A",
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    processes: int = 1,
) -> Path:
    """Write a synthetic product in the real SAFE layout under dest_dir; return the .SAFE path.

    ``size`` is the side in 10 m pixels (a multiple of 6, at most 10980); ``processes`` > 1 renders
    and encodes in that many worker processes. An existing complete product with the same
    parameters is returned as is; products appear atomically (written aside, then renamed).
    """
    _check_arguments(level, size, seed, processes)
    dest = Path(dest_dir)
    final = dest / _product_name(level)
    params = {"level": level, "size": size, "seed": seed}
    if final.exists():
        return _existing(final, params)
    dest.mkdir(parents=True, exist_ok=True)
    _remove_dead_partials(final)
    work = Path(tempfile.mkdtemp(prefix=f"{_partial_prefix(final)}{os.getpid()}-", dir=dest))
    try:
        _write_product(work, level=level, size=size, seed=seed, processes=processes)
        (work / _MARKER).write_text(json.dumps(params))
        try:
            work.rename(final)
        except OSError:
            if final.exists():  # written meanwhile by another process
                return _existing(final, params)
            raise
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return final


def _check_arguments(level: str, size: int, seed: int, processes: int) -> None:
    if level not in ("L2A", "L1C"):
        raise SpecError(
            f"level {level!r} is not a product level; use 'L2A' or 'L1C'", field="level"
        )
    if not isinstance(size, int) or not MIN_SIZE <= size <= FULL_SIZE or size % 6:
        raise SpecError(
            f"size {size!r} is not a multiple of 6 between {MIN_SIZE} and {FULL_SIZE}: the 20 m "
            f"and 60 m files need size/2 and size/6 pixels, JPEG 2000 tiles at least 32; try "
            f"{DEFAULT_SIZE} or {FULL_SIZE}",
            field="size",
        )
    if not isinstance(seed, int) or seed < 0:
        raise SpecError(f"seed {seed!r} must be a non-negative integer", field="seed")
    if not isinstance(processes, int) or processes < 1:
        raise SpecError(f"processes {processes!r} must be 1 or more", field="processes")


def _partial_prefix(final: Path) -> str:
    """Hidden name prefix of this host's unfinished writes of ``final`` (followed by the pid)."""
    return f".{final.stem}.partial-{socket.gethostname()}-"


def _remove_dead_partials(final: Path) -> None:
    """Delete unfinished writes left by killed processes of this host (gigabytes at full size)."""
    prefix = _partial_prefix(final)
    for partial in final.parent.glob(f"{glob.escape(prefix)}*"):
        pid = partial.name.removeprefix(prefix).split("-")[0]
        if pid.isdigit() and not _process_alive(int(pid)):
            shutil.rmtree(partial, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _existing(final: Path, params: Mapping[str, object]) -> Path:
    marker = final / _MARKER
    found = json.loads(marker.read_text()) if marker.is_file() else None
    if found != params:
        held = "an incomplete or foreign product" if found is None else f"a demo product {found}"
        raise ProductError(
            f"{final} already holds {held}, not {params}; delete it or choose another directory"
        )
    return final


# =================================================================================================
# Layout


@dataclass(frozen=True)
class _Raster:
    """One band file of the product."""

    band: str  # "B02", "TCI", "SCL", "AOT", "WVP"
    resolution: int
    path: str  # relative to the .SAFE folder, with extension

    @property
    def count(self) -> int:
        return 3 if self.band == "TCI" else 1

    @property
    def dtype(self) -> str:
        return "uint8" if self.band in ("TCI", "SCL") else "uint16"


def _product_name(level: str) -> str:
    return (
        f"S2B_MSI{level}_{SENSING}_N{BASELINE.replace('.', '')}_R{RELATIVE_ORBIT:03d}_T{TILE}_"
        f"{GENERATION[level]}.SAFE"
    )


def _granule_dir(level: str) -> str:
    return f"GRANULE/{level}_T{TILE}_A{ABSOLUTE_ORBIT:06d}_{DATASTRIP_START}"


def _layout(level: str) -> list[_Raster]:
    """Band files in the order of the real MTD IMAGE_FILE lists."""
    img = f"{_granule_dir(level)}/IMG_DATA"
    if level == "L1C":
        rasters = [
            _Raster(b.name, b.native_resolution, f"{img}/T{TILE}_{SENSING}_{b.name}.jp2")
            for b in SPECTRAL_BANDS
        ]
        return [*rasters, _Raster("TCI", 10, f"{img}/T{TILE}_{SENSING}_TCI.jp2")]
    rasters = []
    for res, bands in L2A_NATIVE.items():
        spectral = [b for b in bands if b in _BAND_INDEX]
        layers = [b for b in ("TCI", "AOT", "WVP", "SCL") if b in bands or b == "TCI"]
        for band in spectral + layers:
            rasters.append(_Raster(band, res, f"{img}/R{res}m/T{TILE}_{SENSING}_{band}_{res}m.jp2"))
    return rasters


def _transform(resolution: int) -> rasterio.Affine:
    return from_origin(ULX, ULY, resolution, resolution)


# =================================================================================================
# Orchestration


@dataclass(frozen=True)
class _Job:
    """Small picklable description of the product being written, shared by every task."""

    work: str  # the partial .SAFE folder
    level: str
    size: int
    seed: int
    rasters: tuple[_Raster, ...]

    def raw(self, raster: _Raster) -> str:
        return os.path.join(self.work, ".raw", f"{raster.band}_{raster.resolution}m.raw")

    def shape(self, raster: _Raster) -> tuple[int, int, int]:
        n = self.size * 10 // raster.resolution
        return (raster.count, n, n)

    def open_raw(self, raster: _Raster, mode: Literal["r", "r+"]) -> np.memmap:
        return np.memmap(self.raw(raster), dtype=raster.dtype, mode=mode, shape=self.shape(raster))


def _write_product(work: Path, *, level: str, size: int, seed: int, processes: int) -> None:
    job = _Job(str(work), level, size, seed, tuple(_layout(level)))
    (work / ".raw").mkdir()
    for raster in job.rasters:
        (work / raster.path).parent.mkdir(parents=True, exist_ok=True)
        _allocate(job, raster)
    strips = _strips(size)
    encode_order = sorted(job.rasters, key=lambda r: -_nbytes(job, r))  # big files first
    with _worker_pool(processes) as run:
        counts = sum(run(_render_strip, [(job, i, r0, r1) for i, (r0, r1) in enumerate(strips)]))
        sizes = dict(zip(encode_order, run(_encode, [(job, r) for r in encode_order]), strict=True))
    shutil.rmtree(work / ".raw")
    stats = _class_statistics(np.asarray(counts))
    granule = work / _granule_dir(level)
    (granule / "MTD_TL.xml").write_text(_tile_xml(level, size, stats), encoding="utf-8")
    (work / f"MTD_MSI{level}.xml").write_text(_product_xml(job, stats), encoding="utf-8")
    (work / "manifest.safe").write_text(_manifest_xml(job, sizes), encoding="utf-8")


def _nbytes(job: _Job, raster: _Raster) -> int:
    return math.prod(job.shape(raster)) * np.dtype(raster.dtype).itemsize


def _allocate(job: _Job, raster: _Raster) -> None:
    with open(job.raw(raster), "wb") as f:
        f.truncate(_nbytes(job, raster))


def _strips(size: int) -> list[tuple[int, int]]:
    """Row ranges of ~2.4 Mpixel, multiples of 6 rows so that 20 m and 60 m rows are whole."""
    rows = max(6, min(size, (2_400_000 // size) // 6 * 6))
    return [(r, min(r + rows, size)) for r in range(0, size, rows)]


@contextlib.contextmanager
def _worker_pool(processes: int) -> Iterator[Callable[[Callable, list[tuple]], list]]:
    """Yield ``run(fn, argument_tuples) -> results``: inline, or in spawned worker processes."""
    if processes == 1:
        yield lambda fn, args: [fn(*a) for a in args]
        return
    # spawn, not fork: forking a process whose other threads hold GDAL or BLAS locks can deadlock
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(processes, mp_context=context) as pool:

        def run(fn: Callable, args: list[tuple]) -> list:
            futures = [pool.submit(fn, *a) for a in args]
            try:
                return [f.result() for f in futures]
            except concurrent.futures.process.BrokenProcessPool as exc:
                raise RenderError(
                    f"a worker process died while writing the demo product ({exc}); the machine "
                    f"may be out of memory: use fewer processes than {processes}"
                ) from exc

        yield run


# =================================================================================================
# Noise: hashed value noise, so that any strip at any size reproduces the same landscape

_U64 = np.uint64
_MASK64 = 2**64 - 1


def _key(seed: int, name: str) -> int:
    """A 64-bit stream key for one named scene element (crc32: stable across processes)."""
    return (zlib.crc32(name.encode()) * 0x100000001B3 + seed * 0x9E3779B97F4A7C15) & _MASK64


def _hash01(key: int, j: np.ndarray, i: np.ndarray) -> np.ndarray:
    """Uniform float32 in [0, 1) for integer lattice points (j, i) (splitmix64 finaliser)."""
    h = j.astype(_U64) * _U64(0x9E3779B97F4A7C15) + i.astype(_U64) * _U64(0xC2B2AE3D27D4EB4F)
    h += _U64(key & _MASK64)
    h ^= h >> _U64(30)
    h *= _U64(0xBF58476D1CE4E5B9)
    h ^= h >> _U64(27)
    h *= _U64(0x94D049BB133111EB)
    h ^= h >> _U64(31)
    return (h >> _U64(40)).astype(np.float32) * np.float32(2.0**-24)


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * (3 - 2 * t)


def _noise(key: int, u: np.ndarray, v: np.ndarray, fu: float, fv: float) -> np.ndarray:
    """Value noise in [-1, 1] on the grid v (rows) x u (columns), fu x fv lattice cells per tile."""
    offset = _hash01(key, np.array([1, 2]), np.array([0, 0])) * 1000  # decorrelates the octaves
    x, y = u * fu + offset[0], v * fv + offset[1]
    ix, iy = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    tx, ty = _fade((x - ix).astype(np.float32)), _fade((y - iy).astype(np.float32))
    x0, y0 = ix.min(), iy.min()
    rows_at = np.arange(y0, iy.max() + 2)[:, None]
    lattice = _hash01(key, rows_at, np.arange(x0, ix.max() + 2)[None, :]) * 2 - 1
    rows = lattice[iy - y0] * (1 - ty)[:, None] + lattice[iy - y0 + 1] * ty[:, None]
    return rows[:, ix - x0] * (1 - tx) + rows[:, ix - x0 + 1] * tx


def _fbm(
    key: int, u: np.ndarray, v: np.ndarray, f0: float, octaves: int, stretch: float = 1.0
) -> np.ndarray:
    """Fractal sum of ``octaves`` noises from f0 cells per tile, halving amplitude per octave."""
    total = np.zeros((v.size, u.size), np.float32)
    norm = 0.0
    for k in range(octaves):
        amp = 0.5**k
        total += np.float32(amp) * _noise((key + k) & _MASK64, u, v, f0 * 2**k, f0 * 2**k * stretch)
        norm += amp
    return total / np.float32(norm)


def _texture(key: int, u: np.ndarray, v: np.ndarray, size: int, f0: float) -> np.ndarray:
    """fbm from f0 cells per tile down to 2-pixel cells: the detail grows with the size."""
    return _fbm(key, u, v, f0, max(1, int(math.log2(size / 2 / f0)) + 1))


def _smoothstep(lo: float, hi: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _coverage(signed_distance: np.ndarray, pixel: float) -> np.ndarray:
    """Anti-aliased inside fraction of a shape from its signed distance (negative inside)."""
    return np.clip(0.5 - signed_distance / pixel, 0, 1).astype(np.float32)


# =================================================================================================
# The landscape: fractions of the endmembers in each 10 m pixel

_VEG, _FOREST, _DRY, _SOIL, _WATER, _CONCRETE, _ASPHALT, _ROOF = range(len(_ENDMEMBERS))
# Crops of a Brandenburg July: cumulative share, green and dry vegetation fraction ranges.
_CROPS = np.array([
    (0.33, 0.70, 0.95, 0.00, 0.05),  # maize, sugar beet, potatoes: closed green canopy
    (0.56, 0.02, 0.10, 0.55, 0.85),  # ripe cereals
    (0.70, 0.00, 0.08, 0.25, 0.45),  # stubble after harvest
    (0.82, 0.00, 0.04, 0.00, 0.05),  # ploughed bare soil
    (1.00, 0.50, 0.80, 0.10, 0.30),  # meadows and pastures
], dtype=np.float32)  # fmt: skip
# Town blocks: cumulative share, then fractions of roof, concrete, asphalt, vegetation.
_BLOCKS = np.array([
    (0.45, 0.60, 0.15, 0.10, 0.15),  # tiled houses
    (0.70, 0.15, 0.65, 0.15, 0.05),  # flat concrete roofs, yards
    (0.82, 0.05, 0.05, 0.10, 0.80),  # parks
    (0.90, 0.00, 0.15, 0.85, 0.00),  # car parks
    (1.00, 0.35, 0.10, 0.05, 0.50),  # houses with gardens
], dtype=np.float32)  # fmt: skip


def _pick(table: np.ndarray, draw: np.ndarray) -> np.ndarray:
    """Rows of a cumulative-share table chosen by uniform draws: (..., columns)."""
    return table[np.searchsorted(table[:, 0], draw, side="right").clip(0, len(table) - 1), 1:]


def _rotated(u: np.ndarray, v: np.ndarray, cu: float, cv: float, degrees: float):
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    du, dv = u[None, :] - cu, v[:, None] - cv
    return du * c + dv * s, dv * c - du * s


def _window(u: np.ndarray, v: np.ndarray, cu: float, cv: float, radius: float):
    """(rows, columns) slices of the pixels within ``radius`` of (cu, cv), or None."""
    cols, rows = np.flatnonzero(np.abs(u - cu) <= radius), np.flatnonzero(np.abs(v - cv) <= radius)
    if not cols.size or not rows.size:
        return None
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def _fields(seed: int, u: np.ndarray, v: np.ndarray, size: int, w: np.ndarray, vigour) -> None:
    """Parcels on a slightly rotated grid, split in 1-4 fields, each with its crop and vigour."""
    cell = 0.021
    a, b = _rotated(u, v, 0.0, 0.0, 8.0)
    a, b = a / cell, b / cell
    ia, ib = np.floor(a).astype(np.int64), np.floor(b).astype(np.int64)
    fa, fb = (a - ia).astype(np.float32), (b - ib).astype(np.float32)
    del a, b
    k = _key(seed, "fields")
    mode = _hash01(k, ib, ia)
    sa, sb = 0.3 + 0.4 * _hash01(k + 1, ib, ia), 0.3 + 0.4 * _hash01(k + 2, ib, ia)
    split_a, split_b = ((mode > 0.3) & (mode < 0.55)) | (mode > 0.8), mode > 0.55
    parcel = ib * 4 + (split_a & (fa > sa)) + 2 * (split_b & (fb > sb))
    crop = _pick(_CROPS, _hash01(k + 3, parcel, ia))
    t1, t2 = _hash01(k + 4, parcel, ia), _hash01(k + 5, parcel, ia)
    green = np.clip(crop[..., 0] + (crop[..., 1] - crop[..., 0]) * t1 + 0.22 * vigour, 0, 1)
    dry = np.clip((crop[..., 2] + (crop[..., 3] - crop[..., 2]) * t2) * (1 + 0.4 * vigour), 0, 1)
    dry = np.minimum(dry, 1 - green)
    soil_brightness = 0.75 + 0.5 * _hash01(k + 6, parcel, ia)
    edge = np.minimum(np.minimum(fa, 1 - fa), np.minimum(fb, 1 - fb))
    edge = np.where(split_a, np.minimum(edge, np.abs(fa - sa)), edge)
    edge = np.where(split_b, np.minimum(edge, np.abs(fb - sb)), edge)
    hedge = _coverage(edge * cell - 0.00045, 1.0 / size)  # hedgerows and farm tracks
    w[_VEG] = green * (1 - hedge) + 0.3 * hedge
    w[_DRY] = dry * (1 - hedge)
    w[_SOIL] = (1 - green - dry) * soil_brightness * (1 - hedge) + 0.2 * hedge
    w[_FOREST] = 0.5 * hedge


def _forest(seed: int, u: np.ndarray, v: np.ndarray, w: np.ndarray, fine, crowns) -> None:
    """Pine forest patches with small clearings and crown texture."""
    cover = _smoothstep(0.10, 0.115, _fbm(_key(seed, "forest"), u, v, 2.5, 5) + 0.08 * fine)
    clearing = _smoothstep(0.36, 0.42, _fbm(_key(seed, "clearing"), u, v, 40.0, 3))
    canopy = np.zeros_like(w)
    canopy[_FOREST] = (1 - clearing) * (1 + 0.18 * crowns)
    canopy[_VEG] = clearing * 0.45
    canopy[_DRY] = clearing * 0.35
    canopy[_SOIL] = clearing * 0.20
    w *= 1 - cover
    w += canopy * cover


def _river_u(v: np.ndarray) -> np.ndarray:
    """u of the river's centre line at v (it flows north to south through the town)."""
    return (
        0.60
        + 0.05 * np.sin(2 * np.pi * (1.2 * v + 0.15))
        + 0.02 * np.sin(2 * np.pi * (3.1 * v + 0.6))
    )


def _river_slope(v: np.ndarray) -> np.ndarray:
    """du/dv of the river's centre line."""
    return 0.377 * np.cos(2 * np.pi * (1.2 * v + 0.15)) + 0.390 * np.cos(
        2 * np.pi * (3.1 * v + 0.6)
    )


_TOWN_U = float(_river_u(np.array([_TOWN_V]))[0])


def _town(seed: int, u: np.ndarray, v: np.ndarray, size: int, w: np.ndarray) -> None:
    """A town on the river: street grid, ring road, blocks of houses, flats, parks, car parks."""
    window = _window(u, v, _TOWN_U, _TOWN_V, 1.5 * _TOWN_RADIUS)
    if window is None:
        return
    rows, cols = window
    u, v, w = u[cols], v[rows], w[:, rows, cols]
    r = np.hypot(u[None, :] - _TOWN_U, v[:, None] - _TOWN_V)
    warped = r * (1 + 0.3 * _fbm(_key(seed, "town"), u, v, 6.0, 3))
    density = _smoothstep(_TOWN_RADIUS, 0.35 * _TOWN_RADIUS, warped)
    presence = _smoothstep(0.0, 0.15, density)
    block = 0.0034
    p, q = _rotated(u, v, _TOWN_U, _TOWN_V, 20.0)
    bp, bq = np.floor(p / block).astype(np.int64), np.floor(q / block).astype(np.int64)
    k = _key(seed, "blocks")
    shares = _pick(_BLOCKS, _hash01(k, bq, bp))
    lots = np.floor(q / block * 3).astype(np.int64), np.floor(p / block * 3).astype(np.int64)
    houses = 0.7 + 0.6 * _hash01(k + 1, *lots)
    gardens = 0.15 + 0.55 * (1 - density)
    built = 1 - gardens

    def to_line(x: np.ndarray, spacing: float) -> np.ndarray:
        return (np.abs((x / spacing + 0.5) % 1 - 0.5) * spacing).astype(np.float32)

    px = 1.0 / size
    main = np.minimum(to_line(p, 3 * block), to_line(q, 3 * block))
    minor = np.minimum(to_line(p, block), to_line(q, block))
    street = np.maximum(
        _coverage(main - 0.0006, px), _coverage(minor - 0.0003, px) * (density > 0.25)
    )
    street = np.maximum(street, _coverage(np.abs(r - 0.6 * _TOWN_RADIUS) - 0.0007, px))
    urban = np.zeros_like(w)
    urban[_ROOF] = built * shares[..., 0] * houses
    urban[_CONCRETE] = built * shares[..., 1] * houses
    urban[_ASPHALT] = built * shares[..., 2]
    urban[_VEG] = gardens + built * shares[..., 3]
    urban *= 1 - street
    urban[_ASPHALT] += street
    w *= 1 - presence
    w += urban * presence


def _lake(seed: int, index: int, u: np.ndarray, v: np.ndarray, size: int, water) -> None:
    """Add one lake with a ragged shore (noise scaled to the lake) to the water fraction."""
    cu, cv, radius = _LAKES[index]
    window = _window(u, v, cu, cv, 1.8 * radius)
    if window is None:
        return
    rows, cols = window
    u, v = u[cols], v[rows]
    shore = _fbm(_key(seed, f"lake{index}"), u, v, 1.5 / radius, 5)
    d = np.hypot(u[None, :] - cu, (v[:, None] - cv) * 1.15) - radius * (1 + 0.55 * shore)
    water[rows, cols] = np.maximum(water[rows, cols], _coverage(d, 1.0 / size))


def _water(seed: int, u: np.ndarray, v: np.ndarray, size: int) -> np.ndarray:
    """Water fraction: lakes, the river and a canal from the big lake to the river."""
    px = 1.0 / size
    water = np.zeros((v.size, u.size), np.float32)
    for index in range(len(_LAKES)):
        _lake(seed, index, u, v, size, water)
    cols = slice(*np.searchsorted(u, [0.25, 0.75]))
    U, V = u[None, cols], v[:, None]
    centre = _river_u(v)[:, None] + 0.01 * _noise(_key(seed, "river"), np.array([0.5]), v, 1, 9)
    width = 0.0028 + 0.0012 * V
    river = _coverage(np.abs(U - centre) / np.hypot(1, _river_slope(v)[:, None]) - width, px)
    canal_v = 0.645 + 0.012 * np.sin(2 * np.pi * 2.3 * U)
    canal = _coverage(np.abs(V - canal_v) - 0.0011, px) * ((U > 0.3) & (centre > U))
    water[:, cols] = np.maximum(water[:, cols], np.maximum(river, canal))
    return water


def _surface(seed: int, u: np.ndarray, v: np.ndarray, size: int):
    """Endmember fractions (8, H, W), water fraction and shared brightness texture."""
    fine = _texture(_key(seed, "fine"), u, v, size, 24.0)  # within-field vigour, forest edges
    grain = _texture(_key(seed, "grain"), u, v, size, 192.0)  # crowns, roofs, soil clods
    w = np.zeros((len(_ENDMEMBERS), v.size, u.size), np.float32)
    _fields(seed, u, v, size, w, fine)
    _forest(seed, u, v, w, fine, grain)
    _town(seed, u, v, size, w)
    water = _water(seed, u, v, size)
    turbidity = 0.012 * (1 + _fbm(_key(seed, "turbidity"), u, v, 12.0, 2))
    w *= 1 - water
    w[_WATER] += water * (1 - turbidity)
    w[_SOIL] += water * turbidity
    brightness = 1 + (1 - water) * (0.05 * _fbm(_key(seed, "relief"), u, v, 16.0, 4) + 0.04 * grain)
    return w, water, brightness


# =================================================================================================
# The atmosphere: cumulus clouds with soft edges, their shadows, thin cirrus


def _cloud_density(seed: int, u: np.ndarray, v: np.ndarray, size: int | None) -> np.ndarray:
    """Cumulus field: small lumps gathered by a regional pattern and kept off the landmarks;
    without ``size``, the coarse field alone."""
    region = _fbm(_key(seed, "cloud-region"), u, v, 1.5, 2)
    for cu, cv, radius in ((_TOWN_U, _TOWN_V, _TOWN_RADIUS), _LAKES[0]):
        gap = np.exp(-(np.square(u[None, :] - cu) + np.square(v[:, None] - cv)) / (2 * radius**2))
        region -= 0.5 * gap.astype(np.float32)
    density = _fbm(_key(seed, "cloud"), u, v, 14.0, 4) + 0.8 * region
    if size is not None:
        density += 0.05 * _texture(_key(seed, "cloud-detail"), u, v, size, 224.0)
    return density


def _cirrus_streaks(seed: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    region = _fbm(_key(seed, "cirrus-region"), u, v, 1.2, 2)
    return _fbm(_key(seed, "cirrus"), u, v, 3.0, 5, stretch=5.0) + 0.7 * region


@functools.lru_cache(maxsize=4)
def _sky_levels(seed: int) -> tuple[float, float]:
    """Density levels that give every seed ~12% cloud and ~4% thin cirrus, at every size
    (quantiles of the coarse fields on a fixed 256 x 256 grid)."""
    grid = (np.arange(256) + 0.5) / 256
    cloud = float(np.quantile(_cloud_density(seed, grid, grid, None), 1 - _CLOUD_COVER))
    cirrus = float(np.quantile(_cirrus_streaks(seed, grid, grid), 1 - _CIRRUS_COVER))
    return cloud, cirrus


def _atmosphere(seed: int, u: np.ndarray, v: np.ndarray, size: int):
    """Cloud opacity, cloud thickness (brightness), shadow strength and cirrus thickness."""
    cloud_level, cirrus_level = _sky_levels(seed)

    def opacity_of(density: np.ndarray) -> np.ndarray:  # medium-probability cloud from 0.15
        return _smoothstep(cloud_level - 0.04, cloud_level + 0.10, density)

    density = _cloud_density(seed, u, v, size)
    opacity, thickness = opacity_of(density), _smoothstep(cloud_level, cloud_level + 0.3, density)
    del density
    shadow = opacity_of(_cloud_density(seed, u + _SUN_DU, v + _SUN_DV, size))
    streaks = _cirrus_streaks(seed, u, v)  # thickness >= 0.012 (SCL thin cirrus) from the level
    cirrus = 0.035 * _smoothstep(cirrus_level - 0.12, cirrus_level + 0.18, streaks)
    return opacity, thickness, shadow, cirrus


# =================================================================================================
# Rendering a strip of rows into the raw files


def _scene(seed: int, size: int, level: str, r0: int, r1: int):
    """At-sensor reflectance (13, H, W), SCL, cloud opacity, AOT and WVP (DN) of rows r0..r1."""
    u = (np.arange(size) + 0.5) / size
    v = (np.arange(r0, r1) + 0.5) / size
    w, water, brightness = _surface(seed, u, v, size)
    surface = (_SPECTRA @ w.reshape(len(_ENDMEMBERS), -1)).reshape(-1, v.size, u.size)
    del w
    surface *= brightness
    opacity, thickness, shadow, cirrus = _atmosphere(seed, u, v, size)
    scl = _classify(surface, water, opacity, shadow, cirrus)
    surface *= 1 - shadow * _DIRECT[:, None, None]
    if level == "L1C":
        surface = _PATH[:, None, None] + _TRANSMITTANCE[:, None, None] * surface
    surface *= 1 - opacity
    surface += _CLOUD[:, None, None] * ((0.8 + 0.3 * thickness) * opacity)
    surface += _CIRRUS[:, None, None] * cirrus
    aot = 160 + 40 * _fbm(_key(seed, "aot"), u, v, 1.5, 3)
    wvp = 2100 + 250 * _fbm(_key(seed, "wvp"), u, v, 2.0, 4) - 120 * water
    return surface, scl, opacity, aot, wvp


def _classify(surface, water, opacity, shadow, cirrus) -> np.ndarray:
    """Scene classification the way Sen2Cor would label this scene (ATBD decision order)."""
    red, nir = surface[_BAND_INDEX["B04"]], surface[_BAND_INDEX["B08"]]
    ndvi = (nir - red) / np.maximum(nir + red, 1e-6)
    scl = np.where(ndvi > 0.4, SCL_VEGETATION, SCL_NOT_VEGETATED).astype(np.uint8)
    wet = water >= 0.5
    scl[wet] = SCL_WATER
    shade = shadow >= 0.35
    scl[shade] = SCL_SHADOW
    scl[shade & wet] = SCL_DARK
    scl[cirrus >= 0.012] = SCL_CIRRUS
    scl[opacity >= 0.05] = SCL_UNCLASSIFIED
    scl[opacity >= 0.15] = SCL_CLOUD_MEDIUM
    scl[opacity >= 0.55] = SCL_CLOUD_HIGH
    return scl


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    if f == 1:
        return x.astype(np.float32, copy=True)
    h, w = x.shape[0] // f, x.shape[1] // f
    return x.reshape(h, f, w, f).mean(axis=(1, 3), dtype=np.float32)


def _block_mode(classes: np.ndarray, f: int) -> np.ndarray:
    """Majority class of f x f blocks (ties go to the lower code)."""
    if f == 1:
        return classes.copy()
    h, w = classes.shape[0] // f, classes.shape[1] // f
    blocks = classes.reshape(h, f, w, f).transpose(0, 2, 1, 3).reshape(h * w, f * f)
    index = np.arange(h * w)[:, None] * 16 + blocks
    counts = np.bincount(index.ravel(), minlength=h * w * 16).reshape(h * w, 16)
    return counts.argmax(axis=1).astype(np.uint8).reshape(h, w)


def _valid_mask(n: int, row0: int, row1: int) -> np.ndarray:
    """False in the no-data wedge, decided at each resolution's pixel centres."""
    u = (np.arange(n) + 0.5) / n
    v = (np.arange(row0, row1) + 0.5) / n
    return u[None, :] < _nodata_edge(v)[:, None]


def _render_strip(job: _Job, index: int, r0: int, r1: int) -> np.ndarray:
    """Render rows r0..r1 (10 m) into every raw file; return the 20 m SCL histogram."""
    refl, scl, opacity, aot, wvp = _scene(job.seed, job.size, job.level, r0, r1)
    counts = np.zeros(16, np.int64)
    for res in (10, 20, 60):
        f = res // 10
        valid = _valid_mask(job.size // f, r0 // f, r1 // f)
        if res == 20:
            counts += np.bincount(np.where(valid, _block_mode(scl, f), 0).ravel(), minlength=16)
        rng = np.random.default_rng([job.seed, index, res])
        ground = (1 - _block_mean(opacity, f)) * rng.standard_normal(valid.shape, np.float32)
        additive, multiplicative, exponent = _SPECKLE[res]
        ground *= np.float32((job.size / FULL_SIZE) ** exponent)
        dn: dict[str, np.ndarray] = {}
        for raster in (r for r in job.rasters if r.resolution == res):
            if raster.band in _BAND_INDEX:
                band = _BAND_INDEX[raster.band]
                x = _block_mean(refl[band], f)
                seen = _TRANSMITTANCE[band] if job.level == "L1C" else 1  # how much ground shows
                x += (additive + multiplicative * x) * seen * ground
                out = dn[raster.band] = _digitise(x, rng)
            elif raster.band == "TCI":
                out = _tci(dn["B04"], dn["B03"], dn["B02"])
            elif raster.band == "SCL":
                out = _block_mode(scl, f)
            elif raster.band == "AOT":
                out = np.rint(_block_mean(aot, f)).astype(np.uint16)
            else:  # WVP
                noisy = _block_mean(wvp, f) + 6 * rng.standard_normal(valid.shape, np.float32)
                out = np.rint(noisy).astype(np.uint16)
            out[..., ~valid] = 0
            raw = job.open_raw(raster, "r+")
            raw[:, r0 // f : r1 // f] = out.reshape(raster.count, *valid.shape)
            del raw  # no flush: the pages reach the encoder through the page cache
    return counts


def _digitise(reflectance: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Reflectance -> DN with sensor noise and the baseline-04.00 offset, in 15 bits."""
    x = reflectance * QUANTIFICATION
    sigma = np.sqrt(_NOISE_VARIANCE[0] + _NOISE_VARIANCE[1] * np.abs(x))
    x += rng.standard_normal(x.shape, np.float32) * sigma
    return np.clip(np.rint(x) - RADIO_OFFSET, 1, 2**15 - 1).astype(np.uint16)


def _tci(red: np.ndarray, green: np.ndarray, blue: np.ndarray) -> np.ndarray:
    """ESA's true-colour image: reflectance 0..0.2558 -> 1..255 (0 stays no data)."""
    reflectance = (np.stack([red, green, blue]).astype(np.float32) + RADIO_OFFSET) / QUANTIFICATION
    return np.clip(np.rint(1 + reflectance * (254 / _TCI_SATURATION)), 1, 255).astype(np.uint8)


# =================================================================================================
# Encoding


def _encode(job: _Job, raster: _Raster) -> tuple[int, str]:
    """Encode one raw file like ESA's band files; return its size and SHA3-256 for the manifest."""
    data = job.open_raw(raster, "r")
    count, height, width = data.shape
    tile = _JP2_TILE[raster.resolution]
    bx, by = min(tile, width), min(tile, height)
    levels = min(_JP2_LEVELS, int(math.log2(min(bx, by))) + 1)
    options: dict[str, object] = {
        "REVERSIBLE": "YES",
        "QUALITY": "100",
        "YCC": "NO",
        "BLOCKXSIZE": bx,
        "BLOCKYSIZE": by,
        "RESOLUTIONS": levels,
        "PRECINCTS": ",".join(["{256,256}"] * levels),
        "PLT": "YES",
        "CODEBLOCK_WIDTH": 64,
        "CODEBLOCK_HEIGHT": 64,
    }
    if raster.band in _BAND_INDEX:
        options["NBITS"] = 15
    path = os.path.join(job.work, raster.path)
    profile = {"driver": "JP2OpenJPEG", "width": width, "height": height, "count": count}
    profile |= {
        "dtype": raster.dtype,
        "crs": f"EPSG:{EPSG}",
        "transform": _transform(raster.resolution),
    }
    with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path, "w", **profile, **options) as dst:
        dst.write(np.asarray(data))
    del data
    digest = hashlib.sha3_256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            digest.update(chunk)
    return os.path.getsize(path), digest.hexdigest().upper()


# =================================================================================================
# Metadata documents, modelled on real N05.09 products: MTD_MSIL2A.xml, MTD_TL.xml and
# manifest.safe of S2A_MSIL2A_20230625T234621_N0509_R073_T01WCP, MTD_MSIL1C.xml of
# S2B_MSIL1C_20230823T095559_N0509_R122_T34UCF (element names and nesting of PSD v14.9)

_PSD = "https://psd-14.sentinel2.eo.esa.int/PSD"
# Wavelength MIN/MAX (nm) of the S2 spectral response functions, as in the real MTD files.
_WAVELENGTH_RANGE = {
    "B01": (412, 456), "B02": (456, 533), "B03": (538, 583), "B04": (646, 684),
    "B05": (695, 714), "B06": (731, 749), "B07": (769, 797), "B08": (760, 907),
    "B8A": (837, 881), "B09": (932, 958), "B10": (1337, 1412), "B11": (1539, 1682),
    "B12": (2078, 2320),
}  # fmt: skip
# S2B solar irradiance (W/m2/um) per bandId, from the real S2B N05.09 MTD_MSIL1C.xml above.
_SOLAR_IRRADIANCE = (1874.3, 1959.75, 1824.93, 1512.79, 1425.78, 1291.13, 1175.57, 1041.28,
                     953.93, 817.58, 365.41, 247.08, 87.75)  # fmt: skip
_EARTH_SUN_U = 0.967466  # 1/d^2 on 10 July (d = 1.0167 AU, just after aphelion)
_SCL_NAMES = ("NO_DATA", "SATURATED_DEFECTIVE", "DARK_AREA_PIXELS", "CLOUD_SHADOWS", "VEGETATION",
              "NOT_VEGETATED", "WATER", "UNCLASSIFIED", "CLOUD_MEDIUM_PROBA", "CLOUD_HIGH_PROBA",
              "THIN_CIRRUS", "SNOW_ICE")  # fmt: skip
_QI_NAMES = (
    "NODATA_PIXEL_PERCENTAGE",
    "SATURATED_DEFECTIVE_PIXEL_PERCENTAGE",
    "DARK_FEATURES_PERCENTAGE",
    "CLOUD_SHADOW_PERCENTAGE",
    "VEGETATION_PERCENTAGE",
    "NOT_VEGETATED_PERCENTAGE",
    "WATER_PERCENTAGE",
    "UNCLASSIFIED_PERCENTAGE",
    "MEDIUM_PROBA_CLOUDS_PERCENTAGE",
    "HIGH_PROBA_CLOUDS_PERCENTAGE",
    "THIN_CIRRUS_PERCENTAGE",
    "SNOW_ICE_PERCENTAGE",
)  # fmt: skip  (SCL codes 0..11)


def _class_statistics(counts: np.ndarray) -> dict[str, float]:
    """Image_Content_QI percentages from the 20 m SCL histogram: no data over all pixels, classes
    and cloud cover over valid ones."""
    total, valid = max(int(counts.sum()), 1), max(int(counts[1:].sum()), 1)
    stats = {name: 100.0 * counts[code] / valid for code, name in enumerate(_QI_NAMES)}
    stats["NODATA_PIXEL_PERCENTAGE"] = 100.0 * counts[0] / total
    stats["CLOUDY_PIXEL_PERCENTAGE"] = 100.0 * counts[[8, 9, 10]].sum() / valid
    return stats


def _iso(stamp: str, fraction: str = ".000Z") -> str:
    """``20230710T102021`` -> ``2023-07-10T10:20:21.000Z``."""
    d, t = stamp.split("T")
    return f"{d[:4]}-{d[4:6]}-{d[6:]}T{t[:2]}:{t[2:4]}:{t[4:6]}{fraction}"


def _ids(level: str) -> dict[str, str]:
    gen, n = GENERATION[level], f"N{BASELINE}"
    return {
        "datastrip": f"S2B_OPER_MSI_{level}_DS_2BPS_{gen}_S{DATASTRIP_START}_{n}",
        "tile": f"S2B_OPER_MSI_{level}_TL_2BPS_{gen}_A{ABSOLUTE_ORBIT:06d}_T{TILE}_{n}",
    }


def _footprint(size: int) -> str:
    """EXT_POS_LIST: "lat lon" pairs of the valid-data polygon (tile minus wedge), closed."""
    extent = size * 10.0
    top, bottom = _nodata_edge(np.array([0.0, 1.0]))
    xs = [ULX, ULX + top * extent, ULX + bottom * extent, ULX, ULX]
    ys = [ULY, ULY, ULY - extent, ULY - extent, ULY]
    lons, lats = warp_transform(f"EPSG:{EPSG}", "EPSG:4326", xs, ys)
    return "".join(f"{lat!r} {lon!r} " for lat, lon in zip(lats, lons, strict=True))


def _add(parent: ET.Element, tag: str, text: object = None, **attrib: object) -> ET.Element:
    """Append a child element; ``band_id_`` style keyword names lose their trailing underscore."""
    element = ET.SubElement(parent, tag, {k.rstrip("_"): str(v) for k, v in attrib.items()})
    if text is not None:
        element.text = str(text)
    return element


def _document(root: ET.Element) -> str:
    ET.indent(root, space="  ")
    body = ET.tostring(root, encoding="unicode")
    return f'<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n{body}\n'


def _psd_root(tag: str, schema: str) -> ET.Element:
    return ET.Element(
        f"n1:{tag}",
        {
            "xmlns:n1": schema,
            "xmlns:xsi": "http://www.w3.org/2001/XMLSchema-instance",
            "xsi:schemaLocation": schema,
        },
    )


def _product_xml(job: _Job, stats: dict[str, float]) -> str:
    level, ids, lv = job.level, _ids(job.level), job.level[1:]
    root = _psd_root(f"Level-{lv}_User_Product", f"{_PSD}/User_Product_Level-{lv}.xsd")
    general = _add(root, "n1:General_Info")
    info = _add(general, "Product_Info")
    start = _iso(SENSING, ".024Z")
    doi = {"L1C": "S2_-742ikth", "L2A": "S2_-znk9xsj"}[level]
    for tag, text in (
        ("PRODUCT_START_TIME", start),
        ("PRODUCT_STOP_TIME", start),
        ("PRODUCT_URI", _product_name(level)),
        ("PROCESSING_LEVEL", f"Level-{lv}"),
        ("PRODUCT_TYPE", f"S2MSI{lv}"),
        ("PROCESSING_BASELINE", BASELINE),
        ("PRODUCT_DOI", f"https://doi.org/10.5270/{doi}"),
        ("GENERATION_TIME", _iso(GENERATION[level], ".000000Z")),
        ("PREVIEW_IMAGE_URL", "Not applicable"),
        ("PREVIEW_GEO_INFO", "Not applicable"),
    ):
        _add(info, tag, text)
    take = _add(
        info, "Datatake", datatakeIdentifier=f"GS2B_{SENSING}_{ABSOLUTE_ORBIT:06d}_N{BASELINE}"
    )
    for tag, text in (
        ("SPACECRAFT_NAME", SPACECRAFT),
        ("DATATAKE_TYPE", "INS-NOBS"),
        ("DATATAKE_SENSING_START", start),
        ("SENSING_ORBIT_NUMBER", str(RELATIVE_ORBIT)),
        ("SENSING_ORBIT_DIRECTION", "DESCENDING"),
    ):
        _add(take, tag, text)
    _add(_add(info, "Query_Options", completeSingleTile="true"), "PRODUCT_FORMAT", "SAFE_COMPACT")
    granule = _add(
        _add(_add(info, "Product_Organisation"), "Granule_List"),
        "Granule",
        datastripIdentifier=ids["datastrip"],
        granuleIdentifier=ids["tile"],
        imageFormat="JPEG2000",
    )
    for raster in job.rasters:
        _add(granule, "IMAGE_FILE", raster.path.removesuffix(".jp2"))
    _image_characteristics(_add(general, "Product_Image_Characteristics"), level)
    geometric = _add(root, "n1:Geometric_Info")
    footprint = _add(geometric, "Product_Footprint")
    global_footprint = _add(_add(footprint, "Product_Footprint"), "Global_Footprint")
    _add(global_footprint, "EXT_POS_LIST", _footprint(job.size))
    _add(footprint, "RASTER_CS_TYPE", "POINT")
    _add(footprint, "PIXEL_ORIGIN", 1)
    crs = _add(geometric, "Coordinate_Reference_System")
    _add(crs, "GEO_TABLES", "EPSG", version="1")
    _add(crs, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")
    quality = _add(root, "n1:Quality_Indicators_Info")
    _add(quality, "Cloud_Coverage_Assessment", f"{stats['CLOUDY_PIXEL_PERCENTAGE']:.6f}")
    if level == "L1C":
        _add(quality, "Snow_Coverage_Assessment", f"{stats['SNOW_ICE_PERCENTAGE']:.6f}")
    else:
        content = _add(quality, "Image_Content_QI")
        for name in _QI_NAMES:
            _add(content, name, f"{stats[name]:.6f}")
    return _document(root)


def _image_characteristics(parent: ET.Element, level: str) -> None:
    for text, value in (("NODATA", 0), ("SATURATED", 65535)):
        special = _add(parent, "Special_Values")
        _add(special, "SPECIAL_VALUE_TEXT", text)
        _add(special, "SPECIAL_VALUE_INDEX", value)
    order = _add(parent, "Image_Display_Order")
    for tag, channel in (("RED_CHANNEL", 3), ("GREEN_CHANNEL", 2), ("BLUE_CHANNEL", 1)):
        _add(order, tag, channel)
    if level == "L2A":
        values = _add(parent, "QUANTIFICATION_VALUES_LIST")
        _add(values, "BOA_QUANTIFICATION_VALUE", QUANTIFICATION, unit="none")
        _add(values, "AOT_QUANTIFICATION_VALUE", f"{AOT_WVP_QUANTIFICATION:.1f}", unit="none")
        _add(values, "WVP_QUANTIFICATION_VALUE", f"{AOT_WVP_QUANTIFICATION:.1f}", unit="cm")
        offsets = _add(parent, "BOA_ADD_OFFSET_VALUES_LIST")
        offset_tag = "BOA_ADD_OFFSET"
    else:
        _add(parent, "QUANTIFICATION_VALUE", QUANTIFICATION, unit="none")
        offsets, offset_tag = _add(parent, "Radiometric_Offset_List"), "RADIO_ADD_OFFSET"
    for band_id in range(len(SPECTRAL_BANDS)):
        _add(offsets, offset_tag, RADIO_OFFSET, band_id=band_id)
    conversion = _add(parent, "Reflectance_Conversion")
    _add(conversion, "U", _EARTH_SUN_U)
    irradiances = _add(conversion, "Solar_Irradiance_List")
    for band_id, irradiance in enumerate(_SOLAR_IRRADIANCE):
        _add(irradiances, "SOLAR_IRRADIANCE", irradiance, bandId=band_id, unit="W/m²/µm")
    spectral = _add(parent, "Spectral_Information_List")
    for band_id, band in enumerate(SPECTRAL_BANDS):
        physical = "B8A" if band.name == "B8A" else f"B{int(band.name[1:])}"
        info = _add(spectral, "Spectral_Information", bandId=band_id, physicalBand=physical)
        _add(info, "RESOLUTION", band.native_resolution)
        wavelength = _add(info, "Wavelength")
        lo, hi = _WAVELENGTH_RANGE[band.name]
        _add(wavelength, "MIN", lo, unit="nm")
        _add(wavelength, "MAX", hi, unit="nm")
        _add(wavelength, "CENTRAL", band.wavelength_nm, unit="nm")
    if level == "L2A":
        classes = _add(parent, "Scene_Classification_List")
        for code, name in enumerate(_SCL_NAMES):
            entry = _add(classes, "Scene_Classification_ID")
            _add(entry, "SCENE_CLASSIFICATION_TEXT", f"SC_{name}")
            _add(entry, "SCENE_CLASSIFICATION_INDEX", code)


def _tile_xml(level: str, size: int, stats: dict[str, float]) -> str:
    ids, lv = _ids(level), level[1:]
    root = _psd_root(f"Level-{lv}_Tile_ID", f"{_PSD}/S2_PDI_Level-{lv}_Tile_Metadata.xsd")
    general = _add(root, "n1:General_Info")
    if level == "L2A":
        l1c = ids["tile"].replace("L2A", "L1C").replace(GENERATION["L2A"], GENERATION["L1C"])
        _add(general, "L1C_TILE_ID", l1c, metadataLevel="Brief")
    _add(general, "TILE_ID", ids["tile"], metadataLevel="Brief")
    _add(general, "DATASTRIP_ID", ids["datastrip"], metadataLevel="Standard")
    _add(general, "DOWNLINK_PRIORITY", "NOMINAL", metadataLevel="Standard")
    _add(general, "SENSING_TIME", _iso(DATASTRIP_START, ".461329Z"), metadataLevel="Standard")
    archiving = _add(general, "Archiving_Info", metadataLevel="Expertise")
    _add(archiving, "ARCHIVING_CENTRE", "2BPS")
    _add(archiving, "ARCHIVING_TIME", _iso(GENERATION[level], ".861203Z"))
    geometric = _add(root, "n1:Geometric_Info")
    geocoding = _add(geometric, "Tile_Geocoding", metadataLevel="Brief")
    _add(geocoding, "HORIZONTAL_CS_NAME", f"WGS84 / UTM zone {EPSG - 32600}N")
    _add(geocoding, "HORIZONTAL_CS_CODE", f"EPSG:{EPSG}")
    for res in (10, 20, 60):
        grid = _add(geocoding, "Size", resolution=res)
        _add(grid, "NROWS", size * 10 // res)
        _add(grid, "NCOLS", size * 10 // res)
    for res in (10, 20, 60):
        position = _add(geocoding, "Geoposition", resolution=res)
        for tag, value in (("ULX", int(ULX)), ("ULY", int(ULY)), ("XDIM", res), ("YDIM", -res)):
            _add(position, tag, value)
    angles = _add(geometric, "Tile_Angles", metadataLevel="Standard")
    sun = _add(angles, "Mean_Sun_Angle")
    _add(sun, "ZENITH_ANGLE", SUN_ZENITH, unit="deg")
    _add(sun, "AZIMUTH_ANGLE", SUN_AZIMUTH, unit="deg")
    viewing = _add(angles, "Mean_Viewing_Incidence_Angle_List")
    for band_id in range(len(SPECTRAL_BANDS)):  # a tile east of the swath centre
        mean = _add(viewing, "Mean_Viewing_Incidence_Angle", bandId=band_id)
        _add(mean, "ZENITH_ANGLE", f"{8.9 + 0.02 * band_id:.4f}", unit="deg")
        _add(mean, "AZIMUTH_ANGLE", f"{106.5 - 0.1 * band_id:.4f}", unit="deg")
    quality = _add(root, "n1:Quality_Indicators_Info", metadataLevel="Standard")
    content = _add(quality, "Image_Content_QI")
    names = ["CLOUDY_PIXEL_PERCENTAGE"] + (list(_QI_NAMES) if level == "L2A" else [])
    for name in names if level == "L2A" else [*names, "NODATA_PIXEL_PERCENTAGE"]:
        _add(content, name, f"{stats[name]:.6f}")
    return _document(root)


def _data_object_id(level: str, raster: _Raster) -> str:
    """The dataObject IDs real manifests give band files."""
    if level == "L2A":
        return f"IMG_DATA_Band_{raster.band}_{raster.resolution}m_Tile1_Data"
    if raster.band == "TCI":
        return "IMG_DATA_Band_TCI_Tile1_Data"
    same = [b.name for b in SPECTRAL_BANDS if b.native_resolution == raster.resolution]
    return f"IMG_DATA_Band_{raster.resolution}m_{same.index(raster.band) + 1}_Tile1_Data"


def _manifest_xml(job: _Job, files: dict[_Raster, tuple[int, str]]) -> str:
    """A minimal manifest.safe: acquisition, platform, footprint and every file with checksum."""
    level, work, kind = job.level, Path(job.work), f"Level-{job.level[1:]}"
    root = ET.Element(
        "xfdu:XFDU",
        {
            "xmlns:gml": "http://www.opengis.net/gml",
            "xmlns:safe": "http://www.esa.int/safe/sentinel/1.1",
            "xmlns:xfdu": "urn:ccsds:schema:xfdu:1",
            "version": f"esa/safe/sentinel/1.1/sentinel-2/msi/archive_{level.lower()}_user_product",
        },
    )
    package = _add(
        _add(root, "informationPackageMap"),
        "xfdu:contentUnit",
        dmdID="acquisitionPeriod platform",
        pdiID="processing",
        textInfo=f"SENTINEL-2 MSI {kind} User Product",
        unitType=f"Product_{kind}",
    )
    unit = _add(
        package, "xfdu:contentUnit", ID=f"Product_Metadata_{kind}", unitType="Metadata Unit"
    )
    _add(unit, "dataObjectPointer", dataObjectID=f"S2_{kind}_Product_Metadata")
    section = _add(root, "metadataSection")
    for object_id, text_info, tag in (
        ("acquisitionPeriod", "Acquisition Period", "safe:acquisitionPeriod"),
        ("platform", "Platform Description", "safe:platform"),
        ("measurementFrameSet", "Frame Set", "safe:frameSet"),
    ):
        meta = _add(
            section, "metadataObject", ID=object_id, category="DMD", classification="DESCRIPTION"
        )
        wrap = _add(
            meta,
            "metadataWrap",
            mimeType="text/xml",
            textInfo=text_info,
            vocabularyName="Sentinel-SAFE",
        )
        body = _add(_add(wrap, "xmlData"), tag)
        if object_id == "acquisitionPeriod":
            _add(body, "safe:startTime", _iso(SENSING, ".024Z"))
        elif object_id == "platform":
            _add(body, "safe:nssdcIdentifier", "2017-013A")
            _add(body, "safe:familyName", "SENTINEL")
            _add(body, "safe:number", "2B")
        else:
            srs = "http://www.opengis.net/gml/srs/epsg.xml#4326"
            _add(_add(body, "safe:footPrint", srsName=srs), "gml:coordinates", _footprint(job.size))
    objects = _add(root, "dataObjectSection")
    entries = []
    for object_id, href in (
        (f"S2_{kind}_Product_Metadata", f"MTD_MSI{level}.xml"),
        (f"S2_{kind}_Tile1_Metadata", f"{_granule_dir(level)}/MTD_TL.xml"),
    ):
        data = (work / href).read_bytes()
        entries.append((object_id, href, len(data), hashlib.sha3_256(data).hexdigest().upper()))
    for raster in job.rasters:
        entries.append((_data_object_id(level, raster), raster.path, *files[raster]))
    for object_id, href, size, digest in entries:
        mime = "text/xml" if href.endswith(".xml") else "application/octet-stream"
        stream = _add(
            _add(objects, "dataObject", ID=object_id), "byteStream", mimeType=mime, size=size
        )
        _add(stream, "fileLocation", href=f"./{href}", locatorType="URL")
        _add(stream, "checksum", digest, checksumName="SHA3-256")
    return _document(root)

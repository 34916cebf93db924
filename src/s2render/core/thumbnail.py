"""Small RGBA previews of renderings: one per rendering, and the cells of a contact sheet.

A rendering's thumbnail is made from its RGBA canvas while the canvas still exists: the canvas is
memory-mapped and only every n-th row and column is touched (at most about four times the
thumbnail's side), then Pillow shrinks that sample with a Lanczos filter (on premultiplied
alpha). Reading back the encoded output would mean decoding a lossy JPEG or a whole WebP again,
and JPEG has no alpha: the canvas is the same pixels, with their transparency, for a few
milliseconds even for a whole 10 m tile. :func:`file_thumbnail` makes one from any finished
image instead, through GDAL's overviews (COG levels, JPEG's scaled decoding).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning

from s2render.core.encode import CANVAS_BANDS, atomic_path

THUMBNAIL_SIZE = 256  # pixels on the longest side
_OVERSAMPLE = 4  # the sample shrunk by Pillow is up to this many times the thumbnail's side


def _fit(width: int, height: int, size: int) -> tuple[int, int]:
    """``width`` x ``height`` shrunk to ``size`` on the longest side (never enlarged)."""
    scale = min(1.0, size / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _shrink(rgba: np.ndarray, width: int, height: int, size: int) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(rgba))
    target = _fit(width, height, size)
    if image.size != target:
        image = image.resize(target, Image.Resampling.LANCZOS)
    return image


def canvas_thumbnail(
    canvas: Path, width: int, height: int, *, size: int = THUMBNAIL_SIZE
) -> Image.Image:
    """An RGBA thumbnail (longest side ``size``) of a raw RGBA canvas of ``width`` x ``height``."""
    step = max(1, max(width, height) // (_OVERSAMPLE * size))
    pixels = np.memmap(canvas, dtype=np.uint8, mode="r", shape=(height, width, CANVAS_BANDS))
    try:
        sample = np.array(pixels[::step, ::step])
    finally:
        del pixels
    return _shrink(sample, width, height, size)


def file_thumbnail(path: str | Path, *, size: int = THUMBNAIL_SIZE) -> Image.Image:
    """An RGBA thumbnail of a finished image (1, 3 or 4 bands), read at reduced resolution."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # PNG, JPEG, WebP
        src = rasterio.open(path)
    with src:
        width, height = _fit(src.width, src.height, _OVERSAMPLE * size)
        bands = min(src.count, 4)
        data = src.read(
            list(range(1, bands + 1)),
            out_shape=(bands, height, width),
            resampling=Resampling.nearest,
        )
    if bands < 3:
        data = np.concatenate([data[:1]] * 3 + [data[1:2]] * (bands == 2))
    rgba = np.moveaxis(data, 0, -1).astype(np.uint8, copy=False)
    if rgba.shape[-1] == 3:
        rgba = np.dstack([rgba, np.full(rgba.shape[:2], 255, dtype=np.uint8)])
    return _shrink(rgba, src.width, src.height, size)


def write_thumbnail(image: Image.Image, dest: Path) -> Path:
    """Save ``image`` as PNG at ``dest``, atomically."""
    with atomic_path(dest) as tmp:
        image.save(tmp, format="PNG")
    return dest

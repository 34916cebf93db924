"""JPEG encoding in independent row segments, stitched into one baseline JPEG.

A JPEG scan can carry restart markers (RST0-RST7, ITU-T T.81 section B.2.1 and F.1.2.3): at
each one the decoder resets its DC predictors, so the entropy-coded data between two markers
does not depend on anything before it. Each segment — a run of whole MCU rows — is encoded on
its own with identical tables and a restart marker after every MCU row; stitching keeps the
first segment's headers (with the total height patched into SOF0), concatenates the segments'
entropy-coded data, renumbers their restart markers and puts one between segments. Segments
therefore encode in parallel, as soon as their rows exist, and the whole image never has to be
in memory at once.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
from PIL import Image

# 4:2:0 chroma subsampling: an MCU covers 16 x 16 pixels.
MCU_ROWS = 16
QUALITY = 90
_RST = re.compile(rb"\xff[\xd0-\xd7]")
_SOF_MARKERS = {0xC0, 0xC1, 0xC2}


def encode_segment(rgb: np.ndarray, *, quality: int = QUALITY) -> bytes:
    """Encode an (rows, cols, 3) uint8 array as a JPEG with a restart marker per MCU row."""
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(
        buffer,
        "JPEG",
        quality=quality,
        subsampling="4:2:0",
        optimize=False,
        progressive=False,
        restart_marker_rows=1,
    )
    return buffer.getvalue()


def _scan_start(data: bytes) -> tuple[int, int]:
    """Return (offset of the SOF segment's height field, offset where entropy data begins)."""
    if data[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG: no SOI marker")
    pos, height_at = 2, -1
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError(f"JPEG marker expected at byte {pos}")
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in _SOF_MARKERS:
            height_at = pos + 5  # FF Cx, length(2), precision(1), height(2)
        if marker == 0xDA:  # SOS: entropy-coded data follows its header
            if height_at < 0:
                raise ValueError("JPEG without SOF before SOS")
            return height_at, pos + 2 + length
        pos += 2 + length
    raise ValueError("JPEG without SOS marker")


def stitch_segments(segments: Iterable[bytes], height: int, out: BinaryIO) -> None:
    """Write one JPEG of ``height`` rows made of ``segments`` (top to bottom) to ``out``.

    Every segment but the last must hold a whole number of MCU rows.
    """
    counter = 0

    def next_marker() -> bytes:
        nonlocal counter
        marker = bytes((0xFF, 0xD0 + counter % 8))
        counter += 1
        return marker

    for i, data in enumerate(segments):
        height_at, start = _scan_start(data)
        end = len(data) - 2 if data.endswith(b"\xff\xd9") else len(data)
        if i == 0:
            header = bytearray(data[:start])
            header[height_at : height_at + 2] = struct.pack(">H", height)
            out.write(header)
        else:
            out.write(next_marker())
        out.write(_RST.sub(lambda _: next_marker(), data[start:end]))
    out.write(b"\xff\xd9")


def segment_rows(height: int, cuts: Iterable[int]) -> list[tuple[int, int]]:
    """Row ranges of the segments: ``cuts`` (rows where strips begin, relative to the image)
    moved up to whole MCU rows, so each segment but the last spans whole MCU rows."""
    starts = sorted({0, *(min(height, -(-c // MCU_ROWS) * MCU_ROWS) for c in cuts)})
    starts = [s for s in starts if s < height]
    return [(a, b) for a, b in zip(starts, [*starts[1:], height], strict=True)]

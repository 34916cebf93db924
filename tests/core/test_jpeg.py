"""Segment-wise JPEG encoding stitches into the same image as one-shot encoding."""

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from s2render.core.jpeg import MCU_ROWS, encode_segment, segment_rows, stitch_segments


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:1000, 0:700]
    rgb = np.stack([x * 250 / 700, y * 250 / 1000, (x + y) * 250 / 1700], axis=-1)
    return (rgb + rng.integers(0, 5, rgb.shape)).astype(np.uint8)


@pytest.mark.parametrize("cuts", [[0], [0, 160, 470], [0, 16, 32, 999], list(range(0, 1000, 100))])
def test_stitched_segments_decode_exactly_like_one_encoding(image, cuts):
    whole = encode_segment(image)
    segments = segment_rows(len(image), cuts)
    out = io.BytesIO()
    stitch_segments([encode_segment(image[a:b]) for a, b in segments], len(image), out)
    stitched = out.getvalue()
    assert stitched == whole  # same tables, same restart markers: byte for byte
    decoded = np.asarray(Image.open(io.BytesIO(stitched)))
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.abs(decoded.astype(int) - image).mean() < 3


def test_segments_span_whole_mcu_rows_except_the_last():
    segments = segment_rows(1000, [0, 150, 470, 990])
    assert segments[0][0] == 0 and segments[-1][1] == 1000
    assert all(b == c for (_, b), (c, _) in itertools.pairwise(segments))
    assert all((b - a) % MCU_ROWS == 0 for a, b in segments[:-1])

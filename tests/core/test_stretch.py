import numpy as np
import pytest

from s2render.core.errors import SpecError
from s2render.core.stretch import Stretch, build_lut, parse_stretch


def test_lut_applies_offset_quantification_range_and_quantises_last():
    lut = build_lut(offset=-1000, quantification=10000, low=0.0, high=0.3, gamma=1.0)
    assert lut.dtype == np.uint8 and lut.shape == (65536,)
    assert lut[0] == 0  # no data
    assert lut[500] == 0  # negative reflectance clamps to 0
    assert lut[1000] == 0  # reflectance 0
    assert lut[1000 + 1500] == 128  # 0.15 of 0.3 -> 127.5 rounds to 128
    assert lut[1000 + 3000] == 255 and lut[60000] == 255


def test_gamma_above_one_brightens():
    plain = build_lut(offset=0, quantification=10000, low=0, high=0.3, gamma=1.0)
    bright = build_lut(offset=0, quantification=10000, low=0, high=0.3, gamma=2.0)
    assert bright[750] > plain[750]
    assert bright[750] == round(255 * (0.25**0.5))


@pytest.mark.parametrize(
    ("text", "ranges"),
    [
        (None, ((0.0, 0.3),)),
        ("0,0.25", ((0.0, 0.25),)),
        ("0,0.3;0.01,0.25;0,0.2", ((0.0, 0.3), (0.01, 0.25), (0.0, 0.2))),
    ],
)
def test_parse_stretch_valid(text, ranges):
    assert parse_stretch(text).ranges == ranges


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.3,0", "MAX must be greater"),
        ("0", "MIN,MAX"),
        ("a,b", "not two numbers"),
        ("0,3000", "looks like DN"),
        ("0,1;0,1", "one MIN,MAX range or three"),
    ],
)
def test_parse_stretch_rejects_with_a_hint(text, message):
    with pytest.raises(SpecError, match=message) as err:
        parse_stretch(text)
    assert err.value.field == "stretch"


def test_gamma_must_be_positive():
    with pytest.raises(SpecError, match="gamma"):
        Stretch(gamma=0)


@pytest.mark.parametrize(
    ("text", "percentiles"),
    [("p2,98", (2.0, 98.0)), ("p", (2.0, 98.0)), ("P1, 99", (1.0, 99.0)), ("percentile", (2, 98))],
)
def test_parse_percentile_stretch(text, percentiles):
    stretch = parse_stretch(text, scope="job")
    assert stretch.percentiles == percentiles and stretch.scope == "job"
    assert stretch.describe()["type"] == "percentile"


@pytest.mark.parametrize(
    ("text", "message"),
    [("p98,2", "LOW < HIGH"), ("p2", "LOW,HIGH"), ("p-1,50", "0 <= LOW"), ("pa,b", "LOW,HIGH")],
)
def test_parse_percentile_stretch_rejects_with_a_hint(text, message):
    with pytest.raises(SpecError, match=message) as err:
        parse_stretch(text)
    assert err.value.field == "stretch"


def test_scope_must_be_rendering_or_job():
    with pytest.raises(SpecError, match="rendering or job"):
        Stretch(percentiles=(2, 98), scope="batch")  # type: ignore[arg-type]

import pytest

from s2render.core.bands import L2A_NATIVE, check_band, l2a_native_bands, normalize_band
from s2render.core.errors import BandError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("B04", "B04"),
        ("b4", "B04"),
        ("4", "B04"),
        ("8a", "B8A"),
        ("B8a", "B8A"),
        (" scl ", "SCL"),
        ("B12", "B12"),
        ("B13", "B13"),
    ],
)
def test_normalize_band_spellings(text, expected):
    assert normalize_band(text) == expected


def test_l2a_folders_match_the_product_specification():
    assert "B08" in L2A_NATIVE[10] and "B08" not in L2A_NATIVE[20] and "B08" not in L2A_NATIVE[60]
    assert "B10" not in {b for bands in L2A_NATIVE.values() for b in bands}
    assert "B09" in L2A_NATIVE[60] and "B09" not in L2A_NATIVE[20]


def test_b01_at_20m_only_from_baseline_4():
    assert "B01" in l2a_native_bands(20, "05.09")
    assert "B01" not in l2a_native_bands(20, "02.14")


@pytest.mark.parametrize(
    ("band", "level", "hint"),
    [
        ("B10", "L2A", "L1C product"),
        ("SCL", "L1C", "L2A product"),
        ("B13", "L2A", "choose one of"),
        ("NIR", "L1C", "choose one of"),
    ],
)
def test_impossible_bands_are_rejected_with_a_hint(band, level, hint):
    with pytest.raises(BandError, match=hint) as err:
        check_band(band, level)
    assert band.upper() in str(err.value) or band in str(err.value)

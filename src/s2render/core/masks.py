"""Pixel masks beyond no data: saturated pixels, and clouds from the L2A scene classification.

DN 0 is no data and DN 65535 the saturated/defective marker of the L1C and L2A band files
(Sentinel-2 Products Specification Document S2-PDGS-TAS-DI-PSD, "NODATA" and "SATURATED"
special values; DESIGN.md section 5): both are transparent and left out of every figure.

A cloud mask hides the pixels whose SCL class (values and names: Sen2Cor Configuration and User
Manual S2-PDGS-MPC-L2A-SUM, "Scene Classification Values"; see ``palettes.SCL_CLASSES``) is one
of the chosen classes, optionally grown by a square max filter of ``dilation`` output pixels.
The cloud figure counts classes 8, 9 and 10, as Sen2Cor's ``CLOUDY_PIXEL_PERCENTAGE`` does
(medium and high cloud probability plus thin cirrus; L2A Product Definition S2-PDGS-MPC-L2A-PDD).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from s2render.core.errors import SpecError
from s2render.core.product import BandFile, Product

NO_DATA_DN = 0
SATURATED_DN = 65535

# The cloud figure without a cloud mask comes from the 60 m SCL: one small read per rendering.
COVER_RESOLUTION = 60
# Sen2Cor's cloudy pixels: medium and high cloud probability, thin cirrus.
CLOUD_CLASSES: tuple[int, ...] = (8, 9, 10)
# What ``--cloud-mask`` hides when no class is named: clouds and their shadows.
DEFAULT_CLOUD_MASK: tuple[int, ...] = (3, 8, 9, 10)
MAX_DILATION = 256  # output pixels; a wider margin is a different product, not a mask

# Names a user may give for SCL classes (snake case of the Sen2Cor names, plus short forms).
SCL_CLASS_NAMES: dict[str, int] = {
    "no_data": 0,
    "saturated": 1,
    "defective": 1,
    "dark": 2,
    "dark_area": 2,
    "cloud_shadow": 3,
    "cloud_shadows": 3,
    "shadow": 3,
    "vegetation": 4,
    "not_vegetated": 5,
    "bare": 5,
    "water": 6,
    "unclassified": 7,
    "cloud_medium": 8,
    "cloud_high": 9,
    "cirrus": 10,
    "thin_cirrus": 10,
    "snow": 11,
    "ice": 11,
    "snow_ice": 11,
}
SCL_CLASS_GROUPS: dict[str, tuple[int, ...]] = {
    "clouds": DEFAULT_CLOUD_MASK,
    "cloud": CLOUD_CLASSES,
}


def parse_scl_classes(value: str | Iterable[int | str]) -> tuple[int, ...]:
    """SCL classes from ``"clouds"``, ``"cloud_shadow,cirrus,snow"``, ``"3,8,9"`` or a sequence
    of class numbers and names; sorted, without repeats."""
    items = [t for t in value.split(",") if t.strip()] if isinstance(value, str) else list(value)
    classes: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise SpecError(f"SCL class {item!r} is not a class", field="cloud_mask")
        if isinstance(item, int):
            classes.add(_check_class(item))
            continue
        text = str(item).strip().lower().replace("-", "_").replace(" ", "_")
        if text.isdigit():
            classes.add(_check_class(int(text)))
        elif text in SCL_CLASS_GROUPS:
            classes.update(SCL_CLASS_GROUPS[text])
        elif text in SCL_CLASS_NAMES:
            classes.add(SCL_CLASS_NAMES[text])
        else:
            names = ", ".join([*SCL_CLASS_GROUPS, *SCL_CLASS_NAMES])
            raise SpecError(
                f"{item!r} is not an SCL class; give class numbers 0-11 or names: {names}",
                field="cloud_mask",
            )
    if not classes:
        raise SpecError(
            "the cloud mask names no SCL class; e.g. clouds (3,8,9,10) or cloud_high,cirrus",
            field="cloud_mask",
        )
    return tuple(sorted(classes))


def _check_class(value: int) -> int:
    if not 0 <= value <= 11:
        raise SpecError(f"SCL class {value} does not exist; classes are 0-11", field="cloud_mask")
    return value


def class_lookup(classes: Iterable[int]) -> np.ndarray:
    """A boolean table indexed by class value: True for ``classes``."""
    table = np.zeros(65536, dtype=bool)
    table[list(classes)] = True
    return table


def classes_in(scl: np.ndarray, classes: Iterable[int]) -> np.ndarray:
    """Where ``scl`` holds one of ``classes`` (a table lookup: one pass over the pixels)."""
    if scl.dtype in (np.uint8, np.uint16):
        return np.take(class_lookup(classes), scl)
    return np.isin(scl, list(classes))


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` grown by ``pixels`` in every direction: a square (2 * pixels + 1) max filter,
    done as two separable running sums (cost independent of ``pixels``)."""
    if pixels <= 0:
        return mask
    out = mask
    for axis in (0, 1):
        moved = np.moveaxis(out, axis, -1)
        padding = [(0, 0)] * (moved.ndim - 1) + [(pixels + 1, pixels)]
        sums = np.cumsum(np.pad(moved, padding).astype(np.int32), axis=-1)
        width = 2 * pixels + 1
        out = np.moveaxis((sums[..., width:] - sums[..., :-width]) > 0, -1, axis)
    return out


def scl_mask(scl: np.ndarray, classes: Iterable[int], dilation: int = 0) -> np.ndarray:
    """Pixels to hide: ``scl`` in ``classes``, grown by ``dilation``. ``scl`` is read with a
    margin of ``dilation`` pixels on every side (so clouds just outside a strip or the area
    still grow into it); the result is the inner part, without the margin."""
    masked = dilate(classes_in(scl, classes), dilation)
    if dilation:
        masked = masked[dilation:-dilation, dilation:-dilation]
    return masked


def scl_files(
    product: Product, resolution: float, cloud_mask: tuple[int, ...] | None
) -> tuple[BandFile | None, BandFile | None]:
    """The SCL file a cloud mask reads per strip, and the one the cloud figure reads when no
    mask is asked (L2A only; None for L1C or a product without SCL)."""
    has_scl = product.level == "L2A" and "SCL" in product.bands()
    if cloud_mask is not None:
        if product.level != "L2A":
            raise SpecError(
                f"a cloud mask needs the scene classification (SCL) of an L2A product; "
                f"{product.product_id} is {product.level}: use the L2A product of the same "
                "scene, or drop the cloud mask",
                field="cloud_mask",
            )
        if not has_scl:
            raise SpecError(
                f"a cloud mask needs the SCL band; product {product.product_id} holds "
                f"{', '.join(product.bands())}: add its SCL file, or drop the cloud mask",
                field="cloud_mask",
            )
        return product.band_file("SCL", resolution), None
    if not has_scl:
        return None, None
    return None, product.band_file("SCL", COVER_RESOLUTION)

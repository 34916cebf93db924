"""The radiometric offset of a STAC item's DNs, decided "whatever the item claims".

The item's claims (:func:`decide_offset`: processing baseline, earth-search's
``earthsearch:boa_offset_applied``, ``raster:bands`` offset) are checked one way against the data
(:func:`check_offset`): a visible band whose median valid DN is below the offset cannot still
carry it. An explicit override wins over both (stac_product); ``source`` says which rule decided.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pystac
import rasterio

from s2render.core.bands import BANDS, baseline_number
from s2render.core.errors import ProductError
from s2render.core.product import BandFile
from s2render.core.reader import open_level, read_env
from s2render.core.stac_item import band_assets, item_identity

# ESA's BOA_ADD_OFFSET / RADIO_ADD_OFFSET from processing baseline 04.00 (DESIGN.md section 5).
ESA_OFFSET = -1000
QUANTIFICATION = 10000

# A band whose median valid DN is below -offset would have a negative median reflectance: the
# offset must already have been removed from these DNs (SOURCES.md 2b, the 33TWL COGs).
VISIBLE_BANDS = ("B02", "B03", "B04")


@dataclass(frozen=True)
class OffsetDecision:
    """The DN offset (reflectance = (DN + offset) / 10000) and the rule that decided it."""

    offset: int
    source: str


def decide_offset(
    baseline: str | None, boa_offset_applied: bool | None, raster_offset: float | None
) -> OffsetDecision:
    """The offset an item claims for its DNs.

    Processing baseline < 04.00: none (DESIGN.md section 5). From 04.00 ESA's files carry
    BOA_ADD_OFFSET -1000, which earth-search v1 says it removed with
    ``earthsearch:boa_offset_applied: true`` (Element 84's flag; items of the same weeks differ,
    see the sertit/eoreader discussion #120); that flag wins over a contradicting
    ``raster:bands`` offset of -0.1 (SOURCES.md 2b: the 33TWL COGs are offset-free yet declare
    -0.1). Flag false or absent: the ``raster:bands`` offset x 10000 if given, else -1000.
    ``raster_offset`` is in reflectance units, as in the raster extension.
    """
    declared = None if raster_offset is None else round(raster_offset * QUANTIFICATION)
    flag = {True: "true", False: "false", None: "absent"}[boa_offset_applied]
    if baseline is None or baseline_number(baseline) < 0:
        if boa_offset_applied:
            return OffsetDecision(0, "item: earthsearch:boa_offset_applied=true")
        if declared is not None:
            return OffsetDecision(
                declared, f"item: raster:bands offset {raster_offset:g} (no processing baseline)"
            )
        return OffsetDecision(0, "item: no processing baseline, no offset declared")
    if baseline_number(baseline) < 4.0:
        return OffsetDecision(0, f"item: processing baseline {baseline} < 04.00, no offset")
    if boa_offset_applied:
        ignored = f" (raster:bands offset {raster_offset:g} ignored)" if declared else ""
        return OffsetDecision(0, f"item: earthsearch:boa_offset_applied=true{ignored}")
    if declared is not None:
        return OffsetDecision(
            declared,
            f"item: processing baseline {baseline} >= 04.00, earthsearch:boa_offset_applied="
            f"{flag}, raster:bands offset {raster_offset:g}",
        )
    return OffsetDecision(
        ESA_OFFSET,
        f"item: processing baseline {baseline} >= 04.00, earthsearch:boa_offset_applied={flag}, "
        f"ESA BOA_ADD_OFFSET {ESA_OFFSET}",
    )


def check_offset(decision: OffsetDecision, band: str, median_dn: float | None) -> OffsetDecision:
    """Correct a negative offset the data contradicts: if the median valid DN of a visible band
    is below -offset, the median reflectance would be negative, so the offset was already
    removed. One way only: a high median proves nothing (bright desert, snow, cloud)."""
    if decision.offset >= 0 or median_dn is None:
        return decision
    if median_dn < -decision.offset:
        return OffsetDecision(
            0,
            f"data: median {band} DN {median_dn:.0f} < {-decision.offset}, offset already "
            "removed despite the item",
        )
    return OffsetDecision(
        decision.offset,
        f"{decision.source}; data: median {band} DN {median_dn:.0f} >= {-decision.offset} agrees",
    )


def median_dn(band_file: BandFile) -> float | None:
    """Median of the valid (non-zero) DNs of ``band_file``'s smallest overview."""
    path = band_file.path
    try:
        with read_env(path), rasterio.open(path) as src:
            levels = len(src.overviews(1))
        with read_env(path), open_level(path, levels) as src:
            data = src.read(1)
    except rasterio.errors.RasterioIOError as exc:
        raise ProductError(
            f"cannot read {band_file.band} from {path} to check its offset: {exc}"
        ) from exc
    valid = data[data != 0]
    return float(np.median(valid)) if valid.size else None


def claimed_offset(item: pystac.Item) -> OffsetDecision:
    """What the item claims (:func:`decide_offset` over its baseline, its earth-search flag and
    the ``raster:bands`` offset of a visible band); reads nothing."""
    applied = item.properties.get("earthsearch:boa_offset_applied")
    reference = _reference_asset(item, band_assets(item))
    raster: Mapping[str, Any] = {}
    if reference is not None:
        raster_bands = item.assets[reference].extra_fields.get("raster:bands") or [{}]
        raster = raster_bands[0] if isinstance(raster_bands[0], Mapping) else {}
    return decide_offset(
        item_identity(item)["baseline"],
        applied if isinstance(applied, bool) else None,
        raster.get("offset"),
    )


def _reference_asset(item: pystac.Item, bands: dict[str, str]) -> str | None:
    """The asset whose raster:bands offset speaks for the item: a visible band, else any."""
    order = [*VISIBLE_BANDS, *(b.name for b in BANDS.values() if b.spectral)]
    spectral = [k for k, b in bands.items() if BANDS[b].spectral]
    return min(spectral, key=lambda k: order.index(bands[k]), default=None)

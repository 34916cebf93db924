"""Visualisation presets as data: bands or formulas, stretch, colour map, levels, and sources.

Composites follow the band combinations Sentinel Hub's custom-scripts collection and EO Browser
made familiar; the formulas are the published indices. Sentinel Hub's scripts are CC BY-SA: only
the band choices and maths are reused (credited in each ``source``), never script text.

The catalogue is versioned: bump ``CATALOGUE_VERSION`` whenever a preset's output would change,
so a stored rendering can say which definition produced it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from s2render.core.bands import BANDS
from s2render.core.colormap import ClassTable, Colormap, get_colormap
from s2render.core.errors import SpecError
from s2render.core.expression import Expression, parse_expression
from s2render.core.stretch import DEFAULT_GAMMA, DEFAULT_RANGE, Stretch

CATALOGUE_VERSION = "1"

PresetKind = Literal["composite", "index", "classes"]
LEVELS = frozenset({"L1C", "L2A"})
SH = "https://custom-scripts.sentinel-hub.com/sentinel-2"
# Sentinel Hub's composite scripts multiply reflectance by a gain of 2.5, i.e. show 0-0.4.
SH_RANGE = (0.0, 0.4)


@dataclass(frozen=True)
class PresetStretch:
    """How a composite maps reflectance to display values: a fixed range and gamma, or the
    "optimized" tone curve of :mod:`s2render.core.tonemap` (highlight compression)."""

    kind: Literal["fixed", "optimized"] = "fixed"
    range: tuple[float, float] = DEFAULT_RANGE
    gamma: float = DEFAULT_GAMMA

    def __post_init__(self) -> None:
        if self.kind == "fixed":
            self.to_stretch()  # validates range and gamma

    def to_stretch(self) -> Stretch:
        """The equivalent fixed :class:`Stretch`; the optimized kind has none."""
        if self.kind != "fixed":
            raise SpecError(
                "the optimized stretch is a tone curve, not a range; use s2render.core.tonemap",
                field="stretch",
            )
        return Stretch((self.range,), self.gamma)

    def to_dict(self) -> dict:
        if self.kind == "optimized":
            return {"kind": "optimized"}
        return {"kind": "fixed", "range": list(self.range), "gamma": self.gamma}


OPTIMIZED = PresetStretch(kind="optimized")


@dataclass(frozen=True)
class Preset:
    """One visualisation. A composite has three ``bands`` (band names or expressions, R, G, B)
    and a ``stretch``; an index has one ``expression``, a ``colormap`` and the ``value_range`` the
    colours span; a class map has one ``expression`` (a class band) and a class-table colormap."""

    id: str
    title: str
    description: str
    kind: PresetKind
    source: str
    bands: tuple[str, ...] = ()
    stretch: PresetStretch | None = None
    expression: str | None = None
    colormap: str | None = None
    value_range: tuple[float, float] | None = None
    levels: frozenset[str] = LEVELS
    parsed: tuple[Expression, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        one_band = bool(self.expression and self.colormap and not self.bands and not self.stretch)
        shape_ok = {
            "composite": len(self.bands) == 3
            and self.stretch is not None
            and not (self.expression or self.colormap or self.value_range),
            "index": one_band and self.value_range is not None,
            "classes": one_band and self.value_range is None,
        }
        if not shape_ok.get(self.kind, False):
            raise SpecError(
                f"preset {self.id!r} of kind {self.kind!r}: a composite needs three bands and a "
                "stretch; an index an expression, a colormap and a value range; a class map an "
                "expression and a class table",
                field="preset",
            )
        texts = self.bands if self.kind == "composite" else (self.expression or "",)
        object.__setattr__(self, "parsed", tuple(parse_expression(t) for t in texts))
        if self.colormap is not None:
            table = self.color_table()  # the name must exist, the range must not be empty
            wanted = ClassTable if self.kind == "classes" else Colormap
            if not isinstance(table, wanted):
                raise SpecError(
                    f"preset {self.id!r} of kind {self.kind!r} needs a "
                    f"{'class table' if wanted is ClassTable else 'colour ramp'}, "
                    f"not {self.colormap!r}",
                    field="preset",
                )
        if not self.levels or not self.levels <= LEVELS:
            raise SpecError(
                f"preset {self.id!r}: levels {sorted(self.levels)} must be among L1C, L2A",
                field="preset",
            )
        for band in self.required_bands:
            missing = self.levels - set(BANDS[band].levels)
            if missing:
                raise SpecError(
                    f"preset {self.id!r} uses {band}, which {', '.join(sorted(missing))} "
                    "products do not have; restrict its levels",
                    field="preset",
                )

    @property
    def required_bands(self) -> tuple[str, ...]:
        """Every band the preset reads, in ESA order."""
        order = list(BANDS)
        return tuple(sorted({b for e in self.parsed for b in e.bands}, key=order.index))

    def color_table(self) -> Colormap | ClassTable:
        """The colour map spread over ``value_range``, or the class table."""
        if self.colormap is None:
            raise SpecError(
                f"preset {self.id!r} is a composite: it has no colour map", field="preset"
            )
        table = get_colormap(self.colormap)
        if isinstance(table, Colormap) and self.value_range is not None:
            return table.with_range(*self.value_range)
        return table

    def to_dict(self) -> dict:
        """A JSON-ready description (the catalogue version included)."""
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "kind": self.kind,
            "bands": list(self.bands),
            "expression": self.parsed[0].text if self.kind != "composite" else None,
            "colormap": self.colormap,
            "value_range": list(self.value_range) if self.value_range else None,
            "stretch": self.stretch.to_dict() if self.stretch else None,
            "levels": sorted(self.levels),
            "required_bands": list(self.required_bands),
            "source": self.source,
            "catalogue_version": CATALOGUE_VERSION,
        }


def _composite(
    preset_id: str,
    title: str,
    bands: str,
    description: str,
    source: str,
    stretch: PresetStretch = PresetStretch(range=SH_RANGE, gamma=1.0),
) -> Preset:
    return Preset(preset_id, title, description, "composite", source, tuple(bands.split()), stretch)


def _index(
    preset_id: str, title: str, expression: str, colormap: str, description: str, source: str
) -> Preset:
    return Preset(
        preset_id,
        title,
        description,
        "index",
        source,
        expression=expression,
        colormap=colormap,
        value_range=(-1.0, 1.0),
    )


_CATALOGUE: tuple[Preset, ...] = (
    _composite(
        "true-color",
        "True colour",
        "B04 B03 B02",
        "Red, green and blue as the eye sees them; clouds saturate.",
        f"{SH}/true_color/ (range: this project's default stretch, see core/stretch.py)",
        stretch=PresetStretch(),
    ),
    _composite(
        "true-color-optimized",
        "True colour (optimized)",
        "B04 B03 B02",
        "True colour with highlight compression, gamma, saturation boost and sRGB encoding: "
        "clouds and snow keep their texture, shadows stay readable.",
        f"after Sentinel Hub's True Color Optimized scripts, {SH}/l2a_optimized/ and "
        f"{SH}/l1c_optimized/ (maths in core/tonemap.py)",
        stretch=OPTIMIZED,
    ),
    _composite(
        "false-color",
        "False colour (infrared)",
        "B08 B04 B03",
        "Near infrared as red: vegetation red, denser growth darker; cities grey, water dark.",
        f"{SH}/composites/ (RGB 8,4,3); https://earthobservatory.nasa.gov/features/FalseColor",
    ),
    _composite(
        "false-color-urban",
        "False colour (urban)",
        "B12 B11 B04",
        "SWIR 2, SWIR 1 and red: built-up areas stand out in white/purple, vegetation in green.",
        f"{SH}/false-color-urban-rgb/",
    ),
    _composite(
        "swir",
        "SWIR",
        "B12 B8A B04",
        "SWIR 2, narrow NIR and red: moisture in soil and plants, burn scars, snow versus cloud.",
        f"{SH}/swir-rgb/",
    ),
    _composite(
        "agriculture",
        "Agriculture",
        "B11 B08 B02",
        "SWIR 1, NIR and blue: healthy crops bright green, bare soil magenta.",
        f"{SH}/composites/ (RGB 11,8,2)",
    ),
    _composite(
        "geology",
        "Geology",
        "B12 B11 B02",
        "SWIR 2, SWIR 1 and blue: rock and mineral differences, faults and lithology.",
        f"{SH}/composites/ (RGB 12,11,2)",
    ),
    _composite(
        "bathymetric",
        "Bathymetric",
        "B04 B03 B01",
        "Red, green and coastal aerosol: shallow-water depth and turbidity in coastal areas.",
        f"{SH}/composites/ (RGB 4,3,1)",
        stretch=PresetStretch(range=(0.0, 0.25), gamma=1.25),  # water is dark: a tighter range
    ),
    _composite(
        "atmospheric-penetration",
        "Atmospheric penetration",
        "B12 B11 B8A",
        "SWIR 2, SWIR 1 and narrow NIR: sees through haze and smoke; vegetation blue-green.",
        "GISGeography, 'Sentinel 2 Bands and Combinations', "
        "https://gisgeography.com/sentinel-2-bands-combinations/",
    ),
    _index(
        "ndvi",
        "NDVI",
        "(B08 - B04) / (B08 + B04)",
        "ndvi",
        "Normalized difference vegetation index: green biomass; > 0.6 dense canopy.",
        f"Rouse et al. 1974, NASA SP-351; colours after Sentinel Hub EO Browser, {SH}/ndvi/",
    ),
    _index(
        "ndwi",
        "NDWI",
        "(B03 - B08) / (B03 + B08)",
        "ndwi",
        "Normalized difference water index (McFeeters): open water is positive.",
        f"McFeeters 1996, Int. J. Remote Sens. 17(7):1425-1432; {SH}/ndwi/",
    ),
    _index(
        "moisture-index",
        "Moisture index (NDMI)",
        "(B8A - B11) / (B8A + B11)",
        "ndmi",
        "Normalized difference moisture index: water content of vegetation, dry brown to wet blue.",
        f"Gao 1996, Remote Sens. Environ. 58(3):257-266; {SH}/ndmi/",
    ),
    _index(
        "ndsi",
        "NDSI",
        "(B03 - B11) / (B03 + B11)",
        "ndsi",
        "Normalized difference snow index: snow and ice above about 0.4.",
        f"Hall, Riggs & Salomonson 1995, Remote Sens. Environ. 54(2):127-140; {SH}/ndsi/",
    ),
    Preset(
        "scl",
        "Scene classification",
        "Sen2Cor's per-pixel classes: vegetation, water, cloud, shadow, snow... (L2A only).",
        "classes",
        "ESA Sen2Cor L2A Product Definition (S2-PDGS-MPC-L2A-PDD), scene classification values; "
        f"{SH}/scene-classification/",
        expression="SCL",
        colormap="scl",
        levels=frozenset({"L2A"}),
    ),
)
_BY_ID = {preset.id: preset for preset in _CATALOGUE}


def list_presets() -> tuple[Preset, ...]:
    """Every preset of catalogue version ``CATALOGUE_VERSION``, composites first."""
    return _CATALOGUE


def get_preset(preset_id: str) -> Preset:
    """The preset called ``preset_id`` (case-insensitive, ``_`` accepted for ``-``)."""
    key = preset_id.strip().lower().replace("_", "-")
    found = _BY_ID.get(key)
    if found is None:
        close = difflib.get_close_matches(key, _BY_ID, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise SpecError(
            f"unknown preset {preset_id!r}; {hint}choose one of {', '.join(_BY_ID)}",
            field="preset",
        )
    return found

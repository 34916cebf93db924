"""Colour maps for one-band results: continuous ramps, discrete class tables, and their legends.

A :class:`Colormap` interpolates (value, colour) stops into a 256-entry RGBA lookup table over
its value range; a :class:`ClassTable` gives each class value one colour. Both turn an array into
an (..., 4) uint8 RGBA image in which no data (NaN, undefined classes) is fully transparent.
The colour data and its sources are in :mod:`s2render.core.palettes`.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from s2render.core import palettes
from s2render.core.errors import SpecError
from s2render.core.palettes import RGB, Stops

LUT_SIZE = 256


@dataclass(frozen=True)
class Colormap:
    """A continuous ramp: stops (value, RGB) in increasing value order, spanning the map's range."""

    name: str
    stops: Stops
    title: str = ""

    def __post_init__(self) -> None:
        if len(self.stops) < 2:
            raise SpecError(f"colour map {self.name!r} needs at least two stops", field="colormap")
        values = [value for value, _ in self.stops]
        if not all(math.isfinite(v) for v in values) or values != sorted(set(values)):
            raise SpecError(
                f"colour map {self.name!r}: stop values {values} must be finite and increasing",
                field="colormap",
            )
        # Each stop must own a LUT entry, or a stop would not be hit exactly at its value.
        positions = self.positions
        if len(set(positions)) != len(positions):
            raise SpecError(
                f"colour map {self.name!r}: stops closer than 1/255 of the range {values}",
                field="colormap",
            )
        if any(not 0 <= c <= 255 for _, rgb in self.stops for c in rgb):
            raise SpecError(f"colour map {self.name!r}: colours are 0-255 RGB", field="colormap")

    @property
    def value_range(self) -> tuple[float, float]:
        return self.stops[0][0], self.stops[-1][0]

    @property
    def positions(self) -> list[int]:
        """LUT index of each stop."""
        lo, hi = self.value_range
        return [round((value - lo) / (hi - lo) * (LUT_SIZE - 1)) for value, _ in self.stops]

    @cached_property
    def lut(self) -> np.ndarray:
        """(256, 4) uint8 RGBA; entry i is the colour of ``lo + i / 255 * (hi - lo)``."""
        index = np.arange(LUT_SIZE)
        colours = np.array([rgb for _, rgb in self.stops], dtype=np.float64)
        lut = np.full((LUT_SIZE, 4), 255, dtype=np.uint8)
        for channel in range(3):
            lut[:, channel] = np.rint(np.interp(index, self.positions, colours[:, channel]))
        lut.setflags(write=False)
        return lut

    def with_range(self, low: float, high: float) -> Colormap:
        """The same colours spread over ``[low, high]`` (e.g. viridis over NDVI's -1..1)."""
        if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
            raise SpecError(
                f"colour map range {low},{high} is empty: MAX must be greater than MIN",
                field="value_range",
            )
        lo, hi = self.value_range
        scale = (high - low) / (hi - lo)
        stops = tuple((low + (value - lo) * scale, rgb) for value, rgb in self.stops)
        return Colormap(self.name, stops, self.title)

    def reversed(self) -> Colormap:
        """Colours in reverse order over the same range (name suffixed ``_r``)."""
        lo, hi = self.value_range
        stops = tuple((lo + hi - value, rgb) for value, rgb in reversed(self.stops))
        return Colormap(f"{self.name}_r", stops, self.title)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """RGBA uint8 (..., 4) of ``values``; values outside the range take the end colours,
        NaN is transparent."""
        lo, hi = self.value_range
        with np.errstate(over="ignore"):  # float64 beyond float32 becomes ±inf: an end colour
            array = np.asarray(values, dtype=np.float32)
        scaled = (array - np.float32(lo)) * np.float32((LUT_SIZE - 1) / (hi - lo))
        nodata = np.isnan(scaled)
        index = np.rint(np.clip(np.nan_to_num(scaled, nan=0.0), 0, LUT_SIZE - 1)).astype(np.uint8)
        rgba = self.lut[index]
        rgba[nodata] = 0
        return rgba

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": "ramp",
            "title": self.title or self.name,
            "range": list(self.value_range),
            "stops": [[value, _hex(rgb)] for value, rgb in self.stops],
        }


@dataclass(frozen=True)
class ClassEntry:
    value: int
    name: str
    color: RGB
    transparent: bool = False


@dataclass(frozen=True)
class ClassTable:
    """Discrete classes (value -> name, colour); values not in the table render transparent."""

    name: str
    classes: tuple[ClassEntry, ...]
    title: str = ""

    def __post_init__(self) -> None:
        values = [entry.value for entry in self.classes]
        if len(set(values)) != len(values) or not all(0 <= v < LUT_SIZE for v in values):
            raise SpecError(
                f"class table {self.name!r}: values {values} must be unique and 0-255",
                field="colormap",
            )

    @cached_property
    def lut(self) -> np.ndarray:
        """(256, 4) uint8 RGBA indexed by class value."""
        lut = np.zeros((LUT_SIZE, 4), dtype=np.uint8)
        for entry in self.classes:
            lut[entry.value] = (*entry.color, 0 if entry.transparent else 255)
        lut.setflags(write=False)
        return lut

    def apply(self, values: np.ndarray) -> np.ndarray:
        """RGBA uint8 (..., 4) of class values (integers, or floats with NaN as no data)."""
        array = np.asarray(values)
        if array.dtype == np.uint8:
            return self.lut[array]
        valid = (array >= 0) & (array < LUT_SIZE)  # False for NaN
        if array.dtype.kind == "f":
            valid &= array == np.floor(array)
        rgba = self.lut[np.where(valid, array, 0).astype(np.intp)]
        rgba[~valid] = 0
        return rgba

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "type": "classes",
            "title": self.title or self.name,
            "classes": [
                {
                    "value": e.value,
                    "name": e.name,
                    "color": _hex(e.color),
                    "transparent": e.transparent,
                }
                for e in self.classes
            ],
        }


def _hex(rgb: RGB) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _rgb(text: str) -> RGB:
    return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)


def _build_registry() -> dict[str, Colormap | ClassTable]:
    maps: dict[str, Colormap | ClassTable] = {}
    for key, (title, stops) in palettes.INDEX_RAMPS.items():
        maps[key] = Colormap(key, stops, title)
    for key, table in palettes.SAMPLED.items():
        entries = [item.split(":") for item in table.split()]
        stops = tuple((int(i) / (LUT_SIZE - 1), _rgb(colour)) for i, colour in entries)
        maps[key] = Colormap(key, stops, key)
    for key, table in palettes.EVENLY_SPACED.items():
        colours = table.split()
        stops = tuple((i / (len(colours) - 1), _rgb(c)) for i, c in enumerate(colours))
        maps[key] = Colormap(key, stops, palettes.DISPLAY_NAMES[key])
    scl = tuple(
        ClassEntry(value, name, rgb, value in palettes.SCL_TRANSPARENT)
        for value, name, rgb in palettes.SCL_CLASSES
    )
    maps["scl"] = ClassTable("scl", scl, "Scene classification (L2A)")
    return maps


_REGISTRY = _build_registry()


def list_colormaps() -> tuple[str, ...]:
    """Names accepted by :func:`get_colormap` (ramps also take a ``_r`` suffix for reversed)."""
    return tuple(sorted(_REGISTRY))


def get_colormap(name: str) -> Colormap | ClassTable:
    """The colour map or class table called ``name`` (case-insensitive; ``viridis_r`` reverses)."""
    key = name.strip().lower()
    base, reverse = (key[:-2], True) if key.endswith("_r") else (key, False)
    found = _REGISTRY.get(base)
    if found is None or (reverse and not isinstance(found, Colormap)):
        close = difflib.get_close_matches(key, _REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise SpecError(
            f"unknown colour map {name!r}; {hint}choose one of {', '.join(list_colormaps())}",
            field="colormap",
        )
    return found.reversed() if reverse and isinstance(found, Colormap) else found


_PAD = 6
_INK = (0, 0, 0, 255)
_PAPER = (255, 255, 255, 255)


def render_legend(
    colormap: Colormap | ClassTable,
    *,
    title: str | None = None,
    width: int = 320,
    height: int | None = None,
) -> Image.Image:
    """An opaque RGBA legend: a colour bar with ticks for a ramp, swatches with names for classes.

    ``height`` defaults to what the content needs; an explicit height that cannot hold the title
    and one line per class raises SpecError.
    """
    font = ImageFont.load_default()
    text_height = _text_size(font, "Ag")[1]
    heading = title if title is not None else (colormap.title or colormap.name)
    if width < 64:
        raise SpecError(f"legend width {width} is too small; use at least 64 px", field="width")
    if isinstance(colormap, Colormap):
        return _ramp_legend(colormap, heading, width, height, font, text_height)
    return _class_legend(colormap, heading, width, height, font, text_height)


def _text_size(font: ImageFont.ImageFont | ImageFont.FreeTypeFont, text: str) -> tuple[int, int]:
    left, _top, right, bottom = font.getbbox(text)
    return int(right - left), int(bottom)


def _ramp_legend(
    colormap: Colormap,
    heading: str,
    width: int,
    height: int | None,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    text_height: int,
) -> Image.Image:
    fixed = _PAD + text_height + _PAD + 4 + text_height + _PAD  # title, tick marks, labels
    bar_height = 16 if height is None else height - fixed
    if bar_height < 4:
        raise SpecError(
            f"legend height {height} is too small for a colour bar; use at least {fixed + 4} px",
            field="height",
        )
    image = Image.new("RGBA", (width, fixed + bar_height), _PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((_PAD, _PAD), heading, fill=_INK, font=font)
    x0, x1 = _PAD, width - _PAD - 1
    y0 = _PAD + text_height + _PAD
    index = np.rint(np.linspace(0, LUT_SIZE - 1, x1 - x0 + 1)).astype(np.intp)
    bar = np.repeat(colormap.lut[index][np.newaxis], bar_height, axis=0)
    image.paste(Image.fromarray(np.ascontiguousarray(bar), "RGBA"), (x0, y0))
    draw.rectangle((x0, y0, x1, y0 + bar_height - 1), outline=_INK)
    lo, hi = colormap.value_range
    for tick in _nice_ticks(lo, hi):
        x = round(x0 + (tick - lo) / (hi - lo) * (x1 - x0))
        draw.line((x, y0 + bar_height, x, y0 + bar_height + 3), fill=_INK)
        label = f"{tick:g}" if tick != 0 else "0"  # never "-0"
        label_width = _text_size(font, label)[0]
        left = min(max(x - label_width // 2, 0), width - label_width)
        draw.text((left, y0 + bar_height + 4), label, fill=_INK, font=font)
    return image


def _class_legend(
    table: ClassTable,
    heading: str,
    width: int,
    height: int | None,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    text_height: int,
) -> Image.Image:
    header = _PAD + text_height + _PAD
    rows = len(table.classes)
    row_height = text_height + 6 if height is None else (height - header - _PAD) // rows
    if row_height < text_height + 2:
        needed = header + _PAD + rows * (text_height + 2)
        raise SpecError(
            f"legend height {height} is too small for {rows} classes; use at least {needed} px",
            field="height",
        )
    total = header + rows * row_height + _PAD if height is None else height
    image = Image.new("RGBA", (width, total), _PAPER)
    draw = ImageDraw.Draw(image)
    draw.text((_PAD, _PAD), heading, fill=_INK, font=font)
    swatch = row_height - 4
    for row, entry in enumerate(table.classes):
        y = header + row * row_height
        box = (_PAD, y, _PAD + swatch * 2 - 1, y + swatch - 1)
        # A transparent class is shown as an empty outlined box: its pixels will be see-through.
        draw.rectangle(box, fill=_PAPER if entry.transparent else (*entry.color, 255), outline=_INK)
        text_y = y + (swatch - text_height) // 2
        draw.text(
            (_PAD * 2 + swatch * 2, text_y), f"{entry.value}  {entry.name}", fill=_INK, font=font
        )
    return image


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round tick values (steps of 1, 2, 2.5 or 5 x 10^n) within [low, high]."""
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [round(i * step, 10) for i in range(first, last + 1)]

"""What to render: :class:`RenderSpec`, and :func:`spec_from_preset` to build one from a preset.

A rendering shows one of four kinds of content (DESIGN.md section 7):

- ``bands``: three bands, R, G, B, through a fixed or percentile stretch (the lookup-table path);
- ``expressions``: three band-maths expressions, one per channel, through the same stretch;
- ``colormap``: one expression coloured by a ramp over a value range, or by a class table (SCL);
- ``optimized``: three bands through the "optimized" true-colour tone curve
  (:mod:`s2render.core.tonemap`).

Expressions and colour maps are parsed and looked up when the spec is built, so a bad request
fails before any pixel is read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from s2render.core.area import Bounds, parse_geometry, to_crs
from s2render.core.colormap import ClassTable, Colormap, get_colormap
from s2render.core.encode import OutputFormat
from s2render.core.errors import SpecError
from s2render.core.expression import Expression, parse_expression
from s2render.core.masks import MAX_DILATION, parse_scl_classes
from s2render.core.presets import Preset, get_preset
from s2render.core.stretch import Stretch

RenderKind = Literal["bands", "expressions", "colormap", "optimized"]
TONEMAPS = ("optimized",)
# An expression with no colour map named is shown with viridis: perceptually uniform and
# readable by colour-blind viewers (van der Walt & Smith, matplotlib 2.0 default).
DEFAULT_COLORMAP = "viridis"
# Output sides are capped at JPEG's limit (65,500 px, libjpeg JPEG_MAX_DIMENSION): every format
# can then hold any size asked for.
MAX_PIXELS = 65500


@dataclass(frozen=True)
class RenderSpec:
    """What to render. ``product`` and one content choice (``bands``, ``expressions`` or
    ``expression``) are needed; everything else has a default.

    ``preset`` only records which preset the content came from; build preset specs with
    :func:`spec_from_preset`.
    """

    product: str
    bands: tuple[str, ...] = ()
    resolution: float = 10
    bbox: Bounds | None = None
    bbox_crs: str = "EPSG:4326"  # or "product" for the product's own CRS
    stretch: Stretch = field(default_factory=Stretch)
    format: OutputFormat = OutputFormat.JPEG
    name: str | None = None  # output file stem; derived from product and content when None
    expressions: tuple[str, ...] | None = None  # R, G, B band-maths expressions
    expression: str | None = None  # one expression, shown through ``colormap``
    colormap: str | None = None
    value_range: tuple[float, float] | None = None  # values the colour ramp spans
    tonemap: str | None = None  # "optimized": highlight-compressing true-colour curve
    preset: str | None = None
    # SCL classes made transparent (L2A only): numbers, names or "clouds"; see core.masks.
    cloud_mask: tuple[int, ...] | None = None
    cloud_dilation: int = 0  # grow the cloud mask by this many output pixels
    # Area and size (core.layout). ``geometry``: a GeoJSON Polygon/MultiPolygon (or a Feature
    # of one) in ``bbox_crs``; pixels outside it are transparent.
    geometry: dict | None = None
    crs: str | None = None  # output CRS, e.g. "EPSG:3857"; the product's when None
    max_size: int | None = None  # cap on the longest output side in pixels (never enlarges)
    width: int | None = None  # output size in pixels; one alone keeps the aspect ratio
    height: int | None = None

    def __post_init__(self) -> None:
        self._check_cloud_mask()
        self._check_area_and_size()
        if not (isinstance(self.resolution, int | float) and 0 < self.resolution <= 10000):
            raise SpecError(
                f"resolution {self.resolution!r} must be a positive number of metres",
                field="resolution",
            )
        given = [
            name
            for name, value in (
                ("bands", self.bands),
                ("expressions", self.expressions),
                ("expression", self.expression),
            )
            if value
        ]
        if not given:
            hint = (
                f"preset {self.preset!r} is not resolved: build the spec with spec_from_preset()"
                if self.preset
                else "give three bands, three expressions, or one expression with a colour map"
            )
            raise SpecError(f"nothing to render: {hint}", field="bands")
        if len(given) > 1:
            raise SpecError(
                f"give only one of {' / '.join(given)}: a rendering shows bands, three "
                "expressions, or one expression with a colour map",
                field=given[1],
            )
        if self.bands and len(self.bands) != 3:
            raise SpecError(
                f"a composite needs three bands (R, G, B), got {list(self.bands)}", field="bands"
            )
        if self.expressions is not None and len(self.expressions) != 3:
            raise SpecError(
                f"give three expressions (R, G, B), got {len(self.expressions)}",
                field="expressions",
            )
        self._check_colour_options()
        if self.kind in ("expressions", "colormap"):
            self.parsed()  # expressions must parse, colour maps exist: fail before reading
            self.color_table()

    def _check_cloud_mask(self) -> None:
        if self.cloud_mask is not None:
            # Normalised to sorted class numbers: names and strings come from users and JSON.
            object.__setattr__(self, "cloud_mask", parse_scl_classes(self.cloud_mask))
        dilation = self.cloud_dilation
        if isinstance(dilation, bool) or not isinstance(dilation, int) or dilation < 0:
            raise SpecError(
                f"cloud dilation {dilation!r} must be a whole number of pixels (0 or more)",
                field="cloud_dilation",
            )
        if dilation > MAX_DILATION:
            raise SpecError(
                f"cloud dilation {dilation} px is more than {MAX_DILATION} px; give a smaller "
                "margin",
                field="cloud_dilation",
            )
        if dilation and self.cloud_mask is None:
            raise SpecError(
                "cloud dilation grows the cloud mask: give cloud_mask too (e.g. clouds)",
                field="cloud_dilation",
            )

    def _check_area_and_size(self) -> None:
        if self.geometry is not None:
            if self.bbox is not None:
                raise SpecError(
                    "give bbox or geometry, not both: the geometry's bounds are the area read",
                    field="geometry",
                )
            product_crs = self.bbox_crs.lower() == "product"
            geographic = not product_crs and to_crs(self.bbox_crs, "bbox_crs").is_geographic
            # Normalised (a Feature becomes its geometry): specs come from users and JSON.
            object.__setattr__(
                self, "geometry", parse_geometry(self.geometry, geographic=geographic)
            )
        if self.crs is not None:
            to_crs(self.crs, "crs")
        for name in ("max_size", "width", "height"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_PIXELS
            ):
                raise SpecError(
                    f"{name} {value!r} must be a whole number of pixels from 1 to {MAX_PIXELS}",
                    field=name,
                )
        if self.max_size is not None and (self.width is not None or self.height is not None):
            raise SpecError(
                "give max_size (a cap on the longest side) or width/height (an exact size), "
                "not both",
                field="max_size",
            )

    def _check_colour_options(self) -> None:
        kind = self.kind
        if kind != "colormap":
            for name in ("colormap", "value_range"):
                if getattr(self, name) is not None:
                    raise SpecError(
                        f"{name} applies to one expression (an index); this rendering shows "
                        f"{kind}: drop {name} or give one expression",
                        field=name,
                    )
        if self.tonemap is not None:
            if self.tonemap not in TONEMAPS:
                raise SpecError(
                    f"tone map {self.tonemap!r} is unknown; use {', '.join(TONEMAPS)}",
                    field="tonemap",
                )
            if not self.bands:
                raise SpecError(
                    "the optimized tone curve takes three bands (B04, B03, B02)", field="tonemap"
                )
        if self.stretch.is_percentile and kind == "colormap":
            raise SpecError(
                "a percentile stretch applies to composites; a colour map spans its value "
                "range: give value_range instead (e.g. -1,1)",
                field="stretch",
            )
        if self.stretch.is_percentile and kind == "optimized":
            raise SpecError(
                "the optimized tone curve replaces the stretch; drop the percentile stretch",
                field="stretch",
            )

    @property
    def kind(self) -> RenderKind:
        if self.expression:
            return "colormap"
        if self.expressions:
            return "expressions"
        return "optimized" if self.tonemap else "bands"

    def parsed(self) -> tuple[Expression, ...]:
        """The checked expressions: one per channel, or the single colour-mapped one."""
        if self.expression:
            return (parse_expression(self.expression),)
        return tuple(parse_expression(text) for text in self.expressions or self.bands)

    def color_table(self) -> Colormap | ClassTable | None:
        """The colour ramp spread over ``value_range`` (its own range by default), or the class
        table; None for composites."""
        if self.kind != "colormap":
            return None
        table = get_colormap(self.colormap or DEFAULT_COLORMAP)
        if isinstance(table, ClassTable):
            if self.value_range is not None:
                raise SpecError(
                    f"{table.name!r} is a class table: it has no value range; drop value_range",
                    field="value_range",
                )
            return table
        return table.with_range(*self.value_range) if self.value_range else table


def spec_from_preset(
    preset: str | Preset,
    product: str,
    *,
    stretch: Stretch | None = None,
    colormap: str | None = None,
    value_range: tuple[float, float] | None = None,
    **options,
) -> RenderSpec:
    """The RenderSpec that renders ``preset`` of ``product``; ``options`` are RenderSpec fields
    (resolution, bbox, format, name...). ``stretch`` overrides a composite's stretch,
    ``colormap``/``value_range`` an index's colours."""
    p = get_preset(preset) if isinstance(preset, str) else preset
    content: dict = {"preset": p.id}
    if p.kind == "composite":
        if colormap is not None or value_range is not None:
            raise SpecError(
                f"preset {p.id!r} is a composite: it takes a stretch, not a colour map or range",
                field="colormap" if colormap is not None else "value_range",
            )
        assert p.stretch is not None
        plain = all(_is_band(e) for e in p.parsed)
        texts = tuple(e.text for e in p.parsed)
        content["bands" if plain else "expressions"] = texts
        if p.stretch.kind == "optimized":
            if stretch is not None:
                raise SpecError(
                    f"preset {p.id!r} maps colours with its own tone curve; drop the stretch, "
                    "or use preset true-color to choose one",
                    field="stretch",
                )
            content["tonemap"] = "optimized"
        else:
            content["stretch"] = stretch or p.stretch.to_stretch()
    else:
        if stretch is not None and stretch.is_percentile:
            colours = "class table" if p.kind == "classes" else "colour ramp"
            raise SpecError(
                f"preset {p.id!r} is coloured by a {colours}; a percentile stretch applies to "
                "composites",
                field="stretch",
            )
        content["expression"] = p.parsed[0].text
        content["colormap"] = colormap or p.colormap
        if p.kind == "index":
            content["value_range"] = value_range or p.value_range
        elif value_range is not None:
            raise SpecError(
                f"preset {p.id!r} shows classes: it has no value range", field="value_range"
            )
    return RenderSpec(product=product, **content, **options)


def spec_from_request(
    product: str,
    *,
    preset: str | None = None,
    stretch: Stretch | None = None,
    gamma: float | None = None,
    colormap: str | None = None,
    value_range: tuple[float, float] | None = None,
    **options,
) -> RenderSpec:
    """One rendering as a user asks for it (CLI options, API JSON): a ``preset`` with overrides,
    or the content fields (bands, expressions, expression) in ``options``. ``gamma`` alone changes
    a preset's own stretch; ``stretch`` replaces it."""
    if preset is None:
        if stretch is None:
            stretch = Stretch() if gamma is None else Stretch(gamma=gamma)
        return RenderSpec(
            product, stretch=stretch, colormap=colormap, value_range=value_range, **options
        )
    p = get_preset(preset)
    if stretch is None and gamma is not None and p.stretch is not None:
        stretch = replace(p.stretch.to_stretch(), gamma=gamma)
    return spec_from_preset(
        p, product, stretch=stretch, colormap=colormap, value_range=value_range, **options
    )


def _is_band(expression: Expression) -> bool:
    return len(expression.bands) == 1 and expression.text == expression.bands[0]

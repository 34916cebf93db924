"""Turning ``s2render render``'s preset, band-maths and mask options into RenderSpecs.

The seed's lists (--res/--r/--g/--b) stay in :mod:`s2render.cli.render`; this module builds the
renderings of ``--preset ndvi,scl`` and ``--expr ... [--colormap --range]``, and checks them
against the product before any worker starts, so a wrong request is one line, not a failed job.
"""

from __future__ import annotations

import click

from s2render.core.bands import check_band
from s2render.core.contact_sheet import sheet_format
from s2render.core.errors import BandError, SpecError
from s2render.core.masks import MAX_DILATION, parse_scl_classes, scl_files
from s2render.core.product import Product
from s2render.core.render import check_preset_level
from s2render.core.spec import RenderSpec, spec_from_request
from s2render.core.stretch import Stretch

# RenderSpec field -> the option a user typed, for error hints.
OPTION_OF = {
    "preset": "--preset",
    "expression": "--expr",
    "expressions": "--expr",
    "colormap": "--colormap",
    "value_range": "--range",
    "stretch": "--stretch",
    "gamma": "--gamma",
    "bands": "--expr",
    "tonemap": "--preset",
}


def option_error(exc: SpecError | BandError, default: str) -> click.BadParameter:
    field = getattr(exc, "field", None)
    return click.BadParameter(str(exc), param_hint=OPTION_OF.get(field or "", default))


def parse_range(text: str | None) -> tuple[float, float] | None:
    """``"-1,1"`` -> (-1.0, 1.0)."""
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        if len(parts) != 2:
            raise ValueError
        low, high = float(parts[0]), float(parts[1])
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not MIN,MAX (the values the colours span, e.g. -1,1)",
            param_hint="--range",
        ) from None
    return low, high


def resolutions_for(resolutions: list[float] | None, count: int, what: str) -> list[float]:
    """One resolution for every rendering, or one per rendering; 10 m by default."""
    if not resolutions:
        return [10] * count
    if len(resolutions) == 1:
        return resolutions * count
    if len(resolutions) != count:
        raise click.UsageError(
            f"--res has {len(resolutions)} values for {count} {what}; give one, or one each"
        )
    return resolutions


def preset_specs(
    product: Product,
    presets: list[str],
    resolutions: list[float] | None,
    *,
    stretch: Stretch | None,
    gamma: float | None,
    colormap: str | None,
    value_range: tuple[float, float] | None,
    options: dict,
) -> list[RenderSpec]:
    """One rendering per preset (``--preset ndvi,scl``), checked against the product's level."""
    specs = []
    for preset_id, res in zip(
        presets, resolutions_for(resolutions, len(presets), "presets"), strict=True
    ):
        try:
            spec = spec_from_request(
                product.path,
                preset=preset_id,
                resolution=res,
                stretch=stretch,
                gamma=gamma,
                colormap=colormap,
                value_range=value_range,
                **options,
            )
            check_preset_level(spec, product)
        except SpecError as exc:
            raise option_error(exc, "--preset") from exc
        specs.append(spec)
    return specs


def expression_specs(
    product: Product,
    expressions: tuple[str, ...],
    resolutions: list[float] | None,
    *,
    stretch: Stretch,
    colormap: str | None,
    value_range: tuple[float, float] | None,
    options: dict,
) -> list[RenderSpec]:
    """``--expr`` once (coloured by --colormap over --range) or three times (R, G, B)."""
    if len(expressions) not in (1, 3):
        raise click.UsageError(
            f"--expr was given {len(expressions)} times: give it once (an index, coloured with "
            "--colormap) or three times (red, green, blue)"
        )
    content: dict = (
        {"expression": expressions[0], "colormap": colormap, "value_range": value_range}
        if len(expressions) == 1
        else {"expressions": expressions}
    )
    if len(expressions) == 3 and (colormap or value_range):
        raise click.UsageError("--colormap and --range colour one --expr, not three")
    specs = []
    for res in resolutions or [10]:  # one rendering per resolution
        try:
            spec = RenderSpec(product.path, resolution=res, stretch=stretch, **content, **options)
            for expression in spec.parsed():
                for band in expression.bands:
                    check_band(band, product.level)
        except (SpecError, BandError) as exc:
            raise option_error(exc, "--expr") from exc
        specs.append(spec)
    return specs


def mask_options(f):
    """--cloud-mask [CLASSES] / --cloud-dilation N / --contact-sheet FILE."""
    f = click.option(
        "--contact-sheet",
        type=click.Path(dir_okay=False),
        default=None,
        callback=_check_sheet,
        help="Also draw every rendering side by side, with its label, into this .png/.jpg.",
    )(f)
    f = click.option(
        "--cloud-dilation",
        type=click.IntRange(0, MAX_DILATION),
        default=0,
        show_default=True,
        metavar="N",
        help="Grow the cloud mask by N output pixels.",
    )(f)
    f = click.option(
        "--cloud-mask",
        is_flag=False,
        flag_value="clouds",
        default=None,
        metavar="[CLASSES]",
        help="Make SCL classes transparent (L2A): alone, clouds and their shadows "
        "(3,8,9,10); or classes by number or name, e.g. cloud_high,cirrus,snow.",
    )(f)
    return f


def _check_sheet(ctx, param, value: str | None) -> str | None:
    if value is not None:
        try:
            sheet_format(value)
        except SpecError as exc:
            raise click.BadParameter(str(exc)) from exc
    return value


def masks_from(product: Product, cloud_mask: str | None, cloud_dilation: int) -> dict:
    """The RenderSpec fields of the mask options, checked against the product."""
    if cloud_mask is None:
        if cloud_dilation:
            raise click.UsageError("--cloud-dilation grows --cloud-mask: give --cloud-mask too")
        return {}
    try:
        classes = parse_scl_classes(cloud_mask)
        scl_files(product, 10, classes)  # refuses L1C and products without SCL
    except SpecError as exc:
        raise click.BadParameter(str(exc), param_hint="--cloud-mask") from exc
    return {"cloud_mask": classes, "cloud_dilation": cloud_dilation}

"""``s2render render``: the seed's batch command — lists of resolutions and R, G, B bands — plus
presets (``--preset ndvi,scl``) and band maths (``--expr``, with ``--colormap``/``--range``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import cast

import click

from s2render.cli.options import area_from, area_options, cluster_from, cluster_options
from s2render.cli.render_specs import (
    expression_specs,
    mask_options,
    masks_from,
    parse_range,
    preset_specs,
)
from s2render.core.area import parse_bbox
from s2render.core.bands import check_band
from s2render.core.encode import OutputFormat
from s2render.core.errors import BandError, SpecError
from s2render.core.product import PRODUCT_NAME_RE, Product, open_product
from s2render.core.render import RenderResult, RenderSpec
from s2render.core.stretch import SCOPES, Stretch, StretchScope, parse_stretch

ALTERNATIVES = {"B08": "B8A", "B8A": "B08"}


def split_list(text: str, option: str) -> list[str]:
    items = [t.strip() for t in text.split(",")]
    if not items or any(not t for t in items):
        raise click.BadParameter(
            f"{text!r} must be a comma-separated list without gaps", param_hint=option
        )
    return items


def parse_resolutions(text: str) -> list[float]:
    values = []
    for item in split_list(text, "--res"):
        try:
            value = float(item)
        except ValueError:
            value = -1.0
        if value <= 0:
            raise click.BadParameter(
                f"{item!r} is not a resolution in metres (the native ones are 10, 20, 60)",
                param_hint="--res",
            )
        values.append(int(value) if value.is_integer() else value)
    return values


def check_native(product: Product, band: str, res: float, option: str, native_only: bool) -> str:
    """Validate one band for one resolution; note or refuse a resampled band."""
    try:
        name = check_band(band, product.level)
    except BandError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from exc
    if product.is_native(name, res):
        return name
    native = product.native_bands().get(res, []) if isinstance(res, int) else []
    hint = f"; try {ALTERNATIVES[name]}" if ALTERNATIVES.get(name) in native else ""
    source = product.band_file(name, res)
    message = (
        f"{name} is not native at {res:g} m in this {product.level} product{hint}; "
        f"it will be resampled from {source.resolution} m"
    )
    if native_only:
        raise click.BadParameter(
            message.replace("it will be", "without --native-only it would be"), param_hint=option
        )
    click.echo(f"note: {message}", err=True)
    return name


def ask_renderings(product: Product) -> tuple[str, str, str, str]:
    """The seed twin's interactive mode: ask for each rendering, offering only valid bands."""
    native = {
        r: [b for b in bands if b not in ("SCL", "AOT", "WVP", "TCI")]
        for r, bands in product.native_bands().items()
        if bands
    }
    count = click.prompt("How many renderings", type=click.IntRange(1, 100), default=1, err=True)
    res_list, r_list, g_list, b_list = [], [], [], []
    for i in range(count):
        click.echo(f"Rendering {i + 1} of {count}", err=True)
        res = click.prompt(
            "  resolution (m)",
            type=click.Choice([str(r) for r in native]),
            default=str(min(native)),
            err=True,
        )
        choices = click.Choice(native[int(res)], case_sensitive=False)
        res_list.append(res)
        r_list.append(click.prompt("  red band", type=choices, err=True))
        g_list.append(click.prompt("  green band", type=choices, err=True))
        b_list.append(click.prompt("  blue band", type=choices, err=True))
    return (",".join(res_list), ",".join(r_list), ",".join(g_list), ",".join(b_list))


def is_product_name(text: str) -> bool:
    """A bare Sentinel-2 product name (``S2B_MSIL2A_…``) that is not a path here."""
    name = text.removesuffix(".SAFE")
    return "/" not in text and not Path(text).exists() and PRODUCT_NAME_RE.match(name) is not None


@click.command("render")
@click.argument("product")
@click.option("--res", "res_list", metavar="LIST", help="Resolutions in metres, e.g. 20,20,60.")
@click.option("--r", "r_list", metavar="LIST", help="Red bands, e.g. B04,B12,B06.")
@click.option("--g", "g_list", metavar="LIST", help="Green bands, e.g. B03,B11,B04.")
@click.option("--b", "b_list", metavar="LIST", help="Blue bands, e.g. B02,B03,B02.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="output",
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--format",
    "fmt",
    default="jpeg",
    show_default=True,
    help="jpeg, png (with alpha), webp or geotiff (COG, georeferenced).",
)
@click.option(
    "--preset",
    metavar="LIST",
    help="Presets to render, e.g. ndvi or true-color,scl (see s2render presets).",
)
@click.option(
    "--expr",
    "exprs",
    metavar="EXPRESSION",
    multiple=True,
    help="Band maths, e.g. '(B08-B04)/(B08+B04)': once for a colour-mapped index, "
    "three times for R, G, B.",
)
@click.option("--colormap", help="Colour map of one --expr (or an index preset), e.g. rdylgn.")
@click.option(
    "--range", "value_range", metavar="MIN,MAX", help="Values the colour map spans, e.g. -1,1."
)
@click.option(
    "--stretch",
    metavar="MIN,MAX[;MIN,MAX;MIN,MAX]|pLOW,HIGH",
    help="Reflectance range for all channels or per channel (default 0,0.3), or percentiles "
    "of the valid pixels, e.g. p2,98.",
)
@click.option(
    "--stretch-scope",
    type=click.Choice(SCOPES),
    default="rendering",
    show_default=True,
    help="Percentiles over each rendering, or over every rendering of this command (job): "
    "one shared mapping, comparable side by side.",
)
@click.option(
    "--gamma", type=float, default=None, help="Display gamma, >1 brightens (default 1.25)."
)
@click.option("--bbox", metavar="XMIN,YMIN,XMAX,YMAX", help="Render only this area.")
@click.option(
    "--bbox-crs",
    default="EPSG:4326",
    show_default=True,
    help="CRS of --bbox: EPSG:4326 (lon/lat), any EPSG code, or 'product'.",
)
@click.option(
    "--native-only",
    is_flag=True,
    help="Refuse bands that are not native at their resolution (the seed's rule) "
    "instead of resampling them.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of outputs and status.")
@click.option(
    "--interactive",
    "-i",
    is_flag=True,
    help="Ask for each rendering (the default on a terminal when no lists are given).",
)
@mask_options
@area_options
@cluster_options
def command(
    product: str,
    res_list: str | None,
    r_list: str | None,
    g_list: str | None,
    b_list: str | None,
    out_dir: str,
    fmt: str,
    preset: str | None,
    exprs: tuple[str, ...],
    colormap: str | None,
    value_range: str | None,
    stretch: str | None,
    stretch_scope: str,
    gamma: float | None,
    bbox: str | None,
    bbox_crs: str,
    native_only: bool,
    as_json: bool,
    interactive: bool,
    scheduler: str | None,
    workers: int | None,
    threads: int | None,
    processes: bool | None,
    cloud_mask: str | None,
    cloud_dilation: int,
    contact_sheet: str | None,
    geometry: str | None,
    out_crs: str | None,
    max_size: int | None,
    width: int | None,
    height: int | None,
) -> None:
    """Render PRODUCT once per position of the --res/--r/--g/--b lists, once per --preset, or
    the --expr band maths, in parallel.

    Prints the output files, one per line (or JSON with --json). Without lists, presets or
    expressions, on a terminal, asks for each rendering.
    """
    if is_product_name(product):
        # The seed's behaviour: a product it does not have is downloaded first (from the
        # Copernicus Data Space Ecosystem, SciHub's successor), with a progress bar.
        from s2render.cli.download import fetch_with_progress

        product = str(fetch_with_progress(product))
    elif not Path(product).exists() and not product.startswith(("http://", "https://")):
        raise click.BadParameter(
            f"{product} does not exist; give a .SAFE folder, its .zip, a folder of band files, "
            "a STAC item (.json or URL), or a product name to download (S2B_MSIL2A_…)",
            param_hint="PRODUCT",
        )
    prod = open_product(product)
    modes = [
        name
        for name, given in (
            ("--preset", preset),
            ("--expr", exprs),
            ("--r/--g/--b", r_list or g_list or b_list),
        )
        if given
    ]
    if len(modes) > 1:
        raise click.UsageError(f"{' and '.join(modes)} do not go together: choose one")
    if (colormap or value_range) and not (preset or len(exprs) == 1):
        raise click.UsageError("--colormap and --range colour one --expr or an index --preset")
    try:
        output_format = OutputFormat.parse(fmt)
        scope = cast(StretchScope, stretch_scope)
        stretch_spec = parse_stretch(stretch, gamma=gamma, scope=scope)
        area = parse_bbox(bbox) if bbox else None
    except SpecError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field or 'format'}") from exc
    if geometry is not None and bbox is not None:
        raise click.UsageError("--bbox and --geometry do not go together: choose one area")
    options = {"bbox": area, "bbox_crs": bbox_crs, "format": output_format}
    options |= masks_from(prod, cloud_mask, cloud_dilation)
    options |= area_from(geometry, out_crs, max_size, width, height, bbox_crs)
    resolutions = parse_resolutions(res_list) if res_list else None
    if preset:
        specs = preset_specs(
            prod,
            split_list(preset, "--preset"),
            resolutions,
            stretch=stretch_spec if stretch else None,
            gamma=gamma,
            colormap=colormap,
            value_range=parse_range(value_range),
            options=options,
        )
    elif exprs:
        specs = expression_specs(
            prod,
            exprs,
            resolutions,
            stretch=stretch_spec,
            colormap=colormap,
            value_range=parse_range(value_range),
            options=options,
        )
    else:
        specs = seed_specs(
            prod, res_list, r_list, g_list, b_list, interactive, native_only, stretch_spec, options
        )

    cluster = cluster_from(scheduler, workers, threads, processes)
    results = run(specs, Path(out_dir), cluster, contact_sheet=contact_sheet)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        for r in results:
            if r.status == "done":
                click.echo(r.path)
            else:
                click.echo(f"error: rendering {r.index + 1}: {r.error}", err=True)
    if contact_sheet:
        click.echo(f"contact sheet: {contact_sheet}", err=True)
    failed = sum(r.status != "done" for r in results)
    if failed:
        raise SystemExit(1)


def seed_specs(
    prod: Product,
    res_list: str | None,
    r_list: str | None,
    g_list: str | None,
    b_list: str | None,
    interactive: bool,
    native_only: bool,
    stretch: Stretch,
    options: dict,
) -> list[RenderSpec]:
    """The seed's four lists, position by position (asked for on a terminal when absent)."""
    lists = (res_list, r_list, g_list, b_list)
    if interactive or not any(lists):
        if not (interactive or sys.stdin.isatty()):
            raise click.UsageError(
                "give --res, --r, --g and --b, or --preset, or --expr "
                "(or run on a terminal to be asked)"
            )
        res_list, r_list, g_list, b_list = ask_renderings(prod)
    missing = [
        n
        for n, v in zip(
            ("--res", "--r", "--g", "--b"), (res_list, r_list, g_list, b_list), strict=True
        )
        if not v
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}: the four lists go together")
    resolutions = parse_resolutions(res_list)  # type: ignore[arg-type]
    reds = split_list(r_list, "--r")  # type: ignore[arg-type]
    greens = split_list(g_list, "--g")  # type: ignore[arg-type]
    blues = split_list(b_list, "--b")  # type: ignore[arg-type]
    lengths = {len(resolutions), len(reds), len(greens), len(blues)}
    if len(lengths) != 1:
        raise click.UsageError(
            f"--res, --r, --g and --b must have the same length; got {len(resolutions)}, "
            f"{len(reds)}, {len(greens)}, {len(blues)}"
        )
    specs = []
    for res, r, g, b in zip(resolutions, reds, greens, blues, strict=True):
        bands = tuple(
            check_native(prod, band, res, opt, native_only)
            for band, opt in ((r, "--r"), (g, "--g"), (b, "--b"))
        )
        specs.append(
            RenderSpec(product=prod.path, bands=bands, resolution=res, stretch=stretch, **options)
        )
    return specs


def run(specs, out_dir: Path, cluster, *, contact_sheet: str | None = None) -> list[RenderResult]:
    from tqdm import tqdm

    from s2render.execution.batch import run_batch
    from s2render.execution.cluster import dask_client

    bar = tqdm(total=len(specs), unit="rendering", disable=not sys.stderr.isatty(), file=sys.stderr)
    try:
        with dask_client(cluster) as client:
            return run_batch(
                client,
                specs,
                out_dir,
                on_progress=lambda _: bar.update(1),
                contact_sheet=contact_sheet,
            )
    finally:
        bar.close()

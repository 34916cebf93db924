"""``s2render demo-product``: write the synthetic Sentinel-2 product (demo input, benchmarks)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import click

# Duplicated from s2render.core.demo so that ``--help`` does not import numpy and rasterio.
DEFAULT_SIZE = 1098
FULL_SIZE = 10980


@click.command("demo-product")
@click.argument("directory", type=click.Path(file_okay=False, writable=True, path_type=Path))
@click.option(
    "--level",
    type=click.Choice(["L2A", "L1C"]),
    default="L2A",
    show_default=True,
    help="Product level: L2A (R10m/R20m/R60m, SCL, AOT, WVP) or L1C (13 bands incl. B10).",
)
@click.option(
    "--size",
    type=int,
    default=DEFAULT_SIZE,
    show_default=True,
    help="Pixels per side at 10 m, a multiple of 6 (20 m: size/2, 60 m: size/6).",
)
@click.option(
    "--full-size",
    is_flag=True,
    help=f"Write a full ESA tile, {FULL_SIZE} px per side at 10 m (benchmarks; minutes).",
)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes rendering and encoding the band files.",
)
@click.pass_context
def command(
    ctx: click.Context,
    directory: Path,
    level: Literal["L2A", "L1C"],
    size: int,
    full_size: bool,
    seed: int,
    processes: int,
) -> None:
    """Write a synthetic product in the real SAFE layout under DIRECTORY and print its path.

    An existing complete product with the same parameters is reused as is.
    """
    from rasterio.errors import RasterioError

    from s2render.core.demo import write_demo_product
    from s2render.core.errors import S2RenderError

    if full_size:
        if ctx.get_parameter_source("size") is not click.core.ParameterSource.DEFAULT:
            raise click.UsageError("--full-size and --size exclude each other; give one")
        size = FULL_SIZE
    try:
        path = write_demo_product(directory, level=level, size=size, seed=seed, processes=processes)
    except (S2RenderError, RasterioError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(str(path))

"""``s2render demo``: make the demo product if absent and render the seed's batch with it."""

from __future__ import annotations

import click

from s2render.cli.options import cluster_from, cluster_options
from s2render.config import load_settings
from s2render.core.render import RenderSpec

# The seed's example batch (django-rest-api-images README): res_list, r_list, g_list, b_list.
SEED_BATCH = ("20,20,60", "B04,B12,B06", "B03,B11,B04", "B02,B03,B02")


def ensure_demo_product(data_dir) -> str:
    from s2render.core.demo import write_demo_product

    return str(write_demo_product(data_dir / "demo", processes=2))


@click.command("demo")
@click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Data folder (default var/, env S2RENDER_DATA_DIR).",
)
@cluster_options
def command(
    data_dir: str | None,
    scheduler: str | None,
    workers: int | None,
    threads: int | None,
    processes: bool | None,
) -> None:
    """Render the seed's example batch (20,20,60 / B04,B12,B06 / B03,B11,B04 / B02,B03,B02)
    from the demo product, making the product first if it is absent."""
    from pathlib import Path

    from s2render.cli.render import run

    settings = load_settings()
    data = Path(data_dir) if data_dir else settings.data_dir
    product = ensure_demo_product(data)
    click.echo(f"product: {product}", err=True)
    res, reds, greens, blues = (s.split(",") for s in SEED_BATCH)
    specs = [
        RenderSpec(product=product, bands=(r, g, b), resolution=int(x))
        for x, r, g, b in zip(res, reds, greens, blues, strict=True)
    ]
    out = data / "outputs" / "demo"
    results = run(specs, out, cluster_from(scheduler, workers, threads, processes))
    for r in results:
        click.echo(r.path if r.status == "done" else f"error: {r.error}")
    if any(r.status != "done" for r in results):
        raise SystemExit(1)

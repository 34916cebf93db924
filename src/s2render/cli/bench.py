"""``s2render bench``: our renderer against the seed's original algorithm, in one run."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("bench")
@click.option(
    "--data",
    "data",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the cached demo product and the scenarios' outputs (runs/a, runs/b, ...).",
)
@click.option(
    "--size",
    type=click.IntRange(min=60, max=10980),
    default=10980,
    show_default=True,
    help="Demo product side in 10 m pixels, a multiple of 6 (10980 = a full tile).",
)
@click.option(
    "--product",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Use this L2A .SAFE folder instead of the demo product.",
)
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs per scenario; the median is reported.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the report as JSON to this file.",
)
def command(
    data: Path, size: int, product: Path | None, repeat: int, json_path: Path | None
) -> None:
    """Time and measure the seed's algorithm, our renderer and decode alone on one product.

    Scenarios: (a) the seed's algorithm on the seed's batch (20,20,60 m; B04/B03/B02,
    B12/B11/B03, B06/B04/B02; centre crop); (b) `s2render render` on the same batch and crop;
    (c) `s2render render` on one whole 10 m true colour; (d_b), (d_c) decoding alone the band
    windows (b) and (c) need, on all cores; (e) a 1024 px true colour preview of the whole
    product (`--max-size 1024`), which must be at least 20x faster than (c). Prints wall time,
    peak PSS and peak summed RSS of each process tree, and whether the project's targets are
    met.
    """
    from s2render.benchmark.report import format_report
    from s2render.benchmark.run import ensure_demo_product, run_benchmark
    from s2render.core.errors import S2RenderError

    data.mkdir(parents=True, exist_ok=True)
    if product is None:
        click.echo(f"demo product ({size} px) under {data} ...", err=True)
        try:
            product = ensure_demo_product(data, size)
        except S2RenderError as exc:
            raise click.ClickException(str(exc)) from exc
    report = run_benchmark(
        product.resolve(),
        (data / "runs").resolve(),
        repeat=repeat,
        echo=lambda text: click.echo(text, err=True),
    )
    click.echo(format_report(report))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_json(), indent=2))
    if not report.ok:
        raise SystemExit(1)

"""``s2render download NAME``: fetch a whole product from the Copernicus Data Space Ecosystem."""

from __future__ import annotations

import click
from tqdm import tqdm

from s2render.config import load_cdse_config, load_settings
from s2render.core.cdse import download_product, find_product


@click.command("download")
@click.argument("name")
@click.option(
    "--dest",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder for the zip [default: $S2RENDER_DATA_DIR/downloads].",
)
def command(name: str, dest: str | None) -> None:
    """Download product NAME (with or without .SAFE) as NAME.zip, resuming and verifying it.

    Needs a free CDSE account in S2RENDER_CDSE_USERNAME and S2RENDER_CDSE_PASSWORD. Prints the
    path of the zip, which s2render info and s2render render open as it is.
    """
    config = load_cdse_config()
    folder = dest or str(load_settings().data_dir / "downloads")
    remote = find_product(config, name)
    with tqdm(
        total=remote.size, unit="B", unit_scale=True, unit_divisor=1024, desc=remote.zip_name
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        path = download_product(config, remote, folder, progress=progress)
    click.echo(str(path))

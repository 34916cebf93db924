"""``s2render download NAME``: fetch a whole product from the Copernicus Data Space Ecosystem."""

from __future__ import annotations

from pathlib import Path

import click
from tqdm import tqdm

from s2render.config import load_cdse_config, load_settings
from s2render.core.cdse import find_product, zip_name
from s2render.core.cdse_download import download_product


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
    click.echo(str(fetch_with_progress(name, dest)))


def fetch_with_progress(name: str, dest: str | None = None) -> Path:
    """The product's zip in ``dest`` (default: the data folder's downloads): the one already
    there, else downloaded with a progress bar on stderr."""
    folder = Path(dest) if dest else load_settings().data_dir / "downloads"
    local = folder / zip_name(name)
    if local.is_file():  # download_product leaves only complete, verified files under this name
        return local
    config = load_cdse_config()
    remote = find_product(config, name)
    with tqdm(
        total=remote.size, unit="B", unit_scale=True, unit_divisor=1024, desc=remote.zip_name
    ) as bar:

        def progress(done: int, total: int) -> None:
            bar.n = done
            bar.refresh()

        return download_product(config, remote, folder, progress=progress)

"""The ``s2render`` command group. One module per command; each exposes ``command``."""

from __future__ import annotations

import importlib

import click

# command name -> module under s2render.cli defining ``command``. Imported lazily so that
# ``s2render info`` does not pay for importing Dask.
COMMANDS: dict[str, str] = {
    "info": "info",
    "render": "render",
    "demo-product": "demo_product",
    "demo": "demo",
    "bench": "bench",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        return importlib.import_module(f"s2render.cli.{module}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="s2render")
def cli() -> None:
    """Render Sentinel-2 products into images: composites, indices, classification maps."""

"""The ``s2render`` command group. One module per command; each exposes ``command``."""

from __future__ import annotations

import importlib

import click

from s2render.config import debug_enabled
from s2render.core.errors import S2RenderError

# command name -> module under s2render.cli defining ``command``. Imported lazily so that
# ``s2render info`` does not pay for importing Dask.
COMMANDS: dict[str, str] = {
    "info": "info",
    "render": "render",
    "presets": "presets",
    "legend": "legend",
    "demo-product": "demo_product",
    "demo": "demo",
    "download": "download",
    "bench": "bench",
    "serve": "serve",
    "dispatcher": "dispatcher",
    "manage": "manage",
    "search": "search",
    "products": "products",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is None:
            return None
        return importlib.import_module(f"s2render.cli.{module}").command

    def invoke(self, ctx: click.Context):
        """Errors are one clear line and a non-zero exit, never a traceback."""
        try:
            return super().invoke(ctx)
        except S2RenderError as exc:
            raise click.ClickException(str(exc)) from exc
        except OSError as exc:
            message = f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            raise click.ClickException(message) from exc
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if debug_enabled():
                raise
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {exc} (set S2RENDER_DEBUG=1 for a traceback)"
            ) from exc


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="s2render")
def cli() -> None:
    """Render Sentinel-2 products into images: composites, indices, classification maps."""

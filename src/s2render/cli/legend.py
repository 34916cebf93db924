"""``s2render legend``: the legend image of an index or class preset, or of a colour map."""

from __future__ import annotations

from pathlib import Path

import click

from s2render.cli.render_specs import parse_range
from s2render.core.colormap import (
    ClassTable,
    Colormap,
    get_colormap,
    list_colormaps,
    render_legend,
)
from s2render.core.encode import atomic_path
from s2render.core.errors import SpecError
from s2render.core.presets import list_presets


def resolve(
    name: str, value_range: tuple[float, float] | None
) -> tuple[Colormap | ClassTable, str]:
    """The colours and title behind a preset id or a colour-map name."""
    presets = {p.id: p for p in list_presets()}
    preset = presets.get(name.strip().lower().replace("_", "-"))
    if preset is not None:
        if preset.kind == "composite":
            coloured = ", ".join(p.id for p in presets.values() if p.kind != "composite")
            raise click.BadParameter(
                f"preset {preset.id!r} is a composite: its colours are the bands themselves, "
                f"so it has no legend; legends exist for {coloured} and every colour map",
                param_hint="NAME",
            )
        table = preset.color_table()
        title = preset.title
    else:
        try:
            table = get_colormap(name)
        except SpecError:
            raise click.BadParameter(
                f"{name!r} is neither a preset with colours ("
                + ", ".join(p.id for p in presets.values() if p.kind != "composite")
                + f") nor a colour map ({', '.join(list_colormaps())})",
                param_hint="NAME",
            ) from None
        title = table.title or table.name
    if value_range is not None:
        if not isinstance(table, Colormap):
            raise click.BadParameter(
                f"{name!r} is a class table: it has no value range", param_hint="--range"
            )
        table = table.with_range(*value_range)
    return table, title


@click.command("legend")
@click.argument("name")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.option("--range", "value_range", metavar="MIN,MAX", help="Values the colours span.")
@click.option("--title", help="Heading (default: the preset's or colour map's title).")
@click.option("--width", type=click.IntRange(min=64), default=320, show_default=True)
def command(name: str, out: str, value_range: str | None, title: str | None, width: int) -> None:
    """Write the legend of NAME (an index or class preset, or a colour map) to OUT as PNG."""
    table, default_title = resolve(name, parse_range(value_range))
    image = render_legend(table, title=title or default_title, width=width)
    dest = Path(out)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dest) as tmp:
        image.save(tmp, format="PNG")
    click.echo(str(dest))

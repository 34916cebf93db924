"""``s2render search URL``: find Sentinel-2 items in a STAC API or a static STAC catalog."""

from __future__ import annotations

import json

import click

from s2render.core.errors import SearchError
from s2render.core.stac_search import (
    DateRange,
    check_max_cloud,
    parse_bbox,
    parse_date_range,
    search_items,
    summarize_item,
)

COLUMNS = ("id", "datetime", "tile", "cloud", "baseline", "href")


def validated(parse):
    """A click callback running a core parser; its SearchError becomes a usage error (exit 2)."""

    def callback(ctx: click.Context, param: click.Parameter, value):
        if value is None:
            return None
        try:
            return parse(value)
        except SearchError as exc:
            raise click.BadParameter(str(exc), ctx=ctx, param=param) from exc

    return callback


def _rows(summaries) -> list[tuple[str, ...]]:
    return [
        (
            s.id,
            s.datetime or "-",
            s.tile or "-",
            "-" if s.cloud_cover is None else f"{s.cloud_cover:.1f}",
            s.processing_baseline or "-",
            s.href or "-",
        )
        for s in summaries
    ]


@click.command("search")
@click.argument("url")
@click.option(
    "--bbox",
    metavar="W,S,E,N",
    callback=validated(parse_bbox),
    help="Only items whose bbox intersects this lon/lat box, e.g. 15.5,45.5,16,46.",
)
@click.option(
    "--date",
    "dates",
    metavar="RANGE",
    callback=validated(parse_date_range),
    help="A day (2023-08-15) or inclusive range (2023-08-10/2023-08-20, ../2023-08-20).",
)
@click.option(
    "--cloud",
    "max_cloud",
    type=float,
    metavar="MAX",
    callback=validated(check_max_cloud),
    help="Only items with eo:cloud_cover at most MAX percent.",
)
@click.option(
    "--collection",
    "collections",
    multiple=True,
    metavar="NAME",
    help="Only items of this collection, e.g. sentinel-2-l2a (repeatable).",
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most N items."
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of item summaries.")
@click.option(
    "--register",
    is_flag=True,
    help="Register every item found in the product registry (as `products register` does).",
)
def command(
    url: str,
    bbox: tuple[float, float, float, float] | None,
    dates: DateRange | None,
    max_cloud: float | None,
    collections: tuple[str, ...],
    limit: int,
    as_json: bool,
    register: bool,
) -> None:
    """Search URL, a STAC API landing page or a static catalog (URL or path), for items."""
    items = search_items(
        url,
        bbox=bbox,
        start=dates.start if dates else None,
        end=dates.end if dates else None,
        max_cloud=max_cloud,
        collections=list(collections) or None,
        limit=limit,
    )
    summaries = [summarize_item(item) for item in items]
    if register:
        _register(items)
    if as_json:
        click.echo(json.dumps([s.to_dict() for s in summaries], indent=2))
        return
    if not summaries:
        click.echo("no items match", err=True)
        return
    rows = [COLUMNS, *_rows(summaries)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        click.echo("  ".join([*cells, row[-1]]))


def _register(items) -> None:
    """Register the items: by URL when they have one (the registry keeps where they came
    from), otherwise as documents with absolute asset paths (a local catalogue)."""
    from s2render.web.bootstrap import prepare, setup_django

    setup_django()
    prepare(demo=False, scan=False)
    from s2render.web.errors import FieldError
    from s2render.web.products.services import product_register_stac

    for item in items:
        href = item.get_self_href() or ""
        if href.startswith(("http://", "https://")):
            source: str | dict = href
        else:
            item.make_asset_hrefs_absolute()
            source = item.to_dict()
        try:
            product = product_register_stac(item=source)
        except FieldError as exc:
            click.echo(f"not registered  {item.id}: {exc.message}", err=True)
            continue
        click.echo(f"registered  {product.name}  (id {product.pk})", err=True)

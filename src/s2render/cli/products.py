"""``s2render products``: the product registry from the terminal (the same services as the API).

``scan`` registers every SAFE folder and zip under the data root and reports what it skipped;
``list`` filters like ``GET /api/v1/products/``; ``register`` takes a local path, a STAC item
(URL or JSON file) or a CDSE product name; ``fetch`` downloads a registered remote product with
a progress bar; ``remove`` deletes a product and its files.
"""

from __future__ import annotations

import json
import re
import threading

import click

from s2render.cli.search import validated
from s2render.core.stac_search import check_max_cloud, parse_bbox, parse_date_range


def _django() -> None:
    from s2render.web.bootstrap import prepare, setup_django

    setup_django()
    prepare(demo=False, scan=False)


def _row(product) -> dict:
    return {
        "id": product.pk,
        "name": product.name,
        "level": product.level,
        "tile": product.tile,
        "sensed_at": product.sensed_at.isoformat() if product.sensed_at else None,
        "cloud_cover": product.cloud_cover,
        "source": product.source,
        "state": product.state,
        "location": product.location,
    }


def _print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        cloud = "-" if r["cloud_cover"] is None else f"{r['cloud_cover']:.1f}%"
        click.echo(
            f"{r['id']:>4}  {r['name']}  {r['level']}  T{r['tile'] or '-'}  "
            f"{(r['sensed_at'] or '-')[:10]}  {cloud}  {r['source']}  {r['state']}"
        )


def _service_call(call):
    """Run a registry service; its field errors are one clear line (exit 2)."""
    from s2render.web.errors import FieldError, StateError

    try:
        return call()
    except FieldError as exc:
        raise click.UsageError(f"{exc.field}: {exc.message}") from exc
    except StateError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group("products")
def command() -> None:
    """The product registry: scan the data root, list, register, fetch, remove."""


@command.command("scan")
@click.option("--root", default=None, help="A folder under the data root (default: all of it).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def scan(root: str | None, as_json: bool) -> None:
    """Register every SAFE folder and zip under the data root; report what was skipped."""
    _django()
    from s2render.web.products.services import product_scan

    report = _service_call(lambda: product_scan(root=root))
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    for product in report.registered:
        click.echo(f"registered  {product.name}  ({product.location})")
    for path, reason in report.skipped:
        click.echo(f"skipped     {path}: {reason}")
    click.echo(f"{len(report.registered)} registered, {len(report.skipped)} skipped")


@command.command("list")
@click.option("--tile", default=None, help="MGRS tile, e.g. 33UUU.")
@click.option("--level", type=click.Choice(["L1C", "L2A"]), default=None)
@click.option(
    "--date",
    "span",
    metavar="RANGE",
    callback=validated(parse_date_range),
    help="A day (2023-08-15) or inclusive range (2023-08-01/2023-08-31, ../2023-08-31).",
)
@click.option(
    "--cloud", type=float, callback=validated(check_max_cloud), help="Cloud cover at most (%)."
)
@click.option("--bbox", metavar="W,S,E,N", callback=validated(parse_bbox), help="In lon/lat.")
@click.option("--json", "as_json", is_flag=True)
def list_products(tile, level, span, cloud, bbox, as_json) -> None:
    """List registered products, filtered (the filters of `s2render search`)."""
    _django()
    from s2render.web.products.selectors import product_search

    rows = product_search(tile=tile, level=level, span=span, max_cloud=cloud, bbox=bbox)
    _print_rows([_row(p) for p in rows], as_json)


@command.command("register")
@click.argument("source")
@click.option(
    "--offset-override",
    type=int,
    default=None,
    help="STAC items: the offset (DN) to apply whatever the item claims, e.g. -1000 or 0.",
)
@click.option("--json", "as_json", is_flag=True)
def register(source: str, offset_override: int | None, as_json: bool) -> None:
    """Register SOURCE: a SAFE folder/zip under the data root, a STAC item (URL or .json),
    or a CDSE product name (S2x_MSIL2A_…)."""
    _django()
    from s2render.web.products import downloads, services

    if re.match(r"^https?://", source) or source.lower().endswith(".json"):
        product = _service_call(
            lambda: services.product_register_stac(item=source, offset_override=offset_override)
        )
    elif re.match(r"^S2[A-D]_MSIL(1C|2A)_", source) and "/" not in source:
        product = _service_call(lambda: downloads.product_register_remote(name=source))
    else:
        product = _service_call(lambda: services.product_register(path=source))
    _print_rows([_row(product)], as_json)


@command.command("fetch")
@click.argument("product")
def fetch(product: str) -> None:
    """Download a registered remote PRODUCT (id or name) now, with a progress bar."""
    _django()
    from tqdm import tqdm

    from s2render.web.products.downloads import product_fetch
    from s2render.web.products.models import Product, ProductState
    from s2render.web.products.selectors import product_lookup

    row = _service_call(lambda: product_lookup(product))
    if row.state == ProductState.AVAILABLE:
        click.echo(f"{row.name} is already here: {row.location}")
        return
    done = threading.Event()
    result: dict = {}

    def run() -> None:
        from django.db import connections

        try:
            result["row"] = product_fetch(product_id=row.pk)
        finally:
            connections.close_all()
            done.set()

    threading.Thread(target=run, daemon=True).start()
    with tqdm(total=row.size_bytes or None, unit="B", unit_scale=True, desc=row.name[:40]) as bar:
        while not done.wait(0.25):
            bar.update(Product.objects.get(pk=row.pk).bytes_done - bar.n)
        final = result.get("row") or Product.objects.get(pk=row.pk)
        bar.update(max(0, final.bytes_done - bar.n))
    if final.state != ProductState.AVAILABLE:
        raise click.ClickException(f"fetching {final.name} failed: {final.error or final.state}")
    click.echo(final.location)


@command.command("remove")
@click.argument("product")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def remove(product: str, yes: bool) -> None:
    """Remove PRODUCT (id or name) and delete its files."""
    _django()
    from s2render.web.products.selectors import product_lookup
    from s2render.web.products.services import product_delete

    row = _service_call(lambda: product_lookup(product))
    if not yes:
        click.confirm(f"delete {row.name} and its files at {row.location}?", abort=True)
    gone = _service_call(lambda: product_delete(product=row))
    click.echo(
        f"removed {row.name}"
        if gone
        else f"deleted the files of {row.name}; ended jobs refer "
        "to it, so its record stays (missing)"
    )

"""``s2render info PRODUCT``: what a product holds."""

from __future__ import annotations

import json

import click

from s2render.core.product import open_product


@click.command("info")
@click.argument("product", type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print the description as JSON.")
def command(product: str, as_json: bool) -> None:
    """Show a product's identity, radiometry and bands per resolution."""
    d = open_product(product).describe()
    if as_json:
        click.echo(json.dumps(d, indent=2))
        return
    offsets = sorted(set(d["offsets"].values()))
    rows = [
        ("product", d["product_id"]),
        ("path", d["path"]),
        ("level", d["level"]),
        ("mission", d["mission"] or "-"),
        ("tile", d["tile"] or "-"),
        ("sensed", d["sensing_time"] or "-"),
        ("baseline", d["processing_baseline"] or "-"),
        ("cloud cover", "-" if d["cloud_cover"] is None else f"{d['cloud_cover']:g} %"),
        ("crs", d["crs"]),
        ("bounds", ", ".join(f"{v:.2f}" for v in d["bounds"])),
        ("offset", ", ".join(str(o) for o in offsets) + f"  ({d['offset_source']})"),
    ]
    rows += [(f"bands {res}", " ".join(bands)) for res, bands in d["bands"].items()]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        click.echo(f"{key:<{width}}  {value}")

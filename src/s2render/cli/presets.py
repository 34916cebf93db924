"""``s2render presets``: the visualisation catalogue — what each preset shows, from which bands or
formula, for which product levels, and where its maths comes from."""

from __future__ import annotations

import json

import click

from s2render.core.presets import CATALOGUE_VERSION, Preset, list_presets


def formula(preset: Preset) -> str:
    """Bands (R G B) of a composite, the expression of an index or class map."""
    if preset.kind == "composite":
        text = " ".join(preset.bands)
        return (
            f"{text} (optimized)" if preset.stretch and preset.stretch.kind == "optimized" else text
        )
    return preset.parsed[0].text


@click.command("presets")
@click.option("--json", "as_json", is_flag=True, help="Print the catalogue as JSON.")
def command(as_json: bool) -> None:
    """List the presets that `s2render render --preset` accepts."""
    presets = list_presets()
    if as_json:
        document = {
            "catalogue_version": CATALOGUE_VERSION,
            "presets": [p.to_dict() for p in presets],
        }
        click.echo(json.dumps(document, indent=2))
        return
    rows = [(p.id, p.kind, ",".join(sorted(p.levels)), formula(p), p.title) for p in presets]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for preset, row in zip(presets, rows, strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)]
        click.echo("  ".join([*cells, row[4]]))
        click.echo(f"    source: {preset.source}")
    click.echo(f"catalogue version {CATALOGUE_VERSION}; legends: s2render legend PRESET OUT.png")

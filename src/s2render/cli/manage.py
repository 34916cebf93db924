"""``s2render manage``: Django's management commands with s2render's settings."""

from __future__ import annotations

import os

import click


@click.command(
    "manage", context_settings={"ignore_unknown_options": True, "allow_extra_args": True}
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def command(args: tuple[str, ...]) -> None:
    """Run a Django management command, e.g. ``s2render manage createsuperuser``."""
    from django.core.management import execute_from_command_line

    from s2render.web.bootstrap import DEFAULT_SETTINGS

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    execute_from_command_line(["s2render manage", *args])

"""``s2render serve``: everything in one command — migrate, demo product, web server,
dispatcher and a local Dask cluster. No other process to start by hand."""

from __future__ import annotations

import subprocess
import sys

import click


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--threads", default=16, show_default=True, type=click.IntRange(1), help="Web threads."
)
@click.option(
    "--dispatcher/--no-dispatcher",
    default=True,
    show_default=True,
    help="Start a dispatcher (with its local Dask cluster) beside the web server.",
)
def command(host: str, port: int, threads: int, dispatcher: bool) -> None:
    """Serve the API (seed endpoints at /api/, v1 at /api/v1/, docs at /api/v1/docs/)."""
    from s2render.web.bootstrap import prepare, setup_django

    setup_django()
    click.echo("preparing the database and the default product ...", err=True)
    prepare()
    child = None
    if dispatcher:
        child = subprocess.Popen(
            [sys.executable, "-m", "s2render", "dispatcher", "--exit-with-parent"]
        )
    from waitress import serve

    from s2render.web.wsgi import application

    click.echo(f"s2render on http://{host}:{port}/api/ (docs: /api/v1/docs/)", err=True)
    try:
        serve(application, host=host, port=port, threads=threads, ident="s2render")
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()

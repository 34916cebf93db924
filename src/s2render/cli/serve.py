"""``s2render serve``: everything in one command — migrate, demo product, web server,
dispatcher and a local Dask cluster. No other process to start by hand."""

from __future__ import annotations

import os
import signal
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
    from waitress import serve

    from s2render.web.wsgi import application

    # SIGTERM (a service manager, `docker stop`) ends the server like Ctrl-C does, so the
    # dispatcher below is stopped too and hands its unfinished renderings back to the queue.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    child = None
    try:
        if dispatcher:
            child = subprocess.Popen(
                [sys.executable, "-m", "s2render", "dispatcher", "--parent-pid", str(os.getpid())]
            )
        click.echo(f"s2render on http://{host}:{port}/api/ (docs: /api/v1/docs/)", err=True)
        serve(application, host=host, port=port, threads=threads, ident="s2render")
    finally:
        if child is not None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)

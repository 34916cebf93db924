"""``s2render serve``: everything in one command — migrate, demo product, web server,
dispatcher and a local Dask cluster. No other process to start by hand."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

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
@click.option(
    "--demo/--no-demo",
    default=True,
    show_default=True,
    help="Write and register the demo product when no default product is configured.",
)
def command(host: str, port: int, threads: int, dispatcher: bool, demo: bool) -> None:
    """Serve the API (seed endpoints at /api/, v1 at /api/v1/, docs at /api/v1/docs/)."""
    from s2render.web.bootstrap import prepare, setup_django

    setup_django()
    click.echo("preparing the database and the default product ...", err=True)
    prepare(demo=demo)
    from waitress import serve

    from s2render.web.wsgi import application

    # SIGTERM (a service manager, `docker stop`) ends the server like Ctrl-C does, so the
    # dispatcher below is stopped too and hands its unfinished renderings back to the queue.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    supervisor = DispatcherSupervisor() if dispatcher else None
    try:
        if supervisor is not None:
            supervisor.start()
        click.echo(f"s2render on http://{host}:{port}/api/ (docs: /api/v1/docs/)", err=True)
        serve(application, host=host, port=port, threads=threads, ident="s2render")
    finally:
        if supervisor is not None:
            supervisor.stop()


class DispatcherSupervisor:
    """Runs ``s2render dispatcher`` as a child and starts it again if it dies (queued jobs
    would otherwise wait forever), backing off from 1 s to 30 s while it keeps dying."""

    def __init__(self) -> None:
        self.child: subprocess.Popen | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self._thread.start()

    def _spawn(self) -> None:
        argv = [sys.executable, "-m", "s2render", "dispatcher", "--parent-pid", str(os.getpid())]
        self.child = subprocess.Popen(argv)

    def _watch(self) -> None:
        delay = 1.0
        while not self._stop.is_set():
            child = self.child
            if child is not None and child.poll() is not None:
                click.echo(
                    f"dispatcher exited with status {child.returncode}; "
                    f"starting another in {delay:.0f} s",
                    err=True,
                )
                if self._stop.wait(delay):
                    return
                self._spawn()
                delay = min(delay * 2, 30.0)
            elif self._stop.wait(1.0):
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        child = self.child
        if child is None:
            return
        child.terminate()
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)

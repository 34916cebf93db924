"""Helpers of the CLI tests: run a command in-process, read its --json records."""

from __future__ import annotations

import json

from click.testing import CliRunner

from s2render.cli.main import cli


def invoke(*args, input: str | None = None):
    """Run ``s2render ARGS``; an error may be reported, never as a traceback."""
    result = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert "Traceback" not in result.output
    return result


def records(result) -> list[dict]:
    """The --json records of a run that succeeded, each rendering done."""
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert all(r["status"] == "done" for r in found), found
    return found

"""The process-tree memory sampler."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import psutil
import pytest

from s2render.benchmark.memory import measure_command, sample_tree

MIB = 2**20

# The child only waits; the grandchild touches 200 MiB (bytes * n writes every page) and holds it.
GRANDCHILD = "import time; block = b'x' * (200 * 2**20); time.sleep(1.0)"
CHILD = textwrap.dedent(f"""
    import subprocess, sys
    subprocess.run([sys.executable, "-c", {GRANDCHILD!r}], check=True)
""")


@pytest.fixture(scope="module")
def grandchild_allocation():
    return measure_command([sys.executable, "-c", CHILD])


def test_peak_includes_the_grandchilds_memory(grandchild_allocation):
    m = grandchild_allocation
    assert m.returncode == 0, m.stderr
    assert m.peak_pss >= 180 * MIB
    assert m.peak_processes >= 2


def test_peak_rss_sum_is_at_least_the_peak_pss(grandchild_allocation):
    assert grandchild_allocation.peak_rss >= grandchild_allocation.peak_pss > 0


def test_measurement_keeps_wall_time_and_output():
    m = measure_command([sys.executable, "-c", "print('hello')"])
    assert m.returncode == 0
    assert m.stdout.strip() == "hello"
    assert m.wall_s > 0


def test_failed_command_raises_with_its_stderr_on_check():
    m = measure_command([sys.executable, "-c", "import sys; sys.exit('broken on purpose')"])
    assert m.returncode == 1
    with pytest.raises(subprocess.CalledProcessError, match="exit status 1") as info:
        m.check()
    assert "broken on purpose" in info.value.stderr


def test_a_process_that_is_gone_counts_as_nothing():
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    handle = psutil.Process(proc.pid)
    proc.communicate(b"")
    sample = sample_tree(handle)
    assert (sample.pss, sample.rss, sample.processes) == (0, 0, 0)

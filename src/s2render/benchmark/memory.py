"""Wall time and peak memory of a command and every process it starts.

Memory is sampled every ``interval`` seconds as the sum over the process tree (the command and all
its descendants). PSS (proportional set size) is the headline figure: a page shared by N processes
counts 1/N in each, so shared libraries and copy-on-write pages after ``fork`` are counted once.
The summed RSS is kept too; it counts every shared page once per process and so overstates.
Spikes shorter than the interval can be missed: this is a sampler, not an allocator hook.
"""

from __future__ import annotations

import os
import resource
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import psutil

DEFAULT_INTERVAL = 0.05
_GONE = (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied)


@dataclass(frozen=True)
class TreeMemory:
    """One sample of a process tree: summed PSS and RSS in bytes, and how many processes."""

    pss: int
    rss: int
    processes: int


@dataclass(frozen=True)
class CommandMeasurement:
    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float  # user + system time of the tree's processes that were waited for
    peak_pss: int
    peak_rss: int
    peak_processes: int
    samples: int
    stdout: str
    stderr: str

    def check(self) -> CommandMeasurement:
        """Return self, or raise when the command failed (with its stderr tail in the message)."""
        if self.returncode != 0:
            tail = "\n".join(self.stderr.strip().splitlines()[-20:])
            raise subprocess.CalledProcessError(self.returncode, list(self.argv), self.stdout, tail)
        return self


def sample_tree(root: psutil.Process) -> TreeMemory:
    """Sum PSS and RSS over ``root`` and its descendants; processes that vanish are skipped."""
    try:
        members = [root, *root.children(recursive=True)]
    except _GONE:
        return TreeMemory(0, 0, 0)
    pss = rss = count = 0
    for proc in members:
        try:
            info = proc.memory_full_info()
        except _GONE:
            # Exited (or became a zombie) between listing and reading: it holds no memory now.
            continue
        pss += info.pss
        rss += info.rss
        count += 1
    return TreeMemory(pss, rss, count)


class TreeSampler(threading.Thread):
    """Background thread that samples a process tree until stopped and keeps the peaks."""

    def __init__(self, pid: int, interval: float = DEFAULT_INTERVAL) -> None:
        super().__init__(name=f"tree-sampler-{pid}", daemon=True)
        self.interval = interval
        self.peak_pss = 0
        self.peak_rss = 0
        self.peak_processes = 0
        self.samples = 0
        self._root = psutil.Process(pid)
        self._done = threading.Event()

    def run(self) -> None:
        while True:
            self.take_sample()
            if self._done.wait(self.interval):
                return

    def take_sample(self) -> None:
        sample = sample_tree(self._root)
        self.samples += 1
        self.peak_pss = max(self.peak_pss, sample.pss)
        self.peak_rss = max(self.peak_rss, sample.rss)
        self.peak_processes = max(self.peak_processes, sample.processes)

    def stop(self) -> None:
        self._done.set()
        self.join()


def measure_command(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    interval: float = DEFAULT_INTERVAL,
    timeout: float | None = None,
) -> CommandMeasurement:
    """Run ``argv`` to completion; return its wall time, peak tree memory and captured output."""
    # Output goes to files, not pipes: a chatty command can never block on a full pipe while
    # the main thread is busy waiting on it.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # CPU time of reaped children accrues to RUSAGE_CHILDREN once the command is waited for,
        # including its own descendants that it waited for. On a busy machine it stays honest
        # where wall time does not.
        before = _children_cpu()
        proc = subprocess.Popen(
            list(argv), stdout=out, stderr=err, env=dict(env) if env else None, cwd=cwd
        )
        sampler: TreeSampler | None
        try:
            sampler = TreeSampler(proc.pid, interval)
        except psutil.NoSuchProcess:  # finished before we could look at it
            sampler = None
        if sampler is not None:
            sampler.start()
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_tree(proc.pid)
            returncode = proc.wait()
        finally:
            wall = time.perf_counter() - start
            cpu = _children_cpu() - before
            if sampler is not None:
                sampler.stop()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
    return CommandMeasurement(
        argv=tuple(argv),
        returncode=returncode,
        wall_s=wall,
        cpu_s=cpu,
        peak_pss=sampler.peak_pss if sampler else 0,
        peak_rss=sampler.peak_rss if sampler else 0,
        peak_processes=sampler.peak_processes if sampler else 0,
        samples=sampler.samples if sampler else 0,
        stdout=stdout,
        stderr=stderr,
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _kill_tree(pid: int) -> None:
    """Kill a timed-out command and the processes it started (children first)."""
    try:
        root = psutil.Process(pid)
        members = [*root.children(recursive=True), root]
    except psutil.NoSuchProcess:
        return
    for proc in members:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue

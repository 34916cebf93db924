"""The one place that reads the environment. Interfaces (CLI, web) build their settings here and
pass plain values down; ``core`` and ``execution`` never read the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


def _int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} must be an integer") from None


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    output_dir: Path
    scheduler_address: str | None
    workers: int
    threads: int | None
    processes: bool

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo"


def load_settings() -> Settings:
    data = Path(os.environ.get("S2RENDER_DATA_DIR", "var"))
    return Settings(
        data_dir=data,
        output_dir=Path(os.environ.get("S2RENDER_OUTPUT_DIR", str(data / "outputs"))),
        scheduler_address=os.environ.get("DASK_SCHEDULER_ADDRESS") or None,
        workers=_int("S2RENDER_WORKERS") or 1,
        threads=_int("S2RENDER_THREADS"),
        processes=_bool("S2RENDER_WORKER_PROCESSES", False),
    )


def debug_enabled() -> bool:
    return _bool("S2RENDER_DEBUG", False)

"""The one place that reads the environment. Interfaces (CLI, web) build their settings here and
pass plain values down; ``core`` and ``execution`` never read the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from s2render.core.cdse import CdseConfig


def _int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} must be an integer") from None


_UNITS = {
    "": 1,
    "B": 1,
    "K": 1e3,
    "KB": 1e3,
    "M": 1e6,
    "MB": 1e6,
    "G": 1e9,
    "GB": 1e9,
    "T": 1e12,
    "TB": 1e12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


def _bytes(name: str) -> int | None:
    """A size such as ``50GB``, ``500MiB`` or ``1000000`` (bytes); unset: None."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    number = value.rstrip("BbKkMmGgTtIi ")
    unit = value[len(number) :].strip().upper()
    try:
        return int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        raise SystemExit(
            f"{name}={value!r} must be a size such as 50GB, 500MiB or 1000000"
        ) from None


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


def _float(name: str, default: float) -> float:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(f"{name}={value!r} must be a number") from None


def _list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name, "").strip()
    return [v.strip() for v in value.split(",") if v.strip()] if value else default


@dataclass(frozen=True)
class WebSettings:
    """What the web service and the dispatcher need beyond :class:`Settings`."""

    base: Settings
    database_url: str
    secret_key: str | None  # None: the local settings make and keep one under the data folder
    allowed_hosts: list[str]
    anonymous: bool  # local mode: requests without credentials act as the "local" user
    default_product: Path | None  # what the seed's endpoints render; None: the demo product
    job_run_timeout: float  # seconds the seed's job-run waits before answering 202
    job_create_rate: str  # DRF throttle rate for job creation per user, e.g. "120/min"
    dispatcher_poll: float  # seconds between dispatcher polls when idle
    dispatcher_stale: float  # a dispatcher silent for this long is presumed dead
    dispatcher_capacity: int  # renderings one dispatcher keeps in flight
    max_attempts: int  # times a rendering is started before it is given up
    download_cap: int | None  # bytes the downloaded products may take; None: no cap
    stac_hosts: list[str]  # hosts STAC items and their assets may come from; empty: any
    debug: bool


def load_web_settings() -> WebSettings:
    base = load_settings()
    default_db = f"sqlite:///{(base.data_dir / 's2render.sqlite3').resolve()}"
    product = os.environ.get("S2RENDER_DEFAULT_PRODUCT", "").strip()
    return WebSettings(
        base=base,
        database_url=os.environ.get("DATABASE_URL", "").strip() or default_db,
        secret_key=os.environ.get("S2RENDER_SECRET_KEY") or None,
        allowed_hosts=_list("S2RENDER_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"]),
        anonymous=_bool("S2RENDER_ANONYMOUS", True),
        default_product=Path(product) if product else None,
        job_run_timeout=_float("S2RENDER_JOB_RUN_TIMEOUT", 600.0),
        job_create_rate=os.environ.get("S2RENDER_JOB_CREATE_RATE", "").strip() or "120/min",
        dispatcher_poll=_float("S2RENDER_DISPATCHER_POLL", 0.25),
        dispatcher_stale=_float("S2RENDER_DISPATCHER_STALE", 30.0),
        dispatcher_capacity=_int("S2RENDER_DISPATCHER_CAPACITY") or 8,
        max_attempts=_int("S2RENDER_MAX_ATTEMPTS") or 3,
        download_cap=_bytes("S2RENDER_DOWNLOAD_CAP"),
        stac_hosts=_list("S2RENDER_STAC_HOSTS", []),
        debug=debug_enabled(),
    )


def load_cdse_config() -> CdseConfig:
    """Copernicus Data Space credentials and endpoints (``s2render download``)."""
    from s2render.core.cdse import CATALOGUE_URL, DOWNLOAD_URL, TOKEN_URL, CdseConfig

    return CdseConfig(
        username=os.environ.get("S2RENDER_CDSE_USERNAME", "").strip() or None,
        password=os.environ.get("S2RENDER_CDSE_PASSWORD") or None,
        token_url=os.environ.get("S2RENDER_CDSE_TOKEN_URL", "").strip() or TOKEN_URL,
        catalogue_url=os.environ.get("S2RENDER_CDSE_CATALOGUE_URL", "").strip() or CATALOGUE_URL,
        download_url=os.environ.get("S2RENDER_CDSE_DOWNLOAD_URL", "").strip() or DOWNLOAD_URL,
    )


def pc_sas_url() -> str:
    """The Planetary Computer SAS token endpoint (``S2RENDER_PC_SAS_URL``), public by default."""
    from s2render.core.signing import PC_SAS_URL

    return os.environ.get("S2RENDER_PC_SAS_URL", "").strip() or PC_SAS_URL

"""What the benchmark found: per-scenario figures, the project's targets, and the printed table."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MB = 1_000_000  # figures are in MB = 10**6 bytes; the (c) target of 1 GB is 10**9 bytes


@dataclass(frozen=True)
class Run:
    """One measured run of a scenario."""

    wall_s: float
    cpu_s: float
    peak_pss: int
    peak_rss: int
    peak_processes: int


@dataclass
class ScenarioResult:
    key: str
    title: str
    argv: tuple[str, ...]
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failed command or bad output

    @property
    def ok(self) -> bool:
        return bool(self.runs) and not self.problems

    def median(self, attribute: str) -> float | None:
        """Median over the runs (``--repeat``) of a ``Run`` attribute; None without a clean run."""
        if not self.ok:
            return None
        return statistics.median(getattr(run, attribute) for run in self.runs)

    @property
    def wall_s(self) -> float | None:
        return self.median("wall_s")

    @property
    def cpu_s(self) -> float | None:
        return self.median("cpu_s")

    @property
    def peak_pss(self) -> float | None:
        return self.median("peak_pss")

    @property
    def peak_rss(self) -> float | None:
        return self.median("peak_rss")


Results = Mapping[str, ScenarioResult]


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


@dataclass(frozen=True)
class Target:
    """A promise of the project: ``value(results) <op> threshold``."""

    name: str
    op: str
    threshold: float
    value: Callable[[Results], float | None]
    unit: str = "x"

    def check(self, value: float | None) -> bool | None:
        if value is None:
            return None
        compare = {
            ">=": value >= self.threshold,
            "<=": value <= self.threshold,
            "<": value < self.threshold,
        }
        return compare[self.op]


def _wall(results: Results, key: str) -> float | None:
    result = results.get(key)
    return None if result is None else result.wall_s


TARGETS: tuple[Target, ...] = (
    Target("speed-up (a)/(b)", ">=", 4.0, lambda r: _ratio(r["a"].wall_s, r["b"].wall_s)),
    Target("peak PSS (b)/(a)", "<=", 0.10, lambda r: _ratio(r["b"].peak_pss, r["a"].peak_pss)),
    Target("time (b)/(d_b)", "<=", 1.3, lambda r: _ratio(r["b"].wall_s, r["d_b"].wall_s)),
    Target("time (c)/(d_c)", "<=", 1.15, lambda r: _ratio(r["c"].wall_s, r["d_c"].wall_s)),
    Target("peak PSS (c)", "<", 1000.0, lambda r: _ratio(r["c"].peak_pss, MB), unit="MB"),
    # Issue #4 part 5: a preview decodes reduced-resolution levels, not the full product.
    Target("speed-up (c)/(e)", ">=", 20.0, lambda r: _ratio(_wall(r, "c"), _wall(r, "e"))),
)


@dataclass(frozen=True)
class TargetResult:
    target: Target
    value: float | None
    met: bool | None  # None: a scenario it depends on failed


def evaluate_targets(results: Results, targets: Sequence[Target] = TARGETS) -> list[TargetResult]:
    out = []
    for target in targets:
        value = target.value(results)
        out.append(TargetResult(target, value, target.check(value)))
    return out


@dataclass
class BenchReport:
    machine: dict[str, Any]
    product: dict[str, Any]
    repeat: int
    decode_note: str
    results: dict[str, ScenarioResult]
    targets: list[TargetResult]

    @property
    def ok(self) -> bool:
        """Every scenario ran and produced valid outputs (targets may still be missed)."""
        return all(result.ok for result in self.results.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "product": self.product,
            "repeat": self.repeat,
            "decode_alone": self.decode_note,
            "scenarios": {
                key: {
                    "title": r.title,
                    "argv": list(r.argv),
                    "ok": r.ok,
                    "problems": r.problems,
                    "wall_s": r.wall_s,
                    "cpu_s": r.cpu_s,
                    "peak_pss_mb": _ratio(r.peak_pss, MB),
                    "peak_rss_mb": _ratio(r.peak_rss, MB),
                    "runs": [vars(run) for run in r.runs],
                }
                for key, r in self.results.items()
            },
            "targets": [
                {
                    "name": t.target.name,
                    "value": t.value,
                    "op": t.target.op,
                    "threshold": t.target.threshold,
                    "unit": t.target.unit,
                    "met": t.met,
                }
                for t in self.targets
            ],
        }


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def format_report(report: BenchReport) -> str:
    """The plain-text table printed by ``s2render bench``."""
    m, p = report.machine, report.product
    lines = [
        f"machine: {m['cpu_count']} cores ({m['cpu_model']}), {m['memory_gb']:.1f} GiB RAM, "
        f"load {m.get('load_1min', float('nan')):.1f} at start; "
        f"GDAL {m['gdal']}, rasterio {m['rasterio']}, OpenJPEG {m['openjpeg']}, "
        f"Pillow {m['pillow']}, Python {m['python']}",
        f"product: {p['path']} ({p['width']}x{p['height']} px at 10 m; "
        f"10 m band {p['band10_mb']:.0f} MB, 20 m band {p['band20_mb']:.0f} MB)",
        f"runs: {report.repeat} per scenario, median shown; decode alone: {report.decode_note}",
        "",
        f"{'scenario':<42} {'wall s':>8} {'CPU s':>8} {'peak PSS MB':>12} {'peak RSS MB':>12}",
    ]
    for key, r in report.results.items():
        label = f"({key}) {r.title}"
        lines.append(
            f"{label:<42} {_fmt(r.wall_s, '8.2f'):>8} {_fmt(r.cpu_s, '8.2f'):>8} "
            f"{_fmt(_ratio(r.peak_pss, MB), '12.0f'):>12} "
            f"{_fmt(_ratio(r.peak_rss, MB), '12.0f'):>12}"
        )
    lines += ["", f"{'target':<24} {'value':>10}   {'goal':<10} result"]
    for t in report.targets:
        spec = ".0f" if t.target.unit == "MB" else ".3g"
        value = _fmt(t.value, spec) + ("" if t.value is None else f" {t.target.unit}")
        goal = f"{t.target.op} {t.target.threshold:g} {t.target.unit}"
        verdict = {True: "met", False: "MISSED", None: "n/a"}[t.met]
        lines.append(f"{t.target.name:<24} {value:>10}   {goal:<10} {verdict}")
    problems = [(key, p) for key, r in report.results.items() for p in r.problems]
    if problems:
        lines += ["", "problems (a scenario with a problem has no figures):"]
        lines += [f"  ({key}) {text}" for key, text in problems]
    return "\n".join(lines)

"""A batch of renderings as one Dask graph.

Per rendering and strip: one read task per band, one compose task; per rendering: one finalize
task. Read tasks are keyed by what they read — band file, resolution level, grid, window, and the
warp and area polygon if any — so renderings that need the same band window share one read,
whether they show bands, band maths or an index. Only small records come back to the client: the
canvas is a file the compose tasks write and the finalize task encodes. Renderings fail alone.

A percentile stretch adds a reduction before the 8-bit mapping: one statistics task per strip
(a fixed-bin histogram, :mod:`s2render.core.statistics`), one reduction task over the strips of
the rendering (scope ``rendering``) or over the strips of every rendering of the batch that asks
for job scope with the same percentiles (scope ``job``: one shared mapping, channel by channel
position), and the compose and finalize tasks take its ranges. The strips' reads stay in worker
memory until the reduction is done (Dask spills them to disk under memory pressure); and a read
that fails fails every rendering sharing that job-scope reduction, since their common mapping
cannot be computed.

A job whose job-scope mapping was already applied (its renderings that failed are retried, or a
remote product arrived after the rest of the job ran) passes those ranges as ``job_ranges``:
the batch's job-scope renderings with the same percentiles then take them as they are, with no
statistics and no reduction of their own, so the whole job stays comparable side by side.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from distributed import Client, Future, as_completed

from s2render.core.contact_sheet import sheet_format, write_contact_sheet
from s2render.core.errors import S2RenderError
from s2render.core.product import Product, open_product
from s2render.core.reader import read_request
from s2render.core.render import (
    RenderPlan,
    RenderResult,
    RenderSpec,
    compose_strip,
    encode_jpeg_segment,
    finalize_rendering,
    plan_rendering,
    reduce_histograms,
    strip_statistics,
)
from s2render.core.statistics import PercentileRanges
from s2render.core.stretch import Stretch

Progress = Callable[[RenderResult], None]

# Higher runs first: finish strips already read before starting new reads (bounded memory).
_PRIORITY_READ, _PRIORITY_COMPOSE, _PRIORITY_FINALIZE = 0, 1, 2
_PRIORITY_STATISTICS, _PRIORITY_REDUCE = 1, 2


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, S2RenderError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def plan_batch(specs: Sequence[RenderSpec], out_dir: str | Path) -> list[RenderPlan | RenderResult]:
    """Plan every rendering; a rendering that cannot be planned becomes an error result."""
    products: dict[str, Product] = {}
    plans: list[RenderPlan | RenderResult] = []
    names: set[Path] = set()
    for index, spec in enumerate(specs):
        try:
            if spec.product not in products:
                products[spec.product] = open_product(spec.product)
            plan = plan_rendering(spec, out_dir, product=products[spec.product])
            if plan.output in names:  # the same rendering twice: keep both, distinct names
                plan = plan_rendering(
                    _renamed(spec, plan, index), out_dir, product=products[spec.product]
                )
            names.add(plan.output)
            plans.append(plan)
        except (S2RenderError, ValueError, OSError) as exc:
            plans.append(RenderResult(index=index, status="error", error=describe_error(exc)))
    return plans


def _renamed(spec: RenderSpec, plan: RenderPlan, index: int) -> RenderSpec:
    return replace(spec, name=f"{plan.output.stem}_{index}")


@dataclass
class Submitted:
    finals: dict[Future, tuple[int, RenderPlan]]  # each rendering's last task, index and plan
    read_keys: list[str]  # the distinct reads of the graph


JobRanges = Mapping[tuple[float, float], PercentileRanges]


def submit_batch(
    client: Client,
    plans: Sequence[RenderPlan | RenderResult],
    batch_id: str,
    *,
    job_ranges: JobRanges | None = None,
) -> Submitted:
    """Submit the graph of every planned rendering. ``job_ranges``: the job-scope mapping
    already applied to the job, per percentile cut (reused, not computed again)."""
    graph = _Graph(client, batch_id)
    planned = [(i, p) for i, p in enumerate(plans) if isinstance(p, RenderPlan)]
    started = {index: time.perf_counter() for index, _ in planned}
    inputs = {index: graph.reads_of(plan) for index, plan in planned}
    ranges = graph.statistics(planned, inputs, job_ranges or {})
    finals: dict[Future, tuple[int, RenderPlan]] = {}
    for index, plan in planned:
        final = graph.rendering(index, plan, inputs[index], ranges.get(index), started[index])
        finals[final] = (index, plan)
    return Submitted(finals, list(graph.reads))


class _Graph:
    """Submits one batch's tasks with unique keys, sharing equal reads."""

    def __init__(self, client: Client, batch_id: str) -> None:
        self.client = client
        self.batch_id = batch_id
        self.reads: dict[str, Future] = {}

    def reads_of(self, plan: RenderPlan) -> list[list[Future]]:
        """Each strip's read futures (one per band), submitted once per distinct read."""
        strips = []
        for strip in range(len(plan.strips)):
            inputs = []
            for request in plan.reads(strip):
                key = f"read-{self.batch_id}-{request.token()}"
                if key not in self.reads:
                    self.reads[key] = self.client.submit(
                        read_request,
                        request,
                        key=key,
                        priority=_PRIORITY_READ,
                        pure=False,
                    )
                inputs.append(self.reads[key])
            strips.append(inputs)
        return strips

    def statistics(
        self,
        planned: list[tuple[int, RenderPlan]],
        inputs: dict[int, list[list[Future]]],
        job_ranges: JobRanges,
    ) -> dict[int, Future | PercentileRanges]:
        """Percentile ranges per rendering index: strip histograms reduced per rendering, or
        across every job-scope rendering with the same percentiles, or the job's ranges
        already applied for those percentiles."""
        ranges: dict[int, Future | PercentileRanges] = {}
        # Job scope: one reduction per percentile cut; gamma stays each rendering's own.
        job_groups: dict[tuple[float, float], list[tuple[int, Stretch, list[Future]]]]
        job_groups = defaultdict(list)
        for index, plan in planned:
            if not plan.needs_statistics:
                continue
            stretch = plan.spec.stretch
            cut = stretch.percentiles
            if stretch.scope == "job" and cut is not None and cut in job_ranges:
                ranges[index] = job_ranges[cut]
                continue
            histograms = [
                self.client.submit(
                    strip_statistics,
                    plan,
                    strip,
                    *reads,
                    key=f"stats-{self.batch_id}-{index}-{strip}",
                    priority=_PRIORITY_STATISTICS,
                    pure=False,
                )
                for strip, reads in enumerate(inputs[index])
            ]
            if stretch.scope == "job" and stretch.percentiles is not None:
                job_groups[stretch.percentiles].append((index, stretch, histograms))
            else:
                ranges[index] = self._reduce(stretch, 1, histograms, f"{index}")
        for group, members in enumerate(job_groups.values()):
            histograms = [h for _, _, hs in members for h in hs]
            reduced = self._reduce(members[0][1], len(members), histograms, f"job{group}")
            for index, _, _ in members:
                ranges[index] = reduced
        return ranges

    def _reduce(
        self, stretch: Stretch, renderings: int, histograms: list[Future], name: str
    ) -> Future:
        return self.client.submit(
            reduce_histograms,
            stretch,
            renderings,
            *histograms,
            key=f"stretch-{self.batch_id}-{name}",
            priority=_PRIORITY_REDUCE,
            pure=False,
        )

    def rendering(
        self,
        index: int,
        plan: RenderPlan,
        inputs: list[list[Future]],
        ranges: Future | PercentileRanges | None,
        started: float,
    ) -> Future:
        """Compose, JPEG-segment and finalize tasks of one rendering; returns the final one."""
        submit, batch = self.client.submit, self.batch_id
        composed = [
            submit(
                compose_strip,
                plan,
                strip,
                *reads,
                ranges=ranges,
                key=f"compose-{batch}-{index}-{strip}",
                priority=_PRIORITY_COMPOSE,
                pure=False,
            )
            for strip, reads in enumerate(inputs)
        ]
        segments = [
            submit(
                encode_jpeg_segment,
                plan,
                seg,
                *[composed[i] for i in plan.strips_of_segment(seg)],
                key=f"jpeg-{batch}-{index}-{seg}",
                priority=_PRIORITY_COMPOSE,
                pure=False,
            )
            for seg in range(len(plan.segments))
        ]
        return submit(
            finalize_rendering,
            plan,
            composed,
            segments or None,
            index=index,
            started=started,
            ranges=ranges,
            key=f"render-{batch}-{index}",
            priority=_PRIORITY_FINALIZE,
            pure=False,
        )


def run_batch(
    client: Client,
    specs: Sequence[RenderSpec],
    out_dir: str | Path,
    *,
    on_progress: Progress | None = None,
    contact_sheet: str | Path | None = None,
) -> list[RenderResult]:
    """Render ``specs`` on ``client``; return one result per spec, in order. With
    ``contact_sheet``, also draw every rendering (failed ones as grey cells) into that image."""
    if contact_sheet is not None:
        sheet_format(contact_sheet)  # a bad name fails before any rendering
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    plans = plan_batch(specs, out_dir)
    results: dict[int, RenderResult] = {}
    for index, plan in enumerate(plans):
        if isinstance(plan, RenderResult):
            results[index] = plan
            if on_progress:
                on_progress(plan)
    finals = submit_batch(client, plans, uuid.uuid4().hex[:12]).finals
    for future in as_completed(list(finals), loop=client.loop):
        index, plan = finals.pop(future)
        if future.status == "finished":
            result = future.result()
        else:
            exc = future.exception()
            plan.canvas.unlink(missing_ok=True)
            result = RenderResult(
                index=index, status="error", error=describe_error(exc), name=plan.output.name
            )
        future.release()
        results[index] = result
        if on_progress:
            on_progress(result)
    ordered = [results[i] for i in range(len(specs))]
    if contact_sheet is not None and ordered:
        write_contact_sheet(ordered, contact_sheet)
    return ordered

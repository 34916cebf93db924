"""A batch of renderings as one Dask graph.

Per rendering and strip: three read tasks, one compose task; per rendering: one finalize task.
Read tasks are keyed by what they read — (band file, grid, window) — so renderings that need the
same band window share one read. Only small records come back to the client: the canvas is a
file the compose tasks write and the finalize task encodes. Renderings fail alone.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from distributed import Client, Future, as_completed

from s2render.core.errors import S2RenderError
from s2render.core.product import Product, open_product
from s2render.core.reader import read_window
from s2render.core.render import (
    RenderPlan,
    RenderResult,
    RenderSpec,
    compose_strip,
    encode_jpeg_segment,
    finalize_rendering,
    plan_rendering,
)

Progress = Callable[[RenderResult], None]

# Higher runs first: finish strips already read before starting new reads (bounded memory).
_PRIORITY_READ, _PRIORITY_COMPOSE, _PRIORITY_FINALIZE = 0, 1, 2


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


def submit_batch(
    client: Client, plans: Sequence[RenderPlan | RenderResult], batch_id: str
) -> Submitted:
    """Submit the graph of every planned rendering."""
    reads: dict[str, Future] = {}
    finals: dict[Future, tuple[int, RenderPlan]] = {}
    for index, plan in enumerate(plans):
        if isinstance(plan, RenderResult):
            continue
        started = time.perf_counter()
        composed = []
        for strip in range(len(plan.strips)):
            inputs = []
            for request in plan.reads(strip):
                key = f"read-{batch_id}-{request.token()}"
                if key not in reads:
                    reads[key] = client.submit(
                        read_window,
                        request.band_file,
                        request.grid,
                        request.window,
                        key=key,
                        priority=_PRIORITY_READ,
                        pure=False,
                    )
                inputs.append(reads[key])
            composed.append(
                client.submit(
                    compose_strip,
                    plan,
                    strip,
                    *inputs,
                    key=f"compose-{batch_id}-{index}-{strip}",
                    priority=_PRIORITY_COMPOSE,
                    pure=False,
                )
            )
        segments = [
            client.submit(
                encode_jpeg_segment,
                plan,
                seg,
                *[composed[i] for i in plan.strips_of_segment(seg)],
                key=f"jpeg-{batch_id}-{index}-{seg}",
                priority=_PRIORITY_COMPOSE,
                pure=False,
            )
            for seg in range(len(plan.segments))
        ]
        final = client.submit(
            finalize_rendering,
            plan,
            composed,
            segments or None,
            index=index,
            started=started,
            key=f"render-{batch_id}-{index}",
            priority=_PRIORITY_FINALIZE,
            pure=False,
        )
        finals[final] = (index, plan)
    return Submitted(finals, list(reads))


def run_batch(
    client: Client,
    specs: Sequence[RenderSpec],
    out_dir: str | Path,
    *,
    on_progress: Progress | None = None,
) -> list[RenderResult]:
    """Render ``specs`` on ``client``; return one result per spec, in order."""
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
    return [results[i] for i in range(len(specs))]

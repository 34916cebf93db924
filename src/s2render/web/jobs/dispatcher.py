"""The dispatcher: the only bridge between job state (the database) and Dask.

One loop, polling: heartbeat; re-queue the work of dead dispatchers; harvest finished
renderings into the database; stop renderings that were canceled or deleted; claim queued
renderings and submit them, per job, as one batch graph (shared reads) with unique keys.
Everything it records goes through :mod:`.services`, guarded by the claim token.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from distributed import Client, Future

from s2render.core.render import RenderPlan, RenderResult
from s2render.execution.batch import describe_error, plan_batch, submit_batch
from s2render.web.jobs import services
from s2render.web.jobs.models import Dispatcher, Rendering, Status
from s2render.web.jobs.specs import job_output_dir, output_name, to_render_spec

log = logging.getLogger("s2render.dispatcher")


@dataclass
class _InFlight:
    rendering_id: int
    claim: str
    plan: RenderPlan


@dataclass
class DispatcherConfig:
    output_root: Path
    poll: float = 0.25
    capacity: int = 8
    stale: float = 30.0
    max_attempts: int = 3
    name: str = field(
        default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    )


class JobDispatcher:
    """Claims queued renderings and runs them on ``client``; call :meth:`run` or :meth:`step`."""

    def __init__(self, client: Client, config: DispatcherConfig) -> None:
        self.client = client
        self.config = config
        self.name = config.name
        self.inflight: dict[Future, _InFlight] = {}
        self._last_beat = 0.0
        self._last_recover = 0.0

    # -- lifecycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` is set; then give unfinished renderings back to the queue."""
        stop = stop or threading.Event()
        services.dispatcher_register(name=self.name, host=socket.gethostname(), pid=os.getpid())
        log.info("dispatcher %s started", self.name)
        try:
            self.recover()
            while not stop.is_set():
                if not self.step():
                    stop.wait(self.config.poll)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        by_claim: dict[str, list[int]] = defaultdict(list)
        for future, item in self.inflight.items():
            future.cancel()
            by_claim[item.claim].append(item.rendering_id)
            item.plan.canvas.unlink(missing_ok=True)
        for claim, ids in by_claim.items():
            services.rendering_release(claim=claim, rendering_ids=ids)
        self.inflight.clear()
        services.dispatcher_unregister(name=self.name)
        log.info("dispatcher %s stopped", self.name)

    def step(self) -> bool:
        """One round; True if anything happened (the loop then goes on without sleeping)."""
        now = time.monotonic()
        if now - self._last_beat >= 1.0:
            self.heartbeat()
            self._last_beat = now
        if now - self._last_recover >= max(1.0, self.config.stale / 3):
            self.recover()
            self._last_recover = now
        harvested = self.harvest()
        self.drop_withdrawn()
        claimed = self.claim()
        return bool(harvested or claimed)

    # -- the steps --------------------------------------------------------------------------

    def heartbeat(self) -> None:
        if not Dispatcher.objects.filter(name=self.name).exists():
            services.dispatcher_register(name=self.name, host=socket.gethostname(), pid=os.getpid())
        services.dispatcher_heartbeat(name=self.name)

    def recover(self) -> int:
        """Re-queue what dead dispatchers left running (their temporary files removed)."""
        return services.dispatcher_recover(
            me=self.name,
            stale_seconds=self.config.stale,
            max_attempts=self.config.max_attempts,
            dead=self._dead_on_this_host(),
        )

    def harvest(self) -> int:
        done = [f for f in self.inflight if f.done()]
        for future in done:
            item = self.inflight.pop(future)
            if future.status == "finished":
                result: RenderResult = future.result()
                self._record(item, result)
            elif future.status == "cancelled":
                item.plan.canvas.unlink(missing_ok=True)
            else:
                item.plan.canvas.unlink(missing_ok=True)
                error = describe_error(future.exception())
                services.rendering_fail(
                    rendering_id=item.rendering_id, claim=item.claim, error=error
                )
            future.release()
        return len(done)

    def drop_withdrawn(self) -> None:
        """Stop renderings that are no longer ours: canceled, re-queued by a peer, or deleted."""
        if not self.inflight:
            return
        ids = {item.rendering_id for item in self.inflight.values()}
        still_ours = set(
            Rendering.objects.filter(id__in=ids, status=Status.RUNNING)
            .filter(claim__in={i.claim for i in self.inflight.values()})
            .values_list("id", flat=True)
        )
        for future, item in list(self.inflight.items()):
            if item.rendering_id not in still_ours:
                future.cancel()
                del self.inflight[future]
                item.plan.canvas.unlink(missing_ok=True)
                _unlink_outputs(item.plan.output)
                log.info("rendering %s withdrawn; stopped", item.rendering_id)

    def claim(self) -> int:
        free = self.config.capacity - len(self.inflight)
        if free <= 0:
            return 0
        claim, rows = services.rendering_claim(dispatcher=self.name, limit=free)
        by_job: dict[int, list[Rendering]] = defaultdict(list)
        for row in rows:
            by_job[row.job_id].append(row)
        for job_rows in by_job.values():
            self._submit(claim, job_rows)
        return len(rows)

    # -- helpers ----------------------------------------------------------------------------

    def _submit(self, claim: str, rows: list[Rendering]) -> None:
        out_dir = job_output_dir(self.config.output_root, str(rows[0].job.uuid))
        out_dir.mkdir(parents=True, exist_ok=True)
        specs = []
        for row in rows:
            try:
                specs.append(
                    to_render_spec(
                        row.spec, row.product.location, name=output_name(row.index, row.spec)
                    )
                )
            except Exception as exc:  # a stored spec the core now refuses: fail it alone
                services.rendering_fail(rendering_id=row.pk, claim=claim, error=str(exc))
                specs.append(None)
        planned = plan_batch([s for s in specs if s is not None], out_dir)
        kept = [row for row, s in zip(rows, specs, strict=True) if s is not None]
        for row, plan in zip(kept, planned, strict=True):
            if isinstance(plan, RenderResult):
                services.rendering_fail(rendering_id=row.pk, claim=claim, error=plan.error or "")
        submitted = submit_batch(self.client, planned, f"{claim[:12]}-{rows[0].job_id}")
        by_index = {index: row for index, row in enumerate(kept)}
        for future, (index, plan) in submitted.finals.items():
            self.inflight[future] = _InFlight(by_index[index].pk, claim, plan)

    def _record(self, item: _InFlight, result: RenderResult) -> None:
        if result.status != "done":
            services.rendering_fail(
                rendering_id=item.rendering_id, claim=item.claim, error=result.error or "failed"
            )
            return
        record = result.to_dict()
        record.update(_sidecar_figures(result.sidecar))
        record["media_type"] = item.plan.spec.format.info.media_type
        if not services.rendering_complete(
            rendering_id=item.rendering_id, claim=item.claim, result=record
        ):
            # Canceled, deleted or taken over meanwhile: the image is nobody's.
            _unlink_outputs(item.plan.output)

    def _dead_on_this_host(self) -> list[str]:
        """Dispatchers registered from this host whose process is gone (no need to wait)."""
        dead = []
        host = socket.gethostname()
        for name, pid in Dispatcher.objects.filter(host=host).values_list("name", "pid"):
            if name != self.name and not _pid_alive(pid):
                dead.append(name)
        return dead


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sidecar_figures(path: str | None) -> dict:
    if not path:
        return {}
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return {
        "stretch": document.get("stretch"),
        "offsets": document.get("radiometry", {}).get("offsets"),
    }


def _unlink_outputs(output: Path) -> None:
    output.unlink(missing_ok=True)
    output.with_suffix(output.suffix + ".json").unlink(missing_ok=True)

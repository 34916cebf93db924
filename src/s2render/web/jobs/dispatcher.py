"""The dispatcher: the only bridge between job state (the database) and Dask.

One loop, polling: heartbeat; re-queue the work of dead dispatchers; harvest finished
renderings into the database; stop renderings that were canceled or deleted; claim queued
renderings and submit them, per job, as one batch graph (shared reads) with unique keys.
Everything it records goes through :mod:`.services`, guarded by the claim token.

Images are written into the claim's own folder (``<job>/.claim-<token>/``) and moved into the
job's folder in the transaction that records them done, so only the current claim holder ever
puts a file under a final name: a dispatcher presumed dead (paused, cut off) that wakes up finds
its claim withdrawn and its folder removed, and cannot replace or delete an image someone else
recorded.

A job-scope percentile stretch is one mapping for the whole job. The first batch of a job
computes it; each finished rendering records the ranges applied (its figures' ``stretch``, from
the sidecar). A later batch of the same job — the failed renderings retried, renderings re-queued
after a dispatcher died, a remote product fetched after the rest ran — reuses those recorded
ranges instead of computing a mapping over itself alone (:func:`job_ranges`), so the job stays
comparable side by side. The stored specs stay as asked (``p2,98``, scope job): the reuse is
decided at submission, and the sidecar records the ranges, as for the first batch.
"""

from __future__ import annotations

import json
import logging
import math
import os
import shutil
import socket
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import Future as ThreadFuture
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from distributed import Client, Future
from django.db import DatabaseError, connections, transaction

from s2render.core.output import applied_job_ranges, companion
from s2render.core.render import RenderPlan, RenderResult
from s2render.core.statistics import PercentileRanges
from s2render.execution.batch import describe_error, plan_batch, submit_batch
from s2render.web.jobs import services
from s2render.web.jobs.models import Dispatcher, Rendering, Status
from s2render.web.jobs.specs import job_output_dir, output_name, to_render_spec
from s2render.web.products import downloads
from s2render.web.products.models import ProductSource, ProductState

log = logging.getLogger("s2render.dispatcher")
# What finalize_rendering writes beside an image (core.output.companion), in the order they are
# moved into place: the sidecar last.
COMPANIONS = (".thumb.png", ".stac.json", ".json")


@dataclass
class _InFlight:
    rendering_id: int
    claim: str
    plan: RenderPlan  # writes into work_dir
    out_dir: Path  # the job's folder, where the image goes once recorded

    @property
    def work_dir(self) -> Path:
        return self.plan.output.parent

    @property
    def final(self) -> Path:
        return self.out_dir / self.plan.output.name


@dataclass
class DispatcherConfig:
    output_root: Path
    poll: float = 0.25
    capacity: int = 8
    stale: float = 30.0
    max_attempts: int = 3
    fetches: int = 2  # remote products downloaded at once
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
        # Remote products being fetched for queued renderings, by product id: downloads run on
        # the dispatcher's threads (network-bound), not on the Dask workers.
        self.fetching: dict[int, ThreadFuture] = {}
        self._fetch_pool = ThreadPoolExecutor(config.fetches, thread_name_prefix="fetch")
        self._last_beat = -math.inf
        self._last_recover = -math.inf  # the first step re-queues what dead peers left

    # -- lifecycle --------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` is set; then give unfinished renderings back to the queue."""
        stop = stop or threading.Event()
        services.dispatcher_register(name=self.name, host=socket.gethostname(), pid=os.getpid())
        log.info("dispatcher %s started", self.name)
        try:
            while not stop.is_set():
                try:
                    busy = self.step()
                except DatabaseError as exc:
                    # A lost connection or a lock timeout must not end the dispatcher: the
                    # next step reconnects, and reconcile() gives back what a cut-short
                    # report left claimed.
                    log.warning("database error, retrying: %s", exc)
                    connections.close_all()
                    stop.wait(max(1.0, self.config.poll))
                    continue
                if not busy:
                    stop.wait(self.config.poll)
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        by_claim: dict[str, list[int]] = defaultdict(list)
        for future, item in self.inflight.items():
            future.cancel()
            by_claim[item.claim].append(item.rendering_id)
        for claim, ids in by_claim.items():
            services.rendering_release(claim=claim, rendering_ids=ids)
        for work_dir in {item.work_dir for item in self.inflight.values()}:
            shutil.rmtree(work_dir, ignore_errors=True)
        self.inflight.clear()
        # A download in progress finishes (its row must not stay "fetching"); nothing new starts.
        self._fetch_pool.shutdown(wait=True, cancel_futures=True)
        services.dispatcher_unregister(name=self.name)
        log.info("dispatcher %s stopped", self.name)

    def step(self) -> bool:
        """One round; True if anything happened (the loop then goes on without sleeping)."""
        now = time.monotonic()
        if now - self._last_beat >= 1.0:
            self.heartbeat()
            self.reconcile()
            self._last_beat = now
        if now - self._last_recover >= max(1.0, self.config.stale / 3):
            self.recover()
            self._last_recover = now
        harvested = self.harvest()
        self.drop_withdrawn()
        fetched = self.fetch()
        claimed = self.claim()
        return bool(harvested or claimed or fetched)

    # -- the steps --------------------------------------------------------------------------

    def heartbeat(self) -> None:
        if not Dispatcher.objects.filter(name=self.name).exists():
            services.dispatcher_register(name=self.name, host=socket.gethostname(), pid=os.getpid())
        services.dispatcher_heartbeat(name=self.name)

    def reconcile(self) -> int:
        """Give back renderings recorded as ours that this loop no longer tracks: a database
        error cut their report short, or their submission failed."""
        tracked = [item.rendering_id for item in self.inflight.values()]
        lost = list(
            Rendering.objects.filter(claimed_by=self.name, status=Status.RUNNING)
            .exclude(id__in=tracked)
            .values_list("id", "claim", "job__uuid")
        )
        for rendering_id, claim, job_uuid in lost:
            services.rendering_release(claim=claim, rendering_ids=[rendering_id])
            out_dir = job_output_dir(self.config.output_root, str(job_uuid))
            work_dir = services.claim_dir(out_dir, claim)
            if not any(item.work_dir == work_dir for item in self.inflight.values()):
                shutil.rmtree(work_dir, ignore_errors=True)
        if lost:
            log.warning("gave back %d renderings this dispatcher had lost track of", len(lost))
        return len(lost)

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
            elif future.status != "cancelled":
                error = describe_error(future.exception())
                if not services.rendering_fail(
                    rendering_id=item.rendering_id, claim=item.claim, error=error
                ):
                    _log_dropped(item)
            future.release()
            self._discard(item)
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
                self._discard(item)
                log.info("rendering %s: claim %s withdrawn; stopped", item.rendering_id, item.claim)

    def fetch(self) -> int:
        """Fetch the remote products queued renderings wait for (one download per product);
        fail the renderings of a product that cannot come. Returns the changes made."""
        changes = 0
        for product_id, future in list(self.fetching.items()):
            if not future.done():
                continue
            del self.fetching[product_id]
            changes += 1
            row = future.result()
            if row.state != ProductState.AVAILABLE:
                failed = services.renderings_fail_waiting(
                    product_id=product_id, error=f"fetching {row.name} failed: {row.error}"
                )
                log.warning("fetch of %s failed; %d renderings failed", row.name, failed)
        for row in downloads.products_awaited():
            if row.pk in self.fetching:
                continue
            if row.source == ProductSource.REMOTE and row.state == ProductState.FETCHING:
                if not downloads.fetch_abandoned(row):
                    continue  # another dispatcher fetches it
                row.state = ProductState.MISSING
            if row.source == ProductSource.REMOTE and row.state == ProductState.MISSING:
                self.fetching[row.pk] = self._fetch_pool.submit(_fetch_product, row.pk)
                log.info("fetching %s for queued renderings", row.name)
            else:
                services.renderings_fail_waiting(
                    product_id=row.pk,
                    error=f"product {row.name} is {row.state}: its files are gone from "
                    f"{row.location}; put them back and register it again",
                )
            changes += 1
        return changes

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
        work_dir = services.claim_dir(out_dir, claim)
        work_dir.mkdir(parents=True, exist_ok=True)
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
        planned = plan_batch([s for s in specs if s is not None], work_dir)
        kept = [row for row, s in zip(rows, specs, strict=True) if s is not None]
        for row, plan in zip(kept, planned, strict=True):
            if isinstance(plan, RenderResult):
                services.rendering_fail(rendering_id=row.pk, claim=claim, error=plan.error or "")
        reuse = job_ranges(rows[0].job_id) if _job_scope(kept) else {}
        submitted = submit_batch(
            self.client, planned, f"{claim[:12]}-{rows[0].job_id}", job_ranges=reuse
        )
        by_index = {index: row for index, row in enumerate(kept)}
        for future, (index, plan) in submitted.finals.items():
            self.inflight[future] = _InFlight(by_index[index].pk, claim, plan, out_dir)
        if not submitted.finals:
            shutil.rmtree(work_dir, ignore_errors=True)

    def _record(self, item: _InFlight, result: RenderResult) -> None:
        if result.status != "done":
            if not services.rendering_fail(
                rendering_id=item.rendering_id, claim=item.claim, error=result.error or "failed"
            ):
                _log_dropped(item)
            return
        record = result.to_dict()
        record.update(_sidecar_figures(result.sidecar))
        record["media_type"] = item.plan.spec.format.info.media_type
        record["path"] = str(item.final)
        record["sidecar"] = str(companion(item.final, ".json"))
        try:
            # Moved into place while the claim's rows are locked by the record: a claim that no
            # longer holds never replaces an image that another claim recorded.
            with transaction.atomic():
                if not services.rendering_complete(
                    rendering_id=item.rendering_id, claim=item.claim, result=record
                ):
                    _log_dropped(item)
                    return
                # The sidecar last: its presence means the image and its companions are there.
                for suffix in ("", *COMPANIONS):
                    os.replace(companion(item.plan.output, suffix), companion(item.final, suffix))
        except OSError as exc:
            services.rendering_fail(
                rendering_id=item.rendering_id,
                claim=item.claim,
                error=f"could not move {item.plan.output.name} into {item.out_dir}: {exc}",
            )

    def _discard(self, item: _InFlight) -> None:
        """Remove what ``item`` left in its claim's folder, and the folder with the claim's
        last rendering in it (anything still there is an abandoned task's)."""
        for suffix in ("", *COMPANIONS):
            companion(item.plan.output, suffix).unlink(missing_ok=True)
        item.plan.canvas.unlink(missing_ok=True)
        if not any(other.work_dir == item.work_dir for other in self.inflight.values()):
            shutil.rmtree(item.work_dir, ignore_errors=True)

    def _dead_on_this_host(self) -> list[str]:
        """Dispatchers registered from this host whose process is gone (no need to wait)."""
        dead = []
        host = socket.gethostname()
        for name, pid in Dispatcher.objects.filter(host=host).values_list("name", "pid"):
            if name != self.name and not _pid_alive(pid):
                dead.append(name)
        return dead


def _job_scope(rows: list[Rendering]) -> bool:
    return any(row.spec.get("stretch_scope") == "job" for row in rows)


def job_ranges(job_id: int) -> dict[tuple[float, float], PercentileRanges]:
    """The job-scope ranges already applied to the job's finished renderings, per percentile
    cut (the first finished rendering's, in index order: every rendering of a cut shares them)."""
    found: dict[tuple[float, float], PercentileRanges] = {}
    figures = (
        Rendering.objects.filter(job_id=job_id, status=Status.FINISHED)
        .order_by("index")
        .values_list("figures", flat=True)
    )
    for record in figures:
        applied = applied_job_ranges((record or {}).get("stretch"))
        if applied is not None:
            found.setdefault(applied.percentiles, applied)
    return found


def _fetch_product(product_id: int):
    """Fetch on a pool thread, with the thread's own database connection closed after."""
    try:
        return downloads.product_fetch(product_id=product_id)
    finally:
        connections.close_all()


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


def _log_dropped(item: _InFlight) -> None:
    log.info(
        "rendering %s: claim %s no longer holds (canceled, deleted or re-queued); result dropped",
        item.rendering_id,
        item.claim,
    )

"""A job's contact sheet: every ended rendering's thumbnail side by side with its label."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from s2render.core.contact_sheet import write_contact_sheet
from s2render.core.plan import RenderResult
from s2render.web.errors import StateError
from s2render.web.jobs.models import Job, Status
from s2render.web.jobs.specs import job_output_dir

SHEET_NAME = "contact-sheet.png"


def job_contact_sheet(*, job: Job) -> Path:
    """Write (or reuse, when nothing ended since) the job's contact sheet; StateError when no
    rendering has ended yet. Failed renderings are grey cells that say so."""
    rows = list(job.renderings.filter(status__in=[Status.FINISHED, Status.ERROR]))
    if not rows:
        raise StateError(f"job {job.uuid} has no ended rendering to put on a contact sheet")
    path = job_output_dir(settings.OUTPUT_DIR, str(job.uuid)) / SHEET_NAME
    newest = max(r.finished_at for r in rows if r.finished_at is not None)
    if path.exists() and path.stat().st_mtime >= newest.timestamp():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    results = [_result(r) for r in rows]
    labels = [_label(r) for r in rows]
    return write_contact_sheet(results, path, labels=labels)


def _result(rendering) -> RenderResult:
    if rendering.status != Status.FINISHED or not rendering.output:
        return RenderResult(index=rendering.index, status="error", error=rendering.error)
    output = Path(rendering.output)
    thumbnail = output.with_name(output.name + ".thumb.png")
    return RenderResult(
        index=rendering.index,
        status="done",
        path=str(output),
        name=output.name,
        thumbnail=str(thumbnail) if thumbnail.exists() else None,
    )


def _label(rendering) -> str:
    spec = rendering.spec
    what = spec.get("preset") or spec.get("expression") or "-".join(spec.get("bands") or [])
    return f"{rendering.index + 1}. {what or 'expressions'} {spec.get('resolution', '')} m"

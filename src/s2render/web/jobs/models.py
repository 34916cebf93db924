"""Job state: jobs, their renderings, and the dispatchers working on them.

The database is the source of truth for every job; the Dask scheduler is only a transport.
Statuses follow openEO's job vocabulary. State changes happen in :mod:`.services` only.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class Status(models.TextChoices):
    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    ERROR = "error"
    CANCELED = "canceled"


ACTIVE = (Status.QUEUED, Status.RUNNING)
ENDED = (Status.FINISHED, Status.ERROR, Status.CANCELED)


class Job(models.Model):
    # The integer id is what the seed's endpoints expose (/api/job-detail/<id>/); the v1 API
    # names jobs by UUID.
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    title = models.CharField(max_length=200, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CREATED)
    # The seed's request fields, kept verbatim for its endpoints; empty for v1 jobs.
    res_list = models.CharField(max_length=200, blank=True)
    r_list = models.CharField(max_length=200, blank=True)
    g_list = models.CharField(max_length=200, blank=True)
    b_list = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "status"])]

    def __str__(self) -> str:
        return f"job {self.pk} ({self.status})"


class Rendering(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="renderings")
    index = models.PositiveIntegerField()
    product = models.ForeignKey(
        "products.Product", on_delete=models.PROTECT, related_name="renderings"
    )
    # resolution, bands, bbox, bbox_crs, stretch, gamma, format (see specs.py)
    spec = models.JSONField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.CREATED, db_index=True
    )
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=120, blank=True, db_index=True)
    claim = models.CharField(max_length=32, blank=True, db_index=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.CharField(max_length=1000, blank=True)  # absolute path of the image
    sidecar = models.CharField(max_length=1000, blank=True)
    media_type = models.CharField(max_length=100, blank=True)
    figures = models.JSONField(default=dict)  # size, valid %, seconds, applied stretch/offsets

    class Meta:
        ordering = ["job_id", "index"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="rendering_job_index_unique")
        ]
        indexes = [models.Index(fields=["status", "queued_at"])]

    def __str__(self) -> str:
        return f"rendering {self.job_id}/{self.index} ({self.status})"


class Dispatcher(models.Model):
    """A running dispatcher; one whose heartbeat stops is presumed dead and its work re-queued."""

    name = models.CharField(max_length=120, unique=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.name

"""Liveness and readiness for load balancers and orchestrators (no authentication)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone


def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


def readyz(request: HttpRequest) -> JsonResponse:
    """Ready: the database answers and is migrated; reports live dispatchers (jobs wait for one)."""
    from s2render.web.jobs.models import Dispatcher

    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        cutoff = timezone.now() - timedelta(seconds=settings.S2RENDER["DISPATCHER_STALE"])
        dispatchers = Dispatcher.objects.filter(heartbeat_at__gte=cutoff).count()
    except DatabaseError as exc:
        return JsonResponse({"status": "unavailable", "database": str(exc)}, status=503)
    if pending:
        return JsonResponse(
            {"status": "unavailable", "database": f"{len(pending)} migrations not applied"},
            status=503,
        )
    return JsonResponse({"status": "ok", "database": "ok", "dispatchers": dispatchers})

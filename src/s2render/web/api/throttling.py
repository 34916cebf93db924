"""Job creation is throttled per user (S2RENDER_JOB_CREATE_RATE); reads are not."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import UserRateThrottle


class JobCreateThrottle(UserRateThrottle):
    scope = "job-create"

    def get_rate(self) -> str | None:
        # Read at request time, not import time, so the deployment's setting always applies.
        return settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"].get(self.scope)

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

"""Job creation is throttled per user (S2RENDER_JOB_CREATE_RATE); reads are not."""

from __future__ import annotations

from rest_framework.throttling import UserRateThrottle


class JobCreateThrottle(UserRateThrottle):
    scope = "job-create"

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        return super().allow_request(request, view)

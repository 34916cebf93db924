"""Local mode: a request without credentials acts as the ``local`` user (never in production)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from rest_framework.authentication import BaseAuthentication

LOCAL_USERNAME = "local"


def local_user():
    user, _ = get_user_model().objects.get_or_create(username=LOCAL_USERNAME)
    return user


class LocalUserAuthentication(BaseAuthentication):
    """Last in the chain: only reached when no token or session authenticated the request."""

    def authenticate(self, request):
        return (local_user(), None)

"""Production: credentials required on every request, HTTPS-only cookies, HSTS.

Needs ``S2RENDER_SECRET_KEY`` and ``S2RENDER_ALLOWED_HOSTS``; ``DATABASE_URL`` should name
PostgreSQL. Anonymous use is never allowed here, whatever ``S2RENDER_ANONYMOUS`` says.
"""

from __future__ import annotations

from s2render.web.settings.base import *  # noqa: F403
from s2render.web.settings.base import S2, SPECTACULAR_SETTINGS

if not S2.secret_key:
    raise SystemExit("production settings need S2RENDER_SECRET_KEY (50+ random characters)")
SECRET_KEY = S2.secret_key
DEBUG = False

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = 31536000
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# The schema and its docs pages need credentials too (the local settings keep them open).
SPECTACULAR_SETTINGS = {
    **SPECTACULAR_SETTINGS,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

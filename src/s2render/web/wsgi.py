"""WSGI entry point (``gunicorn s2render.web.wsgi``, or ``s2render serve``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s2render.web.settings.local")
application = get_wsgi_application()

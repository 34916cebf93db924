"""The test suite's settings: the local settings on a throw-away data folder (unless
S2RENDER_DATA_DIR is set), the database from DATABASE_URL (SQLite in that folder by default)."""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("S2RENDER_DATA_DIR", tempfile.mkdtemp(prefix="s2render-test-"))

from s2render.web.settings.local import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast user creation

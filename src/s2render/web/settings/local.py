"""The embedded default: SQLite under the data folder, anonymous use allowed (as the "local"
user), a secret key made once and kept under the data folder."""

from __future__ import annotations

import secrets

from s2render.web.settings.base import *  # noqa: F403
from s2render.web.settings.base import DATA_DIR, REST_FRAMEWORK, S2


def _local_secret_key() -> str:
    path = DATA_DIR / "secret_key"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_text(secrets.token_urlsafe(50))
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


SECRET_KEY = S2.secret_key or _local_secret_key()
(DATA_DIR / "static").mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is absent

if S2.anonymous:
    REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"] = [
        *REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"],
        "s2render.web.api.auth.LocalUserAuthentication",
    ]

# Static files straight from the installed apps: no collectstatic step on the embedded default.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = False

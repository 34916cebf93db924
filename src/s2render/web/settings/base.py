"""Settings shared by every deployment. Values come from :mod:`s2render.config`, the one module
that reads the environment."""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from s2render.config import load_cdse_config, load_web_settings, pc_sas_url

S2 = load_web_settings()

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = S2.base.data_dir.resolve()
OUTPUT_DIR = S2.base.output_dir.resolve()

DEBUG = S2.debug
ALLOWED_HOSTS = S2.allowed_hosts

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "s2render.web.products",
    "s2render.web.jobs",
    "s2render.web.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "s2render.web.urls"
WSGI_APPLICATION = "s2render.web.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def database_from_url(url: str) -> dict:
    """DATABASE_URL -> Django's DATABASES entry, with SQLite tuned for a web server and a
    dispatcher writing at once (WAL, immediate transactions, a generous lock timeout)."""
    config = dj_database_url.parse(url, conn_max_age=0)
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
        config["TEST"] = {"NAME": str(Path(config["NAME"]).with_suffix(".test.sqlite3"))}
    return config


DATABASES = {"default": database_from_url(S2.database_url)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    # Rendered images: the dispatcher writes them under OUTPUT_DIR; downloads stream from here.
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(OUTPUT_DIR), "base_url": "/outputs/"},
    },
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "s2render.web.api.v1.pagination.Pagination",
    "EXCEPTION_HANDLER": "s2render.web.api.errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"job-create": S2.job_create_rate},
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "s2render API",
    "DESCRIPTION": "Render Sentinel-2 products into images in parallel batch jobs.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# s2render's own knobs (read by the services and the dispatcher through django.conf.settings).
S2RENDER = {
    "DEFAULT_PRODUCT": S2.default_product,
    "DEMO_DIR": S2.base.demo_dir.resolve(),
    "JOB_RUN_TIMEOUT": S2.job_run_timeout,
    "DISPATCHER_POLL": S2.dispatcher_poll,
    "DISPATCHER_STALE": S2.dispatcher_stale,
    "DISPATCHER_CAPACITY": S2.dispatcher_capacity,
    "MAX_ATTEMPTS": S2.max_attempts,
    "SCHEDULER_ADDRESS": S2.base.scheduler_address,
    "WORKERS": S2.base.workers,
    "THREADS": S2.base.threads,
    "WORKER_PROCESSES": S2.base.processes,
    "DOWNLOAD_CAP": S2.download_cap,
    "CDSE": load_cdse_config(),
    "PC_SAS_URL": pc_sas_url(),
    "STAC_HOSTS": S2.stac_hosts,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"s2render": {"handlers": ["console"], "level": "INFO"}},
}

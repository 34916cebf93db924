"""Starting Django outside ``manage.py``: settings, migrations, the default product."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("s2render.web")

DEFAULT_SETTINGS = "s2render.web.settings.local"


def setup_django() -> None:
    """Configure Django once (DJANGO_SETTINGS_MODULE, default: the local settings)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", DEFAULT_SETTINGS)
    import django

    django.setup()


def prepare(*, demo: bool = True, scan: bool = True) -> None:
    """Migrate the database; on the embedded default, make and register the demo product; with
    ``scan``, register every product under the data root (what does not parse is logged)."""
    from django.conf import settings
    from django.core.management import call_command

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    settings.OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    call_command("migrate", interactive=False, verbosity=0)
    if demo and settings.S2RENDER["DEFAULT_PRODUCT"] is None:
        from s2render.core.demo import write_demo_product

        # Idempotent: an existing complete demo product is returned as it is.
        write_demo_product(settings.S2RENDER["DEMO_DIR"], level="L2A", processes=2)
    if demo or settings.S2RENDER["DEFAULT_PRODUCT"] is not None:
        from s2render.web.errors import FieldError
        from s2render.web.products.services import default_product, is_remote_name

        try:
            default_product()
        except FieldError as exc:
            if not is_remote_name(settings.S2RENDER["DEFAULT_PRODUCT"] or ""):
                raise
            # A remote default (CDSE unreachable now) must not stop the service: the seed's
            # endpoints try again, and answer the reason, when a job asks for it.
            log.warning("default product not registered yet: %s", exc.message)
    if scan:
        from s2render.web.products.services import product_scan

        report = product_scan()
        log.info(
            "start-up scan of %s: %d products registered, %d skipped",
            settings.DATA_DIR,
            len(report.registered),
            len(report.skipped),
        )

"""Exceptions of the rendering core.

Every error carries the offending value and, where one exists, the fix. Classes also inherit the
built-in they specialise so that callers outside s2render can catch them generically.
"""

from __future__ import annotations


class S2RenderError(Exception):
    """Base class of every error raised by s2render."""


class ProductError(S2RenderError, ValueError):
    """A product cannot be opened or its metadata cannot be understood."""


class MetadataError(ProductError):
    """A metadata document (MTD_MSIL*.xml, MTD_TL.xml) is malformed or of an unknown kind."""


class BandError(S2RenderError, ValueError):
    """A band name is unknown or not available in the product."""


class SpecError(S2RenderError, ValueError):
    """A rendering request is invalid (resolution, area, stretch, format...)."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AreaError(SpecError):
    """The requested area does not intersect the product or is malformed."""


class RenderError(S2RenderError, RuntimeError):
    """A rendering failed while reading, computing or writing."""


class DownloadError(S2RenderError, RuntimeError):
    """A remote product cannot be found, fetched or verified."""


class CredentialsError(DownloadError, PermissionError):
    """The remote archive's credentials are missing or refused."""


class SearchError(S2RenderError, ValueError):
    """A catalog search is malformed (bbox, dates, cloud cover) or its URL is not a STAC catalog."""

    def __init__(self, message: str, *, value: object = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.value = value
        self.hint = hint

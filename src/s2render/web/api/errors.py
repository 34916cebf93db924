"""One error shape for the whole API, from one handler and one exception-to-status table.

Every error answers ``{"status": 400, "code": "invalid", "detail": "...", "fields": {...}}``;
``fields`` (field path -> list of messages) is present for input errors only. ``detail`` keeps
DRF clients that read it working.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import exception_handler as drf_exception_handler

from s2render.core.errors import S2RenderError, SpecError
from s2render.web.errors import FieldError, NotFoundError, StateError

# Our exceptions -> (HTTP status, code). DRF's own exceptions keep their status and code.
STATUS_TABLE: dict[type[BaseException], tuple[int, str]] = {
    FieldError: (status.HTTP_400_BAD_REQUEST, "invalid"),
    SpecError: (status.HTTP_400_BAD_REQUEST, "invalid"),
    S2RenderError: (status.HTTP_400_BAD_REQUEST, "invalid"),
    StateError: (status.HTTP_409_CONFLICT, "conflict"),
    NotFoundError: (status.HTTP_404_NOT_FOUND, "not_found"),
}


def _lookup(exc: BaseException) -> tuple[int, str] | None:
    for cls in type(exc).__mro__:
        if cls in STATUS_TABLE:
            return STATUS_TABLE[cls]
    return None


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested ValidationError detail -> {"renderings[0].bands": ["..."]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # DRF >= 3.18 keys list items by index
                path = f"{prefix}[{key}]"
            elif key == api_settings.NON_FIELD_ERRORS_KEY and prefix:
                path = prefix  # "renderings: expected a list", not "renderings.non_field_errors"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(v, dict | list) for v in detail):
            out[prefix or "non_field_errors"] = [str(v) for v in detail]
        else:
            for i, value in enumerate(detail):
                if value:
                    for k, v in _flatten(value, f"{prefix}[{i}]").items():
                        out.setdefault(k, []).extend(v)
    else:
        out[prefix or "non_field_errors"] = [str(detail)]
    return out


def error_response(
    http_status: int, code: str, detail: str, fields: dict | None = None
) -> Response:
    body: dict = {"status": http_status, "code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return Response(body, status=http_status)


def exception_handler(exc, context):
    if isinstance(exc, FieldError):
        return error_response(400, "invalid", str(exc), {exc.field: [exc.message]})
    if isinstance(exc, SpecError) and exc.field:
        return error_response(400, "invalid", str(exc), {exc.field: [str(exc)]})
    mapped = _lookup(exc)
    if mapped is not None:
        return error_response(mapped[0], mapped[1], str(exc))
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django answers 500 and logs it
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        summary = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
        return error_response(response.status_code, "invalid", summary, fields)
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    body = error_response(response.status_code, str(code), str(detail))
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            body[header] = response[header]
    return body

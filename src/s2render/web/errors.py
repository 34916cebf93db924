"""Errors of the web layer's services; the API maps each to a status (api/errors.py)."""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: a request the services refuse."""


class FieldError(ServiceError, ValueError):
    """One input field is wrong; the message says how to fix it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class StateError(ServiceError):
    """The object is not in a state that allows this (e.g. updating a running job)."""


class NotFoundError(ServiceError, LookupError):
    """The object does not exist (or belongs to someone else)."""

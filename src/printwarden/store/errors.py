"""Errors the store raises; the service maps each to an HTTP problem."""

from __future__ import annotations


class StoreError(Exception):
    """Base class of store errors."""


class NotFound(StoreError, LookupError):
    """The named record does not exist (or was deleted)."""


class AlreadyExists(StoreError):
    """A record with that unique name exists already."""


class InvalidReference(StoreError, ValueError):
    """A record names another that does not exist or cannot be used that way."""


class LastAdministrator(StoreError):
    """The change would leave the system with no enabled administrator."""

"""The errors use cases raise, one per kind of refusal.

The store's own errors are already such kinds and are raised as they are: ``NotFound`` (and
the ledger's ``UnknownAccount``), ``AlreadyExists``, ``InvalidReference`` and
``LastAdministrator``. The API answers each with one problem document (``service/problems``).
"""

from __future__ import annotations

from printwarden.store.errors import AlreadyExists, InvalidReference, LastAdministrator, NotFound
from printwarden.store.ledger import IdempotencyConflict, UnknownAccount

__all__ = [
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "Invalid",
    "InvalidReference",
    "LastAdministrator",
    "NotFound",
    "UnknownAccount",
    "UseCaseError",
]


class UseCaseError(Exception):
    """Base class of the errors below; the message says what was refused and why."""


class Invalid(UseCaseError, ValueError):
    """The request's values cannot be used (the API's 422 "Invalid request")."""


class Forbidden(UseCaseError):
    """The caller may not do this (the API's 403)."""


class Conflict(UseCaseError):
    """The request conflicts with the records as they are (the API's 409)."""

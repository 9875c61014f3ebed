"""The errors use cases raise, one per kind of refusal.

The store's own errors are already such kinds and are raised as they are: ``NotFound`` (and
the ledger's ``UnknownAccount``), ``AlreadyExists``, ``InvalidReference`` and
``LastAdministrator``. The API answers each with one problem document (``service/problems``).
"""

from __future__ import annotations

from typing import Any

from printwarden.store.errors import AlreadyExists, InvalidReference, LastAdministrator, NotFound
from printwarden.store.ledger import IdempotencyConflict, UnknownAccount

__all__ = [
    "REFUSALS",
    "AlreadyExists",
    "Conflict",
    "Forbidden",
    "IdempotencyConflict",
    "Invalid",
    "InvalidReference",
    "LastAdministrator",
    "NotFound",
    "Unavailable",
    "UnknownAccount",
    "UseCaseError",
]


class UseCaseError(Exception):
    """Base class of the errors below. ``detail`` says what was refused and why; ``title``
    names the refusal when the kind's own name is too vague ("Cannot release" for a
    ``Conflict``); ``extra`` are facts a caller may act on (the site that is offline)."""

    def __init__(self, detail: str = "", *, title: str = "", **extra: Any) -> None:
        super().__init__(detail)
        self.detail, self.title, self.extra = detail, title, extra


class Invalid(UseCaseError, ValueError):
    """The request's values cannot be used (the API's 422 "Invalid request")."""


class Forbidden(UseCaseError):
    """The caller may not do this (the API's 403)."""


class Conflict(UseCaseError):
    """The request conflicts with the records as they are (the API's 409)."""


class Unavailable(UseCaseError):
    """Something the use case needs cannot be reached now; trying later may work (503)."""


# Every error a use case raises on purpose: what a front end catches to show a refusal.
REFUSALS: tuple[type[Exception], ...] = (
    UseCaseError,
    NotFound,
    AlreadyExists,
    InvalidReference,
    LastAdministrator,
    IdempotencyConflict,
    UnknownAccount,
)

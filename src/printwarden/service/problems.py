"""Errors as RFC 9457 ``application/problem+json`` documents."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException

from printwarden.api.problems import PROBLEM_JSON
from printwarden.domain.functions import FunctionUnavailable
from printwarden.service import offline_functions
from printwarden.service.throttle import Throttled
from printwarden.usecases.errors import (
    AlreadyExists,
    Conflict,
    Forbidden,
    IdempotencyConflict,
    Invalid,
    InvalidReference,
    LastAdministrator,
    NotFound,
    Unavailable,
    UnknownAccount,
    UseCaseError,
)


class Problem(Exception):
    """An error to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra
        self.headers = headers


def problem_response(
    status: int, title: str, detail: str = "", headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def too_many(exc: Throttled) -> Problem:
    """429 for a throttled login (or too many checks at once), with ``Retry-After``."""
    headers = {"Retry-After": str(exc.seconds)}
    return Problem(429, "Too many attempts", str(exc), headers, retry_after=exc.seconds)


# The one mapping of the use cases' errors (``usecases/errors.py``) to problem documents: the
# status, the title, and the error's message as the detail.
ERRORS: dict[type[Exception], tuple[int, str]] = {
    Invalid: (422, "Invalid request"),
    Forbidden: (403, "Forbidden"),
    Conflict: (409, "Conflict"),
    Unavailable: (503, "Service Unavailable"),
    NotFound: (404, "Not found"),
    UnknownAccount: (404, "Not found"),
    AlreadyExists: (409, "Conflict"),
    IdempotencyConflict: (409, "Conflict"),
    InvalidReference: (422, "Invalid reference"),
    LastAdministrator: (409, "Conflict"),
}


def install(app: FastAPI) -> None:
    """Answer every error the API raises with a problem document."""

    @app.exception_handler(Problem)
    async def _problem(_request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc.status, exc.title, exc.detail, exc.headers, **exc.extra)

    @app.exception_handler(Throttled)
    async def _throttled(_request: Request, exc: Throttled) -> JSONResponse:
        found = too_many(exc)
        return problem_response(found.status, found.title, found.detail, found.headers,
                                **found.extra)  # fmt: skip

    @app.exception_handler(HTTPException)
    async def _http(_request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else ""
        title = _title(exc.status_code)
        return problem_response(exc.status_code, title, detail, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error(e) for e in exc.errors()]
        detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors)
        return problem_response(422, "Invalid request", detail, errors=errors)

    @app.exception_handler(FunctionUnavailable)
    async def _unavailable(_request: Request, exc: FunctionUnavailable) -> Response:
        return offline_functions.unavailable(exc)

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
        return problem_response(409, "Conflict", "the change conflicts with existing records")

    @app.exception_handler(DataError)
    @app.exception_handler(OverflowError)
    async def _unstorable(_request: Request, _exc: Exception) -> JSONResponse:
        # The database cannot hold a value of the request: PostgreSQL refuses NUL characters
        # and integers beyond bigint (DataError); SQLite's driver refuses integers beyond
        # 64 bits before the query runs (OverflowError).
        detail = "a value is out of range or contains characters the database cannot store"
        return problem_response(422, "Invalid request", detail)

    for error in ERRORS:
        app.add_exception_handler(error, _error_handler)


async def _error_handler(_request: Request, exc: Exception) -> JSONResponse:
    found = problem_of(exc)
    return problem_response(found.status, found.title, found.detail, **found.extra)


def problem_of(exc: Exception) -> Problem:
    """The problem a use case's error (one of ``usecases.errors.REFUSALS``) answers with."""
    status, title = next(v for kind, v in ERRORS.items() if isinstance(exc, kind))
    if isinstance(exc, UseCaseError):
        return Problem(status, exc.title or title, exc.detail, **exc.extra)
    return Problem(status, title, str(exc))


def _error(error: Any) -> dict[str, str]:
    location = ".".join(str(part) for part in error.get("loc", ()))
    return {"location": location, "message": str(error.get("msg", "invalid"))}


# Where RFC 9110 renamed a status that Python 3.11's ``HTTPStatus`` still calls by its old name.
RFC_9110_TITLES = {413: "Content Too Large", 422: "Unprocessable Content"}


def _title(status: int) -> str:
    if status in RFC_9110_TITLES:
        return RFC_9110_TITLES[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

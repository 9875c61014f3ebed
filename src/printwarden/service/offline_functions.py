"""Which row of the functions table a route belongs to, declared on the route itself.

A route of a function in the table (``domain/functions.py``) lists ``serves(<function>)``
first among its dependencies. While a site answers alone, a function the table marks
unavailable there is refused before the route runs: 503 "Unavailable while offline", naming
the function. The Site Server's gateway, which hands the request to this app, and the
functions matrix test read the same declarations (:func:`declared`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.routing import APIRoute
from starlette.responses import Response

from printwarden.api.problems import PROBLEM_JSON
from printwarden.domain.functions import Function, FunctionUnavailable, Mode, require

UNAVAILABLE_TYPE = "https://printwarden.org/problems/function-unavailable"


class Serves:
    """The dependency that checks a route's function (async: no worker-thread hop)."""

    def __init__(self, function: Function) -> None:
        self.function = function

    async def __call__(self, request: Request) -> None:
        if request.app.state.printwarden.authority.offline():
            require(self.function, Mode.OFFLINE_WITH_SITE)


def serves(function: Function) -> Any:
    """Declare the route's row: put it first in ``dependencies=[...]``."""
    return Depends(Serves(function))


def declared(dependencies: list[Any]) -> Function | None:
    """The row a route's ``dependencies`` declare (``None``: none)."""
    for dependency in dependencies:
        if isinstance(dependency, DependsParam) and isinstance(dependency.dependency, Serves):
            return dependency.dependency.function
    return None


def declarations(prefix: str, router: APIRouter) -> dict[tuple[str, str], Function]:
    """The rows ``router``'s routes declare, by method and path (``prefix`` + route path)."""
    found: dict[tuple[str, str], Function] = {}
    for route in router.routes:
        if not isinstance(route, APIRoute):
            continue
        function = declared(route.dependencies)
        if function is not None:
            for method in sorted(route.methods or ()):
                found[(method, prefix + route.path)] = function
    return found


def unavailable(exc: FunctionUnavailable) -> Response:
    """The 503 problem document of a function unavailable while the site is offline."""
    body = json.dumps(
        {
            "type": UNAVAILABLE_TYPE,
            "title": "Unavailable while offline",
            "status": 503,
            "detail": str(exc),
            "function": exc.function.value,
        }
    ).encode()
    return Response(body, status_code=503, media_type=PROBLEM_JSON)

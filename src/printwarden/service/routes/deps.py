"""Shared route dependencies: sessions and role requirements.

Sessions are opened and closed by *async* dependencies, on the event loop; a SQLAlchemy
session takes its connection only when the route (in a worker thread) first queries. So a
connection is never held by a request that waits for a worker thread: with sync session
dependencies, opening, using and closing a session are three worker-thread hops, and under
load every worker can end up waiting for a connection held by a request waiting for a worker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Depends
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.service.auth import require
from printwarden.service.state import AppState, app_state


async def _transaction(state: AppState = Depends(app_state)) -> AsyncIterator[Session]:
    with state.database.session() as session:
        yield session


async def write_session(session: Session = Depends(_transaction, scope="function")) -> Session:
    """A session in one database transaction, committed when the route returns.

    ``scope="function"`` commits before the response is sent: FastAPI's default ("request")
    runs the exit code of a ``yield`` dependency only after the response went out, so a client
    could be told of a change that another connection cannot see yet (or that never commits).
    """
    return session


async def _reading(state: AppState = Depends(app_state)) -> AsyncIterator[Session]:
    with state.database.read() as session:
        yield session


async def read_session(session: Session = Depends(_reading, scope="function")) -> Session:
    """A read-only session, closed as soon as the route returns."""
    return session


admin_only = require(Role.ADMIN)
printing_components = require(Role.PROVIDER, Role.SITE)
authenticating_components = require(Role.DEVICE, Role.PROVIDER, Role.SITE)
registry_readers = require(Role.ADMIN, Role.PROVIDER, Role.SITE, Role.DEVICE)
any_person = require(Role.ADMIN, Role.USER)

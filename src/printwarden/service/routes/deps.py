"""Shared route dependencies: sessions and role requirements."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Depends
from sqlalchemy.orm import Session

from printwarden.domain.accounts import Role
from printwarden.service.auth import require
from printwarden.service.state import AppState, app_state


def _transaction(state: AppState = Depends(app_state)) -> Iterator[Session]:
    with state.database.session() as session:
        yield session


def write_session(session: Session = Depends(_transaction, scope="function")) -> Session:
    """A session in one database transaction, committed when the route returns.

    ``scope="function"`` commits before the response is sent: FastAPI's default ("request")
    runs the exit code of a ``yield`` dependency only after the response went out, so a client
    could be told of a change that another connection cannot see yet (or that never commits).
    """
    return session


def read_session(state: AppState = Depends(app_state)) -> Iterator[Session]:
    with state.database.read() as session:
        yield session


admin_only = require(Role.ADMIN)
printing_components = require(Role.PROVIDER, Role.SITE)
authenticating_components = require(Role.DEVICE, Role.PROVIDER, Role.SITE)
registry_readers = require(Role.ADMIN, Role.PROVIDER, Role.SITE, Role.DEVICE)
any_person = require(Role.ADMIN, Role.USER)

"""Authenticating a person at a device: card, identity number + PIN, or username + password."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.directory.ldap import DirectoryUnavailable
from printwarden.service import schemas
from printwarden.service.offline import check_user_password
from printwarden.service.problems import Problem
from printwarden.service.routes.deps import authenticating_components, read_session
from printwarden.service.state import AppState, app_state
from printwarden.store import accounts, users
from printwarden.store.errors import NotFound
from printwarden.store.models import AccountRow, UserRow

router = APIRouter(tags=["devices"], dependencies=[Depends(authenticating_components)])

REJECTED = schemas.DeviceLoginOut(authenticated=False)


@router.post("/auth/device")
def device_login(
    body: schemas.DeviceLoginIn,
    session: Session = Depends(read_session),
    state: AppState = Depends(app_state),
) -> schemas.DeviceLoginOut:
    """Who is at the device? ``authenticated`` is false for unknown cards or wrong secrets."""
    user = identify(session, state, body)
    if user is None or not user.enabled:
        return REJECTED
    account = users.personal_account(session, user.id)
    shared = [row.name for row in granted_shared(session, user)]
    return schemas.DeviceLoginOut(
        authenticated=True,
        username=user.username,
        full_name=user.full_name,
        balance=account.balance,
        restricted=account.restricted,
        shared_accounts=shared,
    )


def granted_shared(session: Session, user: UserRow) -> list[AccountRow]:
    """The enabled shared accounts ``user`` may charge."""
    groups = set(users.group_names(session, [user.id])[user.id])
    return [
        row
        for row in accounts.list_shared(session)
        if row.enabled and _granted(session, row, user.username, groups)
    ]


def identify(session: Session, state: AppState, body: schemas.DeviceLoginIn) -> UserRow | None:
    """The user a card, identity number + PIN, or username + password belongs to."""
    if body.method == "card":
        return (
            users.user_by_card(session, state.card_key, body.card_number)
            if body.card_number
            else None
        )
    if body.method == "identity":
        found = users.user_by_identity(session, state.card_key, body.identity_number)
        return found if found and security.verify_secret(found.pin_hash, body.pin) else None
    try:
        found = users.find_user(session, body.username)
    except NotFound:
        return None
    try:
        directory = state.settings.directory
        valid = check_user_password(state.offline, session, directory, found, body.password)
        return found if valid else None
    except DirectoryUnavailable as exc:
        raise Problem(503, "Directory unavailable", str(exc)) from None


def _granted(session: Session, account: AccountRow, username: str, groups: set[str]) -> bool:
    granted_users, granted_groups = accounts.grants(session, account)
    return username in granted_users or bool(groups & set(granted_groups))

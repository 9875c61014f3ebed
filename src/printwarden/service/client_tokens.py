"""Revoking a User Client's token: a person's own (API, portal) or any user's (admin)."""

from __future__ import annotations

from printwarden.service.state import AppState
from printwarden.store import tokens
from printwarden.usecases.errors import Unavailable

OFFLINE = "Unavailable while offline"


def revoke(state: AppState, user_id: int, token_id: int) -> None:
    """Revoke ``user_id``'s client token ``token_id`` (NotFound: no such token of theirs),
    at once in this process. A site that is offline refuses: the token's row is HQ's."""
    if state.authority.offline():
        raise Unavailable("revoke it once the site is online", title=OFFLINE)
    with state.database.session() as session:
        tokens.revoke_client_token(session, user_id, token_id)

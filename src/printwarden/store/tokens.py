"""Bearer tokens: admin and user sessions, and revocable component tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.domain.accounts import Role
from printwarden.store import notices, printers, sites
from printwarden.store.changes import change_seq
from printwarden.store.db import utc
from printwarden.store.errors import AlreadyExists, InvalidReference, NotFound
from printwarden.store.models import ApiTokenRow, UserRow

# Tokens a Site Server must recognise while the App Server is unreachable.
# A User Client's token too: its computer may be at any site, and offline the site answers it.
REPLICATED_ROLES = frozenset({Role.PROVIDER, Role.DEVICE, Role.CLIENT})
# The scope of a token bound to one provider or one device: "provider:<name>", "device:<name>".
PROVIDER_PREFIX, DEVICE_PREFIX = "provider:", "device:"
MAX_SCOPE = 128  # api_tokens.scope


def bound_name(scope: str, prefix: str) -> str | None:
    """The provider's or device's name a scope binds a token to (None: not bound so)."""
    return scope[len(prefix) :] if scope.startswith(prefix) and len(scope) > len(prefix) else None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a valid token belongs to."""

    role: Role
    token_id: int
    user_id: int | None = None
    username: str | None = None
    scope: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Binding:
    """What a new component token acts as."""

    scope: str
    site: str | None = None


def binding(
    session: Session, role: Role, *, name: str = "", scope: str = "", site: str | None = None
) -> Binding:
    """The binding of a new component token, checked: a provider token acts as the provider
    ``name`` (optionally of one ``site``), a device token as an existing device (``scope``
    ``device:<name>``); a site token keeps its ``scope``. InvalidReference otherwise."""
    if role is Role.PROVIDER:
        return _provider_binding(session, name.strip(), scope, site)
    if site is not None:
        raise InvalidReference("only a provider token is bound to a site")
    if role is Role.DEVICE:
        device = bound_name(scope, DEVICE_PREFIX)
        if device is None:
            raise InvalidReference("a device token is bound to a device: scope device:<name>")
        try:
            printers.find_device(session, device)
        except NotFound:
            raise InvalidReference(f"no device named {device!r}: add it first") from None
    return Binding(scope)


def _provider_binding(session: Session, name: str, scope: str, site: str | None) -> Binding:
    bound = PROVIDER_PREFIX + name
    if not name or len(bound) > MAX_SCOPE:
        raise InvalidReference(
            f"a provider token is bound to a provider: its name (1 to "
            f"{MAX_SCOPE - len(PROVIDER_PREFIX)} characters)"
        )
    if scope not in ("", bound):
        raise InvalidReference(f"a provider token's scope is {bound!r}")
    if site is not None:
        try:
            sites.find_site(session, site)
        except NotFound:
            raise InvalidReference(f"no site named {site!r}") from None
    return Binding(bound, site)


def issue_token(
    session: Session,
    role: Role,
    *,
    name: str = "",
    scope: str = "",
    site: str | None = None,
    user_id: int | None = None,
    lifetime: timedelta | None = None,
) -> tuple[str, ApiTokenRow]:
    """Create a token; the plain text is returned once and only its hash is kept."""
    token = security.new_token(role.value)
    created = datetime.now(UTC)
    row = ApiTokenRow(
        token_hash=security.token_hash(token),
        role=role.value,
        name=name,
        scope=scope,
        site=site,
        user_id=user_id,
        created_at=created,
        expires_at=created + lifetime if lifetime else None,
        revoked_at=None,
        change_seq=change_seq(session) if role in REPLICATED_ROLES or site else 0,
    )
    session.add(row)
    session.flush()
    return token, row


def resolve_token(session: Session, token: str) -> Caller | None:
    """The caller a token belongs to, or None if it is unknown, expired or revoked."""
    found = session.execute(
        select(ApiTokenRow, UserRow.username, UserRow.enabled)
        .outerjoin(UserRow, UserRow.id == ApiTokenRow.user_id)
        .where(ApiTokenRow.token_hash == security.token_hash(token))
    ).first()
    if found is None:
        return None
    row, username, user_enabled = found
    if row.revoked_at is not None or _expired(row.expires_at):
        return None
    if row.user_id is not None and not user_enabled:
        return None
    expires_at = _aware(row.expires_at)
    return Caller(Role(row.role), row.id, row.user_id, username, row.scope, expires_at)


def _aware(moment: datetime | None) -> datetime | None:
    return utc(moment) if moment is not None else None


def _expired(expires_at: datetime | None) -> bool:
    expires_at = _aware(expires_at)
    return expires_at is not None and expires_at <= datetime.now(UTC)


def revoke_token(session: Session, token_id: int) -> None:
    """Revoke a token; every process stops taking it once this transaction commits."""
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        notices.publish(session, notices.FORGET_TOKEN, str(token_id))
        if Role(row.role) in REPLICATED_ROLES or row.site:
            row.change_seq = change_seq(session)


def bind_provider(session: Session, token_id: int, name: str) -> ApiTokenRow:
    """Bind a provider token made before tokens were bound (scope "") to provider ``name``,
    at its first registration since; refused when another live token is bound to ``name``."""
    scope = PROVIDER_PREFIX + name
    taken = session.scalar(
        select(ApiTokenRow.id).where(
            ApiTokenRow.scope == scope,
            ApiTokenRow.revoked_at.is_(None),
            ApiTokenRow.id != token_id,
        )
    )
    if taken is not None:
        raise AlreadyExists(f"provider {name!r} is bound to another token")
    row = session.get(ApiTokenRow, token_id)
    if row is None:
        raise NotFound(f"no token with id {token_id}")
    row.scope = scope
    row.change_seq = change_seq(session)  # sites learn the binding too
    notices.publish(session, notices.FORGET_TOKEN, str(token_id))
    session.flush()
    return row


def list_tokens(session: Session) -> list[ApiTokenRow]:
    """Component tokens (not personal sessions), newest first."""
    return list(
        session.scalars(
            select(ApiTokenRow).where(ApiTokenRow.user_id.is_(None)).order_by(ApiTokenRow.id.desc())
        )
    )


def client_tokens(session: Session, user_id: int) -> list[ApiTokenRow]:
    """``user_id``'s User Client tokens that still work, newest first."""
    return list(
        session.scalars(
            select(ApiTokenRow)
            .where(
                ApiTokenRow.user_id == user_id,
                ApiTokenRow.role == Role.CLIENT.value,
                ApiTokenRow.revoked_at.is_(None),
            )
            .order_by(ApiTokenRow.id.desc())
        )
    )


def revoke_client_token(session: Session, user_id: int, token_id: int) -> None:
    """Revoke one of ``user_id``'s client tokens (NotFound: no such token of theirs)."""
    row = session.get(ApiTokenRow, token_id)
    if row is None or row.user_id != user_id or row.role != Role.CLIENT.value:
        raise NotFound(f"no client token {token_id} of this user")
    revoke_token(session, row.id)

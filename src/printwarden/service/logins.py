"""Who is logging in: every login surface's check, throttled and outside any transaction.

Each check has the same three steps:

1. the throttle admits the attempt, counted against the account tried and the client trying
   (:mod:`printwarden.service.throttle`), or raises :class:`Throttled` before anything else;
2. a short read session finds what the check needs (the user row, the Offline Policies, a
   shared account's PIN hash) and is closed;
3. the secret is checked on the secret-check threads (argon2, or an LDAP bind), holding no
   database connection. An unknown user, or one without a PIN, is checked against a dummy
   hash, so the answer takes as long as for a known one.

The caller then opens a short write transaction only to issue what the login gives (a token,
a device session). Cards carry no secret: an unknown card and a card of a disabled user (or
one the caller may not see) are the same failure, counted against the client.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.api.auth import DeviceLoginIn
from printwarden.service.state import AppState
from printwarden.service.throttle import Keys
from printwarden.store import accounts, jobs, users
from printwarden.store.errors import NotFound
from printwarden.store.models import UserRow
from printwarden.usecases.authority import Rules

F = TypeVar("F")
# Whether the caller may learn who a card belongs to (read in the lookup's session).
CardVisibility = Callable[[Session, UserRow], bool]


def user_key(username: str) -> str:
    """The account key of a username login (case-insensitive: "Alice" is "alice")."""
    return "user:" + username.strip().casefold()


def identity_key(state: AppState, number: str) -> str:
    return "identity:" + security.identity_hash(state.card_key, number)


def shared_account_key(name: str) -> str:
    return "account:" + name


def address_client(address: str) -> str:
    return "address:" + address


def device_client(name: str) -> str:
    return "device:" + name


def person_client(username: str) -> str:
    """A signed-in person trying shared-account PINs."""
    return "person:" + username


async def _attempt(
    state: AppState, keys: Keys, find: Callable[[], F], check: Callable[[F], bool]
) -> tuple[F, bool]:
    """Steps 1-3 of the module docstring: ``find`` in a worker thread, ``check`` on the
    secret-check threads."""
    throttle = state.logins
    attempt = await throttle.run(throttle.begin, keys)
    try:
        found = await run_in_threadpool(find)
        valid = await state.checks.run(check, found)
    except BaseException:
        await throttle.run(attempt.abandoned)
        raise
    await throttle.run(attempt.succeeded if valid else attempt.failed)
    return found, valid


# --- username and password -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PasswordCandidate:
    user: UserRow | None
    rules: Rules  # read with the user, so that no password is checked inside a transaction


async def password(state: AppState, username: str, secret: str, client: str) -> UserRow | None:
    """The enabled user whose password this is (online as configured, offline by policy)."""

    def find() -> _PasswordCandidate:
        with state.database.read() as session:
            try:
                row: UserRow | None = users.find_user(session, username)
            except NotFound:
                row = None
            return _PasswordCandidate(row, state.authority.rules(session))

    def check(found: _PasswordCandidate) -> bool:
        if found.user is None:
            return security.check_secret(None, secret)
        directory = state.settings.directory
        right = found.rules.check_password(directory, found.user, secret)
        return right and found.user.enabled

    found, valid = await _attempt(state, Keys(user_key(username), client), find, check)
    return found.user if valid else None


# --- identity number and PIN, cards ----------------------------------------------------------


async def identity(state: AppState, number: str, pin: str, client: str) -> UserRow | None:
    """The enabled user with this identity number and PIN."""

    def find() -> UserRow | None:
        with state.database.read() as session:
            return users.user_by_identity(session, state.card_key, number)

    def check(found: UserRow | None) -> bool:
        right = security.check_secret(found.pin_hash if found else None, pin)
        return right and found is not None and found.enabled

    found, valid = await _attempt(state, Keys(identity_key(state, number), client), find, check)
    return found if valid else None


async def card(
    state: AppState, number: str, client: str, visible: CardVisibility | None = None
) -> UserRow | None:
    """The enabled user whose card this is, if ``visible`` lets the caller know (no secret
    to check: a keyed-hash lookup; failures count against the client only)."""

    def find() -> UserRow | None:
        if not number.strip():
            return None
        with state.database.read() as session:
            found = users.user_by_card(session, state.card_key, number)
            if found is None or not found.enabled:
                return None
            return found if visible is None or visible(session, found) else None

    throttle = state.logins
    attempt = await throttle.run(throttle.begin, Keys(None, client))
    try:
        found = await run_in_threadpool(find)
    except BaseException:
        await throttle.run(attempt.abandoned)
        raise
    await throttle.run(attempt.failed if found is None else attempt.succeeded)
    return found


async def person(
    state: AppState,
    body: DeviceLoginIn,
    client: str,
    visible: CardVisibility | None = None,
) -> UserRow | None:
    """Who is at a device: by card, identity number + PIN, or username + password."""
    if body.method == "card":
        return await card(state, body.card_number, client, visible)
    if body.method == "identity":
        return await identity(state, body.identity_number, body.pin, client)
    return await password(state, body.username, body.password, client)


# --- shared accounts' PINs -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PinnedAccount:
    """A shared account and its PIN hash (None: no PIN), read before the PIN is checked."""

    id: int
    name: str
    pin_hash: str | None


async def account_pin(state: AppState, account: PinnedAccount, pin: str, client: str) -> bool:
    """Whether ``pin`` is the shared account's PIN (True for an account without one)."""
    if not account.pin_hash:
        return True
    keys = Keys(shared_account_key(account.name), client)
    _found, valid = await _attempt(
        state, keys, lambda: account, lambda a: security.check_secret(a.pin_hash, pin)
    )
    return valid


async def checked_choice(
    state: AppState, choice: jobs.AccountChoice, username: str, *, throttled: bool = True
) -> jobs.AccountChoice:
    """Check the PIN of the shared account a job names, before the use case's transaction.

    The choice comes back marked ``pin_checked`` when the PIN is right, and unchanged
    otherwise (the use case then refuses it as before). Offline, a named account is replaced
    by the Offline Policy's, so there is nothing to check. ``throttled=False`` (charging a
    job that printed, checked at its decision already) checks without the throttle, so a
    lockout never loses a charge; nor does a flood of logins that fills the secret-check
    threads: the check waits its turn instead of being refused."""
    if choice.personal or choice.account_id is not None or not choice.pin:
        return choice
    account = await run_in_threadpool(_pinned_account, state, choice)
    if account is None or not account.pin_hash:
        return choice
    if throttled:
        valid = await account_pin(state, account, choice.pin, person_client(username))
    else:
        valid = await state.checks.run_unrefused(
            security.check_secret, account.pin_hash, choice.pin
        )
    return replace(choice, pin_checked=True) if valid else choice


def _pinned_account(state: AppState, choice: jobs.AccountChoice) -> PinnedAccount | None:
    with state.database.read() as session:
        if not state.authority.rules(session).checks_account_pins:
            return None
        try:
            row = (
                accounts.find_by_code(session, choice.code)
                if choice.code
                else accounts.find_shared(session, choice.name)
            )
        except NotFound:
            return None
        return PinnedAccount(row.id, row.name, row.pin_hash)

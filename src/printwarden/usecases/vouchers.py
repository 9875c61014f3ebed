"""Top-up cards: generate a batch (its codes are shown once), redeem a card once, expire.

A card's code is a 75-bit CSPRNG value with a check symbol (``domain/vouchers.py``); only
``HMAC(voucher key, code)`` is stored, replicated to every site so a card redeems offline
too. A redemption claims the card with one conditional UPDATE and credits the person's
account in the same transaction, with a transaction id made from the card and where it was
redeemed: HQ's and each site's own. A site's journal entry carries the code, so HQ credits
only cards the site was really shown; when two places redeemed one card while apart, the
first HQ applies wins and the other's credit is taken back by a visible adjustment
(:func:`apply_offline`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from printwarden import security
from printwarden.domain import vouchers
from printwarden.domain.charges import Refused
from printwarden.domain.ledger import APP_ORIGIN, Transaction, TransactionKind, site_origin
from printwarden.store import effects, ledger, users
from printwarden.store import vouchers as store
from printwarden.store.db import utc
from printwarden.store.models import UserRow, VoucherBatchRow, VoucherRow
from printwarden.usecases.credits import CreditApplied
from printwarden.usecases.errors import Conflict, Invalid, NotFound

_NAMESPACE = uuid.UUID("2f7c1d0a-5b8e-4f63-9a41-7c0e3d9b6a15")
JOURNAL_KIND = "voucher"


class Mistyped(Invalid):
    """The code has the right shape but its check symbol is wrong: a typo, not a guess."""


class NoSuchCard(NotFound):
    """No card has this code (a failed attempt, throttled like a wrong password)."""


@dataclass(frozen=True, slots=True)
class Generated:
    batch: VoucherBatchRow
    codes: list[str]


@dataclass(frozen=True, slots=True)
class Redeemed:
    amount: int
    balance: int
    batch_id: str
    txn_id: str


def txn_id(code_hash: str, origin: str) -> str:
    """The credit of one card redeemed at ``origin`` (HQ's ``app`` or ``site:<name>``)."""
    return str(uuid.uuid5(_NAMESPACE, f"voucher\x1f{code_hash}\x1f{origin}"))


def _taken_back_id(credit_txn: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"taken-back\x1f{credit_txn}"))


def generate(
    session: Session, key: bytes, batch: vouchers.Batch, *, currency: str, by: str
) -> Generated:
    """Make ``batch``'s cards; the codes are returned here once and never stored."""
    if batch.currency != currency:
        raise Invalid(f"this server's currency is {currency}, not {batch.currency}")
    codes = vouchers.generate(batch.count)
    hasher = security.VoucherHasher(key)
    until = None
    if batch.valid_until is not None:
        until = datetime.combine(batch.valid_until, time.max, tzinfo=UTC)
    row = VoucherBatchRow(
        batch_id=batch.batch_id, value=batch.value, currency=batch.currency, valid_until=until,
        count=batch.count, created_by=by, created_at=users.now(),
    )  # fmt: skip
    store.add_batch(session, row, [hasher.hash(code.replace("-", "")) for code in codes])
    return Generated(row, codes)


def check_code(text: str) -> str:
    """The canonical code of ``text`` (``Mistyped`` for a typo, ``Invalid`` for a shape
    that is no code at all)."""
    try:
        return vouchers.parse(text)
    except vouchers.Mistyped as exc:
        raise Mistyped(str(exc), title="Mistyped code") from None
    except vouchers.Malformed as exc:
        raise Invalid(str(exc), title="Not a top-up card code") from None


def _standing(card: VoucherRow, batch: VoucherBatchRow, at: datetime) -> str:
    """Why ``card`` cannot be redeemed at ``at`` ("" when it can)."""
    if card.redeemed_at is not None:
        return f"this card was redeemed on {card.redeemed_at:%Y-%m-%d}"
    if card.expired_at is not None or batch.expired_at is not None:
        return "this card has been withdrawn"
    until = utc(batch.valid_until) if batch.valid_until is not None else None
    if until is not None and at > until:
        return f"this card expired on {until:%Y-%m-%d}"
    return ""


def redeem(
    session: Session, key: bytes, text: str, user: UserRow, origin: str = APP_ORIGIN
) -> Redeemed:
    """Redeem the card whose code is ``text`` for ``user``'s personal account, once."""
    code = check_code(text)
    code_hash = security.voucher_hash(key, code)
    found = store.by_hash(session, code_hash)
    if found is None:
        raise NoSuchCard("no top-up card has this code")
    card, batch = found
    at = users.now()
    why = _standing(card, batch, at)
    credit = txn_id(code_hash, origin)
    if why or not store.claim(session, card, user.id, origin, credit, at):
        raise Conflict(why or "this card was redeemed just now", title="Card not redeemable")
    account = users.personal_account(session, user.id)
    tail = code[-4:]
    txn = Transaction(
        id=credit, account_id=account.id, amount=batch.value, kind=TransactionKind.TOP_UP,
        reference=f"topup-card:{batch.batch_id}", origin=origin, created_at=at,
        comment=f"top-up card …{tail} of batch {batch.batch_id}",
    )  # fmt: skip
    ledger.apply_transaction(session, txn)
    effects.note(session, JOURNAL_KIND, {
        "code": code, "txn_id": credit, "username": user.username, "amount": batch.value,
        "currency": batch.currency, "redeemed_at": at.isoformat(),
    })  # fmt: skip
    session.refresh(account)
    return Redeemed(batch.value, account.balance, batch.batch_id, credit)


def expire(session: Session, batch_id: str) -> int:
    """Withdraw a batch's cards not yet redeemed; how many."""
    return store.expire_batch(session, store.find_batch(session, batch_id), users.now())


def apply_offline(session: Session, key: bytes, site: str, body: dict[str, Any]) -> CreditApplied:
    """A ``voucher`` entry of ``site``'s journal. The code proves the site was shown the
    card; the credit is the site's (its transaction id); if the card went first elsewhere
    — another site, HQ, or withdrawn meanwhile — the credit stands in the ledger and an
    adjustment takes it back, so the person's history shows both."""
    try:
        code = vouchers.parse(str(body["code"]))
    except ValueError:
        raise Refused("the entry's top-up card code is not a code") from None
    code_hash = security.voucher_hash(key, code)
    found = store.by_hash(session, code_hash)
    if found is None:
        raise Refused("no top-up card has this code")
    card, batch = found
    origin = site_origin(site)
    credit = txn_id(code_hash, origin)
    if str(body.get("txn_id")) != credit or int(body.get("amount", -1)) != batch.value:
        raise Refused("the entry's credit is not this card's")
    user = session.scalar(select(UserRow).where(UserRow.username == str(body["username"])))
    if user is None:
        raise Refused(f"no user {body['username']!r}")
    account = users.personal_account(session, user.id)
    if credit in ledger.recorded(session, [credit]):
        return CreditApplied("already in the ledger", account.id)
    at = _moment(body.get("redeemed_at"))
    why = _standing(card, batch, at)
    claimed = not why and store.claim(session, card, user.id, origin, credit, at)
    tail = code[-4:]
    ledger.apply_transaction(session, Transaction(
        id=credit, account_id=account.id, amount=batch.value, kind=TransactionKind.TOP_UP,
        reference=f"topup-card:{batch.batch_id}", origin=origin, created_at=at,
        comment=f"top-up card …{tail} of batch {batch.batch_id}, redeemed offline at {site}",
    ))  # fmt: skip
    if claimed:
        return CreditApplied(f"credited to {user.username}", account.id, batch.value)
    why = why or "this card was redeemed just now"
    ledger.apply_transaction(session, Transaction(
        id=_taken_back_id(credit), account_id=account.id, amount=-batch.value,
        kind=TransactionKind.ADJUSTMENT, reference=f"topup-card:{batch.batch_id}",
        origin=APP_ORIGIN, comment=f"top-up card …{tail} taken back: {why}",
    ))  # fmt: skip
    note = f"top-up card …{tail} redeemed offline by {user.username} at {site} was not "
    note += f"theirs to redeem ({why}); its credit was taken back"
    return CreditApplied(f"credit taken back: {why}", account.id, 0, [note])


def _moment(value: Any) -> datetime:
    try:
        return utc(datetime.fromisoformat(str(value)))
    except ValueError:
        return users.now()

"""Top-up cards in the database: batches, and each card by the keyed hash of its code."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from printwarden.store import bulk
from printwarden.store.changes import change_seq
from printwarden.store.errors import AlreadyExists, NotFound
from printwarden.store.models import VoucherBatchRow, VoucherRow

_VOUCHERS = cast(Table, VoucherRow.__table__)


def add_batch(session: Session, row: VoucherBatchRow, hashes: Sequence[str]) -> VoucherBatchRow:
    """Store a new batch and one card per hash (AlreadyExists for a batch id in use)."""
    taken = select(VoucherBatchRow.id).where(VoucherBatchRow.batch_id == row.batch_id)
    if session.scalar(taken) is not None:
        raise AlreadyExists(f"batch {row.batch_id!r} exists already")
    row.change_seq = seq = change_seq(session)
    session.add(row)
    session.flush()
    columns: dict[str, list[Any]] = {
        "code_hash": list(hashes),
        "batch_id": [row.id] * len(hashes),
        "redeemed_where": [""] * len(hashes),
        "txn_id": [""] * len(hashes),
        "change_seq": [seq] * len(hashes),
    }
    bulk.insert_columns(session, _VOUCHERS, columns)
    return row


def find_batch(session: Session, batch_id: str) -> VoucherBatchRow:
    row = session.scalar(select(VoucherBatchRow).where(VoucherBatchRow.batch_id == batch_id))
    if row is None:
        raise NotFound(f"no top-up card batch {batch_id!r}")
    return row


def by_hash(session: Session, code_hash: str) -> tuple[VoucherRow, VoucherBatchRow] | None:
    """The card with this code hash and its batch, or None."""
    found = session.execute(
        select(VoucherRow, VoucherBatchRow)
        .join(VoucherBatchRow, VoucherBatchRow.id == VoucherRow.batch_id)
        .where(VoucherRow.code_hash == code_hash)
    ).first()
    return (found[0], found[1]) if found is not None else None


def claim(
    session: Session, card: VoucherRow, user_id: int, where: str, txn_id: str, at: datetime
) -> bool:
    """Mark ``card`` redeemed unless it already is (one conditional UPDATE: of two
    concurrent claims, one wins)."""
    claimed = session.execute(
        update(VoucherRow)
        .where(VoucherRow.id == card.id, VoucherRow.redeemed_at.is_(None))
        .values(
            redeemed_at=at,
            redeemed_by=user_id,
            redeemed_where=where,
            txn_id=txn_id,
            change_seq=change_seq(session),
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(card)
    return bool(getattr(claimed, "rowcount", 0) == 1)


def batches(session: Session) -> list[tuple[VoucherBatchRow, int]]:
    """Every batch, newest first, with how many of its cards were redeemed."""
    redeemed = (
        select(VoucherRow.batch_id, func.count().label("n"))
        .where(VoucherRow.redeemed_at.is_not(None))
        .group_by(VoucherRow.batch_id)
        .subquery()
    )
    rows = session.execute(
        select(VoucherBatchRow, func.coalesce(redeemed.c.n, 0))
        .outerjoin(redeemed, redeemed.c.batch_id == VoucherBatchRow.id)
        .order_by(VoucherBatchRow.id.desc())
    ).all()
    return [(batch, int(count)) for batch, count in rows]


def expire_batch(session: Session, batch: VoucherBatchRow, at: datetime) -> int:
    """Expire a batch and its cards not yet redeemed; how many cards that was."""
    seq = change_seq(session)
    batch.expired_at, batch.change_seq = at, seq
    done = session.execute(
        update(VoucherRow)
        .where(
            VoucherRow.batch_id == batch.id,
            VoucherRow.redeemed_at.is_(None),
            VoucherRow.expired_at.is_(None),
        )
        .values(expired_at=at, change_seq=seq)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(done, "rowcount", 0))


def expire_card(session: Session, card: VoucherRow, at: datetime) -> None:
    card.expired_at, card.change_seq = at, change_seq(session)

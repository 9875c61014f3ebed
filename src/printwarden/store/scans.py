"""The scans a server takes: from the first page to delivered, failed or abandoned."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from printwarden.domain.scanning import OPEN, Stage
from printwarden.security import token_hash
from printwarden.store.db import utc
from printwarden.store.errors import NotFound
from printwarden.store.models import ScanRow

# Marks a session whose effects are this server's own whatever its mode: a Site Server
# journals them for HQ even while online (site/journal.py), HQ has no journal to mind it.
LOCAL_EFFECT = "local_effect"


def find(session: Session, scan_id: str) -> ScanRow:
    row = session.get(ScanRow, scan_id)
    if row is None:
        raise NotFound(f"no scan {scan_id} here")
    return row


def with_token(session: Session, scan_id: str, token: str, device: str) -> ScanRow:
    """The scan ``token`` was given for at ``device``: NotFound for any other (the same
    answer whether the scan, the token or the device is wrong)."""
    row = session.get(ScanRow, scan_id)
    if (
        row is None
        or not row.token_hash
        or not hmac.compare_digest(row.token_hash, token_hash(token))
        or row.device != device
    ):
        raise NotFound(f"no scan {scan_id} for this upload token at this device")
    return row


def downloadable(session: Session, scan_id: str, now: datetime) -> ScanRow:
    """The scan ``scan_id`` while its download link lasts; else NotFound."""
    row = session.get(ScanRow, scan_id)
    if row is None or row.download_until is None or utc(row.download_until) <= now:
        raise NotFound("this download link is not valid (expired?)")
    return row


def due(session: Session, now: datetime, limit: int = 20) -> Sequence[ScanRow]:
    """Received scans whose delivery is due now, oldest first."""
    query = (
        select(ScanRow)
        .where(ScanRow.stage == Stage.RECEIVED)
        .where(or_(ScanRow.next_attempt_at.is_(None), ScanRow.next_attempt_at <= now))
        .order_by(ScanRow.received_at)
        .limit(limit)
    )
    return session.scalars(query).all()


def notices_due(session: Session, limit: int = 20) -> Sequence[ScanRow]:
    """Scans whose owner is still to be told how they ended."""
    query = select(ScanRow).where(ScanRow.notice == "pending").limit(limit)
    return session.scalars(query).all()


def stale(session: Session, before: datetime, limit: int = 50) -> Sequence[ScanRow]:
    """Scans still open for pages since before ``before``: abandoned at the device."""
    query = (
        select(ScanRow)
        .where(ScanRow.stage == Stage.SCANNING)
        .where(ScanRow.created_at < before)
        .limit(limit)
    )
    return session.scalars(query).all()


def links_over(session: Session, now: datetime, limit: int = 50) -> Sequence[ScanRow]:
    """Ended scans whose download link is over: their files may go."""
    ended = [s.value for s in Stage if s not in OPEN]
    query = (
        select(ScanRow)
        .where(ScanRow.stage.in_(ended))
        .where(ScanRow.download_until.is_not(None))
        .where(ScanRow.download_until <= now)
        .limit(limit)
    )
    return session.scalars(query).all()


def recent(session: Session, user_id: int, limit: int = 20) -> Sequence[ScanRow]:
    query = (
        select(ScanRow)
        .where(ScanRow.user_id == user_id)
        .order_by(ScanRow.created_at.desc())
        .limit(limit)
    )
    return session.scalars(query).all()


def open_count(session: Session) -> dict[str, int]:
    """How many scans are in each open stage (for /metrics)."""
    counts = {stage.value: 0 for stage in OPEN}
    for stage in session.scalars(select(ScanRow.stage).where(ScanRow.stage.in_(list(counts)))):
        counts[stage] += 1
    return counts

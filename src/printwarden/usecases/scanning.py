"""Integrated Scanning's use cases: the actions a person sees at a device, starting a scan
(a one-time upload token bound to the person, the action and the device), and finishing it
— charged once per scanned page, by the scan's ``usage_id``, on receipt.

The same code runs at HQ and at a Site Server; at a site the charge is a local effect
(``scans.LOCAL_EFFECT``), journaled for HQ whatever the site's mode.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from printwarden.domain.costs import JobUsage, affordable_pages
from printwarden.domain.ids import new_id
from printwarden.domain.ledger import TransactionKind
from printwarden.domain.scanning import (
    DOWNLOAD_FOR,
    SETTING_KEY,
    ScanAction,
    ScanError,
    ScanOptions,
    ScanSettings,
    Stage,
    parse_settings,
)
from printwarden.keys import purpose_key
from printwarden.security import token_hash
from printwarden.store import accounts, device_sessions, scans, settings, users
from printwarden.store.models import AccountRow, DeviceRow, ScanRow, UserRow
from printwarden.store.users import now
from printwarden.usecases.errors import Forbidden, Invalid

SITE_PREFIX = "site-"  # the id of a scan a Site Server took: its gateway keeps it there


def scan_settings(session: Session) -> ScanSettings:
    """The administrator's actions and limits (setting ``scan-actions``)."""
    return parse_settings(settings.get(session, SETTING_KEY))


def offered(session: Session, user: UserRow, device: DeviceRow) -> list[ScanAction]:
    """The actions ``user`` sees at ``device``."""
    return scan_settings(session).offered(users.groups_of(session, user.id), device.name)


@dataclass(frozen=True, slots=True)
class Started:
    """A scan open for pages, and the one-time token that may upload them."""

    scan: ScanRow
    upload_token: str
    max_pages: int
    max_page_bytes: int
    allowed_pages: int | None


@dataclass(frozen=True, slots=True)
class ScanRequest:
    """Who scans where, with which action and changes to its options."""

    user: UserRow
    account: AccountRow
    device: DeviceRow
    action: str
    asked: dict[str, Any]
    source: str = "device"


def start(session: Session, request: ScanRequest, *, at_site: bool) -> Started:
    """Open a scan; Forbidden when the action is not offered here or an option is not the
    person's to change, or the account cannot pay for one page."""
    limits = scan_settings(session)
    action = next(
        (a for a in offered(session, request.user, request.device) if a.name == request.action),
        None,
    )
    if action is None:
        raise Forbidden(f"no scan action {request.action!r} for you at {request.device.name}")
    try:
        options = action.options(request.asked)
    except ScanError as exc:
        raise Invalid(str(exc)) from None
    allowed = allowed_pages(session, request, options)
    if allowed == 0:
        raise Forbidden("your account cannot pay for a scan", title="Not enough credit")
    token = secrets.token_urlsafe(32)
    row = ScanRow(
        id=(SITE_PREFIX if at_site else "") + new_id(),
        token_hash=token_hash(token),
        user_id=request.user.id,
        username=request.user.username,
        email=request.user.email,
        account_id=request.account.id,
        device=request.device.name,
        action=action.name,
        destination={"kind": action.destination.value, "folder": action.folder},
        options=options.to_json(),
        source=request.source,
        stage=Stage.SCANNING.value,
        usage_id=new_id(),
        created_at=now(),
    )
    session.add(row)
    session.flush()
    return Started(row, token, limits.max_pages, limits.max_page_bytes, allowed)


def options_of(row: ScanRow) -> ScanOptions:
    return ScanOptions(**row.options)


def allowed_pages(session: Session, request: ScanRequest, options: ScanOptions) -> int | None:
    """How many pages the account can pay for at this device (None: no limit)."""
    groups = users.groups_of(session, request.user.id)

    def cost(pages: int) -> int:
        return device_sessions.usage_cost(request.device, _usage(pages, options), groups)

    account = accounts.to_domain(session, request.account)
    if not account.restricted or cost(2) <= cost(1):
        return None
    return affordable_pages(cost, account.available())


def _usage(pages: int, options: ScanOptions) -> JobUsage:
    return JobUsage(pages, pages if options.colour else 0, 1, options.duplex, "A4")


def finish(session: Session, row: ScanRow, pages: int, device: DeviceRow) -> ScanRow:
    """Close the scan for pages and charge them once (its ``usage_id``): the scan is then
    received, to be processed and delivered. A scan of no pages is abandoned, uncharged."""
    moment = now()
    if pages == 0:
        row.stage, row.finished_at, row.detail = Stage.ABANDONED.value, moment, "no pages"
        return row
    groups = users.groups_of(session, row.user_id)
    session.info[scans.LOCAL_EFFECT] = True
    record = device_sessions.record_usage(
        session,
        row.user_id,
        row.account_id,
        device,
        device_sessions.Usage(row.usage_id, TransactionKind.SCAN, _usage(pages, options_of(row))),
        groups,
    )
    row.pages, row.cost = pages, record.cost
    row.stage, row.received_at, row.next_attempt_at = Stage.RECEIVED.value, moment, None
    return row


def abandon(row: ScanRow, why: str) -> None:
    """A scan never finished: nothing charged; its owner is told."""
    row.stage, row.detail = Stage.ABANDONED.value, why
    row.finished_at, row.notice = now(), "pending"


def delivered(row: ScanRow, where: str) -> None:
    row.stage, row.delivered_to, row.finished_at = Stage.DELIVERED.value, where, now()
    row.detail, row.next_attempt_at = "", None


def failed(row: ScanRow, why: str, moment: datetime) -> None:
    """Given up: its owner is told, with a download link that works for a day."""
    row.stage, row.detail, row.finished_at = Stage.FAILED.value, why, moment
    row.download_until, row.notice, row.next_attempt_at = moment + DOWNLOAD_FOR, "pending", None


def download_key(secret: bytes, scan_id: str) -> str:
    """The key in a scan's download link: derived from the server's secret and the id, so a
    notice sent again carries the same link and nothing secret is stored."""
    mac = hmac.new(purpose_key(secret, "scan-download"), scan_id.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def check_download_key(secret: bytes, scan_id: str, key: str) -> bool:
    return hmac.compare_digest(download_key(secret, scan_id), key)

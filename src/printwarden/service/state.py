"""What one App Server process holds: settings, database, keys, and a short token cache."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from anyio import CapacityLimiter
from fastapi import Request

from printwarden import heap
from printwarden.config import Settings
from printwarden.domain.journal import UPLOAD_LIMIT
from printwarden.domain.money import Currency
from printwarden.domain.payments import Gateway
from printwarden.keys import HQ_ISSUER
from printwarden.service.beacon import BeaconServer
from printwarden.service.beat_clock import QUIET_BEAT_SECONDS, BeatClock
from printwarden.service.byte_budget import ByteBudget
from printwarden.service.combining import Combiner
from printwarden.service.events import EventHub
from printwarden.service.leadership import Leadership
from printwarden.service.one_at_a_time import OneAtATime
from printwarden.service.provider_control import ProviderDoorbell
from printwarden.service.secret_checks import SecretChecks
from printwarden.service.site_contacts import SiteContacts
from printwarden.service.site_polls import SitePolls
from printwarden.service.throttle import LoginThrottle
from printwarden.store.db import Database
from printwarden.store.notices import FORGET_TOKEN, FORGET_USER, Notices
from printwarden.store.tokens import Caller
from printwarden.usecases.authority import Authority, Hq
from printwarden.usecases.cash import CashRules

TOKEN_CACHE_SECONDS = 5.0
TOKEN_CACHE_SIZE = 10_000


@dataclass
class CallerCache:
    """Valid tokens seen in the last few seconds, so each request need not hit the database.

    A revoked token (a disabled or deleted user's, a demoted administrator's) is forgotten by
    every process once the revocation commits (``store/notices.py``); while this process may
    miss such notices (its listener is down) nothing cached is trusted.
    """

    ttl: float = TOKEN_CACHE_SECONDS
    trusted: Callable[[], bool] = lambda: True
    _entries: dict[str, tuple[float, Caller]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def listen(self, notices: Notices) -> None:
        """Forget what ``notices`` say, and trust the cache only while they are heard."""
        notices.on(FORGET_TOKEN, lambda token_id: self._forget("token_id", token_id))
        notices.on(FORGET_USER, lambda user_id: self._forget("user_id", user_id))
        self.trusted = notices.current

    def get(self, token: str) -> Caller | None:
        entry = self._entries.get(token)
        if entry is None or entry[0] < time.monotonic() or not self.trusted():
            return None
        return entry[1]

    def put(self, token: str, caller: Caller) -> None:
        until = time.monotonic() + self.ttl
        if caller.expires_at is not None:  # never past the token's own expiry
            left = (caller.expires_at - datetime.now(UTC)).total_seconds()
            until = min(until, time.monotonic() + left)
        with self._lock:
            if len(self._entries) >= TOKEN_CACHE_SIZE:
                self._entries.clear()
            self._entries[token] = (until, caller)

    def _forget(self, attribute: str, value: str) -> None:
        """Drop the callers whose ``attribute`` is ``value`` (every caller for "")."""
        with self._lock:
            if not value:
                self._entries.clear()
                return
            stale = [k for k, (_, c) in self._entries.items()
                     if str(getattr(c, attribute)) == value]  # fmt: skip
            for key in stale:
                del self._entries[key]


class StopSignal(threading.Event):
    """Set when the server is told to stop (``serving.py``); what waits long registers a
    wake-up with :meth:`when_set`."""

    def __init__(self) -> None:
        super().__init__()
        self._wakes: list[Callable[[], None]] = []

    def when_set(self, wake: Callable[[], None]) -> None:
        self._wakes.append(wake)

    def set(self) -> None:
        super().set()
        for wake in self._wakes:
            wake()


def journal_combiner() -> Combiner[Any, bytes]:
    """Uploads together at most as many entries as one full upload (``UPLOAD_LIMIT``): a
    group takes no longer than the biggest upload alone."""
    return Combiner(weigh=lambda upload: len(upload.entries), capacity=UPLOAD_LIMIT)


@dataclass
class AppState:
    """``secret`` is this server's own (HQ's at HQ, a Site Server's own at a site): its
    cookies are signed, and at HQ numbers sealed, with keys derived from it (``keys``).
    ``card_key`` hashes swiped card and identity numbers for lookup: HQ's secret at HQ, the
    site's own card key at a site (replaced when HQ re-keys the site). ``voucher_key``
    hashes top-up card codes: HQ's at HQ and at every site (``keys.voucher_key``)."""

    settings: Settings
    database: Database
    secret: bytes
    card_key: bytes
    voucher_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    issuer: str = HQ_ISSUER  # who this server's cookies say made them
    callers: CallerCache = field(default_factory=CallerCache)
    providers: ProviderDoorbell = field(default_factory=ProviderDoorbell)
    authority: Authority = field(default_factory=Hq)  # a Site Server's local app: Site
    logins: LoginThrottle = field(default_factory=LoginThrottle)  # failed logins, per process
    # Failed top-up card redemptions (unknown or mistyped codes), per person and per client.
    redemptions: LoginThrottle = field(default_factory=LoginThrottle)
    checks: SecretChecks = field(default_factory=SecretChecks)  # where secrets are checked
    release_threads: CapacityLimiter | None = None  # made on first use (usecases/release.py)
    stopping: StopSignal = field(default_factory=StopSignal)  # long waits end
    web_print: Any = None  # service.web_print.WebPrintService, while the app runs
    mail: Any = None  # service.email_print.EmailPrint, while Email to Print runs
    scans: Any = None  # service.scanning.ScanService, while the app runs
    # The background services whose counters /metrics shows (each has ``stats()``), by name.
    services: dict[str, Any] = field(default_factory=dict)
    events: EventHub = field(default_factory=EventHub)  # what User Clients hear
    beats: BeatClock = field(default_factory=BeatClock)  # what beating long polls send
    # What a quiet one sends (its site hears its link on the beacon): a space now and then.
    quiet_beats: BeatClock = field(default_factory=lambda: BeatClock(QUIET_BEAT_SECONDS))
    beacon: BeaconServer | None = None  # the sites' heartbeat channel, if configured
    site_contacts: SiteContacts = field(default_factory=SiteContacts)  # sites calling in
    site_polls: SitePolls = field(default_factory=SitePolls)  # their open long polls
    # Whether this process runs the scheduled work (always, but among processes on PostgreSQL).
    leadership: Leadership = field(default_factory=lambda: Leadership(None))
    gateways: dict[str, Gateway] = field(default_factory=dict)  # payment gateways, by name
    payment_notices: Any = None  # service.payment_notices.NotificationApplier
    # Sites' journal uploads arriving together are applied together (service/journal_uploads).
    journal_uploads: Combiner[Any, bytes] = field(default_factory=journal_combiner)
    # The uploads' bodies read and waiting in memory at once (service/byte_budget.py), and
    # one upload at a time per site (service/one_at_a_time.py).
    journal_intake: ByteBudget = field(init=False)
    journal_senders: OneAtATime = field(default_factory=OneAtATime)

    def __post_init__(self) -> None:
        self.journal_intake = ByteBudget(self.settings.limits.journal_bytes_at_once)

    def service_counts(self) -> dict[str, dict[str, int]]:
        """The counters of the background services that run, by name, and the process's
        garbage collector's (``heap``), for /metrics."""
        counts = {name: service.stats() for name, service in self.services.items()}
        return {**counts, "heap": heap.stats()}

    @property
    def currency(self) -> Currency:
        return self.settings.currency_info

    @property
    def cash_rules(self) -> CashRules:
        """What this server's kiosks take (``[cash]``)."""
        config = self.settings.cash
        return CashRules(frozenset(config.denominations), config.daily_limit, self.currency.code)


async def app_state(request: Request) -> AppState:
    """Async on purpose: a sync dependency costs a worker-thread hop per request."""
    state: AppState = request.app.state.printwarden
    return state

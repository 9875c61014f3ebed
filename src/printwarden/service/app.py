"""The Application Server as an ASGI app."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

from printwarden import __version__
from printwarden.config import Settings
from printwarden.domain.login_throttle import Rules
from printwarden.keys import HQ_ISSUER, beacon_key, voucher_key
from printwarden.payments.config import build_gateways
from printwarden.service import openapi, problems
from printwarden.service.beacon import BeaconServer
from printwarden.service.body_limits import BodyLimit
from printwarden.service.dns_sd import ZoneService
from printwarden.service.email_print import start_mail
from printwarden.service.leadership import Leadership
from printwarden.service.parking import Parking
from printwarden.service.payment_notices import NotificationApplier
from printwarden.service.question_timer import start_user_clients
from printwarden.service.route_prefixes import skip_unreachable_routers
from printwarden.service.routes import (
    accounts,
    auth,
    client,
    device,
    devices_auth,
    directory,
    dns_sd,
    filters,
    health,
    held_jobs,
    jobs,
    kiosk,
    kiosk_page,
    lockouts,
    me,
    payments,
    print_urls,
    printers,
    providers,
    refunds,
    release_page,
    scans,
    sites,
    tokens,
    topup_cards,
    users,
    web_print,
)
from printwarden.service.scanning import start_scanning
from printwarden.service.scheduler import DirectorySyncer, TopUpScheduler
from printwarden.service.secret_checks import SecretChecks
from printwarden.service.state import AppState
from printwarden.service.throttle import LoginThrottle
from printwarden.service.web_print import WebPrintService
from printwarden.store.db import WORKER_THREADS, Database
from printwarden.store.login_failures import SharedBook
from printwarden.web import mount as mount_web

API_PREFIX = "/api/v1"
ROUTERS = (
    health.router,
    auth.router,
    users.router,
    accounts.router,
    printers.router,
    jobs.router,
    devices_auth.router,
    device.router,
    held_jobs.router,
    me.router,
    sites.router,
    providers.router,
    tokens.router,
    lockouts.router,
    directory.router,
    filters.router,
    print_urls.router,
    dns_sd.router,
    web_print.router,
    client.router,
    scans.router,
    topup_cards.router,
    kiosk.router,
    payments.router,
    refunds.router,
)


def throttle(database: Database, name: str, rules: Rules | None = None) -> LoginThrottle:
    """A login throttle counting in this process (SQLite: the only process), or on
    PostgreSQL in the database, shared by every App Server process on it."""
    if database.is_sqlite:
        return LoginThrottle(rules)
    return LoginThrottle(rules, time.time, SharedBook(database, name))


def create_app(
    settings: Settings,
    database: Database | None = None,
    *,
    issuer: str = HQ_ISSUER,
    card_key: bytes | None = None,
) -> FastAPI:
    """Build the App Server for ``settings`` (the database must be migrated already). A Site
    Server's local app passes its ``issuer`` and ``card_key`` (HQ: its secret)."""
    secret = settings.resolved_secret()
    database = database or Database(settings.resolved_database_url())
    state = AppState(
        settings=settings,
        database=database,
        secret=secret,
        card_key=secret if card_key is None else card_key,
        voucher_key=voucher_key(secret),
        issuer=issuer,
        logins=throttle(database, "logins", settings.login.rules()),
        redemptions=throttle(database, "redemptions"),
        checks=SecretChecks(settings.login.check_threads),
        gateways=build_gateways(settings.payments),
    )
    state.callers.listen(state.database.notices)
    state.leadership = Leadership(database.conninfo)
    state.stopping.when_set(database.changes.ring)  # long polls see it at once
    state.payment_notices = NotificationApplier(state.database)
    syncer = DirectorySyncer(state)
    top_ups = TopUpScheduler(state)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # anyio's default is 40 threads: more than the pools hold, and 40 threads contending
        # for one GIL cost more than they overlap.
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        state.leadership.start()
        state.services["journal_uploads"] = state.journal_uploads
        state.services["journal_intake"] = state.journal_intake
        state.beats.start()
        state.quiet_beats.start()
        if settings.beacon_port:
            state.beacon = BeaconServer(state.database, beacon_key(state.secret))
            await state.beacon.start(settings.host, settings.beacon_port)
            state.services["beacon"] = state.beacon
        questions = await start_user_clients(state)
        syncer.start()
        top_ups.start()
        # Every provider's queues; the leader alone sends the zone's updates.
        zone = ZoneService(state.database, settings.dns_sd, None, state.leadership.leads)
        if settings.dns_sd.domain:
            await zone.start()
        state.web_print = WebPrintService(
            state, settings.web_print, settings.data_dir / "web-print"
        )
        await state.web_print.start()
        state.mail = await start_mail(
            state, state.web_print, settings.mail, settings.data_dir / "mail"
        )
        scanning = await start_scanning(state, settings.scanning, settings.data_dir / "scans")
        await state.payment_notices.start()
        state.database.listen_for_changes()  # other processes' commits wake long polls too
        state.services.update(web_print=state.web_print, user_client=questions,
                              scanning=scanning, payments=state.payment_notices,
                              leadership=state.leadership, beats=state.beats,
                              quiet_beats=state.quiet_beats)  # fmt: skip
        if state.mail is not None:
            state.services["email_print"] = state.mail
        yield
        state.services.clear()
        await state.payment_notices.stop()
        await scanning.stop()
        if state.mail is not None:
            await state.mail.stop()
        await state.web_print.stop()
        await questions.stop()
        await zone.close()
        top_ups.stop()
        syncer.stop()
        state.leadership.stop()
        await state.beats.stop()
        await state.quiet_beats.stop()
        if state.beacon is not None:
            await state.beacon.stop()
        state.providers.close()
        state.checks.close()
        state.database.dispose()

    app = FastAPI(
        title="printwarden print service",
        version=__version__,
        description="The Application Server API: users, accounts, ledger, printers, jobs.",
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.printwarden = state
    problems.install(app)
    app.add_middleware(BodyLimit, limits=settings.limits)
    app.add_middleware(Parking)  # added last: the outermost (sites' long polls wait there)
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(release_page.router)  # the release station page, outside /api/v1
    app.include_router(kiosk_page.router)  # the pay station page, outside /api/v1
    app.include_router(scans.downloads)  # scans' download links, outside /api/v1
    app.include_router(health.metrics_router)  # Prometheus, outside /api/v1
    mount_web(app)  # the web interface under /web, outside /api/v1
    skip_unreachable_routers(app)  # matching asks only routers whose paths could match
    openapi.install(app)  # after every route: each operation's error answers
    return app

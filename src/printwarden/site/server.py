"""A Site Server: the gateway in front, the replica and journal behind, and three loops —
heartbeat (is the App Server there?), sync (pull changes while online) and reconcile (upload
the journal when the link is back, refresh the replica, go online).

Its keys: its own secret (``DATA_DIR/site.key``, made at first start), from which its web
cookies' key is derived; and what HQ gives it (``hq_keys``): its card key and HQ's public
cookie key. It never holds HQ's secret.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from printwarden import heap, keys, serving
from printwarden.api.journal import JournalOut
from printwarden.config import DnsSdConfig, MailConfig, ScanningConfig, Settings
from printwarden.domain.site_mode import ModeMachine, SiteMode
from printwarden.files import private_dir
from printwarden.service.app import create_app
from printwarden.service.body_limits import BodyLimit
from printwarden.service.dns_sd import ZoneService
from printwarden.service.email_print import start_mail
from printwarden.service.offline import OfflineMode
from printwarden.service.question_timer import QuestionTimer, start_user_clients
from printwarden.service.scanning import ScanService, start_scanning
from printwarden.service.state import AppState
from printwarden.service.web_print import WebPrintService
from printwarden.site import hq_keys, metrics, relay
from printwarden.site.beacon import BeaconClient
from printwarden.site.gateway import (
    ANSWERING_LOCALLY,
    Gateway,
    HqConnection,
    Message,
    Receive,
    Scope,
    Send,
)
from printwarden.site.heartbeat import (
    BEACON_REFRESH_SECONDS,
    REFRESH_SECONDS,
    RoundTrips,
    StatusSchedule,
)
from printwarden.site.journal import Journal
from printwarden.site.passwords import PasswordCache, administrators
from printwarden.site.replica import Replica, SchemaMismatch
from printwarden.site.upstream import (
    LinkSilent,
    Upstream,
    UpstreamError,
    UpstreamRefused,
)
from printwarden.usecases.authority import Site

log = logging.getLogger("printwarden.site")

STATUS_PATH = "/site/status"  # the site's own view, answered even with the link down
METRICS_PATH = "/metrics"  # Prometheus, likewise
HEARTBEAT_TICK_SECONDS = 0.1  # how often the heartbeat loop asks if a status is due
# A poll is answered early only by changes for this site: others (another site's printer)
# advance its replica's number only when the poll ends, so a site is "caught up" (the number
# HQ shows) at most this late. HQ takes waits up to 55 s; a longer wait would cost less.
LONG_POLL_SECONDS = 10.0
# With a beacon the poll is quiet and may be long: HQ answers it within 10 s of a change for
# other sites anyway (``CATCH_UP_SECONDS``), so only an idle site's lasts this long.
QUIET_LONG_POLL_SECONDS = 240.0
BEAT_CONTACT_SECONDS = 0.25  # beats heard more often than this count as one contact
STOP_JOIN_SECONDS = 5.0  # how long stopping waits for a loop busy with the replica


@dataclass(frozen=True, slots=True)
class SiteConfig:
    upstream: str
    token: str
    site: str
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8100
    trusted_proxies: tuple[str, ...] = ()  # proxies in front of the site (addresses, CIDRs)
    advertised_url: str = ""  # how HQ reaches this Site Server (default: http://host:port)
    hq_beacon: str = ""  # HOST:PORT of HQ's beacon (default: HQ's host, the port HQ names)
    dns_sd: DnsSdConfig | None = None  # answer for a DNS-SD domain with the site's queues
    mail: MailConfig = field(default_factory=MailConfig)  # Email to Print at the site
    scanning: ScanningConfig = field(default_factory=ScanningConfig)  # its smarthost, shares

    @property
    def url(self) -> str:
        """The URL HQ reaches this Site Server at (its relay to the site's providers)."""
        if self.advertised_url:
            return self.advertised_url.rstrip("/")
        host = socket.getfqdn() if self.host in ("0.0.0.0", "::") else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


class SiteServer(HqConnection):
    """Everything one Site Server runs."""

    def __init__(self, config: SiteConfig) -> None:
        self.config = config
        self.machine = ModeMachine()
        self.counters = metrics.SiteCounters()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._polling = threading.Event()  # the sync thread waits on a long poll
        self._last_beat = float("-inf")  # when a beating long poll last heard HQ (monotonic)
        self._schedule = StatusSchedule()  # when the status goes up (site/heartbeat.py)
        self._round_trips = RoundTrips()  # and how long it may take
        self._threads: list[threading.Thread] = []
        self.last_report: dict[str, Any] | None = None
        self._replica_ready = False  # known to hold a first copy of HQ's data
        private_dir(config.data_dir)  # the replica holds hashes and the journal
        self.replica = Replica(config.data_dir / "replica.db")
        self.journal = Journal(self.replica.database, active=self.answering_offline)
        secret = keys.secret_in(config.data_dir / keys.SITE_SECRET_FILE)
        settings = Settings(
            data_dir=config.data_dir,
            database_url=self.replica.database.url,
            secret_key=secret.decode(),
            host=config.host,
            port=config.port,
            trusted_proxies=list(config.trusted_proxies),
            mail=config.mail,
            scanning=config.scanning,
        )
        self._keys_path = config.data_dir / hq_keys.FILE_NAME
        self._keys_lock = threading.Lock()
        self.keys = hq_keys.load(self._keys_path)
        # Until HQ's keys arrive a random card key: it matches nothing (the replica then
        # holds no card anyway: its snapshot waits for the keys).
        card_key = self.keys.card_key if self.keys else secrets.token_bytes(32)
        self.local = create_app(
            settings,
            database=self.replica.database,
            issuer=keys.site_issuer(config.site),
            card_key=card_key,
        )
        if self.keys is not None:
            self._use(self.keys)
        self.passwords = PasswordCache(self.replica.database)
        self.local.state.printwarden.authority = Site(
            OfflineMode(self.answering_offline, self._unknown, self.passwords.get)
        )
        # Web Print and Email to Print at the site: rendered and held here, online or not.
        self.questions: QuestionTimer | None = None  # started with the server
        self.scanning: ScanService | None = None  # likewise
        self.web_print = WebPrintService(
            self.local.state.printwarden, settings.web_print, config.data_dir / "web-print"
        )
        self.upstream = Upstream(config.upstream, config.token, config.site)
        self.beacon = BeaconClient(config.upstream, config.hq_beacon, self._beat_heard,
                                   self.forward_failed, self._stop)  # fmt: skip
        self.gateway = Gateway(
            self.local, config.upstream, self, config.token, config.trusted_proxies
        )
        # Bounded before the gateway buffers a body to forward it.
        self.front = BodyLimit(self.gateway, settings.limits)
        self.relay = relay.Relay(config.site, self.replica.database, self._mode)
        self.zone = (
            ZoneService(self.replica.database, config.dns_sd, config.site)
            if config.dns_sd is not None and config.dns_sd.domain
            else None
        )
        if self.journal.backlog():
            # Restarted with offline effects HQ has not seen: reconcile before going online.
            why = "restarted with an unsent journal"
            self._event(lambda now: self.machine.start_offline(now, why), why)

    # --- the link, as the gateway sees it --------------------------------------------------

    def online(self) -> bool:
        with self._lock:
            return self.machine.mode is SiteMode.ONLINE

    def _mode(self) -> str:
        with self._lock:
            return self.machine.mode.value

    def replica_ready(self) -> bool:
        """Whether the replica holds a first copy of HQ's data (once it has, it keeps one:
        a snapshot taken again replaces rows that go on answering meanwhile)."""
        if not self._replica_ready:
            self._replica_ready = self.replica.seq() > 0
        return self._replica_ready

    def answering_offline(self) -> bool:
        """Whether the replica is answering (a request, or the site as a whole)."""
        return ANSWERING_LOCALLY.get() or not self.online()

    def forward_failed(self, reason: str) -> None:
        self._event(lambda now: self.machine.failure(now, reason), reason)

    def forward_succeeded(self) -> None:
        return  # heartbeats decide when the link is back

    async def password_accepted(self, username: str, password: str) -> None:
        await asyncio.to_thread(self.passwords.remember, username, password)

    def _event(self, change: Any, why: str) -> None:
        with self._lock:
            before = self.machine.mode
            after = change(time.monotonic())
            self.counters.saw(self.machine, before)
        if after is not before:
            log.warning("site %s: %s -> %s (%s)", self.config.site, before, after, why)
            # User Clients' streams: relayed ones end, local ones check the mode.
            self.gateway.mode_changed()
            self.local.state.printwarden.events.wake_all()

    # --- keys from HQ ----------------------------------------------------------------------

    def _use(self, found: hq_keys.HqKeys) -> None:
        """Hash swiped numbers with the site's card key; accept HQ's web sessions."""
        self.local.state.printwarden.card_key = found.card_key
        if found.voucher_key:
            self.local.state.printwarden.voucher_key = found.voucher_key
        self.local.state.webui.signer.trust(keys.HQ_ISSUER, found.hq_cookie_key)

    def _refresh_keys(self) -> None:
        """Fetch the site's keys from HQ; a new card key (first start, a re-key) means every
        card hash held is stale: they go, and the snapshot is taken again."""
        with self._keys_lock:
            found = hq_keys.HqKeys.of(self.upstream.keys())
            if found.site != self.config.site:
                raise UpstreamRefused(f"HQ sent the keys of site {found.site!r}")
            if found == self.keys:
                return
            hq_keys.save(self._keys_path, found)
            changed = self.keys is None or found.generation != self.keys.generation
            self.keys = found
            self._use(found)
            if changed:
                log.warning("site %s: card key generation %d: taking the snapshot again",
                            self.config.site, found.generation)  # fmt: skip
                self.replica.restart_snapshot()

    def _keys_match(self, page: dict[str, Any]) -> bool:
        """Whether ``page``'s hashes are under the card key this site has; if not, the keys
        are fetched again (and the page is not applied)."""
        if self.keys is not None and page.get("key_generation") == self.keys.generation:
            return True
        self._refresh_keys()
        return False

    def _unknown(self, session: Session | None, username: str, where: str) -> None:
        body = {"username": username, "where": where}
        if session is not None:
            self.journal.append(session, "unknown-user", body)
            return
        with self.replica.database.session() as writer:
            self.journal.append(writer, "unknown-user", body)

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for target in (self._heartbeat_loop, self._sync_loop):
            thread = threading.Thread(target=target, name=f"site-{target.__name__}", daemon=True)
            thread.start()
            self._threads.append(thread)
        # Not waited for when stopping: it writes nothing, and may be in a 1 s connect.
        threading.Thread(target=self.beacon.run, name="site-beacon", daemon=True).start()

    def stop(self) -> None:
        """Stop the loops: each ends at its next check, except a sync thread waiting on a
        long poll, which is left to the process's exit (it applies nothing once stopped)."""
        self._stop.set()
        deadline = time.monotonic() + STOP_JOIN_SECONDS
        for thread in self._threads:
            while thread.is_alive() and not self._polling.is_set():
                thread.join(timeout=min(0.05, max(0.0, deadline - time.monotonic())))
                if time.monotonic() >= deadline:
                    break
        self.upstream.close()
        self.replica.close()

    def serve(self) -> None:
        """Serve in the foreground until SIGTERM (the loops start with the app)."""
        heap.settle()
        serving.run(
            self.asgi,
            self._stop,
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            interface="asgi3",
            proxy_headers=False,  # the gateway decides whose forwarding headers to trust
        )

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The gateway, plus start and stop with the server (the local app's own lifespan —
        directory sync — does not run at a site)."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] == STATUS_PATH:
            await _send_json(send, await asyncio.to_thread(self.status))
            return
        if scope["type"] == "http" and scope["path"] == METRICS_PATH:
            text = await asyncio.to_thread(self.metrics)
            await _send(send, text.encode(), metrics.CONTENT_TYPE)
            return
        ring = relay.PATH.match(scope["path"]) if scope["type"] == "http" else None
        if ring is not None:
            answer = await self.relay.ring(scope["method"], ring["name"])
            kind = "application/problem+json" if answer.detail else _JSON
            await _send(send, answer.body(), kind, answer.status)
            return
        await self.front(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message: Message = await receive()
            if message["type"] == "lifespan.startup":
                self.start()
                if self.zone is not None:  # from the replica: it answers through outages
                    await self.zone.start()
                state = self.local.state.printwarden
                self.questions = await start_user_clients(state)
                state.web_print = self.web_print
                await self.web_print.start()
                state.mail = await start_mail(
                    state, self.web_print, self.config.mail, self.config.data_dir / "mail"
                )
                self.scanning = await start_scanning(
                    state, self.config.scanning, self.config.data_dir / "scans"
                )
                state.services.update(web_print=self.web_print, user_client=self.questions,
                                      scanning=self.scanning)  # fmt: skip
                if state.mail is not None:
                    state.services["email_print"] = state.mail
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.local.state.printwarden.services.clear()
                if self.scanning is not None:
                    await self.scanning.stop()
                if self.local.state.printwarden.mail is not None:
                    await self.local.state.printwarden.mail.stop()
                await self.web_print.stop()
                if self.questions is not None:
                    await self.questions.stop()
                if self.zone is not None:
                    await self.zone.close()
                await self.gateway.aclose()
                await self.relay.aclose()
                self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    # --- loops -----------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        while not self._stop.wait(HEARTBEAT_TICK_SECONDS):
            try:
                self._beat_if_due()
            except Exception:  # the heartbeat must outlive any one failure
                log.exception("site %s: heartbeat failed", self.config.site)

    def _beat_if_due(self) -> None:
        """Send the status when it is due (``site/heartbeat.py``)."""
        now, online = time.monotonic(), self.online()
        self._schedule.refresh = BEACON_REFRESH_SECONDS if self.beacon.live else REFRESH_SECONDS
        if not self._schedule.worth_a_look(now, online, self._last_beat):
            return
        status = self.status()
        if self._schedule.due(now, status, online, self._last_beat):
            self._schedule.tried(now)
            self._beat(status)

    def _beat_heard(self) -> None:
        """A beat of the long poll: HQ is there (counted as a contact at most every
        ``BEAT_CONTACT_SECONDS``)."""
        now = time.monotonic()
        if now - self._last_beat >= BEAT_CONTACT_SECONDS:
            with self._lock:
                self.counters.last_contact = now
            self._event(self.machine.success, "the App Server beats")
        self._last_beat = now

    def _beat(self, status: dict[str, Any]) -> None:
        started = time.monotonic()
        try:
            answer = self.upstream.status(status, self._round_trips.timeout())
        except (UpstreamError, UpstreamRefused) as exc:
            self.forward_failed(f"heartbeat: {exc}")
            return
        forced = answer.forced_offline
        self.beacon.offer(answer.beacon_port, answer.beacon_ticket)
        answered = time.monotonic()
        self._round_trips.answered(answered - started)
        self._schedule.answered(answered, status)
        self._heard(forced, int(status["journal_backlog"]))

    def _heard(self, forced: bool, backlog: int) -> None:
        """HQ answered; ``backlog``: the journal entries not uploaded when it was asked."""
        with self._lock:
            self.counters.last_contact = time.monotonic()
        self._event(lambda now: self.machine.force(forced, now), "forced offline")
        self._event(self.machine.success, "the App Server answers again")
        with self._lock:
            reconciling = self.machine.mode is SiteMode.RECONCILING
        if reconciling:
            # Here, not in the sync thread: that one may still wait on a long poll sent
            # before the cut, which only a timeout ends.
            self.reconcile()
        elif self.online() and backlog:  # the status just sent counted them
            self._upload_local_effects()

    def _upload_local_effects(self) -> None:
        """Online, what the site did on its own (a scan it took and charged) goes up to HQ
        at once; HQ applies each entry once, so a cut upload is simply sent again."""
        try:
            self._upload_journal()
        except (UpstreamError, UpstreamRefused) as exc:
            log.warning("site %s: journal upload failed (%s)", self.config.site, exc)

    def _upload_journal(self) -> list[JournalOut]:
        """Upload every pending entry, oldest first, each batch marked once HQ took it;
        HQ's reports of the batches."""
        reports = []
        while entries := self.journal.pending():
            reports.append(self.upstream.upload(entries))
            self.journal.mark_uploaded([str(e["id"]) for e in entries])
        return reports

    def _sync_loop(self) -> None:
        caught_up = False
        while not self._stop.is_set():
            with self._lock:
                mode = self.machine.mode
            if mode is SiteMode.ONLINE:
                try:
                    caught_up = self._pull(LONG_POLL_SECONDS if caught_up else 0.0)
                except Exception:  # keep replicating whatever one page did
                    log.exception("site %s: applying changes failed", self.config.site)
                    caught_up = False
                    self._stop.wait(1.0)
            else:
                caught_up = False
                self._stop.wait(0.2)

    def _pull(self, wait: float) -> bool:
        """One page of changes (a new replica: its whole snapshot first); True when the
        replica has caught up."""
        try:
            if self.keys is None:
                self._refresh_keys()
            cursor = self.replica.snapshot_cursor()
            since = self.replica.seq()
            if cursor is not None:
                self._snapshot(cursor)
                return False  # then the changes since the snapshot
            page = self._long_poll(since, wait)
            if self._stop.is_set() or not self._keys_match(page):
                return False
            applied = self.replica.apply(
                page["schema_revision"], since, page["upto"], page["entities"]
            )
            if applied:
                self.passwords.forget(administrators(page["entities"]))
        except LinkSilent as exc:
            # One failure, not a cut yet: a second (the heartbeat's, or the next silence)
            # takes the site offline, so that an App Server slow for a moment under load
            # does not send its sites offline.
            self.forward_failed(str(exc))
            return False
        except (UpstreamError, UpstreamRefused) as exc:
            log.info("site %s: pulling changes failed: %s", self.config.site, exc)
            self._stop.wait(0.5)
            return False
        except SchemaMismatch as exc:
            log.error("site %s: %s", self.config.site, exc)
            self._stop.wait(5.0)
            return False
        return applied and not page["more"]

    def _long_poll(self, since: int, wait: float) -> dict[str, Any]:
        """Changes since ``since``; with ``wait``, a beating long poll: HQ's beats are the
        site's heartbeat meanwhile, its answer says whether the site is forced offline."""
        if not wait:
            return self.upstream.changes(since)
        with self._lock:
            forced = self.machine.forced_offline
        quiet = self.beacon.live
        if quiet:
            wait = max(wait, QUIET_LONG_POLL_SECONDS)
        self._polling.set()
        try:
            page = self.upstream.beating_changes(since, wait, forced, self._beat_heard, quiet)
        finally:
            self._polling.clear()
        offline = bool(page.get("forced_offline", False))
        self._event(lambda now: self.machine.force(offline, now), "forced offline")
        return page

    def _snapshot(self, cursor: dict[str, Any]) -> None:
        """Apply the snapshot from ``cursor`` on, page by page, each stored with the cursor of
        the next: the App Server builds page k + 1 while the replica applies page k."""
        pending = self._fetch(cursor)
        while not self._stop.is_set():
            page = pending.result()
            if not self._keys_match(page):
                return
            following = page["next"] and {"at": page["at"], **page["next"]}
            if following:
                pending = self._fetch(following)
            if not self.replica.apply_snapshot(page["schema_revision"], cursor, page):
                return
            self.passwords.forget(administrators(page["entities"]))
            if not following:
                log.info("site %s: snapshot at %s applied", self.config.site, page["at"])
                return
            cursor = following

    def _fetch(self, cursor: dict[str, Any]) -> Future[dict[str, Any]]:
        """A snapshot page, fetched by a thread of its own."""
        future: Future[dict[str, Any]] = Future()

        def fetch() -> None:
            try:
                future.set_result(self.upstream.snapshot(cursor))
            except BaseException as exc:  # handed to the caller
                future.set_exception(exc)
            finally:
                self.upstream.release_thread()

        threading.Thread(target=fetch, name="site-snapshot-fetch", daemon=True).start()
        return future

    def reconcile(self) -> None:
        """Upload the journal, refresh the replica, and go online (or back offline)."""
        totals: dict[str, Any] = {"entries": 0, "applied": 0, "already_applied": 0,
                                  "amounts": {}, "unknown_users": [], "failure_mode_jobs": 0,
                                  "deficits": [], "notes": [], "rejected": []}  # fmt: skip
        started = datetime.now(UTC)
        try:
            for report in self._upload_journal():
                _merge(totals, report)
            while not self._pull(0.0):
                if self._stop.is_set():
                    return
        except (UpstreamError, UpstreamRefused) as exc:
            self.forward_failed(f"reconciling: {exc}")
            return
        if self.journal.backlog():
            return  # written while uploading: another round
        totals["started"], totals["finished"] = started.isoformat(), datetime.now(UTC).isoformat()
        self.last_report = totals
        with self._lock:
            self.counters.reconciliations += 1
        self._event(self.machine.reconciled, "journal uploaded and replica refreshed")

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            outages = [
                {
                    "reason": o.reason,
                    "duration_seconds": round(o.duration(now), 1),
                    "ongoing": o.ended is None,
                }
                for o in self.machine.outages[-20:]
            ]
            mode = self.machine.mode
            changes = self.machine.changes
        return {
            "site": self.config.site,
            "url": self.config.url,
            "mode": mode.value,
            "mode_changes": changes,
            "journal_backlog": self.journal.backlog(),
            "replica_seq": self.replica.seq(),
            "outages": outages,
            "last_report": self.last_report,
            "beacon": self.beacon.live,
        }

    def metrics(self) -> str:
        """``GET /metrics``: the mode, its changes, outages, reconciliations, the backlog and
        the age of the last contact — what ``status()`` shows, for Prometheus."""
        backlog, seq = self.journal.backlog(), self.replica.seq()
        with self._lock:
            counters = self.counters
            scrape = metrics.Scrape(
                site=self.config.site,
                mode=self.machine.mode,
                transitions=dict(counters.transitions),
                outages=counters.outages,
                reconciliations=counters.reconciliations,
                backlog=backlog,
                contact_age=counters.contact_age(time.monotonic()),
                replica_seq=seq,
                services=self._service_counts(),
            )
        return metrics.render(scrape)

    def _service_counts(self) -> dict[str, dict[str, int]]:
        """The counters of the background services that run (as the App Server's)."""
        state: AppState = self.local.state.printwarden
        return {**state.service_counts(), "beacon": self.beacon.stats()}


_JSON = "application/json"


async def _send_json(send: Send, body: dict[str, Any]) -> None:
    await _send(send, json.dumps(body, default=str).encode(), _JSON)


async def _send(send: Send, data: bytes, content_type: str, status: int = 200) -> None:
    headers = [(b"content-type", content_type.encode()),
               (b"content-length", str(len(data)).encode())]  # fmt: skip
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _merge(totals: dict[str, Any], report: JournalOut) -> None:
    totals["entries"] += report.entries
    totals["applied"] += report.applied
    totals["already_applied"] += report.already_applied
    totals["failure_mode_jobs"] += report.failure_mode_jobs
    for kind, amount in report.amounts.items():
        totals["amounts"][kind] = totals["amounts"].get(kind, 0) + amount
    totals["unknown_users"].extend(
        name for name in report.unknown_users if name not in totals["unknown_users"]
    )
    totals["deficits"].extend(report.deficits)
    totals["notes"].extend(report.notes)
    # Entries HQ rejected, with the reason; each once (an upload cut short is sent again).
    listed = {r["id"] for r in totals["rejected"]}
    totals["rejected"].extend(r for r in report.rejected if r["id"] not in listed)

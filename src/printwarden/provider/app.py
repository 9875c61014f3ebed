"""A Print Provider process: spool, engine, IPP server, doorbell and metrics, wired together."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvloop

from printwarden import heap
from printwarden.domain.dns_sd import QueueAdvert
from printwarden.provider import clock, metrics, tls
from printwarden.provider.adverts import queue_adverts, registration_entry
from printwarden.provider.config import ProviderConfig
from printwarden.provider.desk import Desk
from printwarden.provider.discovery import Discovery
from printwarden.provider.engine import Engine
from printwarden.provider.http import HttpThrottled, IppApp
from printwarden.provider.http_server import HttpServer, Listener, serve_until_signalled
from printwarden.provider.identity import warnings
from printwarden.provider.ipp_job_ops import JobOperations
from printwarden.provider.ipp_printer_ops import PrinterOperations
from printwarden.provider.ipp_service import IppService
from printwarden.provider.ipp_subscription_ops import SubscriptionOperations
from printwarden.provider.orders import Doorbell, OrderDesk
from printwarden.provider.printer_watch import PrinterWatch
from printwarden.provider.queue_pages import QueuePages
from printwarden.provider.queue_services import QueueServices
from printwarden.provider.service_client import (
    Login,
    LoginThrottled,
    ServerRefused,
    ServerUnreachable,
    ServiceClient,
)
from printwarden.provider.spool import Spool
from printwarden.provider.submitters import Submitters
from printwarden.provider.supervisor import Supervisor
from printwarden.provider.web_prints import SubmissionDesk

log = logging.getLogger("printwarden.provider")
WAKE = "wake"


class Provider:
    """Everything one provider runs."""

    def __init__(self, config: ProviderConfig, server_url: str, token: str) -> None:
        clock.start()
        self.config = config
        if config.control_token:
            log.warning("control_token in the configuration is ignored: the server no longer "
                        "holds a provider credential (it rings /control/wake)")  # fmt: skip
        self.spool = Spool(config.data_dir)
        self.client = ServiceClient(server_url, token, config.server_timeout_seconds)
        self.desk = Desk(config, self.spool)
        self.supervisor = Supervisor()  # every background loop runs under it
        self.printers = PrinterWatch(config, config.data_dir, supervisor=self.supervisor)
        self.engine = Engine(
            config, self.spool, self.client, self.desk,
            supervisor=self.supervisor, printers=self.printers,
        )  # fmt: skip
        self.printers.on_change(self.engine.reregister)
        self.web_prints = SubmissionDesk(config.name, config, self.client, self.desk, self.spool)
        self.orders = OrderDesk(
            config.name, self.client, self.desk, self.spool, lambda: self.engine.registered,
            self.web_prints.fetch,
        )  # fmt: skip
        self.doorbell = Doorbell(self.orders.fetch, config.order_poll_seconds, self.supervisor)
        self.desk.on_work(self.engine.wake)
        self.desk.on_held(self.engine.held_job_arrived)
        self.engine.on_registered(self.doorbell.poke)
        self.submitters = Submitters(self.client.submitter, config.user_check_seconds)
        self.services = QueueServices.create(
            config, self.spool, self.printers,
            directory=config.data_dir, supervisor=self.supervisor,
        )  # fmt: skip
        self.engine.halted = self._halted
        self.ipp = IppService(
            config, self.spool, self.desk, self._check_password, printers=self.printers,
            submitters=self.submitters, services=self.services,
        )  # fmt: skip
        self.ipp.add_operations(SubscriptionOperations(self.ipp).handlers())
        self.ipp.add_operations(PrinterOperations(self.ipp, self.engine.wake).handlers())
        self.ipp.add_operations(JobOperations(self.ipp, self.engine.wake).handlers())
        self.discovery = Discovery(config.mdns, self.adverts, self.supervisor)
        self.printers.on_change(self.discovery.changed)
        self.engine.registration = self.registration
        pages = QueuePages(config, self.services.states, self.printers.status)
        self.app = IppApp(self.ipp, self.control, self.metrics, pages)
        self.tls = tls.prepare(config)  # before serving: a bad certificate stops start-up
        for warning in warnings(config):
            log.warning("%s", warning)

    def adverts(self) -> list[QueueAdvert]:
        """What DNS-SD announces of the queues now (``provider/adverts.py``)."""
        return queue_adverts(self.config, self.ipp.queue_attributes)

    def registration(self) -> dict[str, Any]:
        """What the server is told: the queues and printers, each announced queue with its
        advert (the server's unicast DNS-SD zone is made of them)."""
        described = self.printers.registration()
        by_queue = {advert.queue: advert for advert in self.adverts()}
        for queue in described["queues"]:
            advert = by_queue.get(queue["name"])
            queue["dns_sd"] = registration_entry(advert) if advert is not None else None
        return described

    def _check_password(self, username: str, password: str, client: str) -> Login | None:
        try:
            return self.client.password_login(username, password, client)
        except LoginThrottled as exc:
            raise HttpThrottled(exc.retry_after) from None
        except (ServerUnreachable, ServerRefused):
            return None

    def _halted(self, queue: str) -> bool:
        """Whether an operator paused or shut down ``queue`` (its jobs wait)."""
        state = self.services.admin.get(queue)
        return state.paused or state.shutdown

    def start(self) -> None:
        self.printers.start()
        self.services.start()
        self.engine.start()
        self.doorbell.start()
        self.discovery.start()
        self.supervisor.start()

    def close(self) -> None:
        self.supervisor.stop()
        self.services.close()
        self.doorbell.stopped()
        self.client.close()
        self.spool.close()

    def metrics(self) -> str:
        """``GET /metrics``: the loops (restarting any that died), failed jobs, refused
        state changes, jobs by phase and password checks, as Prometheus text."""
        self.supervisor.check()
        scrape = metrics.Scrape(
            provider=self.config.name,
            loops_up=self.supervisor.alive(),
            loop_errors=dict(self.supervisor.errors),
            loop_restarts=dict(self.supervisor.restarts),
            job_failures=self.engine.job_failures,
            refused=dict(self.spool.refused),
            phases=self.spool.phase_counts(),
            password_checks=dict(self.ipp.password_checks),
            heap=heap.stats(),
        )
        return metrics.render(scrape)

    async def control(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        """``POST /control/wake``: the server has orders; fetch and apply them, then answer
        (200, or 503 with why the fetch failed). It carries nothing and needs no token."""
        if path.strip("/") != WAKE:
            return 404, {"detail": "unknown control path"}
        if method != "POST":
            return 405, {"detail": "ring with POST"}
        # Two fetches at most: one may be running, the next one answers this ring.
        failure = await self.doorbell.ring(timeout=2 * self.config.server_timeout_seconds + 2)
        if failure:
            return 503, {"detail": failure}
        return 200, {"fetched": True, "fetches": self.doorbell.fetches}

    def serve(self) -> None:
        """Run the IPP server in the foreground until SIGTERM or SIGINT, and ``ipps://``
        beside it on ``[tls] port`` when configured: the background loops start first
        (recovery included), the ports open after them."""
        uvloop.run(self._serve())

    async def _serve(self) -> None:
        listeners = [Listener(HttpServer(self.app), self.config.host, self.config.port)]
        if self.tls is not None:
            listeners.append(self._secure_listener(self.tls))
        self.start()
        heap.settle()
        try:
            await serve_until_signalled(*listeners)
        finally:
            await asyncio.to_thread(self.close)

    def _secure_listener(self, material: tls.TlsMaterial) -> Listener:
        """IPP over TLS on ``[tls] port`` (its requests say so: ``IppRequest.tls``)."""
        assert self.config.tls is not None
        trust = f" (self-signed: trust {material.certificate})" if material.self_signed else ""
        log.info("ipps:// on port %d; certificate SHA-256 fingerprint %s%s",
                 self.config.tls.port, material.fingerprint, trust)  # fmt: skip
        server = HttpServer(self.app, ssl_context=material.server_context())
        return Listener(server, self.config.host, self.config.tls.port)

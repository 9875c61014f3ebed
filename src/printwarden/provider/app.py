"""A Print Provider process: spool, engine, IPP server and control API, wired together."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Any

import uvicorn

from printwarden.provider.config import ProviderConfig
from printwarden.provider.desk import Desk, DeskError, ReleaseOrder
from printwarden.provider.engine import Engine
from printwarden.provider.http import HttpThrottled, IppApp
from printwarden.provider.ipp_service import IppService
from printwarden.provider.service_client import (
    LoginThrottled,
    ServerRefused,
    ServerUnreachable,
    ServiceClient,
)
from printwarden.provider.spool import Spool

log = logging.getLogger("printwarden.provider")


class Provider:
    """Everything one provider runs."""

    def __init__(self, config: ProviderConfig, server_url: str, token: str) -> None:
        self.config = config
        self.spool = Spool(config.data_dir)
        self.client = ServiceClient(server_url, token, config.server_timeout_seconds)
        self.desk = Desk(config, self.spool)
        self.engine = Engine(config, self.spool, self.client, self.desk)
        self.desk.on_work(self.engine.wake)
        self.desk.on_held(self.engine.news)
        self.ipp = IppService(config, self.spool, self.desk, self._check_password)
        self.app = IppApp(self.ipp, self.control, self.engine.start, self.close)

    def _check_password(self, username: str, password: str, client: str) -> bool:
        try:
            return self.client.check_password(username, password, client)
        except LoginThrottled as exc:
            raise HttpThrottled(exc.retry_after) from None
        except (ServerUnreachable, ServerRefused):
            return False

    def close(self) -> None:
        self.engine.stop()
        self.client.close()
        self.spool.close()

    async def control(
        self, path: str, body: dict[str, Any], token: str
    ) -> tuple[int, dict[str, Any]]:
        """``POST /control/jobs/<id>/release`` with a release order (``{"printer": name,
        "copies", "duplex", "grayscale", "convert_to_pdf", "account"}``), and ``…/cancel``
        with ``{"reason": …}``."""
        expected = self.config.control_token
        if not expected or not hmac.compare_digest(expected, token):
            return 401, {"detail": "a valid control token is required"}
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "jobs" or not parts[1].isdigit():
            return 404, {"detail": "unknown control path"}
        try:
            job = self.desk.find(int(parts[1]))
            if parts[2] == "release":
                order = ReleaseOrder.from_json(body)
                job = await asyncio.to_thread(self.desk.release, job, order)
            elif parts[2] == "cancel":
                reason = str(body.get("reason") or "canceled by the server")[:200]
                job = await asyncio.to_thread(self.desk.cancel, job, reason)
            else:
                return 404, {"detail": "unknown control action"}
        except DeskError as exc:
            return (404 if exc.reason == "not-found" else 409), {"detail": exc.message}
        return 200, {"job_id": job.id, "state": job.state, "printer": job.printer}

    def serve(self) -> None:
        """Run the IPP server in the foreground."""
        uvicorn.run(
            self.app,
            host=self.config.host,
            port=self.config.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            proxy_headers=False,  # the IPP client's own address counts its failed logins
        )

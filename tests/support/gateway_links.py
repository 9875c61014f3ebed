"""A Site Server's link as a site gateway's tests need it: online or not, its replica's
first copy taken or not, and what the gateway told it (failed forwards, accepted logins)."""

from __future__ import annotations

from printwarden.site.gateway import HqConnection


class StubLink(HqConnection):
    def __init__(self, *, online: bool = True, ready: bool = True) -> None:
        self.is_online, self.ready = online, ready
        self.failures: list[str] = []
        self.accepted: list[tuple[str, str]] = []

    def online(self) -> bool:
        return self.is_online

    def forward_failed(self, reason: str) -> None:
        self.failures.append(reason)

    def forward_succeeded(self) -> None:
        pass

    async def password_accepted(self, username: str, password: str) -> None:
        self.accepted.append((username, password))

    def replica_ready(self) -> bool:
        return self.ready

"""Print Provider configuration: its queues and printers, from a TOML file."""

from __future__ import annotations

import socket
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from printwarden.analysis.papersize import from_pwg_name


class QueueKind(StrEnum):
    DIRECT = "direct"
    HOLD = "hold"
    FINDME = "findme"


class FailureMode(StrEnum):
    """What a direct queue does when no server answers (failure mode)."""

    PRINT_AND_JOURNAL = "print-and-journal"
    PRINT_UNTRACKED = "print-untracked"
    HOLD = "hold"


class Identity(StrEnum):
    """How a queue learns who is printing (docs/provider.md, *Who is printing*)."""

    # The client's requesting-user-name is believed: a managed LAN of workstations whose
    # login names are trusted (the default only for queues no BYOD network reaches).
    TRUST_CLIENT_USERNAME = "trust-client-username"
    # HTTP Basic over TLS (or loopback), checked by the server and throttled there.
    AUTHENTICATE = "authenticate"
    # A per-user secret queue URL (/ipp/print/<queue>/u/<token>), for clients that cannot
    # prompt for a password; the server resolves the token.
    TOKEN_URL = "token-url"  # noqa: S105 (a policy name)


class TlsConfig(BaseModel):
    """``ipps://``: a TLS listener beside the plain one. Without ``certificate`` and ``key``
    the provider makes a self-signed certificate in its data directory (and logs its
    SHA-256 fingerprint)."""

    model_config = ConfigDict(extra="forbid")
    port: int = Field(default=8632, ge=0, le=65535)
    certificate: Path | None = None
    key: Path | None = None
    hostnames: list[str] = Field(
        default_factory=list,
        description="More names (or addresses) the self-signed certificate is made for",
    )

    @model_validator(mode="after")
    def _both_or_neither(self) -> TlsConfig:
        if (self.certificate is None) != (self.key is None):
            raise ValueError("tls: give both certificate and key, or neither (self-signed)")
        return self


class MdnsConfig(BaseModel):
    """``[mdns]``: announcing the queues on the local network through the system's
    avahi-daemon (over D-Bus)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool = True
    dbus_address: str = Field(
        default="",
        description="The D-Bus where avahi-daemon is (a unix:path=… address); the system "
        "bus by default ($DBUS_SYSTEM_BUS_ADDRESS, else /run/dbus/system_bus_socket)",
    )
    retry_seconds: float = Field(
        default=30.0, gt=0, description="How long to wait before trying avahi again"
    )


class PrinterConfig(BaseModel):
    """A real printer behind the provider. ``name`` is its name in the server's registry.

    An ``ipp(s)://`` printer is asked what it can do (``provider/capabilities.py``); each of
    ``colour``, ``duplex``, ``media`` and ``formats`` set here overrides its answer, and the
    defaults below apply only to what neither says.
    """

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=128)
    uri: str = Field(description="ipp://, ipps://, socket://host:port or file:///dir")
    colour: bool = True
    duplex: bool = True
    media: list[str] = Field(default_factory=lambda: ["iso_a4_210x297mm", "na_letter_8.5x11in"])
    formats: list[str] = Field(
        default_factory=list,
        description="MIME types the printer takes. An IPP printer says so itself; a socket:// "
        "or file:// printer that declares none is sent every document as it came",
    )

    def description(self) -> dict[str, Any]:
        """What the server is told about this printer (for Find-Me compatibility checks)."""
        sizes = [from_pwg_name(name) for name in self.media]
        return {
            "name": self.name,
            "colour": self.colour,
            "duplex": self.duplex,
            "paper_sizes": sorted({size for size in sizes if size}),
            "formats": list(self.formats),
        }


class QueueConfig(BaseModel):
    """A print queue users print to (``/ipp/print/<name>``)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    kind: QueueKind = QueueKind.DIRECT
    printer: str = ""
    failure_mode: FailureMode = FailureMode.PRINT_AND_JOURNAL
    identity: Identity = Field(
        default=Identity.TRUST_CLIENT_USERNAME,
        description="How the queue learns who prints; by default trust-client-username, or "
        "authenticate where the older require_authentication = true says so",
    )
    require_authentication: bool = Field(
        default=False,
        description='Older spelling of identity = "authenticate"; kept so that older '
        "configuration files load (and true exactly when identity is authenticate)",
    )
    ipp_release: bool = Field(
        default=False,
        description="IPP Release-Job by the job's owner is allowed on this hold or Find-Me "
        "queue; otherwise held jobs are released at a device, a release station, the web "
        "portal or by an administrator",
    )
    hold_hours: float = Field(default=4.0, gt=0)
    fit_to_paper: bool = Field(
        default=False,
        description="A job asking for paper the queue does not offer is fitted onto the "
        "printer's default paper instead of refused",
    )
    advertise: bool = Field(
        default=True,
        description="Announce the queue over DNS-SD (mDNS, and the server's unicast zone) "
        "where its identity policy allows (docs/mobility.md)",
    )
    dns_sd_name: str = Field(
        default="",
        max_length=63,
        description="The name clients list the queue under (its DNS-SD instance name); "
        "the queue's name by default",
    )

    @model_validator(mode="before")
    @classmethod
    def _identity(cls, data: Any) -> Any:
        """An older ``require_authentication = true`` means ``identity = "authenticate"``."""
        if not isinstance(data, dict) or data.get("require_authentication") is not True:
            return data
        named = data.get("identity")
        if named is None:
            return {**data, "identity": Identity.AUTHENTICATE}
        if named != Identity.AUTHENTICATE:
            raise ValueError(f"require_authentication = true contradicts identity = {named!r}")
        return data

    @model_validator(mode="after")
    def _same_word(self) -> QueueConfig:
        self.require_authentication = self.identity is Identity.AUTHENTICATE
        return self


class ProviderConfig(BaseModel):
    """Everything a provider needs besides its server URL and token."""

    model_config = ConfigDict(extra="forbid")
    name: str = "print-provider"
    host: str = "127.0.0.1"
    port: int = Field(default=8631, ge=0, le=65535)
    data_dir: Path = Path("provider-data")
    retry_initial_seconds: float = Field(default=1.0, gt=0)
    retry_max_seconds: float = Field(default=60.0, gt=0)
    server_timeout_seconds: float = Field(default=5.0, gt=0)
    expiry_check_seconds: float = Field(
        default=30.0, gt=0, description="How often held jobs are checked for expiry"
    )
    control_token: str = Field(
        default="",
        description="Ignored (the server no longer pushes orders with a token); kept so that "
        "older configuration files still load",
    )
    order_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the server is asked for orders without a ring (a backstop)",
    )
    max_document_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=1024,
        description="The largest document a job may have; a larger one is refused with "
        "client-error-request-entity-too-large before the spool fills",
    )
    printer_refresh_seconds: float = Field(
        default=300.0, gt=0, description="How often IPP printers are asked what they can do"
    )
    printer_first_wait_seconds: float = Field(
        default=3.0,
        ge=0,
        description="How long start-up waits for the printers' first answers (a printer that "
        "is off is described by what was last known of it)",
    )
    operators: list[str] = Field(
        default_factory=list,
        description="Users who, besides the server's administrators, may operate the queues "
        "over IPP (pause, resume, purge, set "
        "printer attributes, cancel others' jobs…); they sign in with HTTP Basic, checked by "
        "the server",
    )
    advertised_host: str = Field(
        default="", description="Host name clients and the server use to reach this provider"
    )
    tls: TlsConfig | None = Field(
        default=None, description="Serve ipps:// too ([tls] section); off without it"
    )
    loopback_is_local: bool = Field(
        default=True,
        description="A client on a loopback address may send a password (HTTP Basic) or a "
        "print URL's token over plain HTTP. Set false when a proxy on this host forwards "
        "remote clients",
    )
    user_check_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long the server's word that a user exists (or whose a print URL "
        "is) is reused before it is asked again",
    )
    mdns: MdnsConfig = Field(default_factory=MdnsConfig)
    printers: list[PrinterConfig] = Field(default_factory=list)
    queues: list[QueueConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _queues_name_printers(self) -> ProviderConfig:
        names = {p.name for p in self.printers}
        for queue in self.queues:
            if queue.kind is QueueKind.FINDME:
                continue
            if queue.printer not in names:
                raise ValueError(f"queue {queue.name!r} names unknown printer {queue.printer!r}")
        if len({q.name for q in self.queues}) != len(self.queues):
            raise ValueError("queue names must be unique")
        return self

    def reached_host(self) -> str:
        """The host name (or address) clients and the server reach this provider at."""
        host = self.advertised_host or self.host
        if host in ("0.0.0.0", "::"):  # noqa: S104 (what an operator may configure)
            host = socket.getfqdn()
        return host

    def base_url(self, scheme: str) -> str:
        """``scheme://host:port`` as this provider is reached from outside."""
        return f"{scheme}://{self.reached_host()}:{self.port}"

    def registration(self) -> dict[str, Any]:
        """What the provider tells the server about itself."""
        return {
            "name": self.name,
            "ipp_url": f"{self.base_url('ipp')}/ipp/print",
            "control_url": f"{self.base_url('http')}/control",
            "queues": [self._queue_registration(q) for q in self.queues],
            "printers": [p.description() for p in self.printers],
        }

    def _queue_registration(self, queue: QueueConfig) -> dict[str, Any]:
        secure = ""
        if self.tls is not None:
            secure = f"ipps://{self.reached_host()}:{self.tls.port}/ipp/print/{queue.name}"
        return {"name": queue.name, "kind": queue.kind.value, "printer": queue.printer,
                "identity": queue.identity.value, "ipps_uri": secure}  # fmt: skip

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)

    def printer(self, name: str) -> PrinterConfig | None:
        return next((p for p in self.printers if p.name == name), None)


def load_provider_config(path: Path) -> ProviderConfig:
    """Read and validate a provider TOML file."""
    with path.open("rb") as handle:
        return ProviderConfig.model_validate(tomllib.load(handle))

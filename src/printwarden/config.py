"""Configuration: a TOML file plus ``PRINTWARDEN_*`` environment variables.

Everything has a default, so ``printwarden app serve`` works with nothing configured: the
database is a SQLite file under the data directory and a server secret is created there.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from printwarden import keys
from printwarden.domain.login_throttle import ACCOUNT_SCHEDULE, CLIENT_SCHEDULE, Rules, Schedule
from printwarden.domain.money import Currency
from printwarden.files import private_dir
from printwarden.payments.config import PaymentsConfig

CONFIG_ENV = "PRINTWARDEN_CONFIG"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "printwarden"


class LdapConfig(BaseModel):
    """Where and how to read users from an LDAP directory."""

    url: str = "ldap://127.0.0.1:389"
    bind_dn: str = ""
    bind_password: str = ""
    user_base: str = ""
    user_filter: str = "(objectClass=inetOrgPerson)"
    group_base: str = ""
    card_attrs: list[str] = Field(default_factory=lambda: ["employeeNumber"])
    identity_attr: str = ""


class DirectoryConfig(BaseModel):
    """The user directory: ``internal`` (CSV and admin records) or ``ldap``."""

    source: str = "internal"
    sync_interval_minutes: float = Field(default=0, ge=0)
    ldap: LdapConfig = Field(default_factory=LdapConfig)


MIB = 1024 * 1024


class BodyLimits(BaseModel):
    """The largest request body each kind of route accepts, in bytes; a larger one is
    refused with 413 before it is buffered (App Server and Site Server alike)."""

    default_bytes: int = Field(
        default=2 * MIB, ge=64 * 1024, description="JSON API requests and web forms"
    )
    journal_bytes: int = Field(
        default=16 * MIB, ge=64 * 1024, description="a site's journal upload (5,000 entries)"
    )
    journal_bytes_at_once: int = Field(
        default=32 * MIB,
        ge=64 * 1024,
        description="sites' journal uploads read and waiting to be applied at once (by their "
        "Content-Length); more wait unread, in order (service/byte_budget.py)",
    )
    held_job_reports_bytes: int = Field(
        default=8 * MIB, ge=64 * 1024, description="a provider's held-job reports (1,000)"
    )
    user_import_bytes: int = Field(
        default=64 * MIB, ge=64 * 1024, description="a CSV of users (100,000 rows)"
    )
    web_print_bytes: int = Field(
        default=64 * MIB,
        ge=64 * 1024,
        description="a Web Print upload (the web-print setting's max_bytes is checked too)",
    )
    scan_page_bytes: int = Field(
        default=64 * MIB,
        ge=64 * 1024,
        description="one scanned page (the scan-actions setting's max_page_bytes too)",
    )


class LoginConfig(BaseModel):
    """Failed-login throttling, per process (domain/login_throttle.py has the schedule)."""

    account_free_failures: int = Field(default=ACCOUNT_SCHEDULE.free, ge=1)
    account_lock_after: int = Field(default=ACCOUNT_SCHEDULE.lock_after, ge=1)
    client_free_failures: int = Field(default=CLIENT_SCHEDULE.free, ge=1)
    client_lock_after: int = Field(default=CLIENT_SCHEDULE.lock_after, ge=1)
    lockout_seconds: float = Field(default=ACCOUNT_SCHEDULE.lockout_seconds, ge=2)
    check_threads: int = Field(default=0, ge=0, le=64)  # 0: one per core, at most 4

    def rules(self) -> Rules:
        def schedule(default: Schedule, free: int, lock_after: int) -> Schedule:
            return Schedule(
                free=free,
                base_seconds=default.base_seconds,
                lock_after=max(free, lock_after),
                lockout_seconds=self.lockout_seconds,
                forget_seconds=max(default.forget_seconds, self.lockout_seconds),
            )

        return Rules(
            account=schedule(ACCOUNT_SCHEDULE, self.account_free_failures, self.account_lock_after),
            client=schedule(CLIENT_SCHEDULE, self.client_free_failures, self.client_lock_after),
        )


class DnsSdConfig(BaseModel):
    """Unicast DNS-SD (``[dns_sd]``): this server answers for a domain an administrator
    delegates to it, listing the queues of its providers (a Site Server: its site's)."""

    domain: str = Field(default="", description='e.g. "print.example.org"; empty: off')
    listen: str = Field(default="0.0.0.0", description="The address the responder binds")  # noqa: S104
    port: int = Field(default=53, ge=0, le=65535)
    ns: str = Field(
        default="",
        description="The name server's name in the SOA and NS records (this host's name by "
        "default); a name inside the domain needs ns_addresses",
    )
    ns_addresses: list[str] = Field(default_factory=list)
    ttl: int = Field(default=120, ge=1, le=86400)
    refresh_seconds: float = Field(
        default=2.0, gt=0, description="How often the zone is rebuilt from the registrations"
    )
    serve: bool = Field(default=True, description="Answer queries for the domain ourselves")
    update_server: str = Field(
        default="",
        description='Keep the zone on this DNS server too, "host:port", with RFC 2136 '
        "dynamic updates (its zone must allow them, signed with the key below)",
    )
    update_key_file: Path | None = Field(
        default=None,
        description="A TSIG key for the updates: a BIND key clause (tsig-keygen), or the "
        "base64 secret with update_key_name; or the secret in $PRINTWARDEN_DNS_TSIG_SECRET",
    )
    update_key_name: str = ""


class WebPrintConfig(BaseModel):
    """Web Print's renderer on this server (``[web_print]``); what people may print is the
    replicated ``web-print`` setting (``domain/web_print.py``)."""

    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=64,
        description="Warm LibreOffice workers (one document at a time each)",
    )
    render_timeout_seconds: float = Field(default=60.0, gt=0, le=3600)
    documents_per_worker: int = Field(
        default=200, ge=1, description="A worker is recycled after this many documents"
    )
    worker_rss_mb: int = Field(
        default=1000, ge=100, description="A worker is recycled above this memory (MB)"
    )
    sandbox: bool = Field(
        default=True, description="Run LibreOffice as an unprivileged user with no network"
    )
    paper: str = Field(default="A4", description="Paper for images and text (A4, letter…)")


class MailConfig(BaseModel):
    """Email to Print on this server (``[mail]``): its SMTP listener and replies. Off while
    ``domain`` is empty. See docs/email-print.md."""

    domain: str = Field(default="", description='e.g. "print.example.org"; empty: off')
    listen: str = Field(default="127.0.0.1", description="The address the listener binds")
    port: int = Field(default=25, ge=0, le=65535)
    tls_cert: Path | None = Field(default=None, description="PEM certificate for STARTTLS")
    tls_key: Path | None = None
    require_tls: bool = False
    max_message_bytes: int = Field(default=25 * MIB, ge=64 * 1024)
    trusted_relays: list[str] = Field(
        default_factory=list,
        description="authserv-ids of your MX whose Authentication-Results count",
    )
    trusted_relay_networks: list[str] = Field(default_factory=list)
    unknown_sender: Literal["reject", "reject-with-instructions", "confirm"] = (
        "reject-with-instructions"
    )
    confirm_hours: float = Field(default=24.0, gt=0, le=24 * 30)
    replies_per_hour: int = Field(default=5, ge=0)
    print_body: Literal["never", "always", "when-no-attachments"] = "never"
    smarthost: str = Field(default="", description='"host:port" replies go out through')
    smarthost_starttls: bool = False
    smarthost_credentials_file: Path | None = None
    public_url: str = Field(
        default="", description="This server's web address, for confirmation links"
    )
    imap: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Hosted mailboxes to poll ([[mail.imap]]: host, username, recipient, "
        "token_file or token_url/client_id/client_secret_file/scope; docs/email-print.md)",
    )


class ScanFolderConfig(BaseModel):
    """A shared folder scans may go to: a local path or an SMB share."""

    model_config = ConfigDict(extra="forbid")
    target: str = Field(
        description='"/srv/scans", "smb://host[:port]/share/folder" or "//host/share/folder"'
    )
    credentials_file: Path | None = Field(
        default=None, description="For SMB: a file (0600) holding username:password"
    )


class ScanningConfig(BaseModel):
    """Integrated Scanning on this server (``[scanning]``): where documents go from here (a
    Site Server its own smarthost and shares) and how they are made. The actions people
    see are the replicated ``scan-actions`` setting. See docs/scanning.md."""

    model_config = ConfigDict(extra="forbid")
    smarthost: str = Field(default="", description='"host:port"; empty: [mail] smarthost')
    smarthost_starttls: bool = False
    smarthost_credentials_file: Path | None = None
    mail_from: str = Field(default="", description='default "printwarden@<mail domain>"')
    public_url: str = Field(default="", description="This server's web address, for download links")
    max_attachment_bytes: int = Field(
        default=10 * MIB, ge=64 * 1024, description="Larger documents are sent as a link"
    )
    home: str = Field(
        default="",
        description='Home folders, {username} filled in: "/home/{username}/Scans" or '
        '"smb://files/homes/{username}/Scans"',
    )
    home_credentials_file: Path | None = None
    folders: dict[str, ScanFolderConfig] = Field(default_factory=dict)
    workers: int = Field(default=2, ge=1, le=32, description="Scans processed at once")
    ocr_page_cap: int = Field(default=200, ge=1, description="No OCR for longer scans")
    ocr_language: str = Field(default="eng", pattern=r"^[a-z_]{3,8}(\+[a-z_]{3,8})*$")
    sweep_seconds: float = Field(default=2.0, gt=0, le=600)


class ClientConfig(BaseModel):
    """The User Client's event stream and tokens (``[client]``). See docs/user-client.md."""

    token_days: int = Field(default=90, ge=1, le=3650, description="A client token's life")
    heartbeat_seconds: float = Field(default=15.0, gt=0, le=300)
    stream_minutes: float = Field(
        default=10.0, gt=0, le=24 * 60, description="A stream ends after this; clients resume"
    )
    low_balance: int = Field(
        default=100, description="Warn when a personal balance falls below this (minor units)"
    )
    question_sweep_seconds: float = Field(default=2.0, gt=0, le=600)


class CashConfig(BaseModel):
    """Cash kiosks (``[cash]``): the notes and coins they take and a kiosk's daily limit, in
    minor units. HQ checks a site's journaled cash by these too. See docs/payments.md."""

    model_config = ConfigDict(extra="forbid")
    denominations: list[int] = Field(
        default_factory=lambda: [100, 200, 500, 1000, 2000, 5000],
        description="Notes and coins a kiosk takes",
    )
    daily_limit: int = Field(default=100_000, ge=0, description="Per kiosk and day")

    @field_validator("denominations")
    @classmethod
    def _positive(cls, value: list[int]) -> list[int]:
        if not value or any(amount <= 0 for amount in value):
            raise ValueError("denominations are amounts > 0 (minor units)")
        return value


class Settings(BaseSettings):
    """All settings of one printwarden process."""

    model_config = SettingsConfigDict(
        env_prefix="PRINTWARDEN_", env_nested_delimiter="__", extra="forbid"
    )

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    currency: str = "USD"
    currency_minor_digits: int = Field(default=2, ge=0, le=4)
    secret_key: str = ""
    session_hours: int = Field(default=12, ge=1)
    directory: DirectoryConfig = Field(default_factory=DirectoryConfig)
    limits: BodyLimits = Field(default_factory=BodyLimits)
    login: LoginConfig = Field(default_factory=LoginConfig)
    dns_sd: DnsSdConfig = Field(default_factory=DnsSdConfig)
    web_print: WebPrintConfig = Field(default_factory=WebPrintConfig)
    mail: MailConfig = Field(default_factory=MailConfig)
    client: ClientConfig = Field(default_factory=ClientConfig)
    scanning: ScanningConfig = Field(default_factory=ScanningConfig)
    cash: CashConfig = Field(default_factory=CashConfig)
    payments: PaymentsConfig = Field(default_factory=PaymentsConfig)
    # The port of the Site Servers' beacon (their heartbeat channel, docs/operations.md), on
    # the same address as the API; 0: none (sites then beat over HTTP, which costs HQ far
    # more CPU per site).
    beacon_port: int = Field(default=0, ge=0, le=65535)
    # Proxies whose forwarding header names the client (addresses or CIDRs), and the header
    # they set; the other is ignored: a proxy passes on what a client put in it.
    trusted_proxies: list[str] = Field(default_factory=list)
    forwarded_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            ipaddress.ip_network(item.strip(), strict=False)  # ValueError names the bad one
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = os.environ.get(CONFIG_ENV)
        if path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(path)))
        return tuple(sources)

    @property
    def currency_info(self) -> Currency:
        return Currency(self.currency, self.currency_minor_digits)

    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'printwarden.db'}"

    def resolved_secret(self) -> bytes:
        """The server secret: configured, or kept in ``data_dir/secret.key`` (created once)."""
        if self.secret_key:
            return self.secret_key.encode()
        private_dir(self.data_dir)  # and the key 0600, even if an older version left it open
        return keys.secret_in(self.data_dir / "secret.key")


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``config_file`` (or ``$PRINTWARDEN_CONFIG``) and the environment."""
    if config_file is not None:
        os.environ[CONFIG_ENV] = str(config_file)
    return Settings(**overrides)

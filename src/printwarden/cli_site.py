"""Command line for sites: run a Site Server, and administer sites and Offline Policies."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from printwarden.cli_common import ConfigOption, ask_server, command_token, fail, open_session
from printwarden.cli_tokens import (
    ADMIN_ENV,
    SITE_OR_PROVIDER_ENV,
    RefusedTokenOption,
    TokenFileOption,
)

if TYPE_CHECKING:
    from printwarden.config import MailConfig, ScanningConfig

site_cmd = typer.Typer(help="The Site Server: keeps a site working through an outage.")
admin_site_cmd = typer.Typer(help="Sites (on the App Server).")
policies_cmd = typer.Typer(help="Offline Policies (on the App Server).")


@site_cmd.command("serve")
def site_serve(
    upstream: Annotated[str, typer.Option(help="URL of the App Server")],
    site: Annotated[str, typer.Option(help="This site's name")],
    data_dir: Annotated[Path, typer.Option(help="Replica, journal and the site's own keys")] = Path(
        "site-data"
    ),
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8100,
    secret_file: Annotated[Path | None, typer.Option(hidden=True)] = None,
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            help="A proxy in front of this site (address or CIDR) whose forwarding "
            "headers name the client; repeat for more"
        ),
    ] = None,
    advertised_url: Annotated[
        str,
        typer.Option(
            help="The URL the App Server reaches this Site Server at (it rings the site's "
            "providers through it); default http://HOST:PORT"
        ),
    ] = "",
    hq_beacon: Annotated[
        str,
        typer.Option(
            help="HOST:PORT of the App Server's beacon when the way there differs from the "
            "App Server's host and the port it names (a load balancer, a tunnel)"
        ),
    ] = "",
    dns_sd_domain: Annotated[
        str,
        typer.Option(
            help="Answer DNS-SD queries for this domain (delegated to this host) with the "
            "site's queues, online and offline (docs/mobility.md)"
        ),
    ] = "",
    dns_sd_listen: Annotated[str, typer.Option(help="Address the DNS responder binds")] = (
        "0.0.0.0"  # noqa: S104 (what a DNS server for a network binds)
    ),
    dns_sd_port: Annotated[int, typer.Option(help="Its port (UDP and TCP)")] = 53,
    dns_sd_ns: Annotated[
        str, typer.Option(help="The name server's name in SOA/NS (default: this host's)")
    ] = "",
    mail_config: Annotated[
        Path | None,
        typer.Option(
            help="A TOML file whose [mail] table turns on Email to Print at this site and whose "
            "[scanning] table says where scans go from here (its smarthost and shares), as in "
            "the App Server's settings (docs/email-print.md, docs/scanning.md)"
        ),
    ] = None,
) -> None:
    """Run a Site Server: providers and devices of the site point at it instead of HQ.

    Its site token comes from --token-file or $PRINTWARDEN_TOKEN. It makes its own secret
    (DATA_DIR/site.key) and gets its card key from the App Server: the App Server's secret
    never leaves the App Server."""
    import logging

    from printwarden.config import DnsSdConfig
    from printwarden.site.server import SiteConfig, SiteServer

    if secret_file is not None:
        raise fail(
            "--secret-file is gone: a Site Server no longer takes the App Server's secret. It "
            "makes its own (DATA_DIR/site.key) and gets its card key from the App Server; "
            "remove the option, and the App Server's secret from this machine"
        )
    from printwarden.site.beacon import parse_address

    if hq_beacon:
        try:
            parse_address(hq_beacon)
        except ValueError as exc:
            raise fail(f"--hq-beacon: {exc}") from None
    site_token = command_token(token_file, token, SITE_OR_PROVIDER_ENV)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if os.environ.get("PRINTWARDEN_SECRET_KEY"):
        logging.getLogger("printwarden.site").warning(
            "PRINTWARDEN_SECRET_KEY is set but not used: a Site Server has its own secret "
            "(the App Server's should not be on this machine)"
        )
    dns_sd = DnsSdConfig(domain=dns_sd_domain, listen=dns_sd_listen, port=dns_sd_port,
                         ns=dns_sd_ns)  # fmt: skip
    mail, scanning = _site_tables(mail_config)
    config = SiteConfig(
        upstream, site_token, site, data_dir, host, port, tuple(trusted_proxy or ()),
        advertised_url, hq_beacon, dns_sd, mail, scanning,
    )  # fmt: skip
    SiteServer(config).serve()


def _site_tables(path: Path | None) -> tuple[MailConfig, ScanningConfig]:
    """The ``[mail]`` and ``[scanning]`` tables of the site's settings file."""
    from printwarden.config import MailConfig, ScanningConfig

    if path is None:
        return MailConfig(), ScanningConfig()
    try:
        tables = tomllib.loads(path.read_text())
        return (
            MailConfig.model_validate(tables.get("mail", {})),
            ScanningConfig.model_validate(tables.get("scanning", {})),
        )
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise fail(f"--mail-config {path}: {exc}") from None


@admin_site_cmd.command("add")
def site_add(
    name: Annotated[str, typer.Argument(help="Lower-case letters, digits and dashes")],
    description: Annotated[str, typer.Option()] = "",
    config: ConfigOption = None,
) -> None:
    """Define a site and print a token for its Site Server (shown only this once)."""
    from printwarden.domain.accounts import Role
    from printwarden.store import sites, tokens
    from printwarden.store.errors import AlreadyExists

    with open_session(config) as session:
        try:
            sites.create_site(session, name, description)
        except AlreadyExists as exc:
            raise fail(str(exc)) from None
        token, _ = tokens.issue_token(session, Role.SITE, name=f"site {name}", scope=name)
    print(token)


@admin_site_cmd.command("rekey")
def site_rekey(name: str, config: ConfigOption = None) -> None:
    """Give site NAME a new card key (after its box was stolen, say): what the old key
    matches is no longer sent, and the site takes a fresh snapshot under the new one."""
    from printwarden.store import sites
    from printwarden.store.errors import NotFound

    with open_session(config) as session:
        try:
            generation = sites.rekey(session, sites.find_site(session, name)).key_generation
        except NotFound as exc:
            raise fail(str(exc)) from None
    print(f"{name}: card key generation {generation}")


@admin_site_cmd.command("rejections")
def site_rejections(
    name: str,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
    config: ConfigOption = None,
) -> None:
    """The journal entries HQ rejected from site NAME, with the reasons HQ recorded."""
    from printwarden.store import sites
    from printwarden.store.errors import NotFound

    with open_session(config) as session:
        try:
            sites.find_site(session, name)
        except NotFound as exc:
            raise fail(str(exc)) from None
        rows = [{"id": r.entry_id, "kind": r.kind, "reason": r.outcome,
                 "rejected_at": r.applied_at.isoformat()}
                for r in sites.rejections(session, name, limit)]  # fmt: skip
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['rejected_at']}  {row['id']}  {row['kind']}: {row['reason']}")
    print(f"{len(rows)} rejected entries")


@admin_site_cmd.command("status")
def site_status(
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
    server: Annotated[str, typer.Option(help="Ask this App Server (else the database)")] = "",
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    config: ConfigOption = None,
) -> None:
    """Every site: mode, last contact, outages, journal backlog, last reconciliation. With
    --server, an admin token from --token-file or $PRINTWARDEN_ADMIN_TOKEN."""
    if server:
        rows = ask_server("GET", server, "/sites", command_token(token_file, token, ADMIN_ENV))
    else:
        rows = _sites_from_database(config)
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("site", "mode", "reachable", "last contact", "journal backlog", "outages")
    for row in rows:
        table.add_row(row["name"], row["mode"], str(row["reachable"]),
                      str(row["last_contact"] or "never"), str(row["journal_backlog"]),
                      str(len(row["outages"])))  # fmt: skip
    Console().print(table)


def _sites_from_database(config: Path | None) -> list[dict[str, Any]]:
    from printwarden.service.views import site_out
    from printwarden.store import sites

    with open_session(config) as session:
        return [site_out(row).model_dump(mode="json") for row in sites.list_sites(session)]


@admin_site_cmd.command("force")
def site_force(
    name: str,
    offline: Annotated[bool, typer.Option("--offline/--online")],
    config: ConfigOption = None,
) -> None:
    """Take a site offline for maintenance (--offline), or let it return (--online)."""
    from printwarden.store import sites
    from printwarden.store.errors import NotFound

    with open_session(config) as session:
        try:
            sites.force_offline(session, sites.find_site(session, name), offline)
        except NotFound as exc:
            raise fail(str(exc)) from None
    print(f"{name}: {'forced offline' if offline else 'free to return online'}")


@admin_site_cmd.command("reattribute")
def site_reattribute(username: str, config: ConfigOption = None) -> None:
    """Move jobs printed offline as USERNAME, then charged to the Unauthenticated Users
    stand-in, to USERNAME (who must exist now): the stand-in is refunded, each job once."""
    from printwarden.store.errors import NotFound
    from printwarden.usecases.reattribution import reattribute

    with open_session(config) as session:
        try:
            done = reattribute(session, username)
        except NotFound as exc:
            raise fail(str(exc)) from None
    print(f"{username}: {len(done.jobs)} jobs re-attributed, {done.amount} charged")


@policies_cmd.command("show")
def policies_show(config: ConfigOption = None) -> None:
    """The Offline Policies every site applies while the App Server is unreachable."""
    from printwarden.service.offline import policies

    with open_session(config) as session:
        print(json.dumps(policies(session).to_json(), indent=2))


@policies_cmd.command("set")
def policies_set(
    credit: Annotated[
        str | None,
        typer.Option(help="last-known-balance, allow-overdraw, allow-all or deny-restricted"),
    ] = None,
    overdraw: Annotated[int | None, typer.Option(help="Cents, with allow-overdraw")] = None,
    offline_account: Annotated[str | None, typer.Option()] = None,
    allow_account_change: Annotated[bool | None, typer.Option()] = None,
    unauthenticated: Annotated[str | None, typer.Option(help="assign, untracked or cancel")] = None,
    unauthenticated_user: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str | None, typer.Option(help="directory-then-cache, cache or deny")
    ] = None,
    password_cache_days: Annotated[int | None, typer.Option()] = None,
    config: ConfigOption = None,
) -> None:
    """Change some Offline Policies (the others keep their values)."""
    from printwarden.domain.offline_policies import SETTING_KEY, OfflinePolicies
    from printwarden.service.offline import policies
    from printwarden.store import settings

    given = {k: v for k, v in locals().items() if k != "config" and v is not None}
    with open_session(config) as session:
        try:
            changed = OfflinePolicies.from_json({**policies(session).to_json(), **given})
        except ValueError as exc:
            raise fail(str(exc)) from None
        settings.put(session, SETTING_KEY, changed.to_json())
        print(json.dumps(changed.to_json(), indent=2))

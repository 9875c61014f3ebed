"""The ``printwarden`` command line: app, db, admin, provider, device tools and demo."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from printwarden.cli_common import (
    ConfigOption,
    ServerOption,
    command_token,
    console,
    fail,
    open_database,
    read_settings,
)
from printwarden.cli_lockouts import lockouts_cmd
from printwarden.cli_policy import filter_cmd, script_cmd, topups_cmd
from printwarden.cli_scanning import scan_actions_cmd
from printwarden.cli_site import admin_site_cmd, policies_cmd, site_cmd
from printwarden.cli_tokens import (
    DEVICE_ENV,
    SITE_OR_PROVIDER_ENV,
    RefusedTokenOption,
    TokenFileOption,
)
from printwarden.cli_users import user_delete, user_print_url, user_set
from printwarden.devices.kiosk_cli import kiosk_cmd
from printwarden.files import private_dir, private_umask

if TYPE_CHECKING:
    from printwarden.devices.simulator import Action
    from printwarden.domain.ledger import TransactionKind

# Each command imports what it needs: `provider serve` must not load the App Server's
# stack (SQLAlchemy, Alembic, the store: ~30 MiB of RSS in every provider process).

app = typer.Typer(
    help="printwarden: print management that keeps every site printing.",
    pretty_exceptions_enable=False,
)
app_cmd = typer.Typer(help="The Application Server.")
db_cmd = typer.Typer(help="The database.")
admin = typer.Typer(help="Administration, straight on the database.")
user_cmd = typer.Typer(help="Users.")
account_cmd = typer.Typer(help="Shared accounts.")
balance_cmd = typer.Typer(help="Balances.")
token_cmd = typer.Typer(help="Component tokens.")
directory_cmd = typer.Typer(help="The user directory.")
provider_cmd = typer.Typer(help="The Print Provider (IPP print server).")
device_cmd = typer.Typer(help="Devices: MFDs, terminals and release stations.")
simulate_cmd = typer.Typer(
    help="Act as a device: log in, run ACTION, log out.", no_args_is_help=True
)
fastrelease_cmd = typer.Typer(help="Fast Release: network card readers release jobs.")
cardreader_cmd = typer.Typer(help="Network card readers.")
app.add_typer(app_cmd, name="app")
app.add_typer(provider_cmd, name="provider")
app.add_typer(device_cmd, name="device")
device_cmd.add_typer(simulate_cmd, name="simulate")
app.add_typer(fastrelease_cmd, name="fastrelease")
app.add_typer(cardreader_cmd, name="cardreader")
app.add_typer(db_cmd, name="db")
app.add_typer(admin, name="admin")
app.add_typer(site_cmd, name="site")
app.add_typer(kiosk_cmd, name="kiosk")
admin.add_typer(admin_site_cmd, name="site")
admin.add_typer(policies_cmd, name="offline-policies")
admin.add_typer(filter_cmd, name="filter")
admin.add_typer(script_cmd, name="script")
admin.add_typer(topups_cmd, name="topups")
admin.add_typer(lockouts_cmd, name="lockouts")
admin.add_typer(scan_actions_cmd, name="scan-actions")
user_cmd.command("set")(user_set)
user_cmd.command("delete")(user_delete)
user_cmd.command("print-url")(user_print_url)
for sub, name in (
    (user_cmd, "user"),
    (account_cmd, "account"),
    (balance_cmd, "balance"),
    (token_cmd, "token"),
    (directory_cmd, "directory"),
):
    admin.add_typer(sub, name=name)


@app_cmd.command("serve")
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on")] = None,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database first")] = True,
    beacon_port: Annotated[
        int | None,
        typer.Option(help="Port of the Site Servers' beacon (their heartbeat channel); 0: none"),
    ] = None,
) -> None:
    """Run the Application Server."""
    from printwarden import heap, serving
    from printwarden.service.app import create_app
    from printwarden.store.migrate import upgrade_if_behind

    settings = read_settings(config)
    settings.host = host or settings.host  # the beacon listens on the API's address
    if beacon_port is not None:
        settings.beacon_port = beacon_port
    private_dir(settings.data_dir)
    if migrate:
        upgrade_if_behind(settings.resolved_database_url())
    application = create_app(settings)
    heap.settle()
    serving.run(
        application,
        application.state.printwarden.stopping,
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        access_log=False,
        proxy_headers=False,  # trusted_proxies decides (service/client_address.py)
    )


@provider_cmd.command("serve")
def provider_serve(
    server: Annotated[str, typer.Option(help="URL of the App Server (or Site Server)")],
    config: Annotated[Path, typer.Option("--config", "-c", help="provider TOML", exists=True)],
    port: Annotated[int | None, typer.Option(help="Override the configured port")] = None,
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
) -> None:
    """Run a Print Provider: IPP queues in front of real printers. Its provider token comes
    from --token-file or $PRINTWARDEN_TOKEN."""
    import logging

    from pydantic import ValidationError

    from printwarden.provider.app import Provider
    from printwarden.provider.config import load_provider_config

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        provider_config = load_provider_config(config)
    except (ValidationError, ValueError) as exc:
        raise fail(f"{config}: {exc}") from None
    if port is not None:
        provider_config = provider_config.model_copy(update={"port": port})
    Provider(
        provider_config, server, command_token(token_file, token, SITE_OR_PROVIDER_ENV)
    ).serve()


@db_cmd.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Bring the database schema up to date."""
    from printwarden.store.migrate import upgrade

    settings = read_settings(config)
    upgrade(settings.resolved_database_url())
    console().print(f"database at {settings.resolved_database_url()} is up to date")


@user_cmd.command("add")
def user_add(
    username: str,
    config: ConfigOption = None,
    full_name: Annotated[str, typer.Option()] = "",
    email: Annotated[str, typer.Option()] = "",
    password: Annotated[str, typer.Option(help="Login password (prompted if --ask)")] = "",
    ask_password: Annotated[bool, typer.Option("--ask", help="Prompt for the password")] = False,
    pin: Annotated[str, typer.Option()] = "",
    card: Annotated[list[str] | None, typer.Option(help="Card number (repeatable)")] = None,
    group: Annotated[list[str] | None, typer.Option(help="Group (repeatable)")] = None,
    is_admin: Annotated[bool, typer.Option("--admin", help="May administer")] = False,
    unrestricted: Annotated[bool, typer.Option(help="May go below zero")] = False,
) -> None:
    """Add a user with a personal account."""
    from printwarden.store import groups as group_store
    from printwarden.store import users
    from printwarden.store.errors import StoreError

    settings = read_settings(config)
    if ask_password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    changes = users.UserChanges(
        full_name=full_name,
        email=email,
        password=password or None,
        pin=pin or None,
        cards=card,
        groups=group,
        is_admin=is_admin,
        restricted=not unrestricted,
    )
    with open_database(settings).session() as session:
        try:
            group_store.ensure_groups(session, set(group or ()), "internal")
            users.create_user(session, settings.resolved_secret(), username, changes)
        except StoreError as exc:
            raise fail(str(exc)) from None
    console().print(f"user {username} added")


@user_cmd.command("list")
def user_list(config: ConfigOption = None, search: Annotated[str, typer.Option()] = "") -> None:
    """List users with their balances."""
    from rich.table import Table

    from printwarden.store import users

    settings = read_settings(config)
    currency = settings.currency_info
    table = Table("username", "full name", "groups", "balance", "restricted", "enabled")
    with open_database(settings).read() as session:
        found, total = users.list_users(session, limit=1000, search=search)
        for view in found:
            table.add_row(
                view.row.username,
                view.row.full_name,
                ", ".join(view.groups),
                currency.format(view.account.balance),
                "yes" if view.account.restricted else "no",
                "yes" if view.row.enabled else "no",
            )
    console().print(table)
    console().print(f"{total} users")


@user_cmd.command("import")
def user_import(
    file: Annotated[Path, typer.Argument(exists=True)], config: ConfigOption = None
) -> None:
    """Create or update users from a CSV file (a bad row rejects the whole file)."""
    from printwarden.directory.csv_source import CsvImportError, parse_users
    from printwarden.store import sync
    from printwarden.store.errors import StoreError

    settings = read_settings(config)
    try:
        rows = parse_users(file.read_text(encoding="utf-8"), settings.currency_info)
    except CsvImportError as exc:
        raise fail(str(exc)) from None
    with open_database(settings).session() as session:
        try:
            report = sync.import_csv(session, settings.resolved_secret(), rows)
        except StoreError as exc:
            raise fail(str(exc)) from None
    console().print(f"{report.created} created, {report.updated} updated")


@account_cmd.command("add")
def account_add(
    name: str,
    config: ConfigOption = None,
    parent: Annotated[str, typer.Option()] = "",
    code: Annotated[str, typer.Option()] = "",
    pin: Annotated[str, typer.Option()] = "",
    user: Annotated[list[str] | None, typer.Option(help="User granted (repeatable)")] = None,
    group: Annotated[list[str] | None, typer.Option(help="Group granted (repeatable)")] = None,
    unrestricted: Annotated[bool, typer.Option()] = False,
) -> None:
    """Add a shared account."""
    from printwarden.store import accounts
    from printwarden.store.errors import StoreError

    settings = read_settings(config)
    changes = accounts.SharedAccountChanges(
        parent=parent or None,
        code=code or None,
        pin=pin or None,
        users=user,
        groups=group,
        restricted=not unrestricted,
    )
    with open_database(settings).session() as session:
        try:
            accounts.create_shared(session, name, changes)
        except StoreError as exc:
            raise fail(str(exc)) from None
    console().print(f"shared account {name} added")


@account_cmd.command("list")
def account_list(config: ConfigOption = None) -> None:
    """List shared accounts."""
    from rich.table import Table

    from printwarden.store import accounts

    settings = read_settings(config)
    table = Table("name", "parent", "balance", "restricted", "code")
    with open_database(settings).read() as session:
        rows = accounts.list_shared(session)
        names = {row.id: row.name for row in rows}
        for row in rows:
            table.add_row(
                row.name,
                names.get(row.parent_id or 0, ""),
                settings.currency_info.format(row.balance),
                "yes" if row.restricted else "no",
                row.code or "",
            )
    console().print(table)


def _change_balance(
    config: Path | None,
    username: str,
    account: str,
    amount: str,
    comment: str,
    kind: TransactionKind,
) -> None:
    from printwarden.domain.ids import new_id
    from printwarden.domain.money import MoneyError
    from printwarden.store.errors import StoreError
    from printwarden.usecases import balances
    from printwarden.usecases.errors import Invalid

    settings = read_settings(config)
    try:
        cents = settings.currency_info.parse(amount)
        balances.check_amount(kind, cents)
    except (MoneyError, Invalid) as exc:
        raise fail(str(exc)) from None
    with open_database(settings).session() as session:
        try:
            row = balances.account_of(session, username, account)
            change = balances.BalanceChange(new_id(), row.id, cents, kind, "cli", comment)
            balance = balances.change_balance(session, change).balance
        except StoreError as exc:
            raise fail(str(exc)) from None
    console().print(f"{row.name}: balance {settings.currency_info.format(balance)}")


@balance_cmd.command("topup")
def balance_topup(
    amount: str,
    username: Annotated[str, typer.Argument(help="Whose personal account")] = "",
    account: Annotated[str, typer.Option(help="A shared account instead")] = "",
    comment: Annotated[str, typer.Option()] = "",
    config: ConfigOption = None,
) -> None:
    """Add credit, e.g. ``topup 5.00 alice``."""
    from printwarden.domain.ledger import TransactionKind

    _change_balance(config, username, account, amount, comment, TransactionKind.TOP_UP)


@balance_cmd.command("adjust")
def balance_adjust(
    amount: str,
    username: Annotated[str, typer.Argument(help="Whose personal account")] = "",
    account: Annotated[str, typer.Option(help="A shared account instead")] = "",
    comment: Annotated[str, typer.Option()] = "",
    config: ConfigOption = None,
) -> None:
    """Adjust a balance up or down, e.g. ``adjust -- -1.50 alice``."""
    from printwarden.domain.ledger import TransactionKind

    _change_balance(config, username, account, amount, comment, TransactionKind.ADJUSTMENT)


@token_cmd.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="site, provider or device")],
    name: Annotated[str, typer.Option(help="For a provider token: the provider it acts as")] = "",
    scope: Annotated[str, typer.Option(help="For a site: its id")] = "",
    device: Annotated[str, typer.Option(help="For a device token: the device it acts as")] = "",
    site: Annotated[
        str, typer.Option(help="For a provider token: it serves only this site's printers")
    ] = "",
    config: ConfigOption = None,
) -> None:
    """Create a component token bound to what it acts as, and print it (only this once)."""
    from printwarden.domain.accounts import Role
    from printwarden.store import tokens
    from printwarden.store.errors import StoreError

    if role not in {"site", "provider", "device"}:
        raise fail("role must be site, provider or device")
    if device and role != "device":
        raise fail("--device is for device tokens (--role device)")
    if device and scope:
        raise fail("give --device or --scope, not both")
    if device:
        scope = f"{tokens.DEVICE_PREFIX}{device}"
    settings = read_settings(config)
    with open_database(settings).session() as session:
        try:
            bound = tokens.binding(session, Role(role), name=name, scope=scope, site=site or None)
        except StoreError as exc:
            raise fail(str(exc)) from None
        token, _row = tokens.issue_token(
            session, Role(role), name=name or device, scope=bound.scope, site=bound.site
        )
    print(token)


@token_cmd.command("list")
def token_list(config: ConfigOption = None) -> None:
    """List component tokens."""
    from rich.table import Table

    from printwarden.store import tokens

    table = Table("id", "role", "name", "scope", "site", "created", "revoked")
    with open_database(read_settings(config)).read() as session:
        for row in tokens.list_tokens(session):
            revoked = row.revoked_at.isoformat() if row.revoked_at else ""
            created = row.created_at.isoformat()
            table.add_row(
                str(row.id), row.role, row.name, row.scope, row.site or "", created, revoked
            )
    console().print(table)


@token_cmd.command("revoke")
def token_revoke(token_id: int, config: ConfigOption = None) -> None:
    """Revoke a token (it stops working within seconds everywhere)."""
    from printwarden.store import tokens
    from printwarden.store.errors import StoreError

    with open_database(read_settings(config)).session() as session:
        try:
            tokens.revoke_token(session, token_id)
        except StoreError as exc:
            raise fail(str(exc)) from None
    console().print(f"token {token_id} revoked")


@directory_cmd.command("sync")
def directory_sync(
    config: ConfigOption = None,
    disable_missing: Annotated[bool, typer.Option(help="Disable users the source lacks")] = False,
) -> None:
    """Sync users, groups and cards from the configured directory now."""
    from rich.progress import Progress

    from printwarden.directory.errors import DirectoryUnavailable
    from printwarden.directory.source import NoDirectoryConfigured, read_snapshot
    from printwarden.store import sync

    settings = read_settings(config)
    try:
        snapshot = read_snapshot(settings.directory)
    except (NoDirectoryConfigured, DirectoryUnavailable) as exc:
        raise fail(str(exc)) from None
    with Progress(console=console()) as progress, open_database(settings).session() as session:
        task = progress.add_task("syncing users", total=len(snapshot.users))
        report = sync.sync_directory(
            session,
            settings.resolved_secret(),
            snapshot,
            disable_missing=disable_missing,
            progress=lambda done, _total: progress.update(task, completed=done),
        )
    console().print(
        f"{report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.disabled} disabled"
    )


@simulate_cmd.callback()
def simulate(
    ctx: typer.Context,
    server: ServerOption,
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    card: Annotated[str, typer.Option(help="Log in with this card number")] = "",
    identity: Annotated[str, typer.Option(help="Log in with this identity number")] = "",
    pin: Annotated[str, typer.Option(help="The PIN for --identity")] = "",
    username: Annotated[str, typer.Option(help="Log in with this username")] = "",
    password: Annotated[str, typer.Option(help="The password for --username")] = "",
    account: Annotated[
        str | None, typer.Option(help="Select this account first ('' = personal)")
    ] = None,
    account_pin: Annotated[str, typer.Option(help="The PIN of --account")] = "",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the server")] = 10.0,
) -> None:
    """Act as a device through the device API: log in, run ACTION, always log out. The
    device token comes from --token-file or $PRINTWARDEN_DEVICE_TOKEN."""
    from printwarden.devices.simulator import Credentials

    credentials = Credentials(card, identity, pin, username, password)
    ctx.obj = {"server": server, "token": (token_file, token), "credentials": credentials}
    ctx.obj |= {"account": account, "account_pin": account_pin, "timeout": timeout}


def _simulate(ctx: typer.Context, action: Action) -> None:
    from printwarden.devices.client import DeviceClient
    from printwarden.devices.simulator import Simulator

    options = ctx.obj
    if problem := options["credentials"].problem():
        raise fail(problem)
    token_file, refused = options["token"]
    token = command_token(token_file, refused, DEVICE_ENV)
    with DeviceClient(options["server"], token, timeout=options["timeout"]) as client:
        status = Simulator(client).run(
            options["credentials"], action, options["account"], options["account_pin"]
        )
    raise typer.Exit(code=status)


@simulate_cmd.command("release-all")
def simulate_release_all(ctx: typer.Context) -> None:
    """Release all the user's held and Find-Me jobs here; one line per released job."""
    _simulate(ctx, lambda sim, session: sim.release_all(session))


@simulate_cmd.command("list")
def simulate_list(ctx: typer.Context) -> None:
    """List the user's held jobs, costed at this device's printer."""
    _simulate(ctx, lambda sim, session: sim.list_jobs(session))


@simulate_cmd.command("release")
def simulate_release(ctx: typer.Context, job_id: str) -> None:
    """Release one job here."""
    _simulate(ctx, lambda sim, session: sim.release(session, job_id))


@simulate_cmd.command("cancel")
def simulate_cancel(ctx: typer.Context, job_id: str) -> None:
    """Cancel one job."""
    _simulate(ctx, lambda sim, session: sim.cancel(session, job_id))


@simulate_cmd.command("change")
def simulate_change(
    ctx: typer.Context,
    job_id: str,
    copies: Annotated[int | None, typer.Option(min=1)] = None,
    duplex: Annotated[bool | None, typer.Option("--duplex/--simplex")] = None,
    grayscale: Annotated[bool | None, typer.Option("--grayscale/--colour")] = None,
) -> None:
    """Change a held job's copies, sides or colour before release."""
    _simulate(ctx, lambda sim, session: sim.change(session, job_id, copies, duplex, grayscale))


WalkUpPages = Annotated[int, typer.Argument(min=1, help="Pages")]
ColourOption = Annotated[bool, typer.Option("--colour", help="In colour")]
DuplexOption = Annotated[bool, typer.Option("--duplex", help="Two-sided")]
PaperOption = Annotated[str, typer.Option(help="Paper size")]


@simulate_cmd.command("copy")
def simulate_copy(
    ctx: typer.Context,
    pages: WalkUpPages,
    colour: ColourOption = False,
    duplex: DuplexOption = False,
    paper_size: PaperOption = "A4",
) -> None:
    """Copy PAGES (as many as the credit allows) and report the usage."""
    _simulate(
        ctx,
        lambda sim, s: sim.walk_up(
            s, "copy", pages, colour=colour, duplex=duplex, paper_size=paper_size
        ),
    )


@simulate_cmd.command("scan")
def simulate_scan(
    ctx: typer.Context,
    count: Annotated[
        int | None, typer.Argument(min=1, help="Without --action: pages to report as usage")
    ] = None,
    action: Annotated[
        str,
        typer.Option(help="Scan with this scan action, e.g. 'Scan to my email'"),
    ] = "",
    pages: Annotated[int | None, typer.Option(min=1, help="Pages to scan (generated)")] = None,
    colour: ColourOption = False,
    resolution: Annotated[int | None, typer.Option(help="dpi, if the action lets you")] = None,
    file_format: Annotated[
        str | None, typer.Option("--format", help="pdf, pdfa, jpeg or tiff, if allowed")
    ] = None,
    ocr: Annotated[bool | None, typer.Option("--ocr/--no-ocr", help="If allowed")] = None,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the scan to be delivered (0: do not)")
    ] = 0.0,
) -> None:
    """With --action, scan --pages generated pages with a scan action of the person's and
    upload them; else report PAGES of walk-up scan usage."""
    if not action:
        if count is None:
            raise fail("give --action NAME --pages N, or PAGES for walk-up usage")
        _simulate(ctx, lambda sim, s: sim.walk_up(s, "scan", count, colour=colour))
        return
    asked = {"colour": colour or None, "resolution": resolution, "format": file_format,
             "ocr": ocr}  # fmt: skip
    options = {key: value for key, value in asked.items() if value is not None}
    number = pages or count or 1
    _simulate(ctx, lambda sim, s: sim.scan_to(s, action, number, options, wait))


@simulate_cmd.command("fax")
def simulate_fax(ctx: typer.Context, pages: WalkUpPages) -> None:
    """Fax PAGES and report the usage."""
    _simulate(ctx, lambda sim, s: sim.walk_up(s, "fax", pages))


@simulate_cmd.command("account")
def simulate_account(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Shared account ('' = personal)")],
    account_pin: Annotated[str, typer.Option(help="The account's PIN")] = "",
) -> None:
    """Select an account and show the session."""
    _simulate(ctx, lambda sim, session: sim.account(session, name, account_pin))


@simulate_cmd.command("interactive")
def simulate_interactive(ctx: typer.Context) -> None:
    """A prompt loop: the jobs as a table; release, cancel, copy."""
    _simulate(ctx, lambda sim, session: sim.interactive(session))


@app.command(
    "client",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def client(ctx: typer.Context) -> None:
    """The User Client: balance, questions before printing, notifications (``--help``)."""
    from printwarden.client.main import run

    raise typer.Exit(run(list(ctx.args)))


@app.command("release-station")
def release_station(
    server: ServerOption,
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    idle_seconds: Annotated[float, typer.Option(min=1, help="Log out after this long")] = 30.0,
) -> None:
    """A terminal release station: card swipes (keyboard wedge) or logins on stdin. The
    device token comes from --token-file or $PRINTWARDEN_DEVICE_TOKEN."""
    import sys

    from printwarden.devices.client import DeviceClient
    from printwarden.devices.release_station import ReleaseStation

    with DeviceClient(server, command_token(token_file, token, DEVICE_ENV)) as client:
        ReleaseStation(client, sys.stdin, sys.stdout, idle_seconds).run()


@fastrelease_cmd.command("serve")
def fastrelease_serve(
    server: ServerOption,
    config: Annotated[Path, typer.Option("--config", "-c", help="readers TOML", exists=True)],
) -> None:
    """Listen for network card readers; a card read releases the user's jobs there."""
    import logging

    from pydantic import ValidationError

    from printwarden.devices import fastrelease

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        readers = fastrelease.load_config(config)
    except (ValidationError, ValueError) as exc:
        raise fail(f"{config}: {exc}") from None
    fastrelease.serve(readers, server)


@cardreader_cmd.command("simulate")
def cardreader_simulate(
    port: Annotated[int, typer.Option(help="The Fast Release listener's port")],
    cards: Annotated[list[str], typer.Argument(help="Card numbers, as the reader reports them")],
    host: Annotated[str, typer.Option(help="The Fast Release listener")] = "127.0.0.1",
    source: Annotated[str, typer.Option(help="Connect from this address")] = "",
    preset: Annotated[str, typer.Option(help="elatec, rfideas or rfideas-hex")] = "elatec",
    prefix: Annotated[str, typer.Option()] = "",
    suffix: Annotated[str, typer.Option()] = "",
    pause: Annotated[float, typer.Option(help="Seconds between reads")] = 0.0,
) -> None:
    """Act as a network card reader: send CARD reads, framed as PRESET, to the listener."""
    from printwarden.devices import card_format, fastrelease
    from printwarden.domain.wording import count

    try:
        framing = card_format.preset(preset, prefix=prefix, suffix=suffix)
        frames = [framing.frame(card) for card in cards]
    except (card_format.CardFormatError, UnicodeEncodeError) as exc:
        raise fail(str(exc)) from None
    try:
        whole = fastrelease.send_reads(host, port, frames, source=source, pause=pause)
    except OSError as exc:
        raise fail(f"{host}:{port}: {exc}") from None
    if whole:
        console().print(f"sent {count(len(frames), 'card read')} to {host}:{port}")
    else:
        console().print(f"{host}:{port} hung up early (is this reader's address configured?)")


demo_cmd = typer.Typer(
    help="The demo: the whole system with sample data and two sites, each behind a link to "
    "the App Server that `demo link down|up SITE` cuts and restores. Without a command: run "
    "it in the foreground; writes DATA_DIR/demo.json when ready."
)
link_cmd = typer.Typer(
    help="Cut or restore a demo site's link to the App Server.", no_args_is_help=True
)
app.add_typer(demo_cmd, name="demo")
demo_cmd.add_typer(link_cmd, name="link")
DemoDirOption = Annotated[Path, typer.Option(help="The running demo's --data-dir")]


@demo_cmd.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its data")] = Path(
        "demo-data"
    ),
    port_base: Annotated[int, typer.Option(help="First port the demo uses")] = 8000,
) -> None:
    """Run the whole demo system in the foreground; writes DATA_DIR/demo.json when ready."""
    if ctx.invoked_subcommand is not None:
        return
    from printwarden.demo.run import run_demo

    run_demo(data_dir, port_base)


@link_cmd.command("down")
def demo_link_down(
    site: Annotated[str, typer.Argument(help="site-a or site-b")],
    data_dir: DemoDirOption = Path("demo-data"),
) -> None:
    """Cut SITE's link: packets are dropped (clients time out) and the site goes offline."""
    _demo_link(site, data_dir, "down")


@link_cmd.command("up")
def demo_link_up(
    site: Annotated[str, typer.Argument(help="site-a or site-b")],
    data_dir: DemoDirOption = Path("demo-data"),
) -> None:
    """Restore SITE's link: the site reconciles its journal and is online again."""
    _demo_link(site, data_dir, "up")


@link_cmd.command("status")
def demo_link_status(data_dir: DemoDirOption = Path("demo-data")) -> None:
    """Each demo site's link: up or down."""
    from printwarden.demo.sites import link_states

    states = link_states(data_dir.resolve())
    if not states:
        raise fail(f"no demo sites in {data_dir}: is the demo running with this --data-dir?")
    for site, state in states.items():
        print(f"{site}: {state}")


def _demo_link(site: str, data_dir: Path, state: str) -> None:
    from printwarden.demo.sites import set_link
    from printwarden.sim.link import LinkState

    try:
        control = set_link(data_dir.resolve(), site, LinkState(state))
    except LookupError as exc:
        raise fail(str(exc)) from None
    print(f"{site}: link {state} ({control})")


def main() -> None:
    # Before anything is created: databases, spools, secrets and logs are the owner's only.
    private_umask()
    app()

"""``printwarden admin user set|delete``: administrators and enabled users, straight on the
database (also the way back in when no administrator can log in: make one with ``set``).

The last enabled administrator is never demoted, disabled or deleted (``store.users``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from printwarden.cli_common import ConfigOption, console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from printwarden.store.models import UserRow

    Change = Callable[[Session, bytes, UserRow], None]


def user_set(
    username: str,
    admin: Annotated[
        bool | None, typer.Option("--admin/--no-admin", help="May administer (or not)")
    ] = None,
    enabled: Annotated[
        bool | None, typer.Option("--enabled/--disabled", help="May log in (or not)")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Make a user an administrator or not, enabled or not."""
    from printwarden.store import users

    def change(session: Session, key: bytes, row: UserRow) -> None:
        users.update_user(session, key, row, users.UserChanges(is_admin=admin, enabled=enabled))

    _on_user(config, username, change)
    console().print(f"user {username} saved")


def user_delete(username: str, config: ConfigOption = None) -> None:
    """Delete a user (their ledger stays)."""
    from printwarden.store import users

    _on_user(config, username, lambda session, _key, row: users.delete_user(session, row))
    console().print(f"user {username} deleted")


def _on_user(config: Path | None, username: str, change: Change) -> None:
    from printwarden.config import load_settings
    from printwarden.store import users
    from printwarden.store.db import Database
    from printwarden.store.errors import StoreError

    settings = load_settings(config)
    database = Database(settings.resolved_database_url())
    try:
        with database.session() as session:
            row = users.find_user(session, username)
            change(session, settings.resolved_secret(), row)
    except StoreError as exc:
        console().print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    finally:
        database.dispose()


def user_print_url(
    username: str,
    queue_uri: Annotated[
        str,
        typer.Option(help="A token-url queue's ipps:// URI, to print the whole print URL"),
    ] = "",
    label: Annotated[str, typer.Option(help="What it is for (a phone, a kiosk…)")] = "",
    config: ConfigOption = None,
) -> None:
    """Make USERNAME a print URL for token-url queues (shown once; only its hash is kept).
    Revoke one with DELETE /api/v1/users/USERNAME/print-tokens/ID."""
    from printwarden.store import print_tokens

    made: list[str] = []

    def create(session: Session, _key: bytes, row: UserRow) -> None:
        made.append(print_tokens.create(session, row.username, label).token)

    _on_user(config, username, create)
    token = made[0]
    # Printed, not logged: the person it is for needs it; a file or a pipe keeps it off screen.
    print(f"{queue_uri.rstrip('/')}/u/{token}" if queue_uri else token)

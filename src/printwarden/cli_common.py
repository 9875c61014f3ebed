"""What the ``printwarden`` command modules share: ``--config``, the settings and database it
names, a command's token, asking a running server, and failing with a message.

Kept light (typer only; rich loads on the first print): ``provider serve`` must not load the
App Server's stack, and the App Server never prints.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from printwarden.cli_tokens import TokenMissing, read_token

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy.orm import Session

    from printwarden.config import Settings
    from printwarden.store.db import Database

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML configuration file", exists=True)
]
ServerOption = Annotated[str, typer.Option(help="URL of the App Server (or Site Server)")]


@cache
def console() -> Console:
    """The commands' terminal (loaded on first use: rich, which the App Server never needs)."""
    from rich.console import Console

    return Console()


def read_settings(config: Path | None) -> Settings:
    """The settings of ``config`` (or the defaults and environment)."""
    from printwarden.config import load_settings

    return load_settings(config)


def open_database(settings: Settings) -> Database:
    """The App Server's database that ``settings`` name."""
    from printwarden.store.db import Database

    return Database(settings.resolved_database_url())


def open_session(config: Path | None) -> AbstractContextManager[Session]:
    """A session of the database ``config`` names (a context manager that commits)."""
    return open_database(read_settings(config)).session()


def fail(message: str) -> typer.Exit:
    """Print ``message`` as an error; raise what this returns to exit with status 1."""
    console().print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def command_token(token_file: Path | None, refused: str, env: str) -> str:
    """The command's token (cli_tokens.read_token), or exit with its error."""
    try:
        return read_token(token_file, refused, env)
    except TokenMissing as exc:
        raise fail(str(exc)) from None


def ask_server(method: str, server: str, path: str, token: str) -> Any:
    """The JSON answer of the API of ``server`` at ``path`` (``/api/v1`` is added), or exit
    with the server's problem detail, or with why no answer came."""
    from printwarden.api.client import ApiClient, ApiError, NoAnswer

    client = ApiClient(f"{server.rstrip('/')}/api/v1", token, timeout=10.0)
    try:
        response = client.call(method, path)
    except ApiError as exc:
        raise fail(f"{server}: {exc.status} {exc.detail or exc.title}") from None
    except NoAnswer as exc:
        raise fail(str(exc)) from None
    finally:
        client.close()
    return response.json() if response.content else None

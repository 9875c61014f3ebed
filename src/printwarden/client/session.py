"""Logging in and out: a client token for this computer, kept in the token file.

The password comes from the terminal (``getpass``), the window's password field, or for
automation ``$PRINTWARDEN_CLIENT_PASSWORD``; never from the command line."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path

import httpx

from printwarden.client import tokenfile
from printwarden.client.api import ApiError, ClientApi, normalize_server
from printwarden.client.tokenfile import Saved

PASSWORD_ENV = "PRINTWARDEN_CLIENT_PASSWORD"  # noqa: S105 (the variable's name)


class LoginFailed(Exception):
    """Logging in did not work: ``message`` says why; ``retry_after`` s when throttled."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def env_password(env: Mapping[str, str] | None = None) -> str | None:
    """The password of ``$PRINTWARDEN_CLIENT_PASSWORD``, if set (for automation)."""
    value = (os.environ if env is None else env).get(PASSWORD_ENV)
    return value or None


def client_name() -> str:
    """This computer's name, which the server records with the client token."""
    return socket.gethostname() or "client"


def login_message(error: ApiError) -> str:
    """What to tell the user when logging in failed."""
    if error.status == 401:
        return "Wrong username or password."
    if error.status == 429:
        wait = f" (try again in {error.retry_after:.0f} s)" if error.retry_after else ""
        return f"Too many attempts{wait}: {error.detail}"
    return error.detail


def log_in(
    server: str,
    username: str,
    password: str,
    directory: Path,
    *,
    transport: httpx.BaseTransport | None = None,
) -> Saved:
    """Log in to ``server`` as ``username`` and keep the client token; LoginFailed if not."""
    try:
        server = normalize_server(server)
    except ValueError as error:
        raise LoginFailed(f"The server must be an http:// or https:// URL: {error}") from error
    api = ClientApi(server, transport=transport)
    try:
        login = api.login(username, password, client_name())
    except ApiError as error:
        raise LoginFailed(login_message(error), error.retry_after) from error
    finally:
        api.close()
    saved = Saved(server=server, username=username, token=login.token)
    tokenfile.save(saved, directory)
    return saved


def restore(
    directory: Path, server: str | None = None, username: str | None = None
) -> Saved | None:
    """The saved login, unless there is none or it is for another server or user."""
    saved = tokenfile.load(directory)
    if saved is None:
        return None
    try:
        if server and normalize_server(server) != saved.server:
            return None
    except ValueError:
        return None
    if username and username != saved.username:
        return None
    return saved


def log_out(directory: Path, *, transport: httpx.BaseTransport | None = None) -> tuple[bool, str]:
    """Revoke the saved token and delete the token file: (whether it worked, what to say)."""
    saved = tokenfile.load(directory)
    if saved is None:
        tokenfile.delete(directory)
        return True, "Not logged in."
    api = ClientApi(saved.server, saved.token, transport=transport)
    try:
        api.revoke()
    except ApiError as error:
        if error.status != 401:
            return False, (
                f"Could not revoke the token ({error.detail}); it is still in "
                f"{tokenfile.token_path(directory)}. Try again, or revoke it in the portal."
            )
    finally:
        api.close()
    tokenfile.delete(directory)
    return True, f"Logged out of {saved.server}: this computer's token is revoked and deleted."

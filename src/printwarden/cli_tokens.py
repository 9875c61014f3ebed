"""Tokens for commands: read from a file (``--token-file``) or the environment, never taken
as a command-line argument — every local user can read a process's arguments (``ps``,
``/proc/PID/cmdline``), while a 0600 file or the environment (``/proc/PID/environ``, readable
only by the owner) stays private.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

SITE_OR_PROVIDER_ENV = "PRINTWARDEN_TOKEN"
DEVICE_ENV = "PRINTWARDEN_DEVICE_TOKEN"
ADMIN_ENV = "PRINTWARDEN_ADMIN_TOKEN"

TokenFileOption = Annotated[
    Path | None,
    typer.Option(
        "--token-file",
        help="A file holding the token (mode 0600); or set the environment variable",
        exists=True,
        dir_okay=False,
    ),
]
# Kept only to refuse it with a clear message, rather than "no such option".
RefusedTokenOption = Annotated[str, typer.Option("--token", hidden=True)]


class TokenMissing(ValueError):
    """No token was given, or it was given on the command line."""


def read_token(token_file: Path | None, refused: str, env: str) -> str:
    """The token from ``token_file``, else from ``$env``; ``refused`` is what ``--token``
    was given (a non-empty value is an error)."""
    if refused:
        raise TokenMissing(
            "--token is not accepted: a token on the command line is visible to every "
            f"local user (ps). Use --token-file FILE (mode 0600) or ${env}."
        )
    if token_file is not None:
        token = token_file.read_text(encoding="utf-8").strip()
        if not token:
            raise TokenMissing(f"{token_file} is empty")
        return token
    token = os.environ.get(env, "").strip()
    if not token:
        raise TokenMissing(f"a token is needed: --token-file FILE or ${env}")
    return token

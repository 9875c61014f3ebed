"""``printwarden admin lockouts``: failed logins and lockouts, asked of the running server.

The counts live in the server process (not the database), so these commands call its API
with an administrator's token, from ``$PRINTWARDEN_ADMIN_TOKEN`` or ``--token-file`` (never
on the command line, where ``ps`` shows it: ``cli_tokens``).
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import typer

from printwarden.cli_common import ServerOption, ask_server, command_token
from printwarden.cli_tokens import ADMIN_ENV, RefusedTokenOption, TokenFileOption

lockouts_cmd = typer.Typer(help="Failed logins and lockouts (asks the running App Server).")


@lockouts_cmd.command("list")
def lockouts_list(
    server: ServerOption = "http://127.0.0.1:8000",
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """Accounts and clients with failed logins: back-off or lockout, and for how long."""
    answer = ask_server("GET", server, "/lockouts", command_token(token_file, token, ADMIN_ENV))
    items: list[dict[str, Any]] = answer["items"]
    if as_json:
        print(json.dumps(items, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("key", "kind", "user", "failures", "locked", "retry in", "last failure")
    for item in items:
        table.add_row(item["key"], item["kind"], item["user"] or "", str(item["failures"]),
                      "yes" if item["locked"] else "", f"{item['retry_after']} s",
                      item["last_failure_at"])  # fmt: skip
    Console().print(table)


@lockouts_cmd.command("clear")
def lockouts_clear(
    key: Annotated[str, typer.Argument(help="A key from `list`, or a username")],
    server: ServerOption = "http://127.0.0.1:8000",
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
) -> None:
    """Lift a lockout: forget the failed logins counted against KEY."""
    full = key if ":" in key else f"user:{key.casefold()}"
    path = f"/lockouts/{quote(full, safe=':')}"
    ask_server("DELETE", server, path, command_token(token_file, token, ADMIN_ENV))
    print(f"cleared {full}")

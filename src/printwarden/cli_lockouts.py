"""``printwarden admin lockouts``: failed logins and lockouts, asked of the running server.

The counts live in the server process (not the database), so these commands call its API
with an administrator's token, from ``$PRINTWARDEN_ADMIN_TOKEN`` or ``--token-file`` (never
on the command line, where ``ps`` shows it: ``cli_tokens``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer

from printwarden.cli_tokens import (
    ADMIN_ENV,
    RefusedTokenOption,
    TokenFileOption,
    TokenMissing,
    read_token,
)

lockouts_cmd = typer.Typer(help="Failed logins and lockouts (asks the running App Server).")

ServerOption = Annotated[str, typer.Option(help="URL of the App Server")]


@lockouts_cmd.command("list")
def lockouts_list(
    server: ServerOption = "http://127.0.0.1:8000",
    token_file: TokenFileOption = None,
    token: RefusedTokenOption = "",
    as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts")] = False,
) -> None:
    """Accounts and clients with failed logins: back-off or lockout, and for how long."""
    answer = _call("GET", server, "/lockouts", _token(token_file, token))
    items: list[dict[str, Any]] = answer.json()["items"]
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
    _call("DELETE", server, f"/lockouts/{quote(full, safe=':')}", _token(token_file, token))
    print(f"cleared {full}")


def _token(token_file: Path | None, refused: str) -> str:
    try:
        return read_token(token_file, refused, ADMIN_ENV)
    except TokenMissing as exc:
        raise _fail(str(exc)) from None


def _call(method: str, server: str, path: str, token: str) -> Any:
    import httpx

    try:
        response = httpx.request(
            method,
            f"{server.rstrip('/')}/api/v1{path}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
    except httpx.HTTPError as exc:
        raise _fail(f"{server}: {exc}") from None
    if response.status_code >= 400:
        raise _fail(f"{server}: {response.status_code} {_detail(response)}")
    return response


def _detail(response: Any) -> str:
    try:
        return str(response.json().get("detail") or response.json().get("title"))
    except ValueError:
        return str(response.text[:300])


def _fail(message: str) -> typer.Exit:
    from rich.console import Console

    Console(stderr=True).print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)

"""Who is at the other end: the client address the login throttle counts against.

The connection's own peer address, unless
- the request came through a Site Server, which names the client it forwards for in
  ``X-Printwarden-Client`` and proves it is a site with its site token in
  ``X-Printwarden-Site-Token`` (the request's own ``Authorization`` is left untouched), or
- the peer is a configured trusted proxy (``trusted_proxies``: addresses or CIDRs, none by
  default), in which case the header those proxies set (``forwarded_header``:
  ``X-Forwarded-For`` by default, or ``Forwarded``, RFC 7239) is followed from the right,
  past every trusted proxy, to the first address that is not one.

Forwarding headers from anyone else are ignored, and so is the other header from a trusted
proxy (a proxy passes on what a client put in a header it does not set itself), so nobody
can pick the address their failures count against. (uvicorn's own proxy-header handling is
switched off everywhere: it trusts ``X-Forwarded-For`` from 127.0.0.1 by default.)
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from fastapi.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request

from printwarden.domain.accounts import Role
from printwarden.service.state import AppState
from printwarden.store.tokens import Caller, resolve_token

SITE_TOKEN_HEADER = "x-printwarden-site-token"  # noqa: S105 - a header name
CLIENT_HEADER = "x-printwarden-client"
X_FORWARDED_FOR, FORWARDED = "x-forwarded-for", "forwarded"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=16)
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured trusted proxies as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in trusted)


def parse_address(value: str) -> Address | None:
    """An IP address from a header value (``[v6]:port``, ``v4:port``, quoted), else None."""
    text = value.strip().strip('"').strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def forwarded_chain(headers: Headers, header: str = X_FORWARDED_FOR) -> list[str]:
    """The hops a request names in ``header``, nearest the client first: ``Forwarded``'s
    ``for=`` values or ``X-Forwarded-For``'s entries (every occurrence of it, in order)."""
    lines = headers.getlist(header)
    if header == FORWARDED:
        return [_for_of(element) for line in lines for element in line.split(",")]
    return [part for line in lines for part in line.split(",")]


def _for_of(element: str) -> str:
    """One ``Forwarded`` element's ``for=`` value ("" without one: the walk stops there).

    Each element is read on its own (no value a proxy writes holds a comma), so nothing a
    client sent to the left of a trusted proxy's element — an unclosed quote, a ``for=``
    inside another parameter's quoted value — changes how that element reads."""
    for pair in element.split(";"):
        name, _, value = pair.partition("=")
        if name.strip().lower() == "for":
            return value.strip()
    return ""


def resolve(
    peer: str, headers: Headers, trusted: Sequence[Network], header: str = X_FORWARDED_FOR
) -> str:
    """The client behind ``peer``: walk the chain the trusted proxies set in ``header`` from
    the right while the hop is a trusted proxy. An unparsable hop (or none) ends the walk at
    the proxy that named it."""
    current = parse_address(peer)
    if current is None:
        return peer
    hops = forwarded_chain(headers, header) if _trusted(current, trusted) else []
    for hop in reversed(hops):
        if not _trusted(current, trusted):
            break
        found = parse_address(hop)
        if found is None:
            break
        current = found
    return str(current)


def _trusted(address: Address, trusted: Iterable[Network]) -> bool:
    return any(address in network for network in trusted)


async def client_address(request: Request, state: AppState) -> str:
    """The address of the client a request is from (see the module docstring)."""
    peer = request.client.host if request.client else ""
    claimed = parse_address(request.headers.get(CLIENT_HEADER, ""))
    site_token = request.headers.get(SITE_TOKEN_HEADER, "")
    if claimed is not None and site_token and await _is_site(state, site_token):
        return str(claimed)
    settings = state.settings
    trusted = networks(tuple(settings.trusted_proxies))
    return resolve(peer, request.headers, trusted, settings.forwarded_header)


async def _is_site(state: AppState, token: str) -> bool:
    return await _site_caller(state, token) is not None


async def _site_caller(state: AppState, token: str) -> Caller | None:
    caller = state.callers.get(token)
    if caller is None:
        caller = await run_in_threadpool(_resolve, state, token)
        if caller is None:
            return None
        state.callers.put(token, caller)
    return caller if caller.role is Role.SITE else None


async def vouching_site(request: Request, state: AppState) -> str | None:
    """The site whose gateway forwarded this request (its site token vouches), else None."""
    token = request.headers.get(SITE_TOKEN_HEADER, "")
    caller = await _site_caller(state, token) if token else None
    return caller.scope if caller is not None and caller.scope else None


def _resolve(state: AppState, token: str) -> Caller | None:
    with state.database.read() as session:
        return resolve_token(session, token)

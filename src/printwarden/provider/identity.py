"""Who is printing: the rules of a queue's identity policy, without I/O.

``ipp_service`` asks :func:`plan` what a request needs (a password check, a print URL's
token resolved, nothing) and the server answers the rest. The rules (docs/provider.md):

- a password (HTTP Basic) or a print URL's token is taken only over TLS, or from a client
  on a loopback address while ``loopback_is_local``; elsewhere it is refused unread;
- ``trust-client-username``: the client's ``requesting-user-name`` is believed;
- ``authenticate``: every operation but Get-Printer-Attributes needs the password;
- ``token-url``: every operation but Get-Printer-Attributes needs the token in the URL
  (``/ipp/print/<queue>/u/<token>``) or the password.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

from printwarden.provider.config import Identity, ProviderConfig

TOKEN_SEGMENT = "u"  # noqa: S105 (a path segment)
QUEUE_PREFIXES = ("/ipp/print/", "/printers/", "/classes/")
TOKEN_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
MAX_TOKEN = 128


class Need(Enum):
    """What a request needs before it is answered."""

    CLAIMED = "claimed"  # believe requesting-user-name
    PASSWORD = "password"  # noqa: S105 -- check the HTTP Basic credentials it carries
    TOKEN = "token"  # noqa: S105 -- resolve the print URL's token
    CHALLENGE = "challenge"  # ask for a password (HTTP 401)
    # no credentials where they cannot be sent (plain IPP): say so, never challenge
    NOT_AUTHENTICATED = "not-authenticated"
    REFUSED = "refused"  # refuse, saying why


@dataclass(frozen=True, slots=True)
class Plan:
    need: Need
    why: str = ""  # for REFUSED: the status-message


@dataclass(frozen=True, slots=True)
class Requester:
    """Who the provider believes sent a request."""

    user: str
    authenticated: bool = False  # by password or print URL: not merely claimed
    admin: bool = False  # a password login of a server administrator

    def sees(self, owner: str) -> bool:
        """Whether this requester may see a job's name and owner."""
        return self.admin or owner == self.user


def secure_channel(tls: bool, client: str, loopback_is_local: bool) -> bool:
    """Whether a secret may travel on this connection: TLS, or a loopback client."""
    return tls or (loopback_is_local and is_loopback(client))


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def path_token(path: str) -> str:
    """The print URL token a request path carries (``/ipp/print/<queue>/u/<token>``), or ""."""
    for prefix in QUEUE_PREFIXES:
        if path.startswith(prefix):
            parts = path[len(prefix) :].split("/")
            if len(parts) >= 3 and parts[1] == TOKEN_SEGMENT:
                return parts[2]
    return ""


def well_formed(token: str) -> bool:
    return 0 < len(token) <= MAX_TOKEN and set(token) <= TOKEN_ALPHABET


def plan(
    identity: Identity | None,
    *,
    secure: bool,
    password: bool,
    token: bool,
    reads_printer: bool,
    queue: str = "",
) -> Plan:
    """What a request needs under ``identity`` (None: the server as a whole).

    ``secure``: TLS or a local client; ``password``/``token``: it carries HTTP Basic
    credentials / a print URL token; ``reads_printer``: Get-Printer-Attributes, which every
    policy answers (clients ask what a queue needs before they print)."""
    if password:
        return Plan(Need.PASSWORD) if secure else Plan(Need.REFUSED, PASSWORD_NEEDS_TLS)
    if token:
        if identity is not Identity.TOKEN_URL:
            return Plan(Need.REFUSED, f"queue {queue!r} takes no print URL tokens")
        return Plan(Need.TOKEN) if secure else Plan(Need.REFUSED, TOKEN_NEEDS_TLS)
    if identity in (None, Identity.TRUST_CLIENT_USERNAME) or reads_printer:
        return Plan(Need.CLAIMED)
    if identity is Identity.AUTHENTICATE:
        if secure:
            return Plan(Need.CHALLENGE)
        return Plan(Need.NOT_AUTHENTICATED, f"queue {queue!r} needs your password, {OVER_TLS}")
    return Plan(Need.REFUSED, f"queue {queue!r} is printed to through your personal print URL "
                              "(an administrator makes it for you)")  # fmt: skip


def warnings(config: ProviderConfig) -> list[str]:
    """What an operator should hear at start-up about the queues' identity policies."""
    found = []
    exposed = not is_loopback(config.host) and config.host != "localhost"
    for queue in config.queues:
        if queue.identity is Identity.TRUST_CLIENT_USERNAME and exposed:
            found.append(f"queue {queue.name!r} believes the user name each client sends "
                         "(trust-client-username): serve it only to a managed network, "
                         "never to BYOD ones")  # fmt: skip
        elif queue.identity is not Identity.TRUST_CLIENT_USERNAME and config.tls is None:
            found.append(f"queue {queue.name!r} ({queue.identity}) takes secrets only over "
                         "TLS or from this host: configure [tls] to serve ipps://")  # fmt: skip
    return found


USE_IPPS = "print to the queue's ipps:// URI"
OVER_TLS = f"sent only over TLS: {USE_IPPS}"
PASSWORD_NEEDS_TLS = f"a password is accepted only over TLS: {USE_IPPS}"
TOKEN_NEEDS_TLS = "a print URL works only over TLS: use its ipps:// form"  # noqa: S105

"""What a server says of a print URL's token (``POST /jobs/submitter``; docs/provider.md,
*Print URLs*): taken for its owner while live, refused otherwise.

Print URLs replicate to every site, so an offline Site Server knows each one made at HQ up
to its last pull, and each revocation. One it does not know was never made, or was made at
HQ after the link went down: the refusal says so, so that its owner knows to try again once
the site is back online. HQ gives no such hint (the token is simply not valid).
"""

from __future__ import annotations

from enum import Enum

INVALID = "this print URL is not valid (revoked, or its user disabled): ask for a new one"
UNKNOWN_OFFLINE = (
    "this print URL is not known at this site while it is offline (one made after the link "
    "to HQ went down works once the link is back)"
)


class Standing(Enum):
    """A print URL's state in the answering server's database."""

    LIVE = "live"  # not revoked, its user enabled and not deleted
    INVALID = "invalid"  # revoked, or its user disabled or deleted
    UNKNOWN = "unknown"  # no print URL has this token here


def refusal(standing: Standing, *, offline: bool) -> str | None:
    """Why jobs through a print URL of this ``standing`` are refused (None: taken);
    ``offline``: a Site Server answers from its replica."""
    if standing is Standing.LIVE:
        return None
    if standing is Standing.UNKNOWN and offline:
        return UNKNOWN_OFFLINE
    return INVALID

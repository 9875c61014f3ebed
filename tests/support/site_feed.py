"""A site's client of its change feed at an in-process App Server, caught up."""

from __future__ import annotations

import httpx

from printwarden.domain.accounts import Role
from printwarden.testing.inprocess import InProcessAppServer


def caught_up_site(
    app_server: InProcessAppServer, admin: httpx.Client, name: str
) -> tuple[httpx.Client, int]:
    """Site ``name``, created; a client with its token, and the number it has caught up to."""
    assert admin.post("/sites", json={"name": name}).status_code == 201
    site = app_server.client(app_server.token(Role.SITE, scope=name))
    return site, caught_up(site, name)


def caught_up(site: httpx.Client, name: str) -> int:
    """Pull site ``name``'s changes until none are left; the number it is at then."""
    head = site.get(f"/sites/{name}/changes", params={"since": 0, "limit": 50_000}).json()
    while head["more"]:
        head = site.get(f"/sites/{name}/changes", params={"since": head["upto"]}).json()
    return int(head["upto"])

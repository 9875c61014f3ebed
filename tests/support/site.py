"""The tests' name for :mod:`printwarden.testing.site`."""

from printwarden.testing.site import (
    PRINTER,
    SITE,
    Fronted,
    SiteProcess,
    World,
    another_site,
    app_and_site,
    site_link,
    site_online,
    site_world,
)

__all__ = [
    "PRINTER",
    "SITE",
    "Fronted",
    "SiteProcess",
    "World",
    "another_site",
    "app_and_site",
    "site_link",
    "site_online",
    "site_world",
]

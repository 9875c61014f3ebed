"""Where HQ rings a provider: through its site's Site Server when it is at a site (issue 17)."""

from __future__ import annotations

from printwarden.service.provider_control import Bell


def test_a_provider_at_a_site_is_rung_through_the_site_server_never_directly() -> None:
    bell = Bell("north provider", "http://10.1.0.5:631/control", "north", "http://north:8100/")
    assert bell.url() == "http://north:8100/site/providers/north%20provider/wake"


def test_a_provider_of_no_site_is_rung_directly() -> None:
    assert Bell("hq", "http://hq-print:631/control/").url() == "http://hq-print:631/control/wake"


def test_a_site_that_never_said_where_it_is_reached_falls_back_to_the_provider() -> None:
    """An older Site Server does not report its URL: its providers are rung as before."""
    bell = Bell("old", "http://10.1.0.9:631/control", "west", "")
    assert bell.url() == "http://10.1.0.9:631/control/wake"

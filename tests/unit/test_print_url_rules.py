"""What a server says of a print URL's token (``domain/print_urls.py``): HQ never hints why a
token is not valid; an offline site tells an unknown token from a revoked one."""

from __future__ import annotations

import pytest

from printwarden.domain.print_urls import INVALID, UNKNOWN_OFFLINE, Standing, refusal


@pytest.mark.parametrize("offline", [False, True])
def test_a_live_print_url_is_taken_online_and_offline(offline: bool) -> None:
    assert refusal(Standing.LIVE, offline=offline) is None


@pytest.mark.parametrize("offline", [False, True])
def test_a_revoked_print_url_is_refused_online_and_offline(offline: bool) -> None:
    assert refusal(Standing.INVALID, offline=offline) == INVALID


def test_hq_refuses_an_unknown_print_url_as_it_refuses_a_revoked_one() -> None:
    assert refusal(Standing.UNKNOWN, offline=False) == INVALID


def test_an_offline_site_says_an_unknown_print_url_may_be_newer_than_its_replica() -> None:
    reason = refusal(Standing.UNKNOWN, offline=True)
    assert reason == UNKNOWN_OFFLINE
    assert reason != INVALID
    assert "offline" in reason

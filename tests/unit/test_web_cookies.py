"""Web session cookies by issuer: HQ signs its own; a site signs its own and checks HQ's with
HQ's public key; nobody takes another's (``web/sessions.py``)."""

from __future__ import annotations

from dataclasses import asdict, replace

import pytest

from printwarden import keys
from printwarden.web.sessions import CookieSigner, WebSession

HQ_SECRET, NORTH_SECRET, SOUTH_SECRET = b"h" * 64, b"n" * 64, b"s" * 64
DAY = 86_400


def session(issuer: str, role: str = "admin") -> WebSession:
    return WebSession(user_id=1, username="chief", role=role, sid="sid", csrf="csrf",
                      fingerprint="f" * 16, issuer=issuer)  # fmt: skip


def servers() -> tuple[CookieSigner, CookieSigner, CookieSigner]:
    hq = CookieSigner(keys.HQ_ISSUER, HQ_SECRET)
    north = CookieSigner(keys.site_issuer("north"), NORTH_SECRET)
    south = CookieSigner(keys.site_issuer("south"), SOUTH_SECRET)
    for site in (north, south):
        site.trust(keys.HQ_ISSUER, hq.public_key())
    return hq, north, south


def test_hq_sessions_hold_at_hq_and_at_every_site() -> None:
    hq, north, south = servers()
    cookie = hq.session_cookie(session("hq"))
    for server in (hq, north, south):
        assert server.session(cookie, DAY) == session("hq")
    assert CookieSigner("site:east", b"e" * 64).session(cookie, DAY) is None  # not trusted
    assert hq.session(cookie, -1) is None  # expired


def test_a_site_session_holds_only_at_that_site() -> None:
    hq, north, south = servers()
    cookie = north.session_cookie(session("site:north"))
    assert north.session(cookie, DAY) == session("site:north")
    assert hq.session(cookie, DAY) is None
    assert south.session(cookie, DAY) is None


def test_a_site_cannot_sign_as_hq() -> None:
    hq, north, _ = servers()
    with pytest.raises(ValueError, match="not 'site:north'"):
        north.session_cookie(session("hq"))
    pretender = CookieSigner(keys.HQ_ISSUER, NORTH_SECRET)  # the site's own key, called HQ
    forged = pretender.session_cookie(session("hq"))
    assert hq.session(forged, DAY) is None
    assert north.session(forged, DAY) is None
    with pytest.raises(ValueError, match="trusts its own"):
        north.trust("site:north", hq.public_key())


def test_a_cookie_must_name_the_issuer_whose_key_signed_it() -> None:
    hq, north, _ = servers()
    as_north = CookieSigner(keys.site_issuer("north"), HQ_SECRET)  # HQ's key, another name
    cookie = as_north.session_cookie(replace(session("x"), issuer="site:north"))
    assert hq.session(cookie, DAY) is None
    assert north.session(cookie, DAY) is None
    # Signed by HQ's key under HQ's name, but saying another issuer made it: refused, at HQ
    # and at the site that trusts HQ's key (the signature alone would pass).
    own = hq._own  # its serializers: only a key holder could sign these
    claims_north = own.sessions.dumps(asdict(session("site:north")))
    assert north.session(claims_north, DAY) is None
    assert hq.session(claims_north, DAY) is None
    assert north.session(own.sessions.dumps(asdict(session("hq"))), DAY) == session("hq")
    assert north.login_nonce(own.logins.dumps({"iss": "site:north", "nonce": "n"})) is None
    assert north.login_nonce(own.logins.dumps({"iss": "hq", "nonce": "n"})) == "n"


def test_login_form_cookies_follow_the_same_rule() -> None:
    hq, north, south = servers()
    assert north.login_nonce(hq.login_cookie("n-1")) == "n-1"  # a form loaded online
    assert hq.login_nonce(north.login_cookie("n-2")) is None
    assert south.login_nonce(north.login_cookie("n-3")) is None
    assert hq.login_nonce(hq.session_cookie(session("hq"))) is None  # not a login cookie
    assert hq.session(hq.login_cookie("n-4"), DAY) is None
    assert hq.public_key() == keys.cookie_key(HQ_SECRET).public_key().public_bytes_raw()

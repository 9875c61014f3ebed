"""Which forwarded logins teach a Site Server a password for its offline cache."""

from __future__ import annotations

import json

import httpx

from printwarden.site.gateway import _accepted_password
from printwarden.web.sessions import SESSION_COOKIE

SITE = "http://site.example"


def answer(status: int, path: str, **kwargs: object) -> httpx.Response:
    return httpx.Response(status, request=httpx.Request("POST", SITE + path), **kwargs)  # type: ignore[arg-type]


def test_an_accepted_web_login_form_is_learnt() -> None:
    body = b"username=dora&password=s3cret%21&csrf_token=x&next=%2Fweb%2F"
    cookie = {"set-cookie": f"{SESSION_COOKIE}=signed; Path=/web; HttpOnly"}
    accepted = answer(303, "/web/login", headers={"location": "/web/", **cookie})
    assert _accepted_password("/web/login", body, accepted) == ("dora", "s3cret!")


def test_a_refused_or_cookieless_web_login_is_not() -> None:
    body = b"username=dora&password=wrong"
    assert _accepted_password("/web/login", body, answer(401, "/web/login")) is None
    redirect_only = answer(303, "/web/login", headers={"location": "/web/login"})
    assert _accepted_password("/web/login", body, redirect_only) is None


def test_api_password_logins_are_learnt_only_when_accepted() -> None:
    body = json.dumps({"username": "dora", "password": "pw"}).encode()
    ok = answer(200, "/api/v1/auth/login", json={"token": "t"})
    assert _accepted_password("/api/v1/auth/login", body, ok) == ("dora", "pw")
    refused = answer(401, "/api/v1/auth/login", json={"detail": "no"})
    assert _accepted_password("/api/v1/auth/login", body, refused) is None
    card = json.dumps({"method": "card", "username": "dora", "password": "pw"}).encode()
    session = answer(201, "/api/v1/device/sessions", json={"session": "s"})
    assert _accepted_password("/api/v1/device/sessions", card, session) is None

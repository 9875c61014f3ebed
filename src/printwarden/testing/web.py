"""Driving the web interface over HTTP (httpx) like a browser without JavaScript."""

from __future__ import annotations

import re

import httpx

from printwarden.store import users
from printwarden.testing.appserver import AppServer

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_person(app: AppServer, username: str, password: str, *, admin: bool = False) -> int:
    """A user (or administrator) with a password; their id."""
    database = app.database()
    try:
        with database.session() as session:
            changes = users.UserChanges(password=password, is_admin=admin, full_name=username)
            row = users.create_user(session, app.settings().resolved_secret(), username, changes)
            return row.id
    finally:
        database.dispose()


def browser(app: AppServer) -> httpx.Client:
    """A cookie-keeping client that does not follow redirects (tests look at them)."""
    return httpx.Client(base_url=app.url, timeout=30, follow_redirects=False)


def csrf_of(page: httpx.Response) -> str:
    found = CSRF.search(page.text)
    assert found is not None, page.text[:2000]
    return found.group(1)


def post_login(
    client: httpx.Client, username: str, password: str, next_path: str = "/web/"
) -> httpx.Response:
    form = client.get("/web/login")
    assert form.status_code == 200, form.text
    body = {"username": username, "password": password, "csrf_token": csrf_of(form),
            "next": next_path}  # fmt: skip
    return client.post("/web/login", data=body)


def login(client: httpx.Client, username: str, password: str, next_path: str = "/web/") -> str:
    """Log ``client`` in; returns the session's CSRF token (from the page it lands on)."""
    answer = post_login(client, username, password, next_path)
    assert answer.status_code == 303, answer.text
    landed = client.get(answer.headers["location"])
    assert landed.status_code == 200, landed.text
    return csrf_of(landed)

"""The web interface's guards on a real App Server: login, sessions, CSRF, roles, redirects.

Every page route of the web interface is listed from its routers, so a new page is covered
without editing this file: anonymous visitors are sent to the login page, the other role
gets 403, and every state change without the session's CSRF token is refused.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute

from printwarden.domain.accounts import Role
from printwarden.web.mount import ROUTERS
from printwarden.web.sessions import SESSION_COOKIE
from support.appserver import AppServer
from support.seeding import wait_for
from support.web import add_person, browser, csrf_of, login, post_login

PASSWORD = "correct horse battery"
OPEN = {"/web/", "/web/login", "/web/logout", "/web/static/{name}"}
PARAMS = {"name": "no-such-thing", "username": "no-such-user", "account_id": "987654",
          "job_ref": "01900000-0000-7000-8000-000000000000",
          "submission_id": "01900000-0000-7000-8000-000000000000", "page": "1",
          "token": "no-such-token", "token_id": "987654"}  # fmt: skip


def web_routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            if route.path not in OPEN:
                found += [(method, route.path) for method in sorted(route.methods or ())]
    return found


ROUTES = web_routes()


def is_admin_path(path: str) -> bool:
    return path.startswith("/web/admin/")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root: Path = tmp_path_factory.mktemp("web-security")
    server = AppServer(f"sqlite:///{root / 'app.db'}", root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def person(app: AppServer, base: str, *, admin: bool = False) -> str:
    name = f"{base}-{uuid.uuid4().hex[:8]}"
    add_person(app, name, PASSWORD, admin=admin)
    return name


@pytest.fixture(scope="module")
def admin(app: AppServer) -> Iterator[tuple[httpx.Client, str]]:
    with browser(app) as client:
        yield client, login(client, person(app, "boss", admin=True), PASSWORD)


@pytest.fixture(scope="module")
def user(app: AppServer) -> Iterator[tuple[httpx.Client, str]]:
    with browser(app) as client:
        yield client, login(client, person(app, "ursula"), PASSWORD)


def test_every_page_needs_a_login(app: AppServer) -> None:
    assert len(ROUTES) > 20
    with browser(app) as client:
        for method, path in ROUTES:
            response = client.request(method, path.format(**PARAMS))
            assert response.status_code == 303, (method, path, response.text)
            assert response.headers["location"].startswith("/web/login?next="), (method, path)


def test_each_role_is_kept_to_its_own_pages(
    admin: tuple[httpx.Client, str], user: tuple[httpx.Client, str]
) -> None:
    for method, path in ROUTES:
        client, csrf = user if is_admin_path(path) else admin
        data = {"csrf_token": csrf} if method == "POST" else None
        response = client.request(method, path.format(**PARAMS), data=data)
        assert response.status_code == 403, (method, path, response.status_code)
        assert "Forbidden" in response.text


def test_every_state_change_needs_the_csrf_token(
    admin: tuple[httpx.Client, str], user: tuple[httpx.Client, str]
) -> None:
    for method, path in ROUTES:
        if method != "POST":
            continue
        client, csrf = admin if is_admin_path(path) else user
        for data in ({}, {"csrf_token": "forged-" + csrf[:10]}):
            response = client.post(path.format(**PARAMS), data=data)
            assert response.status_code == 403, (path, data, response.text)
            assert "CSRF" in response.text


def test_a_wrong_password_is_refused_and_repeated_failures_are_limited(app: AppServer) -> None:
    name = person(app, "guess")
    with browser(app) as client:
        for _ in range(5):
            assert post_login(client, name, "wrong").status_code == 401
        limited = post_login(client, name, PASSWORD)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert SESSION_COOKIE not in client.cookies
    with browser(app) as other:  # another user from the same address is not locked out
        assert post_login(other, person(app, "fine"), PASSWORD).status_code == 303


def test_login_needs_the_forms_own_token(app: AppServer) -> None:
    name = person(app, "csrf-login")
    with browser(app) as client:
        client.get("/web/login")
        forged = client.post("/web/login", data={"username": name, "password": PASSWORD,
                                                 "csrf_token": "guessed"})  # fmt: skip
        assert forged.status_code == 403
    with browser(app) as fresh:  # a form from another browser: no matching cookie
        token = csrf_of(httpx.get(f"{app.url}/web/login"))
        body = {"username": name, "password": PASSWORD, "csrf_token": token}
        assert fresh.post("/web/login", data=body).status_code == 403


def test_a_login_starts_a_new_session_and_logout_ends_it(app: AppServer) -> None:
    first, second = person(app, "fix-a"), person(app, "fix-b")
    with browser(app) as client:
        login(client, first, PASSWORD)
        planted = client.cookies[SESSION_COOKIE]
        csrf = login(client, second, PASSWORD)
        fresh = client.cookies[SESSION_COOKIE]
        assert fresh != planted
        with browser(app) as attacker:  # the earlier session ended with the new login
            attacker.cookies.set(SESSION_COOKIE, planted)
            assert attacker.get("/web/portal/").status_code == 303
        assert client.post("/web/logout", data={"csrf_token": csrf}).status_code == 303
        with browser(app) as replay:
            replay.cookies.set(SESSION_COOKIE, fresh)
            assert replay.get("/web/portal/").status_code == 303


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/", "//evil.example/web/", "/\\evil.example", "/web//evil.example",
     "javascript:alert(1)", "/web/admin/\r\nSet-Cookie:x=1", "/api/v1/users"],
)  # fmt: skip
def test_login_never_redirects_off_the_web_interface(app: AppServer, target: str) -> None:
    with browser(app) as client:
        answer = post_login(client, person(app, "redirect"), PASSWORD, target)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/web/portal/"


def test_login_returns_to_the_page_asked_for(app: AppServer) -> None:
    with browser(app) as client:
        answer = post_login(client, person(app, "back"), PASSWORD, "/web/portal/jobs")
        assert answer.headers["location"] == "/web/portal/jobs"


def test_web_sessions_and_api_tokens_are_not_interchangeable(
    app: AppServer, admin: tuple[httpx.Client, str]
) -> None:
    client, _ = admin
    cookie = client.cookies[SESSION_COOKIE]
    as_bearer = httpx.get(f"{app.api}/users", headers={"Authorization": f"Bearer {cookie}"})
    assert as_bearer.status_code == 401
    token = app.token(Role.ADMIN, f"api-admin-{uuid.uuid4().hex[:8]}")
    with browser(app) as other:
        other.cookies.set(SESSION_COOKIE, token)
        assert other.get("/web/admin/").status_code == 303


def test_a_disabled_users_session_ends(app: AppServer, admin: tuple[httpx.Client, str]) -> None:
    name = person(app, "leaver")
    with browser(app) as client:
        login(client, name, PASSWORD)
        boss, csrf = admin
        page = boss.get(f"/web/admin/users/{name}")
        assert page.status_code == 200
        body = {"csrf_token": csrf, "full_name": name, "email": "", "credit_limit": "0.00"}
        assert boss.post(f"/web/admin/users/{name}", data=body).status_code == 303
        # The session check is cached for up to 5 s.
        wait_for(lambda: client.get("/web/portal/").status_code == 303, "the session to end", 8)


def test_pages_carry_strict_headers_and_assets_are_local(
    app: AppServer, admin: tuple[httpx.Client, str]
) -> None:
    client, _ = admin
    page = client.get("/web/admin/")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert "<script>" not in page.text
    assert "http://" not in page.text.replace(app.url, "")
    assert "https://" not in page.text
    for name in ("htmx.min.js", "printwarden.css"):
        assert httpx.get(f"{app.url}/web/static/{name}").status_code == 200
    assert httpx.get(f"{app.url}/web/static/..%2Fsessions.py").status_code == 404
    cookie = next(c for c in client.cookies.jar if c.name == SESSION_COOKIE)
    assert cookie.has_nonstandard_attr("HttpOnly")


def test_top_up_with_comment_once_per_form_and_history(
    app: AppServer, admin: tuple[httpx.Client, str]
) -> None:
    client, csrf = admin
    name = f"topped-{uuid.uuid4().hex[:8]}"
    created = client.post("/web/admin/users", data={"csrf_token": csrf, "username": name,
                                                    "full_name": "Topped Up"})  # fmt: skip
    assert created.status_code == 303
    page = client.get(created.headers["location"])
    assert "User created." in page.text
    form = {
        "csrf_token": csrf,
        "txn_id": _field(page.text, "txn_id"),
        "back": _field(page.text, "back"),
        "kind": "top-up",
        "amount": "12.50",
        "comment": "cash at the desk",
    }
    action = _action(page.text, "balance-form")
    for _ in range(2):  # a double submit of one form
        answer = client.post(action, data=form)
        assert answer.status_code == 303, answer.text
    shown = client.get(answer.headers["location"])
    assert 'id="balance">$12.50<' in shown.text
    assert "cash at the desk" in shown.text
    assert shown.text.count("top-up") == 1 + 1  # the history row and the form's option
    csv = client.get("/web/admin/jobs.csv")
    assert csv.status_code == 200
    assert csv.text.startswith("printed_at,username,printer")


def test_another_users_held_job_is_not_found(user: tuple[httpx.Client, str]) -> None:
    client, csrf = user
    ref = PARAMS["job_ref"]
    for action in ("release", "cancel"):
        data = {"csrf_token": csrf, "printer": "any"}
        response = client.post(f"/web/portal/held-jobs/{ref}/{action}", data=data)
        assert response.status_code == 404, response.text


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found is not None, name
    return found.group(1)


def _action(html: str, form_id: str) -> str:
    found = re.search(rf'<form method="post" action="([^"]+)"[^>]*id="{form_id}"', html)
    assert found is not None, form_id
    return found.group(1)

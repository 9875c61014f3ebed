"""Who may call what: every route of the API against every role, on a real App Server.

The table below is written by hand from the API's intent, not read from the code; a route the
OpenAPI document lists without an entry here fails ``test_the_table_covers_every_route``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.store import tokens, users
from printwarden.testing.inprocess import InProcessAppServer

PREFIX = "/api/v1"
ANONYMOUS = "anonymous"
ROLES = (ANONYMOUS, "admin", "user", "site", "provider", "device", "client")
PROBLEM_JSON = "application/problem+json"

EVERYONE = frozenset(ROLES)
ADMIN = frozenset({"admin"})
PEOPLE = frozenset({"admin", "user"})
REGISTRY_READERS = frozenset({"admin", "provider", "site", "device"})
PRINTING_COMPONENTS = frozenset({"provider", "site"})
AUTHENTICATING_COMPONENTS = frozenset({"device", "provider", "site"})
USERS = frozenset({"user"})
CLIENTS = frozenset({"user", "client"})  # a User Client's token, or the person's session
SITES = frozenset({"site"})
SITE_SCOPE = "north"  # the site token's site in the role_tokens fixture
PROVIDER_NAME = "authz-provider"  # the provider the role_tokens fixture's token is bound to
PROVIDERS = frozenset({"provider"})
DEVICES = frozenset({"device"})

EXPECTED: dict[tuple[str, str], frozenset[str]] = {
    # open to all; a token, if sent, is not needed
    ("GET", "/api/v1/health"): EVERYONE,
    ("POST", "/api/v1/auth/login"): EVERYONE,
    # sessions and self-service
    ("POST", "/api/v1/auth/logout"): PEOPLE,  # components are revoked by admins only
    ("GET", "/api/v1/me"): PEOPLE,
    ("GET", "/api/v1/me/transactions"): PEOPLE,
    # users and groups
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("GET", "/api/v1/users/{username}"): ADMIN,
    ("PATCH", "/api/v1/users/{username}"): ADMIN,
    ("DELETE", "/api/v1/users/{username}"): ADMIN,
    ("POST", "/api/v1/users/import"): ADMIN,
    ("GET", "/api/v1/groups"): ADMIN,
    ("POST", "/api/v1/groups"): ADMIN,
    ("DELETE", "/api/v1/groups/{name}"): ADMIN,
    # accounts and the ledger
    ("GET", "/api/v1/accounts"): ADMIN,
    ("POST", "/api/v1/accounts"): ADMIN,
    ("GET", "/api/v1/accounts/{name}"): ADMIN,
    ("PATCH", "/api/v1/accounts/{name}"): ADMIN,
    ("DELETE", "/api/v1/accounts/{name}"): ADMIN,
    ("POST", "/api/v1/accounts/by-id/{account_id}/top-up"): ADMIN,
    ("POST", "/api/v1/accounts/by-id/{account_id}/adjust"): ADMIN,
    ("GET", "/api/v1/transactions"): ADMIN,
    # the printer and device registry: read by components, written by admins
    ("GET", "/api/v1/printers"): REGISTRY_READERS,
    ("POST", "/api/v1/printers"): ADMIN,
    ("GET", "/api/v1/printers/{name}"): REGISTRY_READERS,
    ("PATCH", "/api/v1/printers/{name}"): ADMIN,
    ("DELETE", "/api/v1/printers/{name}"): ADMIN,
    ("GET", "/api/v1/devices"): REGISTRY_READERS,
    ("POST", "/api/v1/devices"): ADMIN,
    ("GET", "/api/v1/devices/{name}"): REGISTRY_READERS,
    ("PATCH", "/api/v1/devices/{name}"): ADMIN,
    ("DELETE", "/api/v1/devices/{name}"): ADMIN,
    # printing
    ("POST", "/api/v1/jobs/decision"): PRINTING_COMPONENTS,
    ("POST", "/api/v1/jobs/printed"): PRINTING_COMPONENTS,
    ("POST", "/api/v1/jobs/reattribute"): ADMIN,
    ("POST", "/api/v1/auth/device"): AUTHENTICATING_COMPONENTS,
    ("POST", "/api/v1/providers/register"): PROVIDERS,
    ("GET", "/api/v1/providers/{name}/orders"): PROVIDERS,  # its own name only
    ("POST", "/api/v1/providers/{name}/orders/results"): PROVIDERS,
    ("GET", "/api/v1/providers/{name}/submissions"): PROVIDERS,  # its own name only
    ("GET", "/api/v1/providers/{name}/submissions/{submission_id}/document"): PROVIDERS,
    ("POST", "/api/v1/providers/{name}/submissions/results"): PROVIDERS,
    # sites: defined by admins; each Site Server reaches only its own site
    ("POST", "/api/v1/sites"): ADMIN,
    ("GET", "/api/v1/sites"): ADMIN,
    ("GET", "/api/v1/sites/{name}"): ADMIN,
    ("PUT", "/api/v1/sites/{name}/forced-offline"): ADMIN,
    ("GET", "/api/v1/sites/{name}/rejections"): ADMIN,
    ("POST", "/api/v1/sites/{name}/rekey"): ADMIN,
    ("GET", "/api/v1/sites/{name}/keys"): SITES,
    ("POST", "/api/v1/sites/{name}/status"): SITES,
    ("GET", "/api/v1/sites/{name}/changes"): SITES,
    ("POST", "/api/v1/sites/{name}/journal"): SITES,
    ("GET", "/api/v1/offline-policies"): ADMIN,
    ("PUT", "/api/v1/offline-policies"): ADMIN,
    ("GET", "/api/v1/filters"): ADMIN,
    ("PUT", "/api/v1/filters"): ADMIN,
    ("DELETE", "/api/v1/filters"): ADMIN,
    ("GET", "/api/v1/scripts"): ADMIN,
    ("PUT", "/api/v1/scripts"): ADMIN,
    ("DELETE", "/api/v1/scripts"): ADMIN,
    ("GET", "/api/v1/scripts/errors"): ADMIN,
    ("POST", "/api/v1/scripts/test"): ADMIN,
    ("GET", "/api/v1/topups"): ADMIN,
    ("PUT", "/api/v1/topups"): ADMIN,
    # held jobs: providers report them; people manage their own (admins anyone's)
    ("POST", "/api/v1/held-jobs/reports"): PRINTING_COMPONENTS,
    ("GET", "/api/v1/held-jobs"): ADMIN,
    ("GET", "/api/v1/held-jobs/{job_ref}"): PEOPLE,
    ("POST", "/api/v1/held-jobs/{job_ref}/release"): PEOPLE,
    ("PATCH", "/api/v1/held-jobs/{job_ref}"): PEOPLE,
    ("POST", "/api/v1/held-jobs/{job_ref}/cancel"): PEOPLE,
    ("GET", "/api/v1/me/held-jobs"): USERS,
    ("POST", "/api/v1/me/held-jobs/release-all"): USERS,
    ("GET", "/api/v1/me/summary"): USERS,
    ("GET", "/api/v1/me/jobs"): USERS,
    ("GET", "/api/v1/me/delegates"): USERS,
    ("PUT", "/api/v1/me/delegates"): USERS,
    ("GET", "/api/v1/me/web-print/queues"): USERS,
    ("GET", "/api/v1/me/web-print"): USERS,
    ("POST", "/api/v1/me/web-print"): USERS,
    ("GET", "/api/v1/me/web-print/{submission_id}"): USERS,
    ("POST", "/api/v1/me/web-print/{submission_id}/cancel"): USERS,
    # the User Client: its events, questions and tokens; administrators' messages
    ("GET", "/api/v1/me/events"): CLIENTS,
    ("GET", "/api/v1/me/events/poll"): CLIENTS,
    ("GET", "/api/v1/me/questions"): CLIENTS,
    ("POST", "/api/v1/me/questions/{job}"): CLIENTS,
    ("GET", "/api/v1/me/client-tokens"): CLIENTS,
    ("DELETE", "/api/v1/me/client-tokens/{token_id}"): CLIENTS,
    ("POST", "/api/v1/messages"): ADMIN,
    ("GET", "/api/v1/users/{username}/client-tokens"): ADMIN,
    ("DELETE", "/api/v1/users/{username}/client-tokens/{token_id}"): ADMIN,
    # the device API: device tokens bound to a device
    ("GET", "/api/v1/device"): DEVICES,
    ("POST", "/api/v1/device/register"): DEVICES,
    ("POST", "/api/v1/device/sessions"): DEVICES,
    ("GET", "/api/v1/device/sessions/{session_id}"): DEVICES,
    ("DELETE", "/api/v1/device/sessions/{session_id}"): DEVICES,
    ("PUT", "/api/v1/device/sessions/{session_id}/account"): DEVICES,
    ("GET", "/api/v1/device/sessions/{session_id}/jobs"): DEVICES,
    ("PATCH", "/api/v1/device/sessions/{session_id}/jobs/{job_ref}"): DEVICES,
    ("POST", "/api/v1/device/sessions/{session_id}/jobs/{job_ref}/release"): DEVICES,
    ("POST", "/api/v1/device/sessions/{session_id}/jobs/{job_ref}/cancel"): DEVICES,
    ("POST", "/api/v1/device/sessions/{session_id}/release-all"): DEVICES,
    ("GET", "/api/v1/device/sessions/{session_id}/allowance"): DEVICES,
    ("POST", "/api/v1/device/sessions/{session_id}/usage"): DEVICES,
    ("GET", "/api/v1/providers"): ADMIN,
    # Integrated Scanning: devices scan with a session's person; people start scans at a
    # network scanner and see their own; administrators set the actions
    ("GET", "/api/v1/device/sessions/{session_id}/scan-actions"): DEVICES,
    ("POST", "/api/v1/device/sessions/{session_id}/scans"): DEVICES,
    ("GET", "/api/v1/device/scans/{scan_id}"): DEVICES,
    ("PUT", "/api/v1/device/scans/{scan_id}/pages/{number}"): DEVICES,
    ("POST", "/api/v1/device/scans/{scan_id}/finish"): DEVICES,
    ("DELETE", "/api/v1/device/scans/{scan_id}"): DEVICES,
    ("GET", "/api/v1/me/scans"): USERS,
    ("POST", "/api/v1/me/scans"): USERS,
    ("GET", "/api/v1/me/scan-devices"): USERS,
    ("GET", "/api/v1/scan-actions"): ADMIN,
    ("PUT", "/api/v1/scan-actions"): ADMIN,
    # component tokens and the directory
    ("GET", "/api/v1/tokens"): ADMIN,
    ("POST", "/api/v1/tokens"): ADMIN,
    ("DELETE", "/api/v1/tokens/{token_id}"): ADMIN,
    ("POST", "/api/v1/directory/sync"): ADMIN,
    # who submits at a provider; people's print URLs (token-url queues)
    ("POST", "/api/v1/jobs/submitter"): PRINTING_COMPONENTS,
    ("POST", "/api/v1/users/{username}/print-tokens"): ADMIN,
    ("GET", "/api/v1/users/{username}/print-tokens"): ADMIN,
    ("DELETE", "/api/v1/users/{username}/print-tokens/{token_id}"): ADMIN,
    ("POST", "/api/v1/me/print-tokens"): PEOPLE,
    ("GET", "/api/v1/me/print-tokens"): PEOPLE,
    ("DELETE", "/api/v1/me/print-tokens/{token_id}"): PEOPLE,
    # failed logins and lockouts
    ("GET", "/api/v1/lockouts"): ADMIN,
    ("DELETE", "/api/v1/lockouts/{key}"): ADMIN,
    # unicast DNS-SD: what the zone holds, and the zone file
    ("GET", "/api/v1/dns-sd"): ADMIN,
    ("GET", "/api/v1/dns-sd/zone"): ADMIN,
    # top-up cards: administrators make batches; people redeem, themselves or at a device
    ("POST", "/api/v1/topup-cards/batches"): ADMIN,
    ("GET", "/api/v1/topup-cards/batches"): ADMIN,
    ("POST", "/api/v1/topup-cards/batches/{batch_id}/expire"): ADMIN,
    ("POST", "/api/v1/me/topup-cards/redeem"): USERS,
    ("POST", "/api/v1/device/sessions/{session_id}/topup-cards/redeem"): DEVICES,
    # cash kiosks: the kiosk's bridge (a device token); administrators empty the box
    ("GET", "/api/v1/device/kiosk"): DEVICES,
    ("POST", "/api/v1/device/kiosk/insertions"): DEVICES,
    ("GET", "/api/v1/kiosks/{name}/cash-box"): ADMIN,
    ("POST", "/api/v1/kiosks/{name}/collections"): ADMIN,
    ("GET", "/api/v1/kiosks/{name}/collections"): ADMIN,
    # online payments: people pay; gateways notify (signed bodies, no token); the log
    ("GET", "/api/v1/me/payment-options"): USERS,
    ("POST", "/api/v1/me/payments"): USERS,
    ("GET", "/api/v1/me/payments"): USERS,
    ("GET", "/api/v1/me/payments/{payment_id}"): USERS,
    ("POST", "/api/v1/payments/{gateway}/notify"): EVERYONE,
    ("GET", "/api/v1/payments"): ADMIN,
    ("GET", "/api/v1/payment-events"): ADMIN,
    # refunds: people ask, administrators decide
    ("POST", "/api/v1/me/refund-requests"): USERS,
    ("GET", "/api/v1/me/refund-requests"): USERS,
    ("GET", "/api/v1/refund-requests"): ADMIN,
    ("POST", "/api/v1/refund-requests/{request_id}/approve"): ADMIN,
    ("POST", "/api/v1/refund-requests/{request_id}/refuse"): ADMIN,
}

# Path parameters that name nothing: allowed callers get 404 or 422, never a change.
DUMMY_PARAMS = {
    "username": "no-such-user-authz",
    "name": "no-such-thing-authz",
    "account_id": "987654321",
    "token_id": "987654321",
    "job_ref": "01900000-0000-7000-8000-000000000000",
    "submission_id": "01900000-0000-7000-8000-000000000000",
    "job": "01900000-0000-7000-8000-000000000000",
    "session_id": "01900000-0000-7000-8000-000000000001",
    "key": "user:no-such-user-authz",
    "scan_id": "01900000-0000-7000-8000-000000000002",
    "batch_id": "no-such-batch-authz",
    "payment_id": "pay_no-such-payment-authz",
    "gateway": "no-such-gateway",
    "request_id": "987654321",
    "number": "1",
}
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}

CASES = [
    pytest.param(method, path, role, id=f"{method} {path.removeprefix(PREFIX)} as {role}")
    for method, path in EXPECTED
    for role in ROLES
]


@pytest.fixture(scope="session")
def http(app_server: InProcessAppServer) -> Iterator[httpx.Client]:
    """A client without credentials; each request brings its own."""
    with app_server.client(under="") as client:
        yield client


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def fresh_name(base: str) -> str:
    return f"{base}-{uuid.uuid4().hex[:10]}"


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["status"] == status


def assert_unauthorized(response: httpx.Response) -> None:
    assert_problem(response, 401)
    assert response.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_the_table_covers_every_route(http: httpx.Client) -> None:
    document = http.get("/openapi.json").json()
    listed = {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }
    assert set(EXPECTED) == listed
    for allowed in EXPECTED.values():
        assert allowed <= EVERYONE


@pytest.mark.parametrize(("method", "path", "role"), CASES)
def test_authorization_matrix(
    http: httpx.Client,
    app_server: InProcessAppServer,
    role_tokens: dict[Role, str],
    method: str,
    path: str,
    role: str,
) -> None:
    allowed = role in EXPECTED[(method, path)]
    token = None if role == ANONYMOUS else role_tokens[Role(role)]
    if path.endswith("/auth/logout") and token is not None:
        # Log out a token of its own, so the shared token of this role stays valid.
        token = app_server.token(Role(role), fresh_name(f"logout-{role}"))
    body: dict[str, object] | None = {} if method in ("POST", "PATCH", "PUT") else None
    params = dict(DUMMY_PARAMS)
    if role == "site" and path.startswith(f"{PREFIX}/sites/"):
        params["name"] = SITE_SCOPE  # its own site (which does not exist: 404, not 403)
    if role == "provider" and path.startswith(f"{PREFIX}/providers/"):
        params["name"] = PROVIDER_NAME  # its own (not registered: 404, not 403)
    url = path.format(**params)

    response = http.request(method, url, json=body, headers=bearer(token))

    if not allowed:
        if role == ANONYMOUS:
            assert_unauthorized(response)
        else:
            assert_problem(response, 403)
        return
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text
    if path.endswith("/auth/logout") and token is not None:
        assert response.status_code == 204
        assert_unauthorized(http.get(f"{PREFIX}/me", headers=bearer(token)))


@pytest.mark.parametrize("role", [Role.SITE, Role.PROVIDER, Role.DEVICE])
def test_a_component_token_cannot_log_itself_out_and_stays_valid(
    http: httpx.Client, app_server: InProcessAppServer, role: Role
) -> None:
    if role is Role.DEVICE:
        token = app_server.device_token(fresh_name("logout-device"))
    else:
        scope = SITE_SCOPE if role is Role.SITE else f"provider:{fresh_name('logout')}"
        token = app_server.token(role, scope=scope)
    assert http.get(f"{PREFIX}/printers", headers=bearer(token)).status_code == 200

    answer = http.post(f"{PREFIX}/auth/logout", headers=bearer(token))

    assert_problem(answer, 403)
    time.sleep(0.1)
    assert http.get(f"{PREFIX}/printers", headers=bearer(token)).status_code == 200
    database = app_server.database()
    try:
        with database.read() as session:
            assert tokens.resolve_token(session, token) is not None  # not revoked
    finally:
        database.dispose()


def test_a_garbage_token_is_unauthorized(http: httpx.Client) -> None:
    for path in ("/me", "/users", "/printers", "/tokens"):
        for headers in (
            bearer("garbage-" + uuid.uuid4().hex),
            bearer("pw_admin_" + uuid.uuid4().hex),
            {"Authorization": "Basic YWRtaW46YWRtaW4="},
            {"Authorization": "Bearer"},
        ):
            response = http.get(f"{PREFIX}{path}", headers=headers)
            assert_unauthorized(response)


def test_a_revoked_component_token_stops_working_at_once(
    http: httpx.Client, role_tokens: dict[Role, str]
) -> None:
    admin = bearer(role_tokens[Role.ADMIN])
    created = http.post(
        f"{PREFIX}/tokens", json={"role": "provider", "name": fresh_name("revoke")}, headers=admin
    )
    assert created.status_code == 201, created.text
    token, token_id = created.json()["token"], created.json()["id"]
    provider = bearer(token)
    assert http.get(f"{PREFIX}/printers", headers=provider).status_code == 200  # now cached

    revoked = http.delete(f"{PREFIX}/tokens/{token_id}", headers=admin)
    assert revoked.status_code == 204, revoked.text

    assert_unauthorized(http.get(f"{PREFIX}/printers", headers=provider))
    assert_unauthorized(http.post(f"{PREFIX}/jobs/decision", json={}, headers=provider))
    listed = {t["id"]: t for t in http.get(f"{PREFIX}/tokens", headers=admin).json()}
    assert listed[token_id]["revoked_at"] is not None


def _session_token(app_server: InProcessAppServer, lifetime: timedelta) -> tuple[str, datetime]:
    """A user session token expiring ``lifetime`` from now, and its expiry."""
    database = app_server.database()
    try:
        with database.session() as session:
            key = app_server.settings().resolved_secret()
            row = users.create_user(session, key, fresh_name("expiring"), users.UserChanges())
            token, token_row = tokens.issue_token(
                session, Role.USER, name="test", user_id=row.id, lifetime=lifetime
            )
            assert token_row.expires_at is not None
            return token, token_row.expires_at
    finally:
        database.dispose()


def test_an_expired_session_token_is_rejected(
    http: httpx.Client, app_server: InProcessAppServer
) -> None:
    expired, _ = _session_token(app_server, timedelta(seconds=-1))
    assert_unauthorized(http.get(f"{PREFIX}/me", headers=bearer(expired)))


def test_a_session_token_stops_working_when_it_expires(
    http: httpx.Client, app_server: InProcessAppServer
) -> None:
    token, expires_at = _session_token(app_server, timedelta(seconds=1.5))
    assert http.get(f"{PREFIX}/me", headers=bearer(token)).status_code == 200  # now cached
    time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.2)
    assert_unauthorized(http.get(f"{PREFIX}/me", headers=bearer(token)))


def test_a_disabled_users_session_stops_working(
    http: httpx.Client, role_tokens: dict[Role, str]
) -> None:
    admin = bearer(role_tokens[Role.ADMIN])
    username, password = fresh_name("disabled"), "correct horse battery"
    created = http.post(
        f"{PREFIX}/users", json={"username": username, "password": password}, headers=admin
    )
    assert created.status_code == 201, created.text
    login = http.post(f"{PREFIX}/auth/login", json={"username": username, "password": password})
    assert login.status_code == 200, login.text
    session = bearer(login.json()["token"])
    assert http.get(f"{PREFIX}/me", headers=session).status_code == 200  # now cached

    disabled = http.patch(f"{PREFIX}/users/{username}", json={"enabled": False}, headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False

    assert_unauthorized(http.get(f"{PREFIX}/me", headers=session))
    assert_unauthorized(http.get(f"{PREFIX}/me/transactions", headers=session))
    relogin = http.post(f"{PREFIX}/auth/login", json={"username": username, "password": password})
    assert_problem(relogin, 401)

"""The provider's, the devices' and the Site Server's clients over the API client core, against
httpx.MockTransport: the bodies they send (as they were built by hand before) and the errors
their callers decide on (a 5xx or no answer is an outage; a 4xx is a refusal)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from printwarden.devices.client import DeviceApiError, DeviceApiUnavailable, DeviceClient, Session
from printwarden.provider.service_client import (
    JobQuestion,
    LoginThrottled,
    ServerRefused,
    ServerUnreachable,
    ServiceClient,
)
from printwarden.site.upstream import Upstream, UpstreamError, UpstreamRefused

Handler = Callable[[httpx.Request], httpx.Response]
NOW = "2025-01-02T03:04:05.678901Z"


class Server:
    """Records each request and answers with ``answer`` (a response, or an error to raise)."""

    def __init__(self, answer: httpx.Response | type[httpx.TransportError]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if isinstance(self.answer, httpx.Response):
            return self.answer
        raise self.answer("no route to host", request=request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


def problem(code: int, detail: str, **headers: str) -> httpx.Response:
    body = {"type": "about:blank", "title": "Refused", "status": code, "detail": detail}
    return httpx.Response(code, json=body, headers=headers)


# --- the provider ---------------------------------------------------------------------------


def provider(server: Server) -> ServiceClient:
    return ServiceClient("http://hq.test/", "provider-token", transport=server.transport)


QUESTION = JobQuestion(
    username="ann", printer="p1", pages=None, colour_pages=0, copies=2, duplex=True,
    paper_size="A4", account="lab", job_ref="job-1", released=True,
    facts={"document_name": "a.pdf", "document_format": "application/pdf",
           "document_hash": "ab", "size": 10, "paper_sizes": ["A4"], "default_paper": "A4"},
    decided={"cost_override": 5},
)  # fmt: skip
USAGE = {"username": "ann", "printer": "p1", "pages": None, "colour_pages": 0, "copies": 2,
         "duplex": True, "paper_size": "A4", "account": "lab", "job_ref": "job-1"}  # fmt: skip
DECISION = {"verdict": "allow", "cost": 20, "reason": "", "account_id": 3, "account": "lab",
            "balance": 80, "conversion": {"grayscale": True, "duplex": False, "nup": 2,
                                          "fit_to": ""}}  # fmt: skip
TRANSACTION = {"seq": 1, "txn_id": "t", "account_id": 3, "amount": -5, "kind": "print",
               "reference": "job-1", "origin": "app", "created_at": NOW, "comment": ""}  # fmt: skip


def test_the_provider_asks_for_a_decision_with_the_fields_it_always_sent() -> None:
    server = Server(httpx.Response(200, json=DECISION))
    answer = provider(server).decide(QUESTION)
    request = server.requests[0]
    assert (request.method, request.url.path) == ("POST", "/api/v1/jobs/decision")
    assert request.headers["authorization"] == "Bearer provider-token"
    assert server.body() == {**USAGE, **QUESTION.facts, "released": True}
    assert (answer.verdict, answer.cost, answer.account) == ("allow", 20, "lab")
    assert answer.account_id == 3
    assert answer.conversion == DECISION["conversion"]
    assert (answer.cost_override, answer.charge_account_id, answer.denied_by) == (None, None, "")


def test_the_provider_reports_a_printed_job_with_the_fields_it_always_sent() -> None:
    answer = {"job_ref": "job-1", "cost": 5, "account_id": 3, "balance": 75,
              "transaction": TRANSACTION, "duplicate": False}  # fmt: skip
    server = Server(httpx.Response(200, json=answer))
    cost = provider(server).printed(QUESTION, "txn-1", "x" * 300, "2025-01-02T03:04:05+00:00")
    assert cost == 5
    assert server.body() == {**USAGE, "cost_override": 5, "pages": 0, "txn_id": "txn-1",
                             "document_name": "x" * 256,
                             "printed_at": "2025-01-02T03:04:05+00:00"}  # fmt: skip


@pytest.mark.parametrize("code", [500, 502, 503])
def test_a_server_fault_is_unreachable_to_the_provider(code: int) -> None:
    server = Server(problem(code, "down"))
    with pytest.raises(ServerUnreachable, match=f"/jobs/decision: server answered {code}"):
        provider(server).decide(QUESTION)


@pytest.mark.parametrize(
    "error", [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError]
)
def test_no_answer_is_unreachable_to_the_provider(error: type[httpx.TransportError]) -> None:
    with pytest.raises(ServerUnreachable, match=r"^/jobs/decision: no route to host$"):
        provider(Server(error)).decide(QUESTION)
    assert not provider(Server(error)).healthy()


def test_an_undecodable_answer_is_unreachable_to_the_provider() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        gzip = {"content-encoding": "gzip"}
        return httpx.Response(200, stream=httpx.ByteStream(b"not gzip"), headers=gzip)

    client = ServiceClient("http://hq.test", "t", transport=httpx.MockTransport(handler))
    with pytest.raises(ServerUnreachable, match=r"^/jobs/decision: Error -3"):
        client.decide(QUESTION)


def test_a_refusal_carries_the_problem_detail_and_a_retry_after_of_one_by_default() -> None:
    with pytest.raises(ServerRefused) as caught:
        provider(Server(problem(422, "body.username: too long"))).decide(QUESTION)
    assert (caught.value.status, caught.value.detail) == (422, "body.username: too long")
    assert caught.value.retry_after == 1
    untitled = httpx.Response(409, json={"title": "Conflict"})
    with pytest.raises(ServerRefused) as caught:
        provider(Server(untitled)).decide(QUESTION)
    assert caught.value.detail == "Conflict"  # no detail: the title
    with pytest.raises(ServerRefused) as caught:
        provider(Server(httpx.Response(400, text="bad"))).decide(QUESTION)
    assert caught.value.detail == "bad"  # no JSON: the text


def test_a_throttled_password_login_says_how_long_to_wait() -> None:
    server = Server(problem(429, "too many", **{"Retry-After": "12"}))
    with pytest.raises(LoginThrottled) as caught:
        provider(server).password_login("ann", "pw", "192.0.2.1")
    assert caught.value.retry_after == 12
    assert server.body() == {"method": "password", "username": "ann", "password": "pw",
                             "client_address": "192.0.2.1"}  # fmt: skip


def test_a_password_login_answers_who_the_server_says() -> None:
    answer = {"authenticated": True, "username": "Ann", "admin": True, "shared_accounts": []}
    login = provider(Server(httpx.Response(200, json=answer))).password_login("ann", "pw")
    assert login is not None
    assert (login.username, login.admin) == ("Ann", True)
    refused = Server(httpx.Response(200, json={"authenticated": False}))
    assert provider(refused).password_login("ann", "bad") is None


def test_the_provider_asks_about_a_submitter() -> None:
    answer = {"accepted": False, "reason": "unknown user", "known": False}
    server = Server(httpx.Response(200, json=answer))
    found = provider(server).submitter(print_token="tok")
    assert server.body() == {"username": "", "print_token": "tok"}
    assert (found.accepted, found.username, found.reason, found.known) == (
        False, "", "unknown user", False)  # fmt: skip


def test_the_provider_registers_reports_and_answers_orders_with_the_bodies_given() -> None:
    description = {"name": "prov", "ipp_url": "ipp://x/ipp/print", "control_url": "http://x",
                   "queues": [{"name": "q", "kind": "hold", "printer": "p1"}],
                   "printers": [{"name": "p1", "colour": False}]}  # fmt: skip
    server = Server(httpx.Response(200, json={"name": "prov", "unknown_printers": ["p1"]}))
    assert provider(server).register(description) == ["p1"]
    assert server.body() == description
    report = {"job_ref": "j", "provider_job_id": 4, "queue": "q", "queue_kind": "hold",
              "username": "ann", "submitted_at": "2025-01-02T03:04:05+00:00",
              "expires_at": "2025-01-02T07:04:05+00:00", "approval": "pending"}  # fmt: skip
    rejected = {"accepted": 0, "rejected": [{"job_ref": "j", "reason": "unknown queue"}]}
    server = Server(httpx.Response(200, json=rejected))
    assert provider(server).report_held("prov", [report]) == {"j": "unknown queue"}
    assert server.requests[0].url.path == "/api/v1/held-jobs/reports"
    assert server.body() == {"provider": "prov", "jobs": [report]}
    order = {"order_id": "o", "job_ref": "j", "provider_job_id": 4, "action": "explode"}
    server = Server(httpx.Response(200, json={"orders": [order]}))
    assert provider(server).orders("a/b") == [order]  # as sent, even an unknown action
    assert server.requests[0].url.raw_path == b"/api/v1/providers/a%2Fb/orders"
    results = [{"order_id": "o", "job_ref": "j", "outcome": "refused", "detail": "unknown"}]
    server = Server(httpx.Response(200, json={"applied": 0}))
    provider(server).order_results("prov", results)
    assert server.requests[0].url.path == "/api/v1/providers/prov/orders/results"
    assert server.body() == {"results": results}


def test_a_report_with_a_field_the_contract_lacks_is_a_mistake_not_a_request() -> None:
    server = Server(httpx.Response(200, json={"accepted": 1}))
    with pytest.raises(TypeError, match="no field colour"):
        provider(server).report_held("prov", [{"job_ref": "j", "colour": True}])
    assert server.requests == []


# --- devices --------------------------------------------------------------------------------

SESSION = {"session_id": "s1", "device": "mfd-1", "printer": "p1", "username": "ann",
           "full_name": "Ann", "account": "", "balance": 100, "restricted": False,
           "accounts": [{"name": "", "label": "Personal", "needs_pin": False}],
           "expires_at": NOW}  # fmt: skip


def device(server: Server, retries: int = 0) -> DeviceClient:
    return DeviceClient("http://hq.test", "device-token", retries=retries,
                        transport=server.transport)  # fmt: skip


def session() -> Session:
    return Session("s1", "mfd-1", "p1", "ann", "Ann", "", 100, False)


def test_a_device_logs_in_with_the_fields_it_always_sent() -> None:
    server = Server(httpx.Response(201, json=SESSION))
    found = device(server).login_card("0004711")
    assert server.body() == {"method": "card", "card_number": "0004711"}
    assert server.requests[0].headers["authorization"] == "Bearer device-token"
    assert (found.session_id, found.username, found.expires_at) == ("s1", "ann", NOW)
    assert found.accounts[0].label == "Personal"
    device(server).login_identity("42", "1234")
    assert server.body() == {"method": "identity", "identity_number": "42", "pin": "1234"}


def test_a_device_sends_only_the_settings_given() -> None:
    answer = {"name": "mfd-1", "kind": "mfd", "printer": "p1", "login_methods": ["card"],
              "session_idle_seconds": 60, "differs": []}  # fmt: skip
    server = Server(httpx.Response(200, json=answer))
    info = device(server).register(printer="p1")
    assert server.body() == {"printer": "p1"}
    assert (info.name, info.printer, info.login_methods) == ("mfd-1", "p1", ["card"])
    job = {"id": "j", "owner": "ann", "document_name": "a.pdf", "queue": "q",
           "queue_kind": "hold", "provider": "prov", "printer": "p1", "pages": 1,
           "colour_pages": 0, "copies": 3, "duplex": False, "grayscale": False,
           "paper_size": "A4", "document_format": "application/pdf", "size": 1,
           "submitted_at": NOW, "expires_at": NOW, "status": "held", "status_reason": "",
           "released_to": "", "compatible": None}  # fmt: skip
    server = Server(httpx.Response(200, json=job))
    changed = device(server).change(session(), "j", copies=3)
    assert (server.requests[0].method, server.requests[0].url.path) == (
        "PATCH", "/api/v1/device/sessions/s1/jobs/j")  # fmt: skip
    assert server.body() == {"copies": 3}
    assert (changed.copies, changed.submitted_at, changed.compatible) == (3, NOW, True)


def test_a_device_error_is_the_problem_and_no_answer_is_unavailable() -> None:
    with pytest.raises(DeviceApiError) as caught:
        device(Server(problem(403, "not at this device"))).refresh(session())
    assert (caught.value.status, caught.value.title, caught.value.detail) == (
        403, "Refused", "not at this device")  # fmt: skip
    with pytest.raises(DeviceApiError) as caught:
        device(Server(httpx.Response(503, text="busy"))).refresh(session())
    assert (caught.value.status, caught.value.title, caught.value.detail) == (
        503, "Service Unavailable", "busy")  # fmt: skip
    with pytest.raises(DeviceApiUnavailable, match=r"^no answer from http://hq.test/api/v1/: "):
        device(Server(httpx.ConnectError)).refresh(session())


def test_a_device_logout_of_an_ended_session_is_done() -> None:
    device(Server(problem(404, "no such session"))).logout(session())
    with pytest.raises(DeviceApiError):
        device(Server(problem(403, "no"))).logout(session())


def test_walk_up_usage_is_retried_under_the_same_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("printwarden.api.client.time.sleep", lambda _seconds: None)
    attempts: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(json.loads(request.content))
        if len(attempts) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"usage_id": attempts[0]["usage_id"], "cost": 4,
                                         "balance": 96})  # fmt: skip

    client = DeviceClient("http://hq.test", "t", transport=httpx.MockTransport(handler))
    usage = client.usage(session(), "copy", 2, 0, False, "A4")
    assert len(attempts) == 3
    assert attempts[0] == attempts[2]
    assert set(attempts[0]) == {"usage_id", "kind", "pages", "colour_pages", "duplex",
                                "paper_size"}  # fmt: skip
    assert (usage.cost, usage.balance) == (4, 96)


# --- the Site Server ------------------------------------------------------------------------

STATUS = {"site": "north", "url": "", "mode": "online", "mode_changes": 0,
          "journal_backlog": 0, "replica_seq": 7, "outages": [], "last_report": None}  # fmt: skip


def upstream(server: Server) -> Upstream:
    return Upstream("http://hq.test", "site-token", "north", transport=server.transport)


def test_the_heartbeat_sends_the_status_as_it_is_with_the_timeout_given() -> None:
    server = Server(httpx.Response(200, json={"forced_offline": True}))
    assert upstream(server).status(STATUS, 0.3).forced_offline is True
    request = server.requests[0]
    assert request.url.path == "/api/v1/sites/north/status"
    assert request.headers["authorization"] == "Bearer site-token"
    assert server.body() == STATUS
    assert request.extensions["timeout"]["read"] == 0.3


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ReadTimeout])
def test_no_answer_is_an_upstream_error_and_drops_the_connection(
    error: type[httpx.TransportError],
) -> None:
    site = upstream(Server(error))
    with pytest.raises(UpstreamError, match=f"^{error.__name__}: no route to host$"):
        site.status(STATUS, 0.75)
    assert site._local.client is None  # the next call opens a new connection


def test_a_server_fault_is_an_upstream_error_and_a_refusal_is_refused() -> None:
    with pytest.raises(UpstreamError, match=r"^/status: the App Server answered 502$"):
        upstream(Server(httpx.Response(502))).status(STATUS, 0.75)
    with pytest.raises(UpstreamRefused, match=r"^/keys: 403 not your site$"):
        upstream(Server(httpx.Response(403, text="not your site"))).keys()


def test_the_journal_upload_sends_the_entries_as_held_and_reads_the_report() -> None:
    entries = [{"id": "0190a0e0-0000-7000-8000-000000000001", "kind": "printed",
                "at": "2025-01-02 03:04:05", "body": {"pages": 2}}]  # fmt: skip
    report = {"entries": 1, "applied": 1, "already_applied": 0, "amounts": {"printed": -5},
              "unknown_users": [], "failure_mode_jobs": 0, "deficits": [], "notes": [],
              "rejected": [{"id": "x", "kind": "printed", "reason": "no"}]}  # fmt: skip
    server = Server(httpx.Response(200, json=report))
    found = upstream(server).upload(entries)
    assert server.body() == {"entries": entries}
    assert (found.applied, found.amounts, found.rejected) == (1, {"printed": -5},
                                                             report["rejected"])  # fmt: skip


def test_pages_of_changes_come_as_sent() -> None:
    page = {"schema_revision": "0013", "upto": 9, "more": False, "entities": [{"k": 1}],
            "at": 9, "next": None, "key_generation": 1}  # fmt: skip
    server = Server(httpx.Response(200, json=page))
    assert upstream(server).changes(3, 0.0) == page
    assert server.requests[0].url.params["since"] == "3"
    cursor: dict[str, Any] = {"at": 9, "kind": "users", "after": None}
    assert upstream(server).snapshot(cursor) == page
    assert dict(server.requests[1].url.params) == {"snapshot": "true", "limit": "10000",
                                                   "kind": "users", "at": "9"}  # fmt: skip

"""The API client core (printwarden.api.client) against httpx.MockTransport: the bearer token
and base URL, problem documents as ApiError, no answer as NoAnswer, retries, timeouts, and
bodies sent as built."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from printwarden.api import client as core
from printwarden.api.client import ApiClient, ApiError, NoAnswer, build, parse, to_json
from printwarden.api.jobs import JobDecisionIn, SubmitterOut

Handler = Callable[[httpx.Request], httpx.Response]


def api(handler: Handler, *, timeout: float = 5.0, retries: int = 0) -> ApiClient:
    mock = httpx.MockTransport(handler)
    return ApiClient("http://hq.test/api/v1", "secret-token", timeout=timeout, retries=retries,
                     transport=mock)  # fmt: skip


def problem(code: int, **fields: object) -> httpx.Response:
    """An answer with the problem document ``fields``."""
    kind = {"content-type": "application/problem+json"}
    return httpx.Response(code, json=fields, headers=kind)


def test_a_call_carries_the_bearer_token_to_a_path_under_the_base_url() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": True})

    api(handler).call("GET", "/health")
    assert seen[0].url == "http://hq.test/api/v1/health"
    assert seen[0].headers["authorization"] == "Bearer secret-token"


def test_a_problem_document_becomes_an_api_error_with_its_fields() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        found = problem(429, type="about:blank", title="Too many attempts", status=429,
                        detail="try later", retry_after=7)  # fmt: skip
        found.headers["Retry-After"] = "7"
        return found

    with pytest.raises(ApiError) as caught:
        api(handler).call("POST", "/auth/device", body={"method": "password"})
    error = caught.value
    assert (error.status, error.title, error.detail) == (429, "Too many attempts", "try later")
    assert error.retry_after == 7
    assert not error.server_fault
    assert error.problem is not None
    assert error.problem.model_extra == {"retry_after": 7}
    assert error.body is not None
    assert error.body["detail"] == "try later"


def test_an_error_without_a_problem_document_has_the_reason_and_the_text() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="upstream gone " * 40)

    with pytest.raises(ApiError) as caught:
        api(handler).call("GET", "/health")
    error = caught.value
    assert (error.status, error.title) == (502, "Bad Gateway")
    assert error.detail == ("upstream gone " * 40)[:200]
    assert error.text == "upstream gone " * 40
    assert error.server_fault
    assert error.problem is None
    assert error.body is None
    assert error.retry_after is None


def test_a_json_error_without_title_takes_the_reason_phrase() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, json={"detail": "no such user"})

    with pytest.raises(ApiError) as caught:
        api(handler).call("GET", "/users/x")
    assert (caught.value.title, caught.value.detail) == ("Not Found", "no such user")
    assert caught.value.problem is None  # not a valid problem document (no status)


def test_send_answers_whatever_the_status() -> None:
    def handler(_request: httpx.Request) -> httpx.Response:
        return problem(503, title="Service Unavailable", status=503)

    assert api(handler).send("GET", "/health").status_code == 503


def test_no_answer_is_no_answer_naming_the_server_and_the_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(NoAnswer) as caught:
        api(handler).call("GET", "/health")
    assert isinstance(caught.value.error, httpx.ConnectError)
    assert str(caught.value) == "no answer from http://hq.test/api/v1/: connection refused"


def test_a_timeout_is_no_answer() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("", request=request)

    with pytest.raises(NoAnswer) as caught:
        api(handler).send("GET", "/health")
    assert isinstance(caught.value.error, httpx.ReadTimeout)
    assert str(caught.value).endswith(": ReadTimeout")  # an empty message names the error


def test_the_client_timeout_applies_unless_a_call_sets_its_own() -> None:
    seen: list[dict[str, float | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={})

    client = api(handler, timeout=3.0)
    client.call("GET", "/health")
    client.call("GET", "/health", timeout=httpx.Timeout(0.75, connect=0.25))
    assert seen[0] == {"connect": 3.0, "read": 3.0, "write": 3.0, "pool": 3.0}
    assert seen[1] == {"connect": 0.25, "read": 0.75, "write": 0.75, "pool": 0.75}


def failing(times: int, attempts: list[int]) -> Handler:
    """Refuses the connection ``times`` times, then answers."""

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        if len(attempts) <= times:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"usage_id": "u", "cost": 1, "balance": 2})

    return handler


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    taken: list[float] = []
    monkeypatch.setattr("printwarden.api.client.time.sleep", taken.append)
    return taken


def test_a_retried_call_is_sent_again_after_no_answer_with_growing_pauses(
    pauses: list[float],
) -> None:
    attempts: list[int] = []
    response = api(failing(2, attempts), retries=2).call("POST", "/usage", retry=True)
    assert response.status_code == 200
    assert len(attempts) == 3
    assert pauses == [core.RETRY_PAUSE, 2 * core.RETRY_PAUSE]


def test_retries_end_in_no_answer(pauses: list[float]) -> None:
    attempts: list[int] = []
    with pytest.raises(NoAnswer):
        api(failing(5, attempts), retries=2).call("POST", "/usage", retry=True)
    assert len(attempts) == 3
    assert len(pauses) == 2


def test_a_call_not_marked_retry_is_sent_once(pauses: list[float]) -> None:
    attempts: list[int] = []
    with pytest.raises(NoAnswer):
        api(failing(1, attempts), retries=2).call("POST", "/jobs/printed")
    assert len(attempts) == 1
    assert pauses == []


def test_an_error_answer_is_not_retried(pauses: list[float]) -> None:
    attempts: list[int] = []

    def handler(_request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        return problem(500, title="Internal Server Error", status=500)

    with pytest.raises(ApiError):
        api(handler, retries=2).call("POST", "/usage", retry=True)
    assert len(attempts) == 1


def test_a_model_body_is_sent_as_built_not_validated_nor_completed() -> None:
    bodies: list[object] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={})

    # The server strips names and fills defaults; the client sends what it was given.
    body = JobDecisionIn.model_construct(username=" ann ", printer="p1", pages=None)
    api(handler).call("POST", "/jobs/decision", body=body)
    assert bodies == [{"username": " ann ", "printer": "p1", "pages": None}]


def test_build_refuses_a_field_the_model_lacks() -> None:
    assert to_json(build(JobDecisionIn, {"username": "ann"})) == {"username": "ann"}
    with pytest.raises(TypeError, match="no field colour"):
        build(JobDecisionIn, {"username": "ann", "colour": True})


def test_an_answer_is_read_with_its_model_ignoring_fields_it_does_not_know() -> None:
    response = httpx.Response(200, json={"accepted": True, "username": "ann", "later": 1})
    found = parse(SubmitterOut, response)
    assert (found.accepted, found.username, found.known) == (True, "ann", False)

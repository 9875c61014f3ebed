"""The client's calls to the server, other than the event stream: log in, answer a question,
list the open ones, revoke its own token. Errors carry the problem JSON's ``detail``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from printwarden.client.wire import Question, question

TIMEOUT = 15.0
LOGIN = "/api/v1/auth/login"
QUESTIONS = "/api/v1/me/questions"
CURRENT_TOKEN = "/api/v1/me/client-tokens/current"  # noqa: S105 (a path)


class ApiError(Exception):
    """The server refused (``status`` and its ``detail``), or could not be reached
    (``status`` 0)."""

    def __init__(self, status: int, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Login:
    """A client token and what the server said of it."""

    token: str
    role: str
    expires_at: str


@dataclass(frozen=True, slots=True)
class Answer:
    """An answer to a question: ``print`` (on ``account``, "" for personal) or ``cancel``."""

    action: str
    account: str = ""
    pin: str = ""
    comment: str = ""


def normalize_server(url: str) -> str:
    """``url`` without its trailing slash; a ValueError unless it is http(s)."""
    url = url.strip().rstrip("/")
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return url


def retry_after(response: httpx.Response) -> float | None:
    """The ``Retry-After`` header in seconds (its number form), if any."""
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def problem(response: httpx.Response) -> ApiError:
    """The error a non-2xx response means, with its problem JSON's ``detail`` (or title)."""
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or body.get("title") or "")
    if not detail:
        detail = f"HTTP {response.status_code} {response.reason_phrase}".strip()
    return ApiError(response.status_code, detail, retry_after(response))


class ClientApi:
    """The server at ``server`` (its base URL), with this client's ``token`` once logged in."""

    def __init__(
        self,
        server: str,
        token: str = "",
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = TIMEOUT,
    ) -> None:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=server, headers=headers, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def login(self, username: str, password: str, client: str) -> Login:
        """A client token for ``username`` on the computer named ``client``."""
        body = {"username": username, "password": password, "client": client}
        data = self._call("POST", LOGIN, json=body)
        if not isinstance(data, dict) or not data.get("token"):
            raise ApiError(502, "the server's login answer has no token")
        return Login(str(data["token"]), str(data.get("role", "")), str(data.get("expires_at", "")))

    def answer(self, job: str, answer: Answer) -> str:
        """Answer the question of ``job``; the outcome (``printing``, ``held``, ``canceled``)."""
        body = {
            "action": answer.action,
            "account": answer.account,
            "pin": answer.pin,
            "comment": answer.comment,
        }
        data = self._call("POST", f"{QUESTIONS}/{quote(job, safe='')}", json=body)
        return str(data.get("outcome", "")) if isinstance(data, dict) else ""

    def open_questions(self) -> list[Question]:
        """The questions that wait for an answer."""
        data = self._call("GET", QUESTIONS)
        items = data if isinstance(data, list) else []
        found = [question(item) for item in items if isinstance(item, dict)]
        return [item for item in found if item is not None]

    def revoke(self) -> None:
        """Revoke this client's own token."""
        self._call("DELETE", CURRENT_TOKEN)

    def _call(self, method: str, path: str, json: Any = None) -> Any:
        try:
            response = self._http.request(method, path, json=json)
        except httpx.HTTPError as error:
            raise ApiError(0, f"cannot reach the server: {error}") from error
        if not response.is_success:
            raise problem(response)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as error:
            raise ApiError(502, "the server's answer is not JSON") from error

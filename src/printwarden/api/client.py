"""The one client core of the App Server's API, under the provider's, the devices' and the
Site Server's clients.

A base URL and a bearer token, a default timeout (a call may set its own), retries after no
answer for the calls that are safe to send again, and two typed errors: :class:`NoAnswer`
when no answer came (refused, reset, timed out) and :class:`ApiError` when the server answered
4xx or 5xx (read from its RFC 9457 problem document). ``transport=`` takes any httpx
transport: ``httpx.MockTransport`` or ``httpx.ASGITransport`` in tests, a caller's own.

Bodies are API models. A request body is sent as built, not validated here: the server is
the one judge of what it takes, so a body it refuses is refused as before. An answer is read
with its model, ignoring fields a newer server added.
"""

from __future__ import annotations

import functools
import ssl
import time
from collections.abc import Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from printwarden.api.problems import ProblemOut

M = TypeVar("M", bound=BaseModel)

RETRY_PAUSE = 0.5  # seconds before the first retry; the n-th waits n times as long
Timeout = httpx.Timeout | float | None


class NoAnswer(Exception):
    """No answer came: connection refused or reset, a timeout (``error`` says which)."""

    def __init__(self, url: str, error: httpx.TransportError) -> None:
        super().__init__(f"no answer from {url}: {str(error) or type(error).__name__}")
        self.error = error


class ApiError(Exception):
    """The server answered 4xx or 5xx; ``problem`` is its problem document, when it sent one."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str = "",
        *,
        retry_after: int | None = None,
        problem: ProblemOut | None = None,
        body: Mapping[str, Any] | None = None,
        text: str = "",
    ) -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail
        self.retry_after = retry_after  # seconds, from ``Retry-After``; None if not given
        self.problem = problem
        self.body = body  # the answer's JSON object as sent (None: not a JSON object)
        self.text = text

    @property
    def server_fault(self) -> bool:
        """A 5xx: the server failed, not the request."""
        return self.status >= 500

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error ``response`` answers: title and detail from its problem document, else
        the status's reason phrase and the start of its text."""
        try:
            found = response.json()
        except ValueError:
            found = None
        retry = response.headers.get("retry-after", "")
        retry_after = int(retry) if retry.isdigit() else None
        if not isinstance(found, dict):
            return cls(response.status_code, response.reason_phrase, response.text[:200],
                       retry_after=retry_after, text=response.text)  # fmt: skip
        try:
            problem: ProblemOut | None = ProblemOut.model_validate(found)
        except ValueError:
            problem = None
        title = str(found.get("title") or response.reason_phrase)
        return cls(response.status_code, title, str(found.get("detail") or ""),
                   retry_after=retry_after, problem=problem, body=found,
                   text=response.text)  # fmt: skip


def to_json(body: BaseModel) -> Any:
    """A request body's JSON: the fields it was built with, their values as given."""
    return body.model_dump(mode="json", exclude_unset=True, warnings=False)


def build(model: type[M], fields: Mapping[str, Any]) -> M:
    """``model`` holding ``fields`` as they are (not validated: the server judges them); a
    field the model lacks is a mistake of the caller's."""
    unknown = fields.keys() - model.model_fields.keys()
    if unknown:
        raise TypeError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    return model.model_construct(**fields)


def parse(model: type[M], response: httpx.Response) -> M:
    """``response``'s body as ``model`` (fields the model does not know are ignored)."""
    return model.model_validate_json(response.content, extra="ignore")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client of this process (making one costs ~20 ms of CPU and
    ~0.8 MiB: a client made again after each failed call must not make its own)."""
    return httpx.create_ssl_context()


class ApiClient:
    """Calls of one bearer token to the API at ``base_url`` (e.g. ``…/api/v1``)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: Timeout = 5.0,
        retries: int = 0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retries = retries
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            transport=transport,
            verify=_tls(),
        )

    def close(self) -> None:
        self.http.close()

    def send(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """The server's answer, whatever its status; :class:`NoAnswer` if none came. Other
        httpx errors (e.g. an undecodable body) are raised as they are. ``timeout``: this
        call's own (None: the client's)."""
        content = to_json(body) if isinstance(body, BaseModel) else body
        limit = self.http.timeout if timeout is None else timeout
        try:
            return self.http.request(method, path, json=content, params=params, timeout=limit)
        except httpx.TransportError as exc:
            raise NoAnswer(str(self.http.base_url), exc) from None

    def call(
        self,
        method: str,
        path: str,
        *,
        body: BaseModel | Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        timeout: httpx.Timeout | None = None,
        retry: bool = False,
    ) -> httpx.Response:
        """A successful answer, else :class:`ApiError` (or :class:`NoAnswer`). With ``retry``
        (only for a request that is safe to send twice) no answer is tried again
        ``retries`` times, after a growing pause."""
        for attempt in range(self.retries if retry else 0):
            try:
                return self.call(method, path, body=body, params=params, timeout=timeout)
            except NoAnswer:
                time.sleep(RETRY_PAUSE * (attempt + 1))
        response = self.send(method, path, body=body, params=params, timeout=timeout)
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

"""The provider's side of the print service API (the App Server or, later, a Site Server)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


class ServerUnreachable(Exception):
    """No server answered (connection refused, timeout, 5xx): the provider is in failure mode."""


class ServerRefused(Exception):
    """The server answered with a client error (bad input, unknown user/printer…)."""

    def __init__(self, status: int, detail: str, retry_after: int = 0) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail, self.retry_after = status, detail, retry_after


class LoginThrottled(Exception):
    """The server refuses login attempts for this user or client for ``retry_after`` s."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Login:
    """A person the server authenticated."""

    username: str
    admin: bool = False


@dataclass(frozen=True, slots=True)
class Submitter:
    """The server's word on who submits a job: taken or not (and why), and as whom."""

    accepted: bool
    username: str
    reason: str = ""
    known: bool = False  # the server knows them: its answer may be reused for a while


@dataclass(frozen=True, slots=True)
class JobQuestion:
    """What the provider asks the server about a job."""

    username: str
    printer: str
    pages: int | None
    colour_pages: int
    copies: int
    duplex: bool
    paper_size: str
    account: str = ""
    job_ref: str = ""
    released: bool = False
    # For the decision only: the document (name, format, hash, size) and the printer's paper.
    facts: Mapping[str, Any] = field(default_factory=dict)
    # For the charge only: what the decision set (a print script's cost or account).
    decided: Mapping[str, Any] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        return {
            "username": self.username,
            "printer": self.printer,
            "pages": self.pages,
            "colour_pages": self.colour_pages,
            "copies": self.copies,
            "duplex": self.duplex,
            "paper_size": self.paper_size,
            "account": self.account,
            "job_ref": self.job_ref,
        }


@dataclass(frozen=True, slots=True)
class Answer:
    verdict: str
    cost: int
    reason: str
    account: str
    account_id: int = 0
    conversion: Mapping[str, Any] = field(default_factory=dict)
    cost_override: int | None = None
    approval: bool = False
    approver_group: str = ""
    charge_account_id: int | None = None
    denied_by: str = ""  # credit, account, printer, policy (attributes.denial_reasons)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Answer:
        return cls(
            verdict=data["verdict"],
            cost=data["cost"],
            reason=data["reason"],
            account=data["account"],
            account_id=int(data.get("account_id") or 0),
            conversion=dict(data.get("conversion") or {}),
            cost_override=data.get("cost_override"),
            approval=bool(data.get("approval")),
            approver_group=str(data.get("approver_group") or ""),
            charge_account_id=data.get("charge_account_id"),
            denied_by=str(data.get("denied_by") or ""),
        )


class ServiceClient:
    """Synchronous client of the print service with short timeouts."""

    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self.http.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", path, body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self.http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"{path}: {exc}") from None
        if response.status_code >= 500:
            raise ServerUnreachable(f"{path}: server answered {response.status_code}")
        if response.status_code >= 400:
            retry = response.headers.get("retry-after", "")
            wait = int(retry) if retry.isdigit() else 1
            raise ServerRefused(response.status_code, _detail(response), wait)
        result: dict[str, Any] = response.json()
        return result

    def decide(self, question: JobQuestion) -> Answer:
        """The server's verdict and cost for a job."""
        body = {**question.body(), **question.facts, "released": question.released}
        return Answer.from_json(self._post("/jobs/decision", body))

    def printed(
        self, question: JobQuestion, txn_id: str, document_name: str, printed_at: str
    ) -> int:
        """Report what printed; returns the cost charged (the original one on a replay)."""
        body = {
            **question.body(),
            **question.decided,
            "pages": question.pages or 0,
            "txn_id": txn_id,
            "document_name": document_name[:256],
            "printed_at": printed_at,
        }
        body["job_ref"] = question.job_ref
        return int(self._post("/jobs/printed", body)["cost"])

    def password_login(self, username: str, password: str, client: str = "") -> Login | None:
        """Who the server says this username and password are (for HTTP Basic on queues),
        from the IPP client at ``client``; None when it refuses them; :class:`LoginThrottled`
        while it refuses attempts for that user or client."""
        body = {"method": "password", "username": username, "password": password,
                "client_address": client[:64]}  # fmt: skip
        try:
            answer = self._post("/auth/device", body)
        except ServerRefused as exc:
            if exc.status == 429:
                raise LoginThrottled(exc.retry_after) from None
            raise
        if not answer.get("authenticated"):
            return None
        return Login(str(answer.get("username") or username), answer.get("admin") is True)

    def submitter(self, *, username: str = "", print_token: str = "") -> Submitter:
        """Whether the server takes jobs from ``username``, or whose ``print_token`` is."""
        body = {"username": username, "print_token": print_token}
        answer = self._post("/jobs/submitter", body)
        return Submitter(
            accepted=answer.get("accepted") is True,
            username=str(answer.get("username") or ""),
            reason=str(answer.get("reason") or ""),
            known=answer.get("known") is True,
        )

    def register(self, description: dict[str, Any]) -> list[str]:
        """Announce this provider's queues and printers; returns printers the server lacks."""
        return list(self._post("/providers/register", description)["unknown_printers"])

    def report_held(self, provider: str, jobs: list[dict[str, Any]]) -> dict[str, str]:
        """Tell the server about held jobs; returns ``{job_ref: reason}`` of those it refused."""
        data = self._post("/held-jobs/reports", {"provider": provider, "jobs": jobs})
        return {item["job_ref"]: item["reason"] for item in data.get("rejected", [])}

    def orders(self, provider: str) -> list[dict[str, Any]]:
        """The orders (release or cancel a held job) the server has for this provider."""
        found: list[dict[str, Any]] = self._call("GET", _orders_path(provider))["orders"]
        return found

    def order_results(self, provider: str, results: list[dict[str, Any]]) -> None:
        """Tell the server what became of its orders."""
        self._post(_orders_path(provider) + "/results", {"results": results})

    def healthy(self) -> bool:
        try:
            return self.http.get("/health").status_code == 200
        except httpx.HTTPError:
            return False


def _orders_path(provider: str) -> str:
    return f"/providers/{quote(provider, safe='')}/orders"


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json().get("detail") or response.json().get("title"))
    except ValueError:
        return response.text[:200]

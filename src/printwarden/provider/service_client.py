"""The provider's side of the print service API (the App Server or, later, a Site Server)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from printwarden.api.auth import DeviceLoginIn, DeviceLoginOut
from printwarden.api.client import ApiClient, ApiError, NoAnswer, build, parse
from printwarden.api.held_jobs import HeldJobReportIn, HeldJobReportsIn, HeldJobReportsOut
from printwarden.api.jobs import (
    JobDecisionIn,
    JobDecisionOut,
    JobPrintedIn,
    JobPrintedOut,
    SubmitterIn,
    SubmitterOut,
)
from printwarden.api.providers import (
    ProviderOrderResultsIn,
    ProviderRegisterIn,
    ProviderRegisterOut,
)
from printwarden.api.web_print import SubmissionResultsIn


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

    def usage(self) -> dict[str, Any]:
        """The fields both the decision and the charge carry."""
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

    def decision(self) -> JobDecisionIn:
        """The body of ``POST /jobs/decision``."""
        return build(JobDecisionIn, {**self.usage(), **self.facts, "released": self.released})

    def printed(self, txn_id: str, document_name: str, printed_at: str) -> JobPrintedIn:
        """The body of ``POST /jobs/printed`` (what printed, under ``txn_id``)."""
        fields = {
            **self.usage(),
            **self.decided,
            "pages": self.pages or 0,
            "txn_id": txn_id,
            "document_name": document_name[:256],
            "printed_at": printed_at,
            "job_ref": self.job_ref,
        }
        return build(JobPrintedIn, fields)


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
    def of(cls, found: JobDecisionOut) -> Answer:
        return cls(
            verdict=found.verdict,
            cost=found.cost,
            reason=found.reason,
            account=found.account,
            account_id=found.account_id,
            conversion=found.conversion.model_dump(),
            cost_override=found.cost_override,
            approval=found.approval,
            approver_group=found.approver_group,
            charge_account_id=found.charge_account_id,
            denied_by=found.denied_by,
        )


class ServiceClient:
    """Synchronous client of the print service with short timeouts: no answer, or a 5xx, is
    :class:`ServerUnreachable` (the provider's failure mode); a 4xx is :class:`ServerRefused`."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout: float = 5.0,
        *,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api = ApiClient(
            base_url.rstrip("/") + "/api/v1", token, timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.api.close()

    def _call(self, method: str, path: str, body: BaseModel | None = None) -> httpx.Response:
        try:
            return self.api.call(method, path, body=body)
        except NoAnswer as exc:
            raise ServerUnreachable(f"{path}: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise ServerUnreachable(f"{path}: {exc}") from None
        except ApiError as exc:
            if exc.server_fault:
                raise ServerUnreachable(f"{path}: server answered {exc.status}") from None
            wait = 1 if exc.retry_after is None else exc.retry_after
            raise ServerRefused(exc.status, _detail(exc), wait) from None

    def decide(self, question: JobQuestion) -> Answer:
        """The server's verdict and cost for a job."""
        response = self._call("POST", "/jobs/decision", question.decision())
        return Answer.of(parse(JobDecisionOut, response))

    def printed(
        self, question: JobQuestion, txn_id: str, document_name: str, printed_at: str
    ) -> int:
        """Report what printed; returns the cost charged (the original one on a replay)."""
        body = question.printed(txn_id, document_name, printed_at)
        return parse(JobPrintedOut, self._call("POST", "/jobs/printed", body)).cost

    def password_login(self, username: str, password: str, client: str = "") -> Login | None:
        """Who the server says this username and password are (for HTTP Basic on queues),
        from the IPP client at ``client``; None when it refuses them; :class:`LoginThrottled`
        while it refuses attempts for that user or client."""
        body = DeviceLoginIn.model_construct(
            method="password", username=username, password=password, client_address=client[:64]
        )
        try:
            answer = parse(DeviceLoginOut, self._call("POST", "/auth/device", body))
        except ServerRefused as exc:
            if exc.status == 429:
                raise LoginThrottled(exc.retry_after) from None
            raise
        if not answer.authenticated:
            return None
        return Login(answer.username or username, answer.admin is True)

    def submitter(self, *, username: str = "", print_token: str = "") -> Submitter:
        """Whether the server takes jobs from ``username``, or whose ``print_token`` is."""
        body = SubmitterIn.model_construct(username=username, print_token=print_token)
        answer = parse(SubmitterOut, self._call("POST", "/jobs/submitter", body))
        return Submitter(answer.accepted, answer.username, answer.reason, answer.known)

    def register(self, description: dict[str, Any]) -> list[str]:
        """Announce this provider's queues and printers; returns printers the server lacks."""
        body = build(ProviderRegisterIn, description)
        return parse(
            ProviderRegisterOut, self._call("POST", "/providers/register", body)
        ).unknown_printers

    def report_held(self, provider: str, jobs: list[dict[str, Any]]) -> dict[str, str]:
        """Tell the server about held jobs; returns ``{job_ref: reason}`` of those it refused."""
        reports = [build(HeldJobReportIn, job) for job in jobs]
        body = HeldJobReportsIn.model_construct(provider=provider, jobs=reports)
        answer = parse(HeldJobReportsOut, self._call("POST", "/held-jobs/reports", body))
        return {item.job_ref: item.reason for item in answer.rejected}

    def orders(self, provider: str) -> list[dict[str, Any]]:
        """The orders (release or cancel a held job) the server has for this provider, as
        sent: the desk answers an order it does not know by refusing that one alone."""
        found: list[dict[str, Any]] = self._call("GET", _orders_path(provider)).json()["orders"]
        return found

    def order_results(self, provider: str, results: list[dict[str, Any]]) -> None:
        """Tell the server what became of its orders."""
        body = build(ProviderOrderResultsIn, {"results": results})
        self._call("POST", _orders_path(provider) + "/results", body)

    def submissions(self, provider: str) -> list[dict[str, Any]]:
        """The rendered Web Print and Email to Print documents waiting for this provider."""
        found: list[dict[str, Any]] = self._call("GET", _submissions_path(provider)).json()[
            "submissions"
        ]
        return found

    def submission_document(self, provider: str, submission_id: str) -> bytes:
        """The rendered PDF of one submission."""
        path = f"{_submissions_path(provider)}/{quote(submission_id, safe='')}/document"
        return self._call("GET", path).content

    def submission_results(self, provider: str, results: list[dict[str, Any]]) -> None:
        """Tell the server which submissions are spooled (their documents may go)."""
        body = build(SubmissionResultsIn, {"results": results})
        self._call("POST", _submissions_path(provider) + "/results", body)

    def healthy(self) -> bool:
        try:
            return self.api.send("GET", "/health").status_code == 200
        except (NoAnswer, httpx.HTTPError):
            return False


def _submissions_path(provider: str) -> str:
    return f"/providers/{quote(provider, safe='')}/submissions"


def _orders_path(provider: str) -> str:
    return f"/providers/{quote(provider, safe='')}/orders"


def _detail(error: ApiError) -> str:
    """The problem's detail, else its title (the start of the text if it sent no JSON)."""
    if error.body is None:
        return error.detail
    return str(error.body.get("detail") or error.body.get("title"))

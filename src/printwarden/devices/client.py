"""A synchronous client of the device API (``/api/v1/device…``, see docs/device-api.md).

Every call acts for the one device its token is bound to. Errors the server answers become
:class:`DeviceApiError` (from RFC 9457 problem documents); no answer at all becomes
:class:`DeviceApiUnavailable`.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

DEFAULT_TIMEOUT = 10.0
RETRY_PAUSE = 0.5


class DeviceApiUnavailable(Exception):
    """The server could not be reached (refused, reset, timed out)."""


class DeviceApiError(Exception):
    """The server answered with an error (a problem document)."""

    def __init__(self, status: int, title: str, detail: str = "") -> None:
        super().__init__(f"{status} {title}: {detail}" if detail else f"{status} {title}")
        self.status, self.title, self.detail = status, title, detail

    @property
    def message(self) -> str:
        """The most telling text: the detail, else the title."""
        return self.detail or self.title


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    name: str
    kind: str
    printer: str
    login_methods: list[str]
    session_idle_seconds: int


@dataclass(frozen=True, slots=True)
class AccountChoice:
    name: str
    label: str
    needs_pin: bool


@dataclass(frozen=True, slots=True)
class Session:
    """A person logged in at the device."""

    session_id: str
    device: str
    printer: str
    username: str
    full_name: str
    account: str
    balance: int
    restricted: bool
    accounts: list[AccountChoice] = field(default_factory=list)
    expires_at: str = ""


@dataclass(frozen=True, slots=True)
class HeldJob:
    """A job waiting for release (or what became of it)."""

    id: str
    owner: str
    document_name: str
    status: str
    queue: str = ""
    queue_kind: str = ""
    printer: str = ""
    pages: int | None = None
    colour_pages: int = 0
    copies: int = 1
    duplex: bool = False
    grayscale: bool = False
    paper_size: str = ""
    cost: int | None = None
    status_reason: str = ""
    released_to: str = ""
    submitted_at: str = ""
    compatible: bool = True
    incompatible_reason: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    id: str
    document_name: str
    reason: str


@dataclass(frozen=True, slots=True)
class ReleaseAll:
    released: list[HeldJob]
    refused: list[Refusal]


@dataclass(frozen=True, slots=True)
class Allowance:
    price_per_page: int
    allowed_pages: int | None  # None: not restricted


@dataclass(frozen=True, slots=True)
class Usage:
    usage_id: str
    cost: int
    balance: int


def _pick(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """The fields of ``cls`` present in ``data`` (the server may add fields)."""
    return {name: data[name] for name in cls.__dataclass_fields__ if name in data}


def _session(data: dict[str, Any]) -> Session:
    accounts = [AccountChoice(**_pick(AccountChoice, a)) for a in data.get("accounts", [])]
    return Session(**{**_pick(Session, data), "accounts": accounts})


def _job(data: dict[str, Any]) -> HeldJob:
    values = _pick(HeldJob, data)
    values["incompatible_reason"] = values.get("incompatible_reason") or ""
    values["compatible"] = values.get("compatible") is not False
    return HeldJob(**values)


def _problem(response: httpx.Response) -> DeviceApiError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return DeviceApiError(response.status_code, response.reason_phrase, response.text[:200])
    title = str(body.get("title") or response.reason_phrase)
    return DeviceApiError(response.status_code, title, str(body.get("detail") or ""))


class DeviceClient:
    """The device API for one device token; use as a context manager or call :meth:`close`."""

    def __init__(
        self, server: str, token: str, *, timeout: float = DEFAULT_TIMEOUT, retries: int = 2
    ) -> None:
        self.retries = retries
        self.http = httpx.Client(
            base_url=server.rstrip("/") + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            reason = str(exc) or type(exc).__name__
            raise DeviceApiUnavailable(f"no answer from {self.http.base_url}: {reason}") from None
        if response.status_code >= 400:
            raise _problem(response)
        return None if response.status_code == 204 or not response.content else response.json()

    # --- the device ---------------------------------------------------------------------------

    def device(self) -> DeviceInfo:
        """What the server knows about this device."""
        return DeviceInfo(**_pick(DeviceInfo, self._call("GET", "/device")))

    def register(
        self,
        kind: str | None = None,
        printer: str | None = None,
        login_methods: list[str] | None = None,
    ) -> DeviceInfo:
        """Tell the server what this device is and which printer it serves."""
        body = {"kind": kind, "printer": printer, "login_methods": login_methods}
        sent = {key: value for key, value in body.items() if value is not None}
        return DeviceInfo(**_pick(DeviceInfo, self._call("POST", "/device/register", json=sent)))

    # --- sessions -----------------------------------------------------------------------------

    def _login(self, body: dict[str, str]) -> Session:
        return _session(self._call("POST", "/device/sessions", json=body))

    def login_card(self, card: str) -> Session:
        return self._login({"method": "card", "card_number": card})

    def login_identity(self, number: str, pin: str) -> Session:
        return self._login({"method": "identity", "identity_number": number, "pin": pin})

    def login_password(self, username: str, password: str) -> Session:
        return self._login({"method": "password", "username": username, "password": password})

    def refresh(self, session: Session) -> Session:
        """The session as it is now (this also moves its idle timer on)."""
        return _session(self._call("GET", self._path(session)))

    def logout(self, session: Session) -> None:
        """End the session; one that already ended (404) counts as logged out."""
        try:
            self._call("DELETE", self._path(session))
        except DeviceApiError as exc:
            if exc.status != 404:
                raise

    def select_account(self, session: Session, name: str, pin: str = "") -> Session:
        """Charge what follows to ``name`` (``""``: the personal account)."""
        body = {"account": name, "pin": pin}
        return _session(self._call("PUT", self._path(session, "/account"), json=body))

    # --- held jobs ----------------------------------------------------------------------------

    def jobs(self, session: Session) -> list[HeldJob]:
        """The session user's held jobs, costed at this device's printer."""
        return [_job(j) for j in self._call("GET", self._path(session, "/jobs"))["jobs"]]

    def release(self, session: Session, job_id: str) -> HeldJob:
        return _job(self._call("POST", self._path(session, f"/jobs/{job_id}/release")))

    def release_all(self, session: Session) -> ReleaseAll:
        """Release all the user's own held and Find-Me jobs to this device's printer."""
        data = self._call("POST", self._path(session, "/release-all"))
        refused = [Refusal(**_pick(Refusal, r)) for r in data.get("refused", [])]
        return ReleaseAll([_job(j) for j in data.get("released", [])], refused)

    def cancel(self, session: Session, job_id: str) -> HeldJob:
        return _job(self._call("POST", self._path(session, f"/jobs/{job_id}/cancel")))

    def change(
        self,
        session: Session,
        job_id: str,
        copies: int | None = None,
        duplex: bool | None = None,
        grayscale: bool | None = None,
    ) -> HeldJob:
        """Change a held job's settings; only the given ones are sent."""
        body = {"copies": copies, "duplex": duplex, "grayscale": grayscale}
        sent = {key: value for key, value in body.items() if value is not None}
        return _job(self._call("PATCH", self._path(session, f"/jobs/{job_id}"), json=sent))

    # --- walk-up usage ------------------------------------------------------------------------

    def allowance(
        self, session: Session, kind: str, colour: bool, duplex: bool, paper_size: str
    ) -> Allowance:
        """The price per page and how many pages the session's account can pay for."""
        params = {
            "kind": kind,
            "colour": str(colour).lower(),
            "duplex": str(duplex).lower(),
            "paper_size": paper_size,
        }
        data = self._call("GET", self._path(session, "/allowance"), params=params)
        return Allowance(int(data["price_per_page"]), data.get("allowed_pages"))

    def usage(
        self,
        session: Session,
        kind: str,
        pages: int,
        colour_pages: int,
        duplex: bool,
        paper_size: str,
        usage_id: str | None = None,
    ) -> Usage:
        """Charge copy/scan/fax pages; retried on no answer under the same ``usage_id``."""
        body = {
            "usage_id": usage_id or str(uuid.uuid4()),
            "kind": kind,
            "pages": pages,
            "colour_pages": colour_pages,
            "duplex": duplex,
            "paper_size": paper_size,
        }
        data = self._retrying("POST", self._path(session, "/usage"), json=body)
        return Usage(str(data["usage_id"]), int(data["cost"]), int(data["balance"]))

    def _retrying(self, method: str, path: str, **kwargs: Any) -> Any:
        """``_call``, tried again after no answer (only for idempotent requests)."""
        for attempt in range(self.retries):
            try:
                return self._call(method, path, **kwargs)
            except DeviceApiUnavailable:
                time.sleep(RETRY_PAUSE * (attempt + 1))
        return self._call(method, path, **kwargs)

    @staticmethod
    def _path(session: Session, rest: str = "") -> str:
        return f"/device/sessions/{session.session_id}{rest}"

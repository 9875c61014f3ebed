"""A synchronous client of the device API (``/api/v1/device…``, see docs/device-api.md).

Every call acts for the one device its token is bound to. Errors the server answers become
:class:`DeviceApiError` (from RFC 9457 problem documents); no answer at all becomes
:class:`DeviceApiUnavailable`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import BaseModel

from printwarden.api.auth import DeviceLoginIn
from printwarden.api.client import ApiClient, ApiError, NoAnswer, build, parse
from printwarden.api.devices import (
    AllowanceOut,
    DeviceRegisterIn,
    DeviceRegisterOut,
    DeviceSessionOut,
    DeviceUsageIn,
    DeviceUsageOut,
    ReleaseAllOut,
    SessionAccountIn,
    ThisDeviceOut,
)
from printwarden.api.held_jobs import HeldJobChangeIn, HeldJobOut, HeldJobsOut
from printwarden.api.payments import RedeemedOut, RedeemIn

DEFAULT_TIMEOUT = 10.0


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
class AccountOption:
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
    accounts: list[AccountOption] = field(default_factory=list)
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


def _pick(cls: type[Any], found: BaseModel) -> dict[str, Any]:
    """The fields of ``cls`` in the answer ``found`` (timestamps as the server wrote them)."""
    data = found.model_dump(mode="json")
    return {name: data[name] for name in cls.__dataclass_fields__ if name in data}


def _device(found: ThisDeviceOut) -> DeviceInfo:
    return DeviceInfo(**_pick(DeviceInfo, found))


def _session(found: DeviceSessionOut) -> Session:
    accounts = [AccountOption(**_pick(AccountOption, a)) for a in found.accounts]
    return Session(**{**_pick(Session, found), "accounts": accounts})


def _job(found: HeldJobOut) -> HeldJob:
    values = _pick(HeldJob, found)
    values["incompatible_reason"] = values.get("incompatible_reason") or ""
    values["compatible"] = values.get("compatible") is not False
    return HeldJob(**values)


def _given(**fields: Any) -> dict[str, Any]:
    """The fields given a value (None: left out of the body)."""
    return {name: value for name, value in fields.items() if value is not None}


class DeviceClient:
    """The device API for one device token; use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        server: str,
        token: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = 2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.api = ApiClient(
            server.rstrip("/") + "/api/v1",
            token,
            timeout=timeout,
            retries=retries,
            transport=transport,
        )
        self.http = self.api.http  # the raw httpx client (tests call paths it has no method for)

    def __enter__(self) -> DeviceClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.api.close()

    def _call(
        self,
        method: str,
        path: str,
        body: BaseModel | None = None,
        params: dict[str, str] | None = None,
        *,
        retry: bool = False,
    ) -> httpx.Response:
        try:
            return self.api.call(method, path, body=body, params=params, retry=retry)
        except NoAnswer as exc:
            raise DeviceApiUnavailable(str(exc)) from None
        except ApiError as exc:
            raise DeviceApiError(exc.status, exc.title, exc.detail) from None

    # --- the device ---------------------------------------------------------------------------

    def device(self) -> DeviceInfo:
        """What the server knows about this device."""
        return _device(parse(ThisDeviceOut, self._call("GET", "/device")))

    def register(
        self,
        kind: str | None = None,
        printer: str | None = None,
        login_methods: list[str] | None = None,
    ) -> DeviceInfo:
        """Tell the server what this device is and which printer it serves."""
        given = _given(kind=kind, printer=printer, login_methods=login_methods)
        body = DeviceRegisterIn.model_construct(**given)
        return _device(parse(DeviceRegisterOut, self._call("POST", "/device/register", body)))

    # --- sessions -----------------------------------------------------------------------------

    def _login(self, body: DeviceLoginIn) -> Session:
        return _session(parse(DeviceSessionOut, self._call("POST", "/device/sessions", body)))

    def login_card(self, card: str) -> Session:
        return self._login(DeviceLoginIn.model_construct(method="card", card_number=card))

    def login_identity(self, number: str, pin: str) -> Session:
        body = DeviceLoginIn.model_construct(method="identity", identity_number=number, pin=pin)
        return self._login(body)

    def login_password(self, username: str, password: str) -> Session:
        body = DeviceLoginIn.model_construct(
            method="password", username=username, password=password
        )
        return self._login(body)

    def refresh(self, session: Session) -> Session:
        """The session as it is now (this also moves its idle timer on)."""
        return _session(parse(DeviceSessionOut, self._call("GET", self._path(session))))

    def logout(self, session: Session) -> None:
        """End the session; one that already ended (404) counts as logged out."""
        try:
            self._call("DELETE", self._path(session))
        except DeviceApiError as exc:
            if exc.status != 404:
                raise

    def select_account(self, session: Session, name: str, pin: str = "") -> Session:
        """Charge what follows to ``name`` (``""``: the personal account)."""
        body = SessionAccountIn.model_construct(account=name, pin=pin)
        answer = self._call("PUT", self._path(session, "/account"), body)
        return _session(parse(DeviceSessionOut, answer))

    def redeem(self, session: Session, code: str) -> int:
        """Redeem a top-up card for the person logged in; their balance after it."""
        body = RedeemIn.model_construct(code=code)
        answer = self._call("POST", self._path(session, "/topup-cards/redeem"), body)
        return parse(RedeemedOut, answer).balance

    # --- held jobs ----------------------------------------------------------------------------

    def jobs(self, session: Session) -> list[HeldJob]:
        """The session user's held jobs, costed at this device's printer."""
        found = parse(HeldJobsOut, self._call("GET", self._path(session, "/jobs")))
        return [_job(j) for j in found.jobs]

    def release(self, session: Session, job_id: str) -> HeldJob:
        answer = self._call("POST", self._path(session, f"/jobs/{job_id}/release"))
        return _job(parse(HeldJobOut, answer))

    def release_all(self, session: Session) -> ReleaseAll:
        """Release all the user's own held and Find-Me jobs to this device's printer."""
        found = parse(ReleaseAllOut, self._call("POST", self._path(session, "/release-all")))
        refused = [Refusal(**_pick(Refusal, r)) for r in found.refused]
        return ReleaseAll([_job(j) for j in found.released], refused)

    def cancel(self, session: Session, job_id: str) -> HeldJob:
        answer = self._call("POST", self._path(session, f"/jobs/{job_id}/cancel"))
        return _job(parse(HeldJobOut, answer))

    def change(
        self,
        session: Session,
        job_id: str,
        copies: int | None = None,
        duplex: bool | None = None,
        grayscale: bool | None = None,
    ) -> HeldJob:
        """Change a held job's settings; only the given ones are sent."""
        given = _given(copies=copies, duplex=duplex, grayscale=grayscale)
        body = HeldJobChangeIn.model_construct(**given)
        return _job(
            parse(HeldJobOut, self._call("PATCH", self._path(session, f"/jobs/{job_id}"), body))
        )

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
        answer = self._call("GET", self._path(session, "/allowance"), params=params)
        found = parse(AllowanceOut, answer)
        return Allowance(found.price_per_page, found.allowed_pages)

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
        fields = {
            "usage_id": usage_id or str(uuid.uuid4()),
            "kind": kind,
            "pages": pages,
            "colour_pages": colour_pages,
            "duplex": duplex,
            "paper_size": paper_size,
        }
        body = build(DeviceUsageIn, fields)
        answer = self._call("POST", self._path(session, "/usage"), body, retry=True)
        found = parse(DeviceUsageOut, answer)
        return Usage(found.usage_id, found.cost, found.balance)

    @staticmethod
    def _path(session: Session, rest: str = "") -> str:
        return f"/device/sessions/{session.session_id}{rest}"

"""Scanning through the device API, as an MFD app does it: the person's actions, a scan
started with one of them, its pages PUT one by one and then finished.

A page is sent again when no answer came (a PUT of a page replaces itself), for as long as
``patience`` allows: a Site Server restarted mid-scan is waited for, and the upload resumes
where the server's list of received pages says.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from printwarden.api.client import ApiError, NoAnswer, build, parse
from printwarden.api.scans import (
    ScanActionsOut,
    ScanFinishIn,
    ScanOut,
    ScanStartedOut,
    ScanStartIn,
)
from printwarden.devices.client import DeviceApiError, DeviceApiUnavailable, DeviceClient, Session

RETRY_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True, slots=True)
class ScanAction:
    name: str
    destination: str
    editable: list[str]
    defaults: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StartedScan:
    scan_id: str
    token: str
    allowed_pages: int | None
    max_pages: int


@dataclass(frozen=True, slots=True)
class ScanState:
    scan_id: str
    stage: str
    pages: int
    cost: int
    detail: str = ""
    pages_received: list[int] = field(default_factory=list)


class DeviceScans:
    """The scan calls of one device's client."""

    def __init__(self, client: DeviceClient, *, patience: float = 60.0) -> None:
        self.client, self.patience = client, patience
        self.latest: StartedScan | None = None  # the scan started last

    def actions(self, session: Session) -> list[ScanAction]:
        path = f"/device/sessions/{session.session_id}/scan-actions"
        found = parse(ScanActionsOut, self.client._call("GET", path))
        return [
            ScanAction(a.name, a.destination, a.editable, a.defaults.model_dump())
            for a in found.actions
        ]

    def start(self, session: Session, action: str, options: dict[str, Any]) -> StartedScan:
        body = build(ScanStartIn, {"action": action, "options": options})
        path = f"/device/sessions/{session.session_id}/scans"
        found = parse(ScanStartedOut, self.client._call("POST", path, body))
        self.latest = StartedScan(found.scan_id, found.upload_token, found.allowed_pages,
                                  found.max_pages)  # fmt: skip
        return self.latest

    def upload(self, scan: StartedScan, number: int, page: bytes) -> None:
        """Send page ``number`` (again, until it is kept or patience runs out)."""
        path = f"/device/scans/{scan.scan_id}/pages/{number}"
        self._patiently(lambda: self._send("PUT", path, scan, content=page))

    def status(self, scan: StartedScan) -> ScanState:
        path = f"/device/scans/{scan.scan_id}"
        return _state(self._patiently(lambda: self._send("GET", path, scan)))

    def finish(self, scan: StartedScan, pages: int) -> ScanState:
        """Finish (charged once however often it is sent)."""
        path = f"/device/scans/{scan.scan_id}/finish"
        body = build(ScanFinishIn, {"pages": pages}).model_dump()
        return _state(self._patiently(lambda: self._send("POST", path, scan, json=body)))

    def cancel(self, scan: StartedScan) -> None:
        self._send("DELETE", f"/device/scans/{scan.scan_id}", scan)

    def scan(
        self, session: Session, action: str, pages: Iterable[bytes], options: dict[str, Any]
    ) -> ScanState:
        """Start, send every page, finish; the scan as the server has it then."""
        started = self.start(session, action, options)
        count = 0
        for count, page in enumerate(pages, start=1):
            self.upload(started, count, page)
        return self.finish(started, count)

    def _send(self, method: str, path: str, scan: StartedScan, **kwargs: Any) -> httpx.Response:
        headers = {"X-Scan-Token": scan.token}
        try:
            response = self.client.http.request(method, path, headers=headers, **kwargs)
        except httpx.TransportError as exc:
            raise NoAnswer(str(self.client.http.base_url), exc) from None
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        return response

    def _patiently(self, call: Callable[[], httpx.Response]) -> httpx.Response:
        deadline = time.monotonic() + self.patience
        pause = 0.2
        while True:
            try:
                return call()
            except NoAnswer as exc:
                if time.monotonic() > deadline:
                    raise DeviceApiUnavailable(str(exc)) from None
            except ApiError as exc:
                if exc.status not in RETRY_STATUSES or time.monotonic() > deadline:
                    raise DeviceApiError(exc.status, exc.title, exc.detail) from None
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def _state(response: httpx.Response) -> ScanState:
    found = parse(ScanOut, response)
    return ScanState(found.scan_id, found.stage, found.pages, found.cost, found.detail,
                     found.pages_received)  # fmt: skip

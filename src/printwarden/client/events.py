"""The user's events, read in a background thread: Server-Sent Events from
``/api/v1/me/events`` (resumed with ``Last-Event-ID``), or the long-poll route when the
stream does not get through (after :data:`FALLBACK_AFTER` failures in a row where the server
answered, e.g. a proxy that buffers). The reader reconnects with :class:`Backoff` and stops
when the server refuses the token (``Status("login")``: log in again)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from printwarden.client.api import problem, retry_after
from printwarden.client.backoff import Backoff
from printwarden.client.sse import Message, SseParser
from printwarden.client.wire import Event

EVENTS = "/api/v1/me/events"
POLL = "/api/v1/me/events/poll"
POLL_WAIT = 25
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 35.0  # heartbeats come every 15 s: two missed and a margin
FALLBACK_AFTER = 2
SSE_AGAIN_AFTER = 600.0  # after a fallback, try the stream again this often


@dataclass(frozen=True, slots=True)
class Status:
    """The connection changed: ``connected`` (``mode`` ``sse`` or ``poll``), ``waiting``
    (``detail`` says why; the next attempt in ``delay`` s) or ``login`` (the token was
    refused and the reader stopped)."""

    state: str
    mode: str = ""
    detail: str = ""
    delay: float = 0.0


Item = Event | Status
Deliver = Callable[[Item], None]


def _nowhere(_item: Item) -> None:
    """Where a stopped reader's items go."""


class LoginRequired(Exception):
    """The server refused the token (401)."""


class Refused(Exception):
    """The server (or a proxy) answered, but not with events."""

    def __init__(self, detail: str, wait: float | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.wait = wait


def event_of(message: Message) -> Event | None:
    """An SSE message as an event, or None when its data is not a JSON object."""
    try:
        data = json.loads(message.data)
    except ValueError:
        return None
    return Event(message.id, message.event, data) if isinstance(data, dict) else None


def polled(body: Any) -> Iterator[Event]:
    """The events of a long-poll answer (malformed ones skipped)."""
    items = body.get("events") if isinstance(body, dict) else None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and isinstance(item.get("data"), dict):
            yield Event(str(item.get("id", "")), str(item.get("event", "")), item["data"])


class EventReader:
    """Delivers the events of the user with ``token`` (and :class:`Status` changes) to
    ``deliver``, from its own thread after :meth:`start` (or the caller's, in :meth:`run`)."""

    def __init__(
        self,
        server: str,
        token: str,
        deliver: Deliver,
        *,
        last_id: str = "",
        poll: bool = False,
        transport: httpx.BaseTransport | None = None,
        backoff: Backoff | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self.last_id = last_id
        self.mode = "poll" if poll else "sse"
        self._deliver = deliver
        self._backoff = backoff or Backoff()
        self._stopped = threading.Event()
        self._connected = False
        self._worked = False
        self._failures = 0
        self._fell_back_at: float | None = None
        self._read_timeout = read_timeout
        self._http = httpx.Client(
            base_url=server,
            headers={"Authorization": f"Bearer {token}"},
            transport=transport,
            timeout=httpx.Timeout(read_timeout, connect=CONNECT_TIMEOUT),
        )

    def start(self) -> threading.Thread:
        """Read in a daemon thread; returns it."""
        thread = threading.Thread(target=self.run, name="printwarden-events", daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        """Stop after the current read (at the latest the next heartbeat); nothing is
        delivered from now on, and the reader lets go of whoever it delivered to."""
        self._stopped.set()
        self._deliver = _nowhere

    @property
    def stopped(self) -> bool:
        """Whether the reader stopped or was asked to."""
        return self._stopped.is_set()

    def run(self) -> None:
        """Read until :meth:`stop` or a refused token."""
        try:
            while not self._stopped.is_set():
                self._maybe_try_sse_again()
                delay = self._attempt()
                if delay and self._stopped.wait(delay):
                    break
        except LoginRequired as refused:
            self._connected = False
            self._deliver(Status("login", detail=str(refused)))
            self._stopped.set()
        finally:
            self._http.close()

    def _attempt(self) -> float:
        """One connection; the wait before the next."""
        self._worked = False
        try:
            if self.mode == "poll":
                self._poll_once()
            else:
                self._stream_once()
        except Refused as refused:
            if not self._worked:
                return self._failed(refused.detail, refused.wait, answered=True)
        except httpx.TransportError as error:
            if not self._worked:
                answered = not isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
                return self._failed(describe(error), None, answered=answered)
        if not self._worked:
            return self._failed("the server sent no events", None, answered=True)
        self._backoff.reset()
        self._failures = 0
        return 0.0 if self.mode == "poll" else self._backoff.next()

    def _failed(self, detail: str, wait: float | None, *, answered: bool) -> float:
        self._connected = False
        if answered:
            self._failures += 1
        if self.mode == "sse" and self._failures >= FALLBACK_AFTER:
            self.mode, self._failures = "poll", 0
            self._fell_back_at = time.monotonic()
            self._deliver(Status("waiting", "poll", f"{detail}; polling instead", 0.0))
            return 0.0
        delay = max(self._backoff.next(), wait or 0.0)
        self._deliver(Status("waiting", self.mode, detail, delay))
        return delay

    def _maybe_try_sse_again(self) -> None:
        since = self._fell_back_at
        if since is not None and time.monotonic() - since >= SSE_AGAIN_AFTER:
            self.mode, self._fell_back_at, self._failures = "sse", None, 0

    def _worked_now(self) -> None:
        self._worked = True
        if not self._connected:
            self._connected = True
            self._deliver(Status("connected", self.mode))

    def _hand_over(self, event: Event) -> None:
        self.last_id = event.id or self.last_id
        self._worked_now()
        self._deliver(event)

    def _stream_once(self) -> None:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_id:
            headers["Last-Event-ID"] = self.last_id
        with self._http.stream("GET", EVENTS, headers=headers) as response:
            check(response)
            if not response.headers.get("content-type", "").startswith("text/event-stream"):
                raise Refused("the answer is not an event stream")
            parser = SseParser(self.last_id)
            for chunk in response.iter_bytes():
                for message in parser.feed(chunk):
                    self._take(message)
                if parser.retry_ms is not None:
                    self._backoff.first = min(parser.retry_ms / 1000, self._backoff.cap)
                if self._stopped.is_set():
                    return

    def _take(self, message: Message) -> None:
        event = event_of(message)
        if event is None:
            self.last_id = message.id or self.last_id
        else:
            self._hand_over(event)

    def _poll_once(self) -> None:
        params = {"wait": str(POLL_WAIT)}
        if self.last_id:
            params["after"] = self.last_id
        timeout = httpx.Timeout(POLL_WAIT + self._read_timeout, connect=CONNECT_TIMEOUT)
        response = self._http.get(
            POLL, params=params, headers={"Accept": "application/json"}, timeout=timeout
        )
        check(response)
        try:
            body = response.json()
        except ValueError as error:
            raise Refused("the poll answer is not JSON") from error
        self._worked_now()
        for event in polled(body):
            self._hand_over(event)
        if isinstance(body, dict) and body.get("last_id"):
            self.last_id = str(body["last_id"])


def check(response: httpx.Response) -> None:
    """Raise unless ``response`` is a 200: LoginRequired for a 401, else Refused."""
    if response.status_code == 401:
        response.read()
        raise LoginRequired(problem(response).detail)
    if response.status_code != 200:
        response.read()
        error = problem(response)
        raise Refused(error.detail, retry_after(response))


def describe(error: httpx.TransportError) -> str:
    """A transport error in a few words."""
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return f"cannot connect: {error}" if str(error) else "cannot connect"
    if isinstance(error, httpx.TimeoutException):
        return "no data from the server"
    return f"connection lost: {error}" if str(error) else "connection lost"

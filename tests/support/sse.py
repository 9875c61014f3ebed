"""A test's ear on a User Client event stream: a thread reads ``GET /me/events`` with a real
HTTP client and keeps every event, for the test to wait on."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Heard:
    """The events heard so far: (id, kind, data), in order."""

    events: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    heartbeats: int = 0
    failure: str = ""  # why the stream could not be read
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(
        self,
        kind: str,
        where: Callable[[dict[str, Any]], bool] = lambda _data: True,
        seconds: float = 30.0,
    ) -> dict[str, Any]:
        """The first event of ``kind`` whose data satisfies ``where``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                for _id, heard, data in self.events:
                    if heard == kind and where(data):
                        return data
            time.sleep(0.02)
        why = f" ({self.failure})" if self.failure else ""
        raise AssertionError(f"no {kind} event within {seconds} s{why}; heard {self.kinds()}")

    def kinds(self) -> list[str]:
        with self.lock:
            return [kind for _id, kind, _data in self.events]

    def last_id(self) -> str:
        with self.lock:
            return self.events[-1][0]


@contextmanager
def listening(
    base_url: str, token: str, last_event_id: str = "", seconds: float = 30.0
) -> Iterator[Heard]:
    """Listen to ``token``'s event stream at ``base_url`` (the API root) until the block ends
    (AssertionError when no ``hello`` comes within ``seconds``)."""
    heard = Heard()
    stop = threading.Event()
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(60, connect=seconds))

    def read() -> None:
        try:
            listen()
        except (httpx.HTTPError, AssertionError) as exc:
            heard.failure = repr(exc)  # the test hears of it when it waits

    def listen() -> None:
        with client.stream("GET", "/me/events", headers=headers) as response:
            assert response.status_code == 200, response.read()
            event: dict[str, str] = {}
            for line in response.iter_lines():
                if stop.is_set():
                    return
                if line.startswith(":"):
                    heard.heartbeats += 1
                elif line:
                    name, _, value = line.partition(": ")
                    event[name] = value
                elif "event" in event:
                    with heard.lock:
                        heard.events.append(
                            (event["id"], event["event"], json.loads(event["data"]))
                        )
                    event = {}

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        heard.wait("hello", seconds=seconds)
        yield heard
    finally:
        stop.set()
        client.close()
        thread.join(timeout=5)

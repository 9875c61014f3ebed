"""Notices between the processes of one database: "forget what you cached about this token",
"this web session ended", "here are user events". A transaction publishes a notice
(:func:`publish`); once it commits, every process on the database hears it — this one at
once (``Database._committed``), the others through PostgreSQL ``NOTIFY`` (one payload per
notice, delivered at commit, read by ``change_bell.PgListener``). On SQLite there is one
process, so the first is all there is.

A process hears each notice once: a notice carries the :class:`Notices` it came from (its
``origin``, in the session's ``info``) and the listener drops its own. A process whose
listener lost its connection may have missed notices: while it is down
:meth:`Notices.current` is False (trust no cache), and when it listens again every handler
hears an empty payload (forget all you cached).

Every published notice is a revocation, so the transaction's caller goes on only once the
other processes heard it: after the commit this process sends a *fence* and waits (at most
:data:`FENCE_SECONDS`) until each other listening process answers that it passed it. A
listener hears notices in commit order and handles each before reading the next, so its
answer means it has forgotten what the revocation named; a logout answered by one process
is refused by the next request to any other.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

CHANNEL = "printwarden_notices"
ORIGIN = "printwarden.origin"  # session.info: the Notices of the session's database
MAX_PAYLOAD = 7_900  # PostgreSQL refuses NOTIFY payloads from 8,000 bytes
FORGET_TOKEN = "forget-token"  # noqa: S105  drop what you cached of this token (its id)
FORGET_USER = "forget-user"  # drop what you cached of this user's tokens (their id)
FENCE = "fence"  # "say when you have heard everything before this" (the fence's id)
PASSED = "passed"  # "I have" (the fence's id)
FENCE_SECONDS = 1.0  # the longest a revocation waits for the other processes' answers
LISTENER_NAME = "printwarden-notices"  # application_name prefix of the listeners' connections
_NOTED = "printwarden.notices"
NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', :payload)")
log = logging.getLogger(__name__)

Handler = Callable[[str], None]


def publish(session: Session, kind: str, payload: str) -> None:
    """Tell every process ``kind``/``payload`` once this session's transaction commits (and
    go on only once they heard it: see the module's docstring)."""
    if ":" in kind:
        raise ValueError("a notice's kind has no colon")
    session.info.setdefault(_NOTED, []).append((kind, payload))
    tell_others(session, kind, payload)


def tell_others(session: Session, kind: str, payload: str) -> None:
    """Like :func:`publish`, but for the other processes only (this one learns it its own
    way); ValueError for a payload too long to send."""
    if session.get_bind().dialect.name == "postgresql":
        sent = message(session.info.get(ORIGIN, ""), kind, payload)
        if len(sent.encode()) > MAX_PAYLOAD:
            raise ValueError(f"a {kind} notice is too long to send ({len(sent)} bytes)")
        session.execute(NOTIFY, {"payload": sent})


def taken(session: Session) -> list[tuple[str, str]]:
    """The notices published in ``session`` (and forgets them)."""
    noted: list[tuple[str, str]] = session.info.pop(_NOTED, [])
    return noted


def message(origin: str, kind: str, payload: str) -> str:
    """A ``NOTIFY`` payload from ``origin``."""
    return f"{origin}:{kind}:{payload}"


def listener_name(origin: str) -> str:
    """The ``application_name`` of the listening connection of ``origin``."""
    return f"{LISTENER_NAME}-{origin}"


def parse(message: str) -> tuple[str, str, str] | None:
    """``(origin, kind, payload)`` of a ``NOTIFY`` payload; None for one not of this form."""
    origin, _, rest = message.partition(":")
    kind, colon, payload = rest.partition(":")
    return (origin, kind, payload) if colon else None


class Notices:
    """The handlers of each kind of notice in this process (thread-safe)."""

    def __init__(self) -> None:
        self.origin = uuid.uuid4().hex[:12]  # what this one's notices say they came from
        self._lock = threading.Lock()
        self._handlers: defaultdict[str, list[Handler]] = defaultdict(list)
        self._current = threading.Event()
        self._current.set()  # until someone listens, this process is the only one that knows
        self.dropped = 0  # handler failures
        self.fences = Fences()
        self.on(PASSED, self.fences.passed)

    def on(self, kind: str, handler: Handler) -> None:
        """Call ``handler(payload)`` for each ``kind`` notice, and ``handler("")`` when
        notices may have been missed."""
        with self._lock:
            self._handlers[kind].append(handler)

    def current(self) -> bool:
        """Whether this process hears every notice now (False while a listener is down)."""
        return self._current.is_set()

    def hear(self, kind: str, payload: str) -> None:
        with self._lock:
            handlers = list(self._handlers.get(kind, ()))
        for handler in handlers:
            self._call(handler, payload)

    def hear_message(self, message: str) -> None:
        """One ``NOTIFY`` payload from any process (this one's own are dropped)."""
        parsed = parse(message)
        if parsed is None:
            log.warning("an unreadable notice was dropped: %.80r", message)
        elif parsed[0] != self.origin:
            self.hear(parsed[1], parsed[2])

    def deaf(self) -> None:
        """The listener lost its connection: notices may be missed from now on."""
        self._current.clear()

    def listening(self) -> None:
        """The listener listens (again): whatever was cached may be stale, forget it."""
        with self._lock:
            handlers = [h for kind in self._handlers.values() for h in kind]
        for handler in handlers:
            self._call(handler, "")
        self._current.set()

    def _call(self, handler: Handler, payload: str) -> None:
        try:
            handler(payload)
        except Exception:  # one handler's failure is that notice's, never the listener's
            self.dropped += 1
            log.exception("a notice handler failed")


class Fences:
    """The fences this process waits on, and how many other processes passed each."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._passed: dict[str, int] = {}

    def open(self) -> str:
        """A new fence's id."""
        fence = uuid.uuid4().hex
        with self._changed:
            self._passed[fence] = 0
        return fence

    def passed(self, fence: str) -> None:
        """Another process passed ``fence`` (one of this process's, or not)."""
        with self._changed:
            if fence in self._passed:
                self._passed[fence] += 1
                self._changed.notify_all()

    def wait(self, fence: str, count: int, timeout: float) -> int:
        """How many passed ``fence`` once ``count`` did or ``timeout`` seconds went by (and
        forget it)."""
        with self._changed:
            self._changed.wait_for(lambda: self._passed[fence] >= count, timeout)
            return self._passed.pop(fence)

"""Who may submit a job: the server's word on a user name or a print URL's token.

A job from a user the server does not know is refused at submission, not accepted and then
canceled. The server's yes for a user it knows is kept for ``user_check_seconds`` (one
question per user a minute, not one per job); a no is never kept, so a user added a moment
ago prints at once, nor a yes for an unknown user that an offline site's Unauthenticated
Users policy takes (the policy, or the link, may change).

When no server answers (failure mode, ``docs/provider.md``) a user name cannot be checked:
the job is taken, as every job is in failure mode, and the server applies its rules (and
the Unauthenticated Users policy) when the job is decided or journaled. A print URL's token
is then resolved from what the server last said of it; one never seen is refused with
``server-error-service-unavailable``. After a failure the server is not asked again for a
few seconds, so a server that does not answer slows no client twice.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable

from printwarden.provider.service_client import ServerRefused, ServerUnreachable, Submitter

log = logging.getLogger("printwarden.provider")

QUIET_SECONDS = 10.0  # after the server failed to answer, do not ask it for this long
MAX_REMEMBERED = 10_000

# (username=..., print_token=...) -> the server's answer; may raise ServerUnreachable.
Ask = Callable[..., Submitter]


class SubmitterRefused(Exception):
    """The server does not take jobs from this user (or this print URL)."""


class CannotTell(Exception):
    """No server answers and nothing is known of this print URL."""


class Submitters:
    """Asks the server who submits, remembering its yes for ``ttl`` seconds."""

    def __init__(self, ask: Ask, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ask, self.ttl, self.clock = ask, ttl, clock
        self._known: dict[str, tuple[str, float]] = {}  # key -> (username, when)
        self._quiet_until = 0.0
        self._lock = threading.Lock()

    def remembered(self, username: str) -> bool:
        """Whether the server's yes for ``username`` is fresh (no question, no thread)."""
        return self._fresh(f"user:{username}") is not None

    def check_user(self, username: str) -> None:
        """Return if jobs from ``username`` are taken; :class:`SubmitterRefused` if not."""
        key = f"user:{username}"
        if self._fresh(key) is not None:
            return
        answer = self._ask(key, username=username)
        if answer is None:  # no server: failure mode takes the job
            return
        if not answer.accepted:
            raise SubmitterRefused(answer.reason or f"printwarden does not know {username!r}")

    def token_user(self, token: str) -> str:
        """Whose print URL ``token`` is; :class:`SubmitterRefused` for one the server does
        not know, :class:`CannotTell` when no server answers and it was never seen."""
        key = "token:" + hashlib.sha256(token.encode()).hexdigest()  # no token kept as such
        fresh = self._fresh(key)
        if fresh is not None:
            return fresh
        answer = self._ask(key, print_token=token)
        if answer is None:
            with self._lock:
                remembered = self._known.get(key)
            if remembered is None:
                raise CannotTell("the server cannot be asked whose this print URL is now")
            return remembered[0]
        if not answer.accepted or not answer.username:
            raise SubmitterRefused(answer.reason or "this print URL is not valid")
        return answer.username

    def _fresh(self, key: str) -> str | None:
        with self._lock:
            found = self._known.get(key)
        if found is None or self.clock() - found[1] > self.ttl:
            return None
        return found[0]

    def _ask(self, key: str, **question: str) -> Submitter | None:
        """The server's answer (remembered when yes), or None when none can be had."""
        if self.clock() < self._quiet_until:
            return None
        try:
            answer = self.ask(**question)
        except ServerUnreachable as exc:
            self._quiet_until = self.clock() + QUIET_SECONDS
            log.warning("cannot check who submits (%s): failure mode", exc)
            return None
        except ServerRefused as exc:  # e.g. an older server without /jobs/submitter
            self._quiet_until = self.clock() + QUIET_SECONDS
            log.warning("the server would not say who submits (%s): jobs are taken", exc)
            return None
        if answer.accepted and answer.known:
            with self._lock:
                if len(self._known) >= MAX_REMEMBERED:
                    self._known.clear()
                self._known[key] = (answer.username or question.get("username", ""), self.clock())
        return answer

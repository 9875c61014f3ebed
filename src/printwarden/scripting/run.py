"""Run a script's ``printJobHook`` for one job, and check a script before it is saved.

The script runs in a script host process (``scripting/host.py``), never in the server.
Store values are loaded on demand: a call that reads a key not loaded yet is run again with
it (a script cannot call back into Python synchronously), and the keys a call read are
preloaded for the next call of the same script (per-user keys for the next job's user).
Writes are applied only when the call succeeds. Call from worker threads, not from a thread
running an asyncio loop.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from printwarden.scripting import workers
from printwarden.scripting.model import (
    KeyValueStore,
    ScriptFailure,
    ScriptJob,
    ScriptLimits,
    ScriptOutcome,
    ScriptUser,
)
from printwarden.scripting.payload import encode, outcome, readable
from printwarden.scripting.prelude import MAX_KEYS

ATTEMPTS = 2  # a host lost mid-call is replaced and the call tried once more
HOST_MARGIN_S = 10.0  # a host's allowance beyond the call's limit: compiling, stopping
MAX_KNOWN = 64  # scripts whose last-read keys are remembered
MIN_NAME = 3  # shorter names are not looked for in keys (they match by chance)


class _KnownKeys:
    """What each script's last call read, and for which job (least recently used out)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, tuple[tuple[str, ...], tuple[str, ...]]] = OrderedDict()

    def preload(self, source: str, job: ScriptJob) -> list[str]:
        """The keys to load before the call: those the last call read, with the last job's
        user, printer and account names in them changed to this job's ("jobs-" + user)."""
        with self._lock:
            keys, then = self._keys.get(source, ((), _names(job)))
        names = _names(job)
        for old, new in zip(then, names, strict=True):
            if len(old) >= MIN_NAME and old != new:
                keys = tuple(key.replace(old, new) for key in keys)
        return list(dict.fromkeys(keys))

    def remember(self, source: str, job: ScriptJob, keys: tuple[str, ...]) -> None:
        with self._lock:
            self._keys[source] = (keys, _names(job))
            self._keys.move_to_end(source)
            while len(self._keys) > MAX_KNOWN:
                self._keys.popitem(last=False)


def _names(job: ScriptJob) -> tuple[str, ...]:
    return (job.username, job.printer, job.account)


_known = _KnownKeys()


def run_print_hook(
    source: str,
    job: ScriptJob,
    user: ScriptUser,
    store: KeyValueStore,
    now: datetime,
    limits: ScriptLimits = ScriptLimits(),
) -> ScriptOutcome:
    """Call ``printJobHook(inputs, actions)``; any failure is ``ScriptOutcome(error=...)``."""
    try:
        result = _call(source, job, user, store, now, limits)
    except ScriptFailure as e:
        return ScriptOutcome(error=str(e))
    return _finish(result, store)


def _finish(result: dict[str, Any], store: KeyValueStore) -> ScriptOutcome:
    """The outcome; the call's property writes are applied only when it succeeded."""
    done = outcome(result, readable(str(result["error"])))
    if not done.error:
        for key, value in result["writes"].items():
            store.set(key, value)
    return done


def _call(
    source: str,
    job: ScriptJob,
    user: ScriptUser,
    store: KeyValueStore,
    now: datetime,
    limits: ScriptLimits,
) -> dict[str, Any]:
    """Run until no key is missing; the whole call gets ``limits.time_ms``."""
    deadline = time.perf_counter() + limits.time_ms / 1000
    props = {key: store.get(key) for key in _known.preload(source, job)}
    for _ in range(MAX_KEYS + 1):  # each pass loads a new key; a call reads at most MAX_KEYS
        left_ms = (deadline - time.perf_counter()) * 1000
        if left_ms <= 0:
            break
        request = {
            "op": "call",
            "source": source,
            "payload": encode(job, user, now, props),
            "time_ms": left_ms,
            "limit_ms": limits.time_ms,
            "memory_mb": limits.memory_mb,
        }
        asked = time.perf_counter()
        answer = _ask(request, left_ms / 1000)
        overhead_s = time.perf_counter() - asked - answer["ran_ms"] / 1000
        deadline += max(0.0, overhead_s)  # the limit is the script's time, not the host's
        result: dict[str, Any] = answer["result"]
        missing = [key for key in dict.fromkeys(result["missing"]) if key not in props]
        if not missing:
            _known.remember(source, job, tuple(result["read"]))
            return result
        props.update((key, store.get(key)) for key in missing)
    raise ScriptFailure(f"time limit exceeded ({limits.time_ms} ms)")


def _ask(request: dict[str, Any], time_s: float) -> dict[str, Any]:
    """A script host's answer; its failures and the host's own are ``ScriptFailure``."""
    for attempt in range(ATTEMPTS):
        try:
            answer = workers.pool.ask(request, time_s + HOST_MARGIN_S)
        except workers.HostLost:
            if attempt < ATTEMPTS - 1:
                continue
            raise ScriptFailure("the script engine crashed") from None
        except workers.HostStuck:
            raise ScriptFailure("the script could not be stopped") from None
        except workers.HostsBusy:
            raise ScriptFailure("the script engines are busy with other jobs") from None
        if "failure" in answer:
            raise ScriptFailure(str(answer["failure"]))
        return answer
    raise AssertionError("unreachable")


def check_script(source: str) -> str:
    """``""`` when ``source`` compiles and defines ``printJobHook``, else the error message.

    Runs the script's top-level code (not the hook) under the default limits."""
    try:
        return str(_ask({"op": "check", "source": source}, ScriptLimits().time_ms / 1000)["error"])
    except ScriptFailure as e:
        return str(e)

"""The script host: a child process that runs print scripts for its server.

V8 can crash the process it runs in (docs/scripting-engine-choice.md), so scripts never run
in a server: each server starts hosts (``scripting/workers.py``) and sends them requests on
stdin, one at a time; answers go back on the original stdout (fd 1 is pointed at stderr so
nothing else can write into the channel). The host exits when its stdin closes.

Requests and answers (``channel`` frames):

- ``{"op": "call", "script", "source", "payload", "time_ms", "limit_ms", "memory_mb"}`` →
  ``{"result": {...}, "ran_ms": time in the script}`` or ``{"failure": "message"}``;
- ``{"op": "check", "script", "source"}`` → ``{"error": "message or empty"}``.

``script`` is the source's digest; ``source`` is ``null`` when it was sent before.

Every answer carries ``"retire": true`` once this process has stopped a script: V8 is not
safe creating isolates after that, so the server replaces the host.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections import OrderedDict
from typing import Any

from printwarden.scripting import cache, channel
from printwarden.scripting.model import ScriptFailure, ScriptLimits
from printwarden.scripting.payload import CHECK_PAYLOAD, readable
from printwarden.scripting.realm import Realm

MAX_SOURCES = 128  # sources remembered by digest (more than workers.MAX_SCRIPTS)
_sources: OrderedDict[str, str] = OrderedDict()


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """The answer to one request (the ``retire`` flag is added by the caller)."""
    source = _source(request["script"], request["source"])
    if source is None:  # the server counts on fewer sources than are kept here
        return {"failure": "the script host lost the script's source"}
    if request["op"] == "check":
        return _check(source)
    limits = ScriptLimits(time_ms=request["limit_ms"], memory_mb=request["memory_mb"])
    return _call(source, request["payload"], limits, request["time_ms"])


def _source(digest: str, source: str | None) -> str | None:
    """The source sent now, or the one sent before under ``digest``."""
    if source is None:
        source = _sources.get(digest)
        if source is None:
            return None
    _sources[digest] = source
    _sources.move_to_end(digest)
    if len(_sources) > MAX_SOURCES:
        _sources.popitem(last=False)
    return source


def _call(source: str, payload: str, limits: ScriptLimits, time_ms: float) -> dict[str, Any]:
    try:
        realm = cache.realm_for(source)
    except ScriptFailure as e:
        return {"failure": str(e), "stopped": e.broken}
    started = time.perf_counter()
    try:
        result = realm.call(payload, limits, time_ms)
    except ScriptFailure as e:
        if e.broken:
            cache.discard(source, realm)
        return {"failure": str(e), "stopped": e.broken}
    return {"result": result, "ran_ms": (time.perf_counter() - started) * 1000}


def _check(source: str) -> dict[str, Any]:
    """``error`` is ``""`` when ``source`` compiles and defines ``printJobHook``."""
    try:
        realm = Realm(source)
    except ScriptFailure as e:
        return {"error": str(e), "stopped": e.broken}
    try:
        result = realm.call(CHECK_PAYLOAD, ScriptLimits(), ScriptLimits().time_ms)
    except ScriptFailure as e:
        return {"error": str(e), "stopped": e.broken}
    finally:
        realm.close()
    return {"error": readable(str(result["error"]))}


def serve(inbox: int, outbox: int) -> None:
    """Answer requests until ``inbox`` closes."""
    stopped = False
    while True:
        try:
            request = channel.read(inbox)
        except channel.ChannelClosed:
            return
        try:
            answer = handle(request)
        except Exception as e:  # a bug here must cost this request only, and this host
            answer = {"failure": f"the script host failed ({type(e).__name__})", "stopped": True}
        stopped = stopped or bool(answer.pop("stopped", False))
        answer["retire"] = stopped
        channel.write(outbox, answer)


def main() -> None:
    """Entry point: ``python -m printwarden.scripting.host``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the server decides when hosts stop
    inbox, outbox = os.dup(0), os.dup(1)
    os.dup2(2, 1)
    with contextlib.suppress(channel.ChannelClosed):  # the server went away mid-answer
        serve(inbox, outbox)
    os._exit(0)  # skip finalizers: V8 may hang tearing down isolates at exit


if __name__ == "__main__":
    main()

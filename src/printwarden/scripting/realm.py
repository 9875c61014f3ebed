"""One compiled print script in its own V8 isolate, hardened and frozen, one call at a time."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from py_mini_racer import JSEvalException, JSOOMException, MiniRacer

from printwarden.scripting import v8call
from printwarden.scripting.model import ScriptFailure, ScriptLimits
from printwarden.scripting.prelude import DRIVER, FREEZE, TAME, WRAPPER_HEAD, WRAPPER_TAIL
from printwarden.scripting.source_check import forbidden_word

MAX_SOURCE_CHARS = 200_000
SETUP_LIMITS = ScriptLimits(time_ms=2_000, memory_mb=64)
_SETUP_S = SETUP_LIMITS.time_ms / 1000
BUSY_WAIT_S = 2.0  # how long a call waits for another thread's call of the same script
_SYNTAX = re.compile(r"^(?:<anonymous>|undefined):(\d+): (.+)$", re.MULTILINE)
_FUNCTION_HEADER_LINES = 2  # V8's Function constructor puts the body on line 3


class Closed(ScriptFailure):
    """The realm was closed (evicted or stopped) before the call began: use a fresh one."""


def _syntax_message(error: JSEvalException, source: str, header_lines: int = 0) -> str:
    """``SyntaxError: … (line N)`` from V8's ``<anonymous>:N: SyntaxError: …`` report (an
    error found only at the end of the source is put on its last line)."""
    found = _SYNTAX.search(str(error))
    if found is None:
        return str(error).strip().splitlines()[0]
    line = min(max(1, int(found[1]) - header_lines), source.count("\n") + 1)
    return f"{found[2]} (line {line})"


def _check_source(racer: MiniRacer, source: str) -> None:
    """Refuse what cannot run safely; the Function constructor parses ``source`` on its own
    without running it, so a source that passes cannot close the wrapper's function early."""
    if len(source) > MAX_SOURCE_CHARS:
        raise ScriptFailure(f"the script is longer than {MAX_SOURCE_CHARS} characters")
    found = forbidden_word(source)  # promise jobs would run on after the call's time limit
    if found is not None:
        raise ScriptFailure(f"print scripts cannot use '{found[0]}' (line {found[1]})")
    try:
        v8call.evaluate(racer, f"new Function({json.dumps(source)}), 0", _SETUP_S)
    except JSEvalException as e:
        message = _syntax_message(e, source, _FUNCTION_HEADER_LINES)
        raise ScriptFailure(message, broken=isinstance(e, JSOOMException)) from None


class Realm:
    """A script ready to call: wrapper, driver, hardening, then every reachable object frozen.

    Calls are serialized by a lock; a realm that failed a limit is ``broken`` and closed."""

    def __init__(self, source: str) -> None:
        self._racer = MiniRacer()
        self._lock = threading.Lock()
        self.broken = False
        try:
            self._racer.set_hard_memory_limit(SETUP_LIMITS.memory_mb << 20)
            _check_source(self._racer, source)
            self._setup(WRAPPER_HEAD + source + WRAPPER_TAIL, source)
            self._setup(DRIVER + TAME + FREEZE, source)
        except BaseException:
            self.close()
            raise

    def _setup(self, code: str, source: str) -> None:
        try:
            v8call.evaluate(self._racer, code, _SETUP_S)
        except JSEvalException as e:
            message = _syntax_message(e, source)
            raise ScriptFailure(message, broken=isinstance(e, JSOOMException)) from None
        except (v8call.Timeout, v8call.Stuck):
            raise ScriptFailure("the script took too long to load", broken=True) from None

    def call(self, payload: str, limits: ScriptLimits, time_ms: float) -> dict[str, Any]:
        """Run the driver on ``payload`` within ``time_ms``; the driver's JSON result."""
        if not self._lock.acquire(timeout=BUSY_WAIT_S):
            raise ScriptFailure("the script is busy with other jobs")
        try:
            if self.broken:
                raise Closed("the script's engine was closed")
            return self._call(payload, limits, time_ms)
        except ScriptFailure as e:
            self.broken = self.broken or e.broken
            raise
        finally:
            self._lock.release()

    def _call(self, payload: str, limits: ScriptLimits, time_ms: float) -> dict[str, Any]:
        self._racer.set_hard_memory_limit(limits.memory_mb << 20)
        code = f"$pw_run({json.dumps(payload)})"
        try:
            result: dict[str, Any] = json.loads(v8call.evaluate(self._racer, code, time_ms / 1000))
        except v8call.Timeout:
            raise ScriptFailure(f"time limit exceeded ({limits.time_ms} ms)", broken=True) from None
        except v8call.Stuck:
            raise ScriptFailure("the script could not be stopped", broken=True) from None
        except JSOOMException:
            raise ScriptFailure(
                f"memory limit exceeded ({limits.memory_mb} MB)", broken=True
            ) from None
        except JSEvalException as e:
            raise ScriptFailure(str(e).strip().splitlines()[0], broken=True) from None
        return result

    def close(self, *, wait: bool = False) -> None:
        """Free the isolate, on a background thread unless ``wait`` (a stuck isolate may
        take a while to stop, and the caller is answering a job)."""
        self.broken = True
        if wait:
            self._close()
        else:
            threading.Thread(target=self._close, name="script-close", daemon=True).start()

    def _close(self) -> None:
        with self._lock:  # never under a call in flight
            self._racer.close()

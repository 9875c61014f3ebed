"""Run a script's ``printJobHook`` for one job, and check a script before it is saved.

Store values are loaded on demand: a call that reads a key not loaded yet is run again with
it (a script cannot call back into Python synchronously), and the keys a call read are
preloaded for the next call of the same script. Writes are applied only when the call
succeeds. Call from worker threads, not from a thread running an asyncio loop.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

from printwarden.scripting import cache
from printwarden.scripting.model import KeyValueStore, Limits, ScriptJob, ScriptOutcome, ScriptUser
from printwarden.scripting.payload import CHECK_PAYLOAD, encode, outcome
from printwarden.scripting.prelude import MAX_KEYS
from printwarden.scripting.realm import Closed, Realm, ScriptFailure, readable

ATTEMPTS = 3


def run_print_hook(
    source: str,
    job: ScriptJob,
    user: ScriptUser,
    store: KeyValueStore,
    now: datetime,
    limits: Limits = Limits(),
) -> ScriptOutcome:
    """Call ``printJobHook(inputs, actions)``; any failure is ``ScriptOutcome(error=...)``."""
    for attempt in range(ATTEMPTS):
        try:
            realm = cache.realm_for(source)
        except ScriptFailure as e:
            return ScriptOutcome(error=str(e))
        try:
            result = _call(realm, job, user, store, now, limits)
        except Closed:
            if attempt < ATTEMPTS - 1:
                continue  # evicted or stopped by another thread meanwhile
            return ScriptOutcome(error="the script's engine was closed")
        except ScriptFailure as e:
            if e.broken:
                cache.discard(source, realm)
            return ScriptOutcome(error=str(e))
        return _finish(result, store)
    raise AssertionError("unreachable")


def _finish(result: dict[str, Any], store: KeyValueStore) -> ScriptOutcome:
    """The outcome; the call's property writes are applied only when it succeeded."""
    done = outcome(result, readable(str(result["error"])))
    if not done.error:
        for key, value in result["writes"].items():
            store.set(key, value)
    return done


def _call(
    realm: Realm,
    job: ScriptJob,
    user: ScriptUser,
    store: KeyValueStore,
    now: datetime,
    limits: Limits,
) -> dict[str, Any]:
    """Run until no key is missing; the whole call gets ``limits.time_ms``."""
    deadline = time.perf_counter() + limits.time_ms / 1000
    props = {key: store.get(key) for key in realm.known_keys}
    for _ in range(MAX_KEYS + 1):  # each pass loads a new key; a call reads at most MAX_KEYS
        left_ms = (deadline - time.perf_counter()) * 1000
        if left_ms <= 0:
            break
        result = realm.call(encode(job, user, now, props), limits, left_ms)
        missing = [key for key in dict.fromkeys(result["missing"]) if key not in props]
        if not missing:
            realm.known_keys = tuple(result["read"])
            return result
        props.update((key, store.get(key)) for key in missing)
    raise ScriptFailure(f"time limit exceeded ({limits.time_ms} ms)")


def check_script(source: str) -> str:
    """``""`` when ``source`` compiles and defines ``printJobHook``, else the error message.

    Runs the script's top-level code (not the hook) under the default limits."""
    try:
        realm = Realm(source)
    except ScriptFailure as e:
        return str(e)
    try:
        result = realm.call(CHECK_PAYLOAD, Limits(), Limits().time_ms)
    except ScriptFailure as e:
        return str(e)
    finally:
        realm.close()
    return readable(str(result["error"]))

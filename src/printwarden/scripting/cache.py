"""Compiled realms, one per script source, shared by all threads, least recently used out.

A realm is about 3.5 MB (a V8 isolate) and a thread, so at most ``MAX_REALMS`` are kept.
Each realm serializes its own calls; this module's lock only guards the table.
"""

from __future__ import annotations

import atexit
import threading
from collections import OrderedDict

from printwarden.scripting.realm import Realm

MAX_REALMS = 16

_lock = threading.Lock()
_realms: OrderedDict[str, Realm] = OrderedDict()


def realm_for(source: str) -> Realm:
    """The realm for ``source``, compiled on first use (raises ``ScriptFailure``)."""
    with _lock:
        realm = _realms.get(source)
        if realm is not None and not realm.broken:
            _realms.move_to_end(source)
            return realm
    fresh = Realm(source)  # compiled outside the lock: it takes milliseconds
    with _lock:
        current = _realms.get(source)
        if current is not None and not current.broken:  # another thread was quicker
            _realms.move_to_end(source)
            closing = [fresh]
        else:
            _realms.pop(source, None)  # a broken one is closed by whoever broke it
            _realms[source] = current = fresh
            closing = [_realms.popitem(last=False)[1] for _ in range(len(_realms) - MAX_REALMS)]
    for realm in closing:
        realm.close()
    return current


def discard(source: str, realm: Realm) -> None:
    """Close ``realm`` and forget it if it is still the one for ``source``."""
    with _lock:
        if _realms.get(source) is realm:
            del _realms[source]
    realm.close()


@atexit.register
def close_all() -> None:
    """Free every isolate before the interpreter goes (V8 may hang if left to finalizers)."""
    with _lock:
        realms = list(_realms.values())
        _realms.clear()
    for realm in realms:
        realm.close(wait=not realm.broken)

"""The garbage collector's settings for a long-running server process.

CPython's cycle collector walks every container object the process holds in a full
collection, and starts one after every 70,000 or so container allocations that survive.
A server's start-up leaves ~200,000 such objects (modules, classes, routes, SQL metadata)
that live as long as the process; a journal upload of 5,000 entries or a snapshot page of
1,000 users allocates hundreds of thousands more. With the defaults a Site Server's first
sync of 100,000 users spent 2.2 s of its 9 s in full collections: pauses that also hold up
every other request of the process.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence

# Collect the youngest generation after this many net container allocations (CPython's
# default: 700); the older generations after 10 collections of the one below, as usual.
YOUNG_THRESHOLD = 10_000
OLDER_THRESHOLDS = (10, 10)
# The commands that settle before they serve (``python -m printwarden app serve``…).
SERVERS = (("app", "serve"), ("site", "serve"), ("provider", "serve"))


def starting(argv: Sequence[str]) -> None:
    """Before the imports of a server's start-up (``argv`` names one of :data:`SERVERS`):
    no collections until :func:`settle`. What start-up makes lives as long as the process;
    collecting meanwhile only walks it again (0.2 s of a Site Server's 1.6 s of imports)."""
    if tuple(argv[1:3]) in SERVERS:
        gc.disable()


def settle() -> None:
    """Call once start-up is done, before serving: what is alive now is frozen out of the
    collector's sight (``gc.freeze``; the few hundred objects of start-up's garbage with it:
    collecting them would walk the whole heap, 0.1 s), so a full collection walks only what
    requests made; young objects are collected less often (cyclic garbage is rare:
    reference counting frees the rest at once); and collections are on."""
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    gc.enable()


def stats() -> dict[str, int]:
    """For ``/metrics``: whether collections are on, objects frozen at start-up, the youngest
    generation's threshold, collections and objects collected by generation since start."""
    counts = {
        "enabled": int(gc.isenabled()),
        "frozen_objects": gc.get_freeze_count(),
        "young_threshold": gc.get_threshold()[0],
    }
    for generation, its in enumerate(gc.get_stats()):
        counts[f"collections_gen{generation}"] = int(its["collections"])
        counts[f"collected_gen{generation}"] = int(its["collected"])
    return counts

"""Port ranges for the tests (one free port: :func:`printwarden.sim.ports.free_port`)."""

from __future__ import annotations

import random
import socket


def free_port_base(offsets: tuple[int, ...] = (0, 631), attempts: int = 200) -> int:
    """A port P with P + each offset free, below Linux's ephemeral range (32768+) so that no
    outgoing connection takes one of them in the meantime (the demo uses P and P + 631)."""
    rng = random.Random()
    for _ in range(attempts):
        base = rng.randrange(20_000, 32_000 - max(offsets))
        if all(_bindable(base + offset) for offset in offsets):
            return base
    raise RuntimeError("no free port base found")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True

"""The login throttle: the pure schedule, the per-process counts, and client addresses."""

from __future__ import annotations

import ipaddress

import pytest
from starlette.datastructures import Headers

from printwarden.domain.login_throttle import (
    ACCOUNT_SCHEDULE,
    CLIENT_SCHEDULE,
    Failures,
    KeyKind,
    Rules,
    Schedule,
)
from printwarden.service.client_address import FORWARDED, forwarded_chain, networks, resolve
from printwarden.service.throttle import Keys, LoginThrottle, Throttled

# --- the schedule (pure) ---------------------------------------------------------------------


def test_waits_double_after_the_free_failures_then_lock_out() -> None:
    waits = [ACCOUNT_SCHEDULE.wait_after(n) for n in range(1, 12)]
    assert waits == [0, 0, 0, 0, 2, 4, 8, 16, 32, 900, 900]


def test_the_client_schedule_allows_more_before_waiting() -> None:
    assert CLIENT_SCHEDULE.free > ACCOUNT_SCHEDULE.free
    assert CLIENT_SCHEDULE.wait_after(CLIENT_SCHEDULE.free - 1) == 0
    assert CLIENT_SCHEDULE.wait_after(CLIENT_SCHEDULE.free) == 1
    # doubling never waits longer than a lockout
    assert CLIENT_SCHEDULE.wait_after(CLIENT_SCHEDULE.lock_after - 1) == 900


def test_a_schedule_must_make_sense() -> None:
    with pytest.raises(ValueError, match="free"):
        Schedule(free=0, base_seconds=1, lock_after=3, lockout_seconds=9, forget_seconds=9)
    with pytest.raises(ValueError, match="base_seconds"):
        Schedule(free=1, base_seconds=10, lock_after=3, lockout_seconds=9, forget_seconds=9)


def test_failures_wait_lock_and_are_forgotten() -> None:
    schedule = Schedule(free=2, base_seconds=1, lock_after=4, lockout_seconds=60,
                        forget_seconds=100)  # fmt: skip
    failures = Failures()
    assert failures.retry_after(schedule, 0) == 0
    failures = failures.failed(schedule, 10).failed(schedule, 10)
    assert failures.retry_after(schedule, 10) == 1  # 2nd failure: wait 1 s
    assert failures.retry_after(schedule, 10.5) == 0.5
    failures = failures.failed(schedule, 11).failed(schedule, 13)
    assert failures.count == 4
    assert failures.locked(schedule, 13)
    assert failures.retry_after(schedule, 13) == 60
    assert not failures.locked(schedule, 73.5)  # the lockout ran out
    assert not failures.stale(schedule, 73.5)  # … but a failure now locks again at once
    assert failures.failed(schedule, 74).locked(schedule, 74)
    assert failures.stale(schedule, 113)  # 100 s without a failure: forgotten
    assert failures.failed(schedule, 113).count == 1
    assert failures.forgiven().count == 3


# --- the per-process counts ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock) -> LoginThrottle:
    account = Schedule(free=3, base_seconds=2, lock_after=5, lockout_seconds=60,
                       forget_seconds=600)  # fmt: skip
    client = Schedule(free=6, base_seconds=1, lock_after=8, lockout_seconds=60,
                      forget_seconds=600)  # fmt: skip
    return LoginThrottle(Rules(account, client), clock)


def fail(limiter: LoginThrottle, keys: Keys, times: int) -> None:
    for _ in range(times):
        limiter.begin(keys).failed()


def test_an_account_backs_off_before_its_client() -> None:
    clock = Clock()
    limiter = throttle(clock)
    fail(limiter, Keys("user:alice", "address:10.0.0.1"), 3)
    with pytest.raises(Throttled) as caught:
        limiter.begin(Keys("user:alice", "address:10.0.0.9"))  # from anywhere
    assert (caught.value.kind, caught.value.seconds) == (KeyKind.ACCOUNT, 2)
    limiter.begin(Keys("user:bob", "address:10.0.0.1")).succeeded()  # the client may go on
    clock.now += 2
    limiter.begin(Keys("user:alice", "address:10.0.0.1")).succeeded()
    assert [e.key for e in limiter.entries()] == ["address:10.0.0.1"]


def test_a_client_spraying_usernames_is_throttled() -> None:
    clock = Clock()
    limiter = throttle(clock)
    for n in range(6):
        limiter.begin(Keys(f"user:u{n}", "address:10.0.0.2")).failed()
    with pytest.raises(Throttled) as caught:
        limiter.begin(Keys("user:someone-else", "address:10.0.0.2"))
    assert caught.value.kind is KeyKind.CLIENT
    limiter.begin(Keys("user:someone-else", "address:10.0.0.3")).failed()  # another client


def test_concurrent_attempts_are_counted_when_they_begin() -> None:
    limiter = throttle(Clock())
    keys = Keys("user:carol", "address:10.0.0.4")
    running = [limiter.begin(keys) for _ in range(3)]  # none has ended yet
    with pytest.raises(Throttled):
        limiter.begin(keys)
    for attempt in running:
        attempt.abandoned()  # e.g. the directory did not answer: they do not count
    limiter.begin(keys).failed()


def test_a_lockout_is_listed_and_an_administrator_clears_it() -> None:
    clock = Clock()
    limiter = throttle(clock)
    keys = Keys("user:dave", "device:mfd-1")
    fail(limiter, keys, 3)
    clock.now += 2
    fail(limiter, keys, 1)
    clock.now += 4
    fail(limiter, keys, 1)
    entry = limiter.entries()[0]
    assert (entry.key, entry.kind, entry.failures, entry.locked) == (
        "user:dave", KeyKind.ACCOUNT, 5, True,
    )  # fmt: skip
    assert entry.retry_after == 60
    assert limiter.clear("user:dave")
    assert not limiter.clear("user:dave")
    limiter.begin(keys).succeeded()
    clock.now += 601
    assert limiter.entries() == []  # the client's failures were forgotten


def test_cards_count_against_the_client_only() -> None:
    limiter = throttle(Clock())
    fail(limiter, Keys(None, "device:reader"), 6)
    with pytest.raises(Throttled):
        limiter.begin(Keys(None, "device:reader"))
    assert [e.key for e in limiter.entries()] == ["device:reader"]


# --- client addresses ------------------------------------------------------------------------

PROXIES = networks(("10.0.0.0/24", "192.0.2.7"))


def headers(*pairs: tuple[str, str]) -> Headers:
    return Headers(raw=[(k.encode(), v.encode()) for k, v in pairs])


def test_forwarding_headers_from_an_untrusted_peer_are_ignored() -> None:
    spoofed = headers(("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.8"))
    assert resolve("198.51.100.1", spoofed, PROXIES) == "198.51.100.1"
    assert resolve("198.51.100.1", spoofed, ()) == "198.51.100.1"


def test_a_trusted_proxy_names_the_client() -> None:
    sent = headers(("x-forwarded-for", "203.0.113.9, 10.0.0.5"))
    assert resolve("192.0.2.7", sent, PROXIES) == "203.0.113.9"  # past both trusted hops
    # a client cannot push its own address to the left of what the proxy appended
    sent = headers(("x-forwarded-for", "1.2.3.4, 203.0.113.9"))
    assert resolve("10.0.0.5", sent, PROXIES) == "203.0.113.9"


def test_forwarded_rfc_7239_is_read_when_the_proxies_set_it() -> None:
    sent = headers(
        ("forwarded", 'for=192.0.2.60;proto=http, For="[2001:db8:cafe::17]:4711"'),
        ("x-forwarded-for", "203.0.113.1"),  # the client's own, passed on by the proxy
    )
    assert forwarded_chain(sent, FORWARDED) == ["192.0.2.60", '"[2001:db8:cafe::17]:4711"']
    assert resolve("10.0.0.1", sent, PROXIES, FORWARDED) == "2001:db8:cafe::17"


def test_only_the_header_the_proxies_set_is_read() -> None:
    """A proxy that sets X-Forwarded-For (nginx, HAProxy, Caddy, Traefik, load balancers)
    passes on a Forwarded header the client sent; read first, it let every client pick the
    address its failures counted against."""
    sent = headers(("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=198.51.100.77"))
    assert resolve("10.0.0.1", sent, PROXIES) == "203.0.113.9"
    assert resolve("10.0.0.1", headers(("forwarded", "for=198.51.100.77")), PROXIES) == (
        "10.0.0.1"
    )  # no X-Forwarded-For from the proxy: it names no client
    from printwarden.config import Settings

    assert Settings().forwarded_header == "x-forwarded-for"
    assert Settings(forwarded_header="forwarded").forwarded_header == FORWARDED


def test_what_a_client_sent_cannot_change_how_the_proxys_own_element_reads() -> None:
    # an unclosed quote once swallowed the element the proxy appended: the walk then ended
    # at the proxy, so one client's failures counted against everyone behind it
    sent = headers(("forwarded", 'for="203.0.113.66, for="[2001:db8::7]"'))
    assert resolve("10.0.0.1", sent, PROXIES, FORWARDED) == "2001:db8::7"
    sent = headers(("forwarded", 'for=198.51.100.2;by="x, for=203.0.113.66", for=192.0.2.9'))
    assert resolve("10.0.0.1", sent, PROXIES, FORWARDED) == "192.0.2.9"
    # a proxy's element without for= names no client: the walk stops at that proxy, and
    # does not go on to the address the client put to its left
    sent = headers(("forwarded", "for=203.0.113.66, proto=https;by=10.0.0.1"))
    assert resolve("10.0.0.1", sent, PROXIES, FORWARDED) == "10.0.0.1"


def test_an_unparsable_hop_stops_at_the_proxy() -> None:
    sent = headers(("forwarded", "for=unknown"))
    assert resolve("10.0.0.1", sent, PROXIES, FORWARDED) == "10.0.0.1"
    sent = headers(("x-forwarded-for", "203.0.113.9:8080"))
    assert resolve("10.0.0.1", sent, PROXIES) == "203.0.113.9"


def test_trusted_proxies_are_checked_when_settings_load() -> None:
    from pydantic import ValidationError

    from printwarden.config import Settings

    assert Settings(trusted_proxies=["10.1.0.0/16"]).trusted_proxies == ["10.1.0.0/16"]
    with pytest.raises(ValidationError, match="not-an-address"):
        Settings(trusted_proxies=["not-an-address"])
    assert ipaddress.ip_address("10.1.2.3") in networks(("10.1.0.0/16",))[0]

"""Mobility Print across subnets (issue 19 §2): the App Server answers for a DNS-SD domain
delegated to it, and a client whose resolver points there finds every queue with the
tools it has (``dig``, ``ippfind``, ``avahi-browse`` with wide-area), where multicast does not
reach. The zone exports as a BIND file that BIND itself accepts.

The client is a network namespace whose ``/etc/resolv.conf`` names the App Server's
responder (``printwarden.testing.mdns_lab``), as a laptop on another subnet would get from
DHCP; the responder listens on port 53 of this host's end of the veth pair.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from printwarden.domain.accounts import Role
from printwarden.sim.ports import free_port
from printwarden.testing.appserver import AppServer
from printwarden.testing.mdns_lab import MdnsLab, mdns_lab
from printwarden.testing.site import PRINTER, site_world
from printwarden.testing.site import World as SiteWorld
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import add_printer, add_user, wait_for

WAIT = 30.0
DOMAIN = "print.test"


@dataclass
class World:
    lab: MdnsLab
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    root: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("unicast")
    with mdns_lab(unicast_domain=DOMAIN) as lab:
        env = {
            "PRINTWARDEN_DNS_SD__DOMAIN": DOMAIN,
            "PRINTWARDEN_DNS_SD__LISTEN": lab.host_ip,
            "PRINTWARDEN_DNS_SD__PORT": "53",
            "PRINTWARDEN_DNS_SD__REFRESH_SECONDS": "0.3",
            "PRINTWARDEN_DNS_SD__NS": f"ns.{DOMAIN}",
            "PRINTWARDEN_DNS_SD__NS_ADDRESSES": f'["{lab.host_ip}"]',
        }
        app = AppServer(f"sqlite:///{root / 'app.db'}", root, extra_env=env)
        app.start()
        try:
            with app.client(app.token(Role.ADMIN, "root")) as admin:
                add_printer(admin, "laser", colour=False)
                directory = root / "provider"
                directory.mkdir()
                provider = ProviderProcess(
                    server_url=app.url,
                    token=app.token(Role.PROVIDER),
                    directory=directory,
                    printers=[PrinterSpec("laser", f"file://{root / 'out'}", colour=False)],
                    queues=[
                        QueueSpec("office", "direct", "laser", dns_sd_name="Office Laser"),
                        QueueSpec("secure", "hold", "laser", dns_sd_name="Secure Print"),
                        QueueSpec("byod", "direct", "laser", identity="token-url"),
                    ],
                    bind=lab.host_ip,
                )
                provider.start()
                try:
                    world = World(lab, app, admin, provider, root)
                    wait_for(lambda: len(_dig(world, "PTR", f"_ipp._tcp.{DOMAIN}")) == 2,
                             "both queues in the zone", WAIT)  # fmt: skip
                    yield world
                finally:
                    provider.stop()
        finally:
            app.stop()


def _dig(world: World, kind: str, name: str) -> list[str]:
    """``dig +short`` from the client, through its resolver (no server named)."""
    result = world.lab.client(["dig", "+short", "+time=2", "+tries=2", kind, name])
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def test_a_client_resolver_browses_the_domain_and_resolves_each_queue(world: World) -> None:
    assert _dig(world, "PTR", f"b._dns-sd._udp.{DOMAIN}") == [f"{DOMAIN}."]
    assert _dig(world, "PTR", f"lb._dns-sd._udp.{DOMAIN}") == [f"{DOMAIN}."]
    instances = sorted(_dig(world, "PTR", f"_ipp._tcp.{DOMAIN}"))
    assert instances == [
        f"Office\\032Laser._ipp._tcp.{DOMAIN}.",
        f"Secure\\032Print._ipp._tcp.{DOMAIN}.",
    ]  # not the token-URL queue
    assert sorted(_dig(world, "PTR", f"_universal._sub._ipp._tcp.{DOMAIN}")) == instances
    srv = _dig(world, "SRV", f"Secure\\ Print._ipp._tcp.{DOMAIN}")
    assert srv == [f"0 0 {world.provider.port} secure.{DOMAIN}."]  # a host of its own
    assert _dig(world, "A", f"secure.{DOMAIN}") == [world.lab.host_ip]
    txt = " ".join(_dig(world, "TXT", f"Secure\\ Print._ipp._tcp.{DOMAIN}"))
    assert '"rp=ipp/print/secure"' in txt
    assert '"air=none"' in txt


def test_ippfind_and_avahi_find_the_queues_by_the_domain(world: World) -> None:
    found = world.lab.client(["ippfind", f"_ipp._tcp.{DOMAIN}.", "-T", "8"])
    uris = set(found.stdout.split())
    port = world.provider.port
    assert uris == {
        f"ipp://office.{DOMAIN}:{port}/ipp/print/office",
        f"ipp://secure.{DOMAIN}:{port}/ipp/print/secure",
    }, found.stderr
    domains = world.lab.client(["avahi-browse", "-tpD"]).stdout
    assert f"+;;;{DOMAIN}" in domains.splitlines()  # the browse domain, from b._dns-sd._udp
    resolved = world.lab.client(["avahi-browse", "-rtp", "-d", DOMAIN, "_ipp._tcp"]).stdout
    lines = [line.split(";") for line in resolved.splitlines() if line.startswith("=")]
    assert {(f[7], f[8]) for f in lines} == {(world.lab.host_ip, str(port))}
    assert len(lines) == 2


def test_a_queue_registered_later_joins_the_zone(world: World, tmp_path: Path) -> None:
    later = ProviderProcess(
        server_url=world.app.url,
        token=world.app.token(Role.PROVIDER),
        directory=tmp_path,
        printers=[PrinterSpec("laser", f"file://{tmp_path / 'out'}", colour=False)],
        queues=[QueueSpec("annex", "direct", "laser", dns_sd_name="Annex")],
        bind=world.lab.host_ip,
    )
    later.start()
    try:
        joined = wait_for(
            lambda: f"Annex._ipp._tcp.{DOMAIN}." in _dig(world, "PTR", f"_ipp._tcp.{DOMAIN}"),
            "the new queue in the zone",
            WAIT,
        )
        assert joined
        assert _dig(world, "SRV", f"Annex._ipp._tcp.{DOMAIN}") == [
            f"0 0 {later.port} annex.{DOMAIN}."
        ]
    finally:
        later.stop()


def test_the_zone_exports_as_a_file_bind_loads(world: World, tmp_path: Path) -> None:
    described = world.admin.get("/dns-sd").json()
    assert described["domain"] == f"{DOMAIN}."
    assert described["delegation"] == [
        f"{DOMAIN}. IN NS ns.{DOMAIN}.",
        f"ns.{DOMAIN}. IN A {world.lab.host_ip}",
    ]
    secure = next(q for q in described["queues"] if q["queue"] == "secure")
    assert secure["name"] == "Secure Print"
    assert secure["host"] == f"secure.{DOMAIN}."
    assert any(line.startswith("secure 120 IN A ") for line in secure["records"])
    answer = world.admin.get("/dns-sd/zone")
    assert answer.headers["content-type"].startswith("text/plain")
    zone = tmp_path / "print.test.zone"
    zone.write_text(answer.text)
    checked = subprocess.run(["named-checkzone", DOMAIN, str(zone)], capture_output=True,
                             text=True, timeout=WAIT, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Secure\\ Print._ipp._tcp" in answer.text


# --- a Site Server's own zone, through a WAN outage ------------------------------------------

SITE_DOMAIN = "north.print.test"


@dataclass
class SiteDns:
    world: SiteWorld
    port: int  # where the Site Server's responder listens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteDns]:
    port = free_port()
    options = ["--dns-sd-domain", SITE_DOMAIN, "--dns-sd-listen", "127.0.0.1",
               "--dns-sd-port", str(port), "--dns-sd-ns", "ns.print.test"]  # fmt: skip
    queues = [QueueSpec("secure", "hold", PRINTER, dns_sd_name="Secure Print")]
    with site_world(tmp_path_factory.mktemp("site-dns"), options, queues=queues) as world:
        add_user(world.admin, "alice", 1000)
        yield SiteDns(world, port)


def _ask(port: int, kind: str, name: str) -> list[str]:
    """``dig +short`` straight at a responder on this host."""
    result = subprocess.run(
        ["dig", "+short", "+time=2", "+tries=2", "-p", str(port), "@127.0.0.1", kind, name],
        capture_output=True, text=True, timeout=WAIT, check=False,
    )  # fmt: skip
    return [line for line in result.stdout.splitlines() if line and not line.startswith(";")]


def test_a_site_server_answers_for_its_queues_also_through_an_outage(site: SiteDns) -> None:
    wanted = {f"direct._ipp._tcp.{SITE_DOMAIN}.", f"Secure\\032Print._ipp._tcp.{SITE_DOMAIN}."}
    listed = wait_for(
        lambda: set(_ask(site.port, "PTR", f"_ipp._tcp.{SITE_DOMAIN}")) == wanted,
        "the site's queues in its zone (from its replica)",
        WAIT,
    )
    assert listed
    wait_for(site.world.caught_up, "the site caught up (alice replicated)", WAIT)
    with site.world.outage():
        assert set(_ask(site.port, "PTR", f"_ipp._tcp.{SITE_DOMAIN}")) == wanted
        srv = _ask(site.port, "SRV", f"Secure\\ Print._ipp._tcp.{SITE_DOMAIN}")
        assert srv == [f"0 0 {site.world.provider.port} secure.{SITE_DOMAIN}."]
        assert _ask(site.port, "A", f"secure.{SITE_DOMAIN}") == ["127.0.0.1"]
        # and the site's queue discovery points to still takes a job
        assert site.world.print_text("alice", "found through the site's DNS\n") > 0

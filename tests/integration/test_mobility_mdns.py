"""Mobility Print over multicast DNS (issue 19 §1): a real provider announces its queues
through avahi-daemon, and a client on another network namespace finds them with the tools
a Linux or macOS user has (``avahi-browse``, ``ippfind``), then prints to what it found.

This host and the client namespace each run their own dbus-daemon and avahi-daemon
(``printwarden.testing.mdns_lab``); the announcements cross a veth pair as between two
machines and reach no other network.
"""

from __future__ import annotations

import functools
import io
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pikepdf
import pytest
from PIL import Image

from printwarden.devices.client import DeviceClient
from printwarden.domain.accounts import Role
from printwarden.domain.dns_sd import renamed
from printwarden.provider.ipp.client import IppClient
from printwarden.testing.appserver import AppServer, served_app
from printwarden.testing.cupsd import Cupsd
from printwarden.testing.mdns_lab import MdnsLab, Resolved, mdns_lab
from support.provider import PrinterSpec, ProviderProcess, QueueSpec
from support.seeding import add_printer, add_user, wait_for

WAIT = 30.0
CARD = "0451-mobility"
ANNOUNCED_IPP = {"Office Laser": "office", "Secure Print": "secure"}
ANNOUNCED_IPPS = {**ANNOUNCED_IPP, "locked": "locked"}  # passwords: only over TLS


@dataclass
class World:
    lab: MdnsLab
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    started: float


def _provider(app: AppServer, root: Path, lab: MdnsLab, queues: list[QueueSpec]) -> ProviderProcess:
    root.mkdir(parents=True, exist_ok=True)
    return ProviderProcess(
        server_url=app.url,
        token=app.token(Role.PROVIDER),
        directory=root,
        printers=[PrinterSpec("laser", f"file://{root / 'out'}", colour=False)],
        queues=queues,
        bind=lab.host_ip,
        mdns_bus=lab.host_bus,
        tls=True,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("mdns")
    with mdns_lab() as lab, served_app(root, "root", WAIT) as (app, admin):
        add_printer(admin, "laser", colour=False)
        add_user(admin, "alice", 10_000)
        assert admin.patch("/users/alice", json={"cards": [CARD]}).status_code == 200
        queues = [
            QueueSpec("office", "direct", "laser", dns_sd_name="Office Laser"),
            QueueSpec("secure", "hold", "laser", dns_sd_name="Secure Print"),
            QueueSpec("locked", "direct", "laser", identity="authenticate"),
            QueueSpec("byod", "direct", "laser", identity="token-url"),
        ]
        provider = _provider(app, root / "provider", lab, queues)
        provider.start()
        try:
            yield World(lab, app, admin, provider, time.monotonic())
        finally:
            provider.stop()


def _by_name(found: list[Resolved]) -> dict[str, Resolved]:
    """Each instance once: its IPv4 resolution where avahi also resolved it over IPv6 (the
    veth's link-local address, once the kernel has assigned it: on a loaded machine it often
    has before the browse)."""
    ipv4_last = sorted(found, key=lambda entry: ":" not in entry.address)
    return {entry.name: entry for entry in ipv4_last}


def test_every_queue_a_client_can_use_is_found_with_a_txt_true_to_the_queue(world: World) -> None:
    found = _by_name(world.lab.browse("_ipp._tcp", want=len(ANNOUNCED_IPP)))
    assert set(found) == set(ANNOUNCED_IPP)  # not the password queue, not the token-URL one
    for name, queue in ANNOUNCED_IPP.items():
        entry = found[name]
        assert (entry.address, entry.port) == (world.lab.host_ip, world.provider.port)
        with IppClient(world.provider.uri(queue), user_name="alice", timeout=WAIT) as client:
            attributes = client.get_printer_attributes()
        formats = {str(v) for v in attributes["document-format-supported"].values}
        pdl = entry.txt["pdl"].split(",")  # nothing the queue does not take, the best first
        assert set(pdl) <= formats - {"application/octet-stream"}
        assert pdl[0] == "application/pdf"
        assert entry.txt["UUID"] == str(attributes["printer-uuid"].value).removeprefix("urn:uuid:")
        assert entry.txt["rp"] == f"ipp/print/{queue}"
        assert entry.txt["Color"] == "F"  # the printer behind it is mono
        assert entry.txt["air"] == "none"
        assert entry.txt["TLS"] == "1.2"
        assert entry.txt["txtvers"] == "1"
        # what Windows' IPP class driver asks for when it adds the printer
        assert attributes["printer-dns-sd-name"].value == name
        assert attributes["mopria-certified"].value == entry.txt["mopria-certified"]
        assert str(attributes["document-format-preferred"].value) in formats


def test_the_password_queue_is_announced_over_ipps_only(world: World) -> None:
    found = _by_name(world.lab.browse("_ipps._tcp", want=len(ANNOUNCED_IPPS)))
    assert set(found) == set(ANNOUNCED_IPPS)
    locked = found["locked"]
    assert locked.port == world.provider.tls_port
    assert locked.txt["air"] == "username,password"


def test_subtypes_answer_a_browse_started_after_the_announcements(world: World) -> None:
    # avahi probes (0.75 s) and announces three times a second apart after a commit; a browse
    # after that must be answered from the publisher's records (python-zeroconf's subtypes
    # were not).
    time.sleep(max(0.0, world.started + 4.5 - time.monotonic()))
    for subtype in ("_universal._sub._ipp._tcp", "_print._sub._ipp._tcp"):
        names = {e.name for e in world.lab.browse(subtype, want=len(ANNOUNCED_IPP))}
        assert names == set(ANNOUNCED_IPP), subtype
    for selector in ("_ipp._tcp,_universal", "_ipp._tcp,_print"):
        assert _ippfind_queues(world, selector, {"office", "secure"}) == {"office", "secure"}


def _ippfind_queues(world: World, selector: str, wanted: set[str]) -> set[str]:
    """This provider's queues ippfind finds under ``selector``: it resolves what it browses
    within its ``-T`` seconds, so a loaded machine may need another look (three at most)."""
    found: set[str] = set()
    for _ in range(3):
        uris = world.lab.client(["ippfind", selector, "-T", "2"]).stdout.split()
        found |= {u.rsplit("/", 1)[-1] for u in uris if f":{world.provider.port}/" in u}
        if found >= wanted:
            break
    return found


def test_a_job_sent_where_discovery_pointed_is_held_for_its_owner(
    world: World, tmp_path: Path
) -> None:
    secure = _by_name(world.lab.browse("_ipp._tcp", want=len(ANNOUNCED_IPP)))["Secure Print"]
    uri = f"ipp://{secure.address}:{secure.port}/{secure.txt['rp']}"
    document = tmp_path / "page.txt"
    document.write_text("printed from a phone\n")
    test = tmp_path / "print.test"
    test.write_text(PRINT_JOB)
    result = world.lab.client(["ipptool", "-tq", "-f", str(document), uri, str(test)])
    assert result.returncode == 0, result.stdout + result.stderr

    def held() -> list[dict[str, object]]:
        jobs: list[dict[str, object]] = world.admin.get(
            "/held-jobs", params={"user": "alice"}
        ).json()["jobs"]
        return [job for job in jobs if job["document_name"] == "from-the-client"]

    assert wait_for(held, "the discovered queue's job held for alice", WAIT)


def test_names_clash_settle_on_the_uuid_suffix_at_every_restart(
    world: World, tmp_path: Path
) -> None:
    queues = [QueueSpec("office2", "direct", "laser", dns_sd_name="Office Laser")]
    second = _provider(world.app, tmp_path / "second", world.lab, queues)
    second.start()
    try:
        uuid = _uuid(second, "office2")
        expected = renamed("Office Laser", uuid)
        assert expected.startswith("Office Laser (")
        names = {e.name for e in world.lab.browse("_ipp._tcp", want=3)}
        assert names == {*ANNOUNCED_IPP, expected}
        second.stop()
        second.start()
        names = {e.name for e in world.lab.browse("_ipp._tcp", want=3)}
        assert names == {*ANNOUNCED_IPP, expected}
        registered = wait_for(lambda: _advert_name(world.admin, second.name, "office2"),
                              "the server told of the queue's advert", WAIT)  # fmt: skip
        assert registered == "Office Laser"  # the name wanted; the network decides the rest
    finally:
        second.stop()
    gone = wait_for(
        lambda: expected not in {e.name for e in world.lab.browse("_ipp._tcp", want=2)},
        "the stopped provider's queue withdrawn",
        WAIT,
    )
    assert gone


def test_adverts_come_back_after_avahi_daemon_restarts(world: World) -> None:
    world.lab.restart_host_avahi()  # every advert of the old daemon is gone with it

    def held_by_the_new_daemon() -> bool:  # its own services, not a client's cache
        return set(ANNOUNCED_IPP) <= world.lab.names("_ipp._tcp", on_host=True)

    assert wait_for(held_by_the_new_daemon, "the queues announced through the new daemon", WAIT)
    metrics = httpx.get(f"http://{world.provider.host}/metrics", timeout=WAIT).text
    assert re.search(r'printwarden_provider_loop_up\{[^}]*loop="mdns"[^}]*\} 1', metrics)


def test_cups_sets_up_the_discovered_queue_driverless_and_the_jobs_wait_for_a_device(
    world: World, tmp_path: Path
) -> None:
    # cups-filters' driverless lists the queues as DNS-SD URIs, which CUPS resolves itself
    # (through the client's avahi) each time it sends a job.
    listed = world.lab.client(["driverless"], timeout=WAIT).stdout.split()
    uri = "ipps://Secure%20Print._ipps._tcp.local/"
    assert uri in listed, listed
    lab = world.lab
    cups = Cupsd(prefix=["ip", "netns", "exec", lab.netns], env=lab.client_env())
    cups.start()
    try:
        cups.add_everywhere_queue("found", uri)  # CUPS writes a PPD from the queue's answer
        for name, data in _documents().items():
            path = tmp_path / name
            path.write_bytes(data)
            job = cups.lp("found", path, "alice")
            sent = _until(functools.partial(cups.job_done, "found", job))
            assert sent, f"cups did not send {name}:\n{_job_lines(cups)}"
        device_token = world.app.device_token("mobility-mfd", "laser")
        with DeviceClient(world.app.url, device_token, timeout=WAIT) as device:
            session = device.login_card(CARD)
            names = {job.document_name for job in device.jobs(session)}
            assert set(_documents()) <= names  # held for alice, not printed
            before = _balance(world.admin, "alice")
            device.release_all(session)
        out = world.provider.directory / "out"
        assert wait_for(lambda: len(list(out.glob("*"))) >= 2, "both released jobs printed", WAIT)
        charged = wait_for(lambda: _balance(world.admin, "alice") < before, "charged", WAIT)
        assert charged
    finally:
        cups.stop()


def _balance(admin: httpx.Client, user: str) -> int:
    value: int = admin.get(f"/users/{user}").json()["balance"]
    return value


def _job_lines(cups: Cupsd) -> str:
    text = cups.error_log.read_text(errors="replace")
    return "\n".join(line for line in text.splitlines() if "[Job " in line)[-6000:]


def _until(condition: Callable[[], bool], seconds: float = WAIT) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _documents() -> dict[str, bytes]:
    image = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(image, "JPEG")
    pdf = io.BytesIO()
    document = pikepdf.new()
    document.add_blank_page(page_size=(595, 842))
    document.save(pdf)
    return {"report.pdf": pdf.getvalue(), "photo.jpg": image.getvalue()}


def _uuid(provider: ProviderProcess, queue: str) -> str:
    with IppClient(provider.uri(queue), user_name="alice", timeout=WAIT) as client:
        value = client.get_printer_attributes(["printer-uuid"])["printer-uuid"].value
    return str(value).removeprefix("urn:uuid:")


def _advert_name(admin: httpx.Client, provider: str, queue: str) -> str | None:
    for listed in admin.get("/providers").json():
        if listed["name"] != provider:
            continue
        for entry in listed["queues"]:
            if entry["name"] == queue and entry.get("dns_sd"):
                return str(entry["dns_sd"]["name"])
    return None


PRINT_JOB = """
{
  NAME "Print-Job to the queue discovery found"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name alice
  ATTR name job-name from-the-client
  ATTR mimeMediaType document-format text/plain
  FILE $filename
  STATUS successful-ok
}
"""

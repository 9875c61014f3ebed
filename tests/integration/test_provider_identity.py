"""Who is printing (issue 16 §3): ipps:// with HTTP Basic for real clients (ipptool, pyipp),
secrets only over TLS, Release-Job on held queues, other users' jobs masked, unknown users
refused at submission, and per-user print URLs — against a real App Server and provider.

The provider runs with ``loopback_is_local = false``: the tests' loopback clients count as
remote, so "a password only over TLS" is what they meet.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from pyipp import IPP
from pyipp.enums import IppOperation

from printwarden.domain.accounts import Role
from printwarden.provider.ipp import Attribute, JobState, Operation, ValueTag
from printwarden.provider.ipp.client import IppClient, IppError, IppProtocolError
from printwarden.testing.appserver import AppServer, served_app
from printwarden.testing.provider import BasicOverTls
from printwarden.testing.terminal import run_with_terminal
from support.provider import PrinterSpec, ProviderProcess, QueueSpec, file_printer_documents
from support.seeding import PRICES, add_user, wait_for

PASSWORDS = {"alice": "alice-password-7", "bob": "bob-password-7", "boss": "boss-password-7"}
NOT_AUTHORIZED = 0x0403
NOT_AUTHENTICATED = 0x0402
WAIT = 20.0


@dataclass
class World:
    app: AppServer
    admin: httpx.Client
    provider: ProviderProcess
    out: Path

    def printed(self) -> list[bytes]:
        return file_printer_documents(self.out)

    def plain(self, queue: str, user: str) -> IppClient:
        """A client over plain IPP that claims to be ``user`` (no secret)."""
        return IppClient(self.provider.uri(queue), user_name=user, timeout=WAIT)

    def secure(self, queue: str, user: str, *, path: str = "") -> IppClient:
        """A client over ipps:// that logs in as ``user`` with HTTP Basic."""
        transport = BasicOverTls(self.provider.tls_ca, user, PASSWORDS[user])
        uri = self.provider.ipps_uri(queue) + path
        return IppClient(uri, user_name=user, timeout=WAIT, transport=transport)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("identity")
    with served_app(root, "root", WAIT) as (app, admin):
        body = {"name": "laser", "colour": False, "cost_model": {"sizes": {"default": PRICES}}}
        assert admin.post("/printers", json=body).status_code == 201
        for name in ("alice", "bob"):
            add_user(admin, name, 1000, password=PASSWORDS[name])
        boss = {"username": "boss", "password": PASSWORDS["boss"], "is_admin": True}
        assert admin.post("/users", json=boss).status_code == 201
        out = root / "out"
        provider = ProviderProcess(
            server_url=app.url,
            token=app.token(Role.PROVIDER),
            directory=root,
            printers=[PrinterSpec("laser", f"file://{out}", colour=False)],
            queues=[
                QueueSpec("office", "direct", "laser"),  # trust-client-username, the default
                QueueSpec("locked", "direct", "laser", identity="authenticate"),
                QueueSpec("secure", "hold", "laser"),
                QueueSpec("byod", "direct", "laser", identity="token-url"),
            ],
            tls=True,
            extra=["loopback_is_local = false", "user_check_seconds = 0"],
        )
        provider.start()
        try:
            yield World(app, admin, provider, out)
        finally:
            provider.stop()


def job_id_attribute(job_id: int) -> list[Attribute]:
    return [Attribute.of("job-id", ValueTag.INTEGER, job_id)]


# --- ipptool and pyipp over ipps:// with HTTP Basic ----------------------------------------

PRINT_AND_READ = """
{{
  NAME "Print-Job claiming to be mallory"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR name requesting-user-name mallory
  ATTR name job-name "ipptool-over-tls"
  ATTR mimeMediaType document-format text/plain
  FILE {document}
  STATUS successful-ok
  EXPECT job-id OF-TYPE integer
}}
{{
  NAME "Get-Job-Attributes names the logged-in user"
  OPERATION Get-Job-Attributes
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR integer job-id $job-id
  ATTR name requesting-user-name mallory
  STATUS successful-ok
  EXPECT job-originating-user-name OF-TYPE name WITH-VALUE "alice"
  EXPECT job-printer-uri WITH-VALUE "/^ipps:/"
}}
"""


def test_ipptool_prints_over_ipps_as_the_user_whose_password_it_typed(
    world: World, tmp_path: Path
) -> None:
    document = tmp_path / "page.txt"
    document.write_bytes(b"ipptool over tls\n")
    suite = tmp_path / "print.test"
    suite.write_text(PRINT_AND_READ.format(document=document))
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "CUPS_USER": "alice", "LANG": "C"}
    command = ["ipptool", "-t", world.provider.ipps_uri("locked"), str(suite)]

    code, output = run_with_terminal(command, env, PASSWORDS["alice"])

    assert "Password for alice" in output, output
    assert code == 0, output
    assert "2 tests, 2 passed, 0 failed" in output, output
    wait_for(lambda: b"ipptool over tls\n" in world.printed(), "ipptool's page")


# pyipp sends Basic through aiohttp's BasicAuth, which aiohttp now deprecates.
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning")
def test_pyipp_prints_over_ipps_with_basic_trusting_only_the_providers_certificate(
    world: World,
) -> None:
    async def print_and_read(password: str) -> dict[str, Any]:
        context = ssl.create_default_context(cafile=str(world.provider.tls_ca))
        connector = aiohttp.TCPConnector(ssl=context)
        async with aiohttp.ClientSession(connector=connector) as session:
            client = IPP(
                world.provider.ipps_uri("locked"),
                username="bob",
                password=password,
                verify_ssl=True,
                session=session,
            )
            printed = await client.execute(
                IppOperation.PRINT_JOB,
                {
                    "operation-attributes-tag": {
                        "requesting-user-name": "mallory",
                        "job-name": "pyipp-over-tls",
                        "document-format": "text/plain",
                    },
                    "data": b"pyipp over tls\n",
                },
            )
            job_id = printed["jobs"][0]["job-id"]
            read = await client.execute(
                IppOperation.GET_JOB_ATTRIBUTES,
                {"operation-attributes-tag": {"job-id": job_id}},
            )
        job: dict[str, Any] = read["jobs"][0]
        return job

    job = asyncio.run(print_and_read(PASSWORDS["bob"]))
    assert job["job-originating-user-name"] == "bob"  # the password's user, not the claim
    assert job["job-name"] == "pyipp-over-tls"
    wait_for(lambda: b"pyipp over tls\n" in world.printed(), "pyipp's page")

    from pyipp.exceptions import IPPResponseError

    with pytest.raises(IPPResponseError) as wrong:
        asyncio.run(print_and_read("not-the-password"))
    assert wrong.value.args[1]["status-code"] == 401


# --- secrets only over TLS -------------------------------------------------------------------


def test_a_password_over_plain_http_is_refused_unread(world: World) -> None:
    """Right or wrong, a password sent over plain HTTP from a remote client is refused
    without being checked, and an authenticate queue asks for none there (a 401 would make
    a client send it in clear)."""
    for password in (PASSWORDS["alice"], "wrong"):
        answer = httpx.post(
            f"http://{world.provider.host}/ipp/print/locked",
            content=_print_job(world.provider.uri("locked"), b"in clear\n"),
            headers={"Content-Type": "application/ipp"},
            auth=("alice", password),
            timeout=WAIT,
        )
        assert answer.status_code == 200
        status, message = _status(answer.content)
        assert status == NOT_AUTHORIZED
        assert "only over TLS" in message
    with world.plain("locked", "alice") as client, pytest.raises(IppError) as bare:
        client.print_job(b"no password\n", document_format="text/plain")
    assert bare.value.status == NOT_AUTHENTICATED
    assert "ipps://" in bare.value.message
    # The probe a phone or a Mac sends before it prints is told the same, never challenged
    # (a 401 would make it send a password in clear).
    probe = httpx.post(
        f"http://{world.provider.host}/ipp/print/locked",
        content=_request(Operation.VALIDATE_JOB, world.provider.uri("locked")),
        headers={"Content-Type": "application/ipp"},
        timeout=WAIT,
    )
    assert probe.status_code == 200
    assert _status(probe.content)[0] == NOT_AUTHENTICATED
    lockouts = world.admin.get("/lockouts").json()["items"]
    assert "user:alice" not in {item["key"] for item in lockouts}  # nothing was checked
    assert b"in clear\n" not in world.printed()
    # Over TLS the same queue challenges for a password instead.
    with (
        httpx.Client(verify=ssl.create_default_context(cafile=str(world.provider.tls_ca))) as tls,
    ):
        challenged = tls.post(
            f"https://127.0.0.1:{world.provider.tls_port}/ipp/print/locked",
            content=_print_job(world.provider.ipps_uri("locked"), b"x\n"),
            headers={"Content-Type": "application/ipp"},
        )
    assert challenged.status_code == 401
    assert challenged.headers["www-authenticate"].startswith("Basic ")


# --- Release-Job -----------------------------------------------------------------------------


def test_release_job_on_a_hold_queue_is_refused_to_its_owner_but_not_to_an_admin(
    world: World,
) -> None:
    with world.plain("secure", "alice") as client:
        job_id = client.print_job(b"held for release\n", document_format="text/plain")
        with pytest.raises(IppError) as refused:
            client.request(Operation.RELEASE_JOB, job_id_attribute(job_id))
        state = client.get_job_attributes(job_id).value("job-state")
    assert refused.value.status == NOT_AUTHORIZED
    assert "release station" in refused.value.message
    assert state == JobState.PENDING_HELD
    time.sleep(0.5)
    assert b"held for release\n" not in world.printed()

    with world.secure("secure", "boss") as admin:
        admin.request(Operation.RELEASE_JOB, job_id_attribute(job_id))
    wait_for(lambda: b"held for release\n" in world.printed(), "the page the admin released")


def test_an_owner_lifts_only_their_own_hold_on_a_hold_queue(world: World) -> None:
    """job-hold-until is the owner's hold and Release-Job lifts it (the stock ipptool suites
    count on that); the queue's hold stays until a device or the portal releases the job."""
    with world.plain("secure", "alice") as client:
        job_id = client.print_job(
            b"my own hold\n",
            document_format="text/plain",
            attributes={"job-hold-until": "indefinite"},
        )
        client.request(Operation.RELEASE_JOB, job_id_attribute(job_id))
        job = client.get_job_attributes(job_id)
        with pytest.raises(IppError) as again:
            client.request(Operation.RELEASE_JOB, job_id_attribute(job_id))
    assert job.value("job-state") == JobState.PENDING_HELD
    assert again.value.status == NOT_AUTHORIZED
    time.sleep(0.5)
    assert b"my own hold\n" not in world.printed()


def password_checks(world: World) -> dict[str, int]:
    """The provider's count of passwords asked of the server and remembered."""
    text = httpx.get(f"http://{world.provider.host}/metrics", timeout=WAIT).text
    found = re.findall(r'password_checks_total\{[^}]*outcome="(\w+)"\} (\d+)', text)
    return {outcome: int(value) for outcome, value in found}


def test_a_connection_has_its_password_checked_once_not_at_every_request(
    world: World,
) -> None:
    """CUPS's back-end sends the password with each of a job's requests on one connection:
    the server's argon2 runs for the first only. A new connection, or another password, is
    checked again; a wrong one is refused (and never remembered)."""
    before = password_checks(world)
    with world.secure("locked", "alice") as client:
        for _ in range(4):
            _listed(client, "locked")
    once = password_checks(world)
    assert once["asked"] - before.get("asked", 0) == 1, (before, once)
    assert once["remembered"] - before.get("remembered", 0) == 3, (before, once)
    with world.secure("locked", "alice") as client:
        _listed(client, "locked")
    assert password_checks(world)["asked"] == once["asked"] + 1
    transport = BasicOverTls(world.provider.tls_ca, "alice", "not-her-password")
    uri = world.provider.ipps_uri("locked")
    with IppClient(uri, user_name="alice", timeout=WAIT, transport=transport) as client:
        for _ in range(2):
            with pytest.raises(IppProtocolError) as refused:
                _listed(client, "locked")
            assert refused.value.http_status == 401
    after = password_checks(world)
    assert after["asked"] == once["asked"] + 3
    assert after["remembered"] == once["remembered"]


# --- privacy ---------------------------------------------------------------------------------

SHOWN = ["job-id", "job-name", "job-originating-user-name", "job-state"]


def _listed(client: IppClient, queue: str) -> dict[int, dict[str, Any]]:
    answer = client.request(
        Operation.GET_JOBS,
        [
            Attribute.of("which-jobs", ValueTag.KEYWORD, "all"),
            Attribute.of("requested-attributes", ValueTag.KEYWORD, *SHOWN),
        ],
    )
    jobs = {}
    for group in answer.groups:
        if group.tag == 0x02:
            values = {name: group.value(name) for name in group}
            jobs[int(str(values["job-id"]))] = values
    return jobs


def test_other_users_jobs_show_no_name_or_owner_except_to_their_owner_and_admins(
    world: World,
) -> None:
    with world.plain("office", "alice") as client:
        job_id = client.print_job(
            b"salary review\n", document_format="text/plain", job_name="salary-review-2026"
        )
        own = _listed(client, "office")[job_id]
        own_job = client.get_job_attributes(job_id, SHOWN)
    assert own["job-name"] == "salary-review-2026"
    assert own["job-originating-user-name"] == "alice"
    assert own_job.value("job-name") == "salary-review-2026"

    with world.plain("office", "bob") as client:
        other = _listed(client, "office")[job_id]
        other_job = client.get_job_attributes(job_id, SHOWN)
    assert "job-name" not in other
    assert "job-originating-user-name" not in other
    assert other["job-state"] is not None  # the job is listed, only its private values go
    assert "job-name" not in other_job
    assert "job-originating-user-name" not in other_job

    with world.secure("office", "boss") as admin:
        seen = _listed(admin, "office")[job_id]
    assert seen["job-name"] == "salary-review-2026"
    assert seen["job-originating-user-name"] == "alice"


# --- unknown users ---------------------------------------------------------------------------


def test_a_job_from_a_user_the_server_does_not_know_is_refused_at_submission(
    world: World, tmp_path: Path
) -> None:
    document = tmp_path / "page.txt"
    document.write_bytes(b"from a stranger\n")
    host = world.provider.host

    refused = subprocess.run(
        ["lp", "-h", host, "-d", "office", "-U", "stranger", str(document)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "does not know user 'stranger'" in refused.stderr

    with world.plain("office", "stranger") as client, pytest.raises(IppError) as answer:
        client.print_job(b"from a stranger\n", document_format="text/plain")
    assert answer.value.status == NOT_AUTHORIZED
    assert "does not know user 'stranger'" in answer.value.message
    with world.secure("office", "boss") as admin:
        everyone = _listed(admin, "office").values()
    assert all(job["job-originating-user-name"] != "stranger" for job in everyone)

    accepted = subprocess.run(
        ["lp", "-h", host, "-d", "office", "-U", "alice", str(document)],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    wait_for(lambda: b"from a stranger\n" in world.printed(), "alice's copy of the page")


# --- print URLs ------------------------------------------------------------------------------


def test_a_print_url_prints_as_its_owner_only_over_tls_until_revoked(world: World) -> None:
    made = world.admin.post("/users/alice/print-tokens", json={"label": "phone"})
    assert made.status_code == 201, made.text
    token, token_id = made.json()["token"], made.json()["id"]
    path = f"/u/{token}"
    context = ssl.create_default_context(cafile=str(world.provider.tls_ca))
    uri = world.provider.ipps_uri("byod") + path

    def client() -> IppClient:
        transport = httpx.HTTPTransport(verify=context)
        return IppClient(uri, user_name="mallory", timeout=WAIT, transport=transport)

    with client() as phone:
        job_id = phone.print_job(b"from my phone\n", document_format="text/plain")
        owner = phone.get_job_attributes(job_id).value("job-originating-user-name")
    assert owner == "alice"
    wait_for(lambda: b"from my phone\n" in world.printed(), "the phone's page")

    plain = IppClient(world.provider.uri("byod") + path, user_name="mallory", timeout=WAIT)
    with plain, pytest.raises(IppError) as in_clear:
        plain.print_job(b"in clear\n", document_format="text/plain")
    assert in_clear.value.status == NOT_AUTHORIZED
    with world.plain("byod", "alice") as bare, pytest.raises(IppError) as without:
        bare.print_job(b"no url\n", document_format="text/plain")
    assert without.value.status == NOT_AUTHORIZED
    assert "print URL" in without.value.message

    listed = world.admin.get("/users/alice/print-tokens").json()
    assert [item["id"] for item in listed] == [token_id]
    assert listed[0]["token"] is None
    assert listed[0]["last_used_at"] is not None
    revoked = world.admin.delete(f"/users/alice/print-tokens/{token_id}")
    assert revoked.status_code == 204
    with client() as phone, pytest.raises(IppError) as gone:
        phone.print_job(b"after revocation\n", document_format="text/plain")
    assert gone.value.status == NOT_AUTHORIZED
    assert "not valid" in gone.value.message
    assert token not in (world.provider.directory / "provider.log").read_text()


def test_ipptool_prints_with_nothing_but_a_print_url_until_it_is_revoked(
    world: World, tmp_path: Path
) -> None:
    """What Windows' "Add a printer by URL" does: the URL is all it has (no user, no
    password); here CUPS' ipptool plays it."""
    made = world.admin.post("/users/bob/print-tokens", json={"label": "laptop"}).json()
    uri = world.provider.ipps_uri("byod") + f"/u/{made['token']}"
    document = tmp_path / "page.txt"
    suite = tmp_path / "print.test"
    suite.write_text(URL_PRINT.format(document=document))
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C"}

    def ipptool(text: bytes) -> subprocess.CompletedProcess[str]:
        document.write_bytes(text)
        return subprocess.run(["ipptool", "-t", uri, str(suite)], env=env, capture_output=True,
                              text=True, timeout=WAIT, check=False)  # fmt: skip

    first = ipptool(b"added by url\n")
    assert first.returncode == 0, first.stdout + first.stderr
    wait_for(lambda: b"added by url\n" in world.printed(), "the page printed by URL")
    revoked = world.admin.delete(f"/users/bob/print-tokens/{made['id']}")
    assert revoked.status_code == 204
    after = ipptool(b"after revocation by url\n")
    assert after.returncode != 0
    assert "client-error-not-authorized" in after.stdout, after.stdout
    assert b"after revocation by url\n" not in world.printed()


URL_PRINT = """
{{
  NAME "Print-Job to a print URL, as its owner"
  OPERATION Print-Job
  GROUP operation-attributes-tag
  ATTR charset attributes-charset utf-8
  ATTR naturalLanguage attributes-natural-language en
  ATTR uri printer-uri $uri
  ATTR mimeMediaType document-format text/plain
  FILE {document}
  STATUS successful-ok
  EXPECT job-id
}}
"""


# --- helpers ---------------------------------------------------------------------------------


def _print_job(uri: str, document: bytes) -> bytes:
    return _request(Operation.PRINT_JOB, uri) + document


def _request(operation: int, uri: str) -> bytes:
    from printwarden.provider.ipp import Message, encode_message
    from printwarden.provider.ipp.builders import operation_group

    group = operation_group("en")
    group.add(Attribute.of("printer-uri", ValueTag.URI, uri))
    group.add(Attribute.of("requesting-user-name", ValueTag.NAME_WITHOUT_LANGUAGE, "alice"))
    group.add(Attribute.of("document-format", ValueTag.MIME_MEDIA_TYPE, "text/plain"))
    message = Message(code=operation, request_id=1, groups=[group])
    return encode_message(message)


def _status(body: bytes) -> tuple[int, str]:
    from printwarden.provider.ipp import decode_message

    message, _ = decode_message(body)
    operation = message.operation
    text = operation.get("status-message") if operation is not None else None
    return message.code, str(text.value) if text is not None else ""


# --- the two listeners ----------------------------------------------------------------------


def test_the_provider_logs_the_fingerprint_of_its_certificate(world: World) -> None:
    """Both listeners serve one process: the plain port answers and the ipps:// line names
    the certificate clients can pin."""
    log = (world.provider.directory / "provider.log").read_text(errors="replace")
    pem = world.provider.tls_ca.read_bytes()
    certificate = ssl.PEM_cert_to_DER_cert(pem.decode())
    fingerprint = hashlib.sha256(certificate).hexdigest().upper()
    pairs = ":".join(fingerprint[i : i + 2] for i in range(0, len(fingerprint), 2))
    assert f"ipps:// on port {world.provider.tls_port}; certificate SHA-256 fingerprint " in log
    assert pairs in log


def test_a_provider_whose_ipps_port_is_taken_does_not_start(world: World, tmp_path: Path) -> None:
    with socket.socket() as taken:  # bound, not listening: the port cannot be had
        taken.bind(("127.0.0.1", 0))
        provider = ProviderProcess(
            server_url=world.app.url,
            token=world.app.token(Role.PROVIDER),
            directory=tmp_path,
            printers=[PrinterSpec("laser", f"file://{tmp_path / 'out'}", colour=False)],
            queues=[QueueSpec("office", "direct", "laser")],
            tls=True,
            tls_port=taken.getsockname()[1],
        )
        try:
            with pytest.raises(RuntimeError, match="provider exited") as failed:
                provider.start()
        finally:
            provider.stop()
    assert "address already in use" in str(failed.value).lower()
    assert provider.process is not None
    assert provider.process.returncode not in (None, 0)

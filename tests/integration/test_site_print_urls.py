"""Print URLs at an offline site, on real processes: an App Server, a Site Server behind a
cut link, and a provider with a token-url queue served by the site.

Print URLs replicate to the site, so while the link is down the site tells its provider
whose a print URL made at HQ is — also after the provider restarts and has forgotten
everything — and a revocation made at HQ before the cut holds there.
"""

from __future__ import annotations

import secrets
import ssl
import uuid
from collections.abc import Iterator

import httpx
import pytest

from printwarden.provider.ipp.client import IppClient, IppError
from support.provider import QueueSpec
from support.seeding import add_user, wait_for
from support.site import PRINTER, World, site_world

NOT_AUTHORIZED = 0x0403
WAIT = 30.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    byod = QueueSpec("byod", "direct", PRINTER, identity="token-url")
    with site_world(tmp_path_factory.mktemp("print-urls"), queues=[byod], tls=True) as made:
        yield made


def phone(world: World, token: str) -> IppClient:
    """An IPP client over ipps:// on ``token``'s print URL, claiming to be someone else."""
    context = ssl.create_default_context(cafile=str(world.provider.tls_ca))
    uri = f"{world.provider.ipps_uri('byod')}/u/{token}"
    transport = httpx.HTTPTransport(verify=context)
    return IppClient(uri, user_name="mallory", timeout=WAIT, transport=transport)


def print_through(world: World, token: str, text: bytes) -> str:
    """Print ``text`` through ``token``'s print URL; the job's owner."""
    with phone(world, token) as client:
        job_id = client.print_job(text, document_format="text/plain")
        owner = str(client.get_job_attributes(job_id).value("job-originating-user-name"))
    wait_for(lambda: text in world.printed(), f"{text!r} on paper", WAIT)
    return owner


def refusal(world: World, token: str) -> IppError:
    with phone(world, token) as client, pytest.raises(IppError) as refused:
        client.print_job(b"must not print\n", document_format="text/plain")
    return refused.value


def make_url(world: World, user: str) -> tuple[str, int]:
    made = world.admin.post(f"/users/{user}/print-tokens", json={"label": "phone"})
    assert made.status_code == 201, made.text
    return str(made.json()["token"]), int(made.json()["id"])


def test_a_print_url_made_at_hq_prints_at_the_offline_site_also_after_a_provider_restart(
    world: World,
) -> None:
    user = f"ann-{uuid.uuid4().hex[:6]}"
    add_user(world.admin, user, 1_000)
    token, _ = make_url(world, user)  # never used before the cut: the provider knows nothing
    wait_for(world.caught_up, "the site's replica to catch up")

    with world.outage():
        first = f"offline via {user}'s print URL\n".encode()
        assert print_through(world, token, first) == user
        world.provider.stop()  # a restart forgets every answer the provider was given
        world.provider.start()
        again = f"offline again via {user}'s print URL, after a restart\n".encode()
        assert print_through(world, token, again) == user
        assert world.balance(user) == 1_000  # HQ has not heard of the jobs yet

    # Reconciled: both offline jobs are the print URL's owner's, charged once each.
    wait_for(lambda: world.balance(user) == 1_000 - 2 * 10, "the offline charges at HQ", WAIT)
    for log in (world.provider.directory / "provider.log", world.site.log):
        assert token not in log.read_text()


def test_a_print_url_revoked_at_hq_before_the_cut_is_refused_at_the_offline_site(
    world: World,
) -> None:
    user = f"bea-{uuid.uuid4().hex[:6]}"
    add_user(world.admin, user, 1_000)
    token, token_id = make_url(world, user)
    revoked = world.admin.delete(f"/users/{user}/print-tokens/{token_id}")
    assert revoked.status_code == 204
    kept, _ = make_url(world, user)
    wait_for(world.caught_up, "the revocation to reach the site")
    printed_before = len(world.printed())

    with world.outage():
        gone = refusal(world, token)
        assert gone.status == NOT_AUTHORIZED
        assert "not valid" in gone.message
        unknown = refusal(world, "pw_print_" + secrets.token_urlsafe(32))
        assert unknown.status == NOT_AUTHORIZED
        assert "offline" in unknown.message  # it may be newer than the site's replica
        assert print_through(world, kept, b"the other print URL still prints\n") == user
    assert len(world.printed()) == printed_before + 1

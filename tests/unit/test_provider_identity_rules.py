"""Who is printing: the identity rules of provider queues, TLS material, and old configs."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import pytest
from cryptography import x509
from pydantic import ValidationError

from printwarden.provider import identity, tls
from printwarden.provider.config import Identity, ProviderConfig, QueueConfig
from printwarden.provider.identity import Need, plan
from printwarden.provider.service_client import ServerUnreachable, Submitter
from printwarden.provider.submitters import CannotTell, SubmitterRefused, Submitters


def test_an_old_require_authentication_loads_as_authenticate() -> None:
    old = QueueConfig.model_validate({"name": "q", "printer": "p", "require_authentication": True})
    assert old.identity is Identity.AUTHENTICATE
    plain = QueueConfig.model_validate({"name": "q", "printer": "p"})
    assert plain.identity is Identity.TRUST_CLIENT_USERNAME
    assert plain.require_authentication is False
    token = QueueConfig.model_validate({"name": "q", "printer": "p", "identity": "token-url"})
    assert token.identity is Identity.TOKEN_URL
    with pytest.raises(ValidationError, match="contradicts"):
        QueueConfig.model_validate(
            {"name": "q", "identity": "token-url", "require_authentication": True}
        )


@pytest.mark.parametrize(
    ("tls_on", "client", "loopback_local", "secure"),
    [
        (True, "192.0.2.7", True, True),
        (False, "192.0.2.7", True, False),
        (False, "127.0.0.1", True, True),
        (False, "::1", True, True),
        (False, "127.0.0.1", False, False),  # a proxy on this host forwards remote clients
        (True, "127.0.0.1", False, True),
        (False, "", True, False),
    ],
)
def test_secrets_travel_only_over_tls_or_from_loopback(
    tls_on: bool, client: str, loopback_local: bool, secure: bool
) -> None:
    assert identity.secure_channel(tls_on, client, loopback_local) is secure


def test_a_password_on_a_plain_remote_connection_is_refused_unread() -> None:
    for policy in Identity:
        refused = plan(policy, secure=False, password=True, token=False, reads_printer=False)
        assert refused.need is Need.REFUSED
        assert "TLS" in refused.why
        checked = plan(policy, secure=True, password=True, token=False, reads_printer=False)
        assert checked.need is Need.PASSWORD


def test_each_policy_asks_for_what_it_needs() -> None:
    def need(
        policy: Identity, *, secure: bool = True, token: bool = False, reads_printer: bool = False
    ) -> Need:
        found = plan(
            policy, secure=secure, password=False, token=token, reads_printer=reads_printer
        )
        return found.need

    assert need(Identity.TRUST_CLIENT_USERNAME) is Need.CLAIMED
    assert need(Identity.AUTHENTICATE) is Need.CHALLENGE
    assert need(Identity.AUTHENTICATE, secure=False) is Need.NOT_AUTHENTICATED  # never a 401
    assert need(Identity.AUTHENTICATE, reads_printer=True) is Need.CLAIMED
    assert need(Identity.TOKEN_URL) is Need.REFUSED
    assert need(Identity.TOKEN_URL, token=True) is Need.TOKEN
    assert need(Identity.TOKEN_URL, token=True, secure=False) is Need.REFUSED
    assert need(Identity.TRUST_CLIENT_USERNAME, token=True) is Need.REFUSED


def test_the_token_of_a_print_url() -> None:
    assert identity.path_token("/ipp/print/byod/u/pw_print_abc-_9") == "pw_print_abc-_9"
    assert identity.path_token("/printers/byod/u/xyz/5") == "xyz"
    assert identity.path_token("/ipp/print/byod") == ""
    assert identity.path_token("/ipp/print/byod/5") == ""
    assert identity.well_formed("pw_print_abc-_9")
    assert not identity.well_formed("a b")
    assert not identity.well_formed("x" * 200)


def test_masking_spares_owners_and_administrators() -> None:
    assert identity.Requester("alice").sees("alice")
    assert not identity.Requester("bob").sees("alice")
    assert identity.Requester("root", authenticated=True, admin=True).sees("alice")


def test_a_self_signed_certificate_is_made_private_kept_and_trusted(tmp_path: Path) -> None:
    config = ProviderConfig.model_validate({"data_dir": str(tmp_path), "tls": {"port": 0}})
    made = tls.prepare(config)
    assert made is not None
    assert made.self_signed
    for path in (made.certificate, made.key):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(made.certificate.parent.stat().st_mode) == 0o700
    certificate = x509.load_pem_x509_certificate(made.certificate.read_bytes())
    assert tls.fingerprint(certificate) == made.fingerprint
    assert len(made.fingerprint.split(":")) == 32
    again = tls.prepare(config)
    assert again is not None
    assert again.fingerprint == made.fingerprint  # kept, not made anew
    client = ssl.create_default_context(cafile=str(made.certificate))
    assert client.get_ca_certs()  # usable as the trust anchor (tls_ca)
    made.server_context()


def test_a_new_name_makes_a_new_certificate(tmp_path: Path) -> None:
    first = tls.self_signed(tmp_path, ["localhost", "127.0.0.1"])
    second = tls.self_signed(tmp_path, ["localhost", "127.0.0.1", "printers.example"])
    assert first.fingerprint != second.fingerprint


def test_a_configured_certificate_must_match_its_key(tmp_path: Path) -> None:
    one = tls.self_signed(tmp_path / "one", ["localhost"])
    two = tls.self_signed(tmp_path / "two", ["localhost"])
    config = ProviderConfig.model_validate(
        {"tls": {"certificate": str(one.certificate), "key": str(two.key)}}
    )
    with pytest.raises(tls.TlsError):
        tls.prepare(config)
    with pytest.raises(ValidationError, match="both"):
        ProviderConfig.model_validate({"tls": {"certificate": str(one.certificate)}})


class Server:
    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []
        self.down = False
        self.users = {"alice"}
        self.tokens = {"good": "alice"}

    def __call__(self, **question: str) -> Submitter:
        self.asked.append(question)
        if self.down:
            raise ServerUnreachable("down")
        if "print_token" in question:
            owner = self.tokens.get(question["print_token"], "")
            return Submitter(bool(owner), owner, "" if owner else "not valid", known=bool(owner))
        if question["username"] == "policy-guest":  # taken offline by policy, not known
            return Submitter(True, "policy-guest")
        known = question["username"] in self.users
        reason = "" if known else "unknown user"
        return Submitter(known, question["username"], reason, known=known)


def test_the_servers_yes_is_kept_and_its_no_is_not() -> None:
    now = [0.0]
    server = Server()
    submitters = Submitters(server, ttl=60, clock=lambda: now[0])
    submitters.check_user("alice")
    submitters.check_user("alice")
    assert len(server.asked) == 1
    with pytest.raises(SubmitterRefused, match="unknown user"):
        submitters.check_user("mallory")
    server.users.add("mallory")
    submitters.check_user("mallory")  # added a moment ago: prints at once
    now[0] = 61
    submitters.check_user("alice")
    assert len(server.asked) == 4
    submitters.check_user("policy-guest")
    submitters.check_user("policy-guest")
    assert len(server.asked) == 6  # an unknown user taken by policy is asked about each time


def test_without_a_server_users_print_and_only_known_print_urls_work() -> None:
    now = [0.0]
    server = Server()
    submitters = Submitters(server, ttl=60, clock=lambda: now[0])
    assert submitters.token_user("good") == "alice"
    server.down = True
    now[0] = 1000
    submitters.check_user("anyone")  # failure mode: the job is taken
    assert submitters.token_user("good") == "alice"  # the last word on it
    with pytest.raises(CannotTell):
        submitters.token_user("never-seen")
    asked = len(server.asked)
    submitters.check_user("someone")
    assert len(server.asked) == asked  # a silent server is not asked again at once

"""Sender authentication: trusted relays' Authentication-Results, DKIM and SPF checked with
injected DNS, and relaxed DMARC alignment."""

from __future__ import annotations

import base64
import email
from email import policy
from functools import cache
from typing import Any

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from printwarden.mail.sender_auth import (
    Connection,
    Trust,
    Verdict,
    aligned,
    authenticate,
    organizational_domain,
)

BODY = (
    b"From: Ann <ann@example.org>\r\nTo: print@print.example.org\r\n"
    b"Subject: print\r\nMessage-ID: <1@example.org>\r\n\r\nhello\r\n"
)
TRUST = Trust(authserv_ids=("mx.example.org",))
OUTSIDE = Connection("203.0.113.9", "ann@example.org", "mail.example.org")


class Dns:
    """An injected resolver: answers from a dictionary, and records what was asked."""

    def __init__(self, records: dict[tuple[str, str], list[Any]] | None = None) -> None:
        self.records = records or {}
        self.asked: list[tuple[str, str]] = []

    def __call__(self, name: str, qtype: str) -> list[Any]:
        self.asked.append((name, qtype))
        return self.records.get((name, qtype), [])


def check(raw: bytes, dns: Dns, trust: Trust = TRUST, conn: Connection = OUTSIDE) -> Verdict:
    msg = email.message_from_bytes(raw, policy=policy.compat32)
    return authenticate(raw, msg, "ann@example.org", conn, trust, dns)


def with_ar(*values: str) -> bytes:
    headers = b"".join(f"Authentication-Results: {v}\r\n".encode() for v in values)
    return headers + BODY


@pytest.mark.parametrize(
    ("domain", "from_domain", "expected"),
    [
        ("mail.example.org", "example.org", True),
        ("example.org", "news.example.org", True),
        ("example.org.evil.com", "example.org", False),
        ("evil.com", "example.org", False),
        ("a.example.co.uk", "b.example.co.uk", True),
        ("example.co.uk", "other.co.uk", False),
        ("", "example.org", False),
    ],
)
def test_relaxed_alignment_by_organizational_domain(
    domain: str, from_domain: str, expected: bool
) -> None:
    assert aligned(domain, from_domain) is expected


def test_organizational_domain_uses_the_public_suffix_list() -> None:
    assert organizational_domain("Mail.Example.CO.UK.") == "example.co.uk"


def test_a_trusted_relay_saying_dmarc_pass_is_enough() -> None:
    dns = Dns()
    verdict = check(with_ar("mx.example.org; dmarc=pass header.from=example.org"), dns)
    assert verdict == Verdict(True, "the trusted relay says dmarc=pass")
    assert dns.asked == []  # no lookups of our own


def test_a_trusted_relay_saying_aligned_spf_or_dkim_pass_is_enough() -> None:
    spf = with_ar("mx.example.org; spf=pass smtp.mailfrom=bounce@mail.example.org")
    dkim_pass = with_ar("mx.example.org; dkim=pass header.d=example.org")
    unaligned = with_ar("mx.example.org; dkim=pass header.d=example.org.evil.com")
    assert check(spf, Dns()).aligned
    assert check(dkim_pass, Dns()).aligned
    assert not check(unaligned, Dns()).aligned


def test_a_relay_not_trusted_is_ignored() -> None:
    verdict = check(with_ar("mx.evil.com; dmarc=pass header.from=example.org"), Dns())
    assert not verdict.aligned
    assert "SPF" in verdict.reason  # it fell through to our own checks


def test_a_forged_header_below_an_untrusted_one_is_ignored() -> None:
    raw = with_ar(
        "mx.other.net; spf=none",
        "mx.example.org; dmarc=pass header.from=example.org",
    )
    assert not check(raw, Dns()).aligned


def test_only_the_topmost_result_of_a_method_counts() -> None:
    raw = with_ar(
        "mx.example.org; dmarc=fail header.from=example.org",
        "mx.example.org; dmarc=pass header.from=example.org",
    )
    assert check(raw, Dns()) == Verdict(False, "the trusted relay says dmarc=fail")


def test_relay_headers_count_only_from_the_relay_networks_when_configured() -> None:
    trust = Trust(("mx.example.org",), ("192.0.2.0/24",))
    raw = with_ar("mx.example.org; dmarc=pass header.from=example.org")
    relay = Connection("192.0.2.25", "ann@example.org", "mx.example.org")
    assert check(raw, Dns(), trust, relay).aligned
    assert not check(raw, Dns(), trust, OUTSIDE).aligned


def test_a_polled_message_counts_its_mailbox_providers_results_and_asks_no_spf() -> None:
    """No client address: fetched from a hosted mailbox over IMAP, through its provider's MX."""
    trust = Trust(("mx.example.org",), ("192.0.2.0/24",))
    polled = Connection("", "ann@example.org")
    raw = with_ar("mx.example.org; dmarc=pass header.from=example.org")
    assert check(raw, Dns(), trust, polled).aligned
    dns = Dns()
    assert not check(with_ar("evil.example; dmarc=pass"), dns, trust, polled).aligned
    assert not any(kind == "TXT" and "_domainkey" not in name for name, kind in dns.asked)


@cache
def key_pair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (fast; dkimpy's minimum)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(public).decode()


def signed(domain: str) -> tuple[bytes, Dns]:
    private, public = key_pair()
    signature = dkim.sign(
        BODY, b"sel", domain.encode(), private, include_headers=[b"from", b"to", b"subject"]
    )
    record = (f"v=DKIM1; k=rsa; p={public}".encode(),)
    return signature + BODY, Dns({(f"sel._domainkey.{domain}", "TXT"): [record]})


def test_a_valid_aligned_dkim_signature_is_enough() -> None:
    raw, dns = signed("mail.example.org")
    verdict = check(raw, dns, Trust())
    assert verdict == Verdict(True, "DKIM signature aligned with the From: domain")
    assert ("sel._domainkey.mail.example.org", "TXT") in dns.asked


def test_a_dkim_signature_of_another_domain_is_not_aligned() -> None:
    raw, dns = signed("example.org.evil.com")
    assert not check(raw, dns, Trust()).aligned


def test_a_tampered_message_fails_dkim() -> None:
    raw, dns = signed("example.org")
    assert not check(raw.replace(b"hello", b"HELLO"), dns, Trust()).aligned


def test_a_dkim_key_not_found_fails() -> None:
    raw, _ = signed("example.org")
    assert not check(raw, Dns(), Trust()).aligned


SPF = {("example.org", "TXT"): [(b"v=spf1 ip4:198.51.100.0/24 -all",)]}


def test_spf_pass_for_an_aligned_mail_from_is_enough() -> None:
    conn = Connection("198.51.100.7", "bounces@example.org", "out.example.org")
    assert check(BODY, Dns(SPF), Trust(), conn) == Verdict(
        True, "SPF pass aligned with the From: domain"
    )


def test_spf_fail_is_not_aligned() -> None:
    conn = Connection("203.0.113.9", "bounces@example.org", "out.example.org")
    verdict = check(BODY, Dns(SPF), Trust(), conn)
    assert verdict == Verdict(False, "no aligned DKIM signature, SPF fail for example.org")


def test_spf_pass_for_an_unaligned_mail_from_is_not_enough() -> None:
    records = {("evil.com", "TXT"): [(b"v=spf1 ip4:203.0.113.0/24 -all",)]}
    conn = Connection("203.0.113.9", "x@evil.com", "evil.com")
    verdict = check(BODY, Dns(records), Trust(), conn)
    assert not verdict.aligned
    assert "SPF pass for evil.com" in verdict.reason


def test_spf_is_not_checked_on_connections_from_a_relay() -> None:
    trust = Trust((), ("198.51.100.0/24",))
    conn = Connection("198.51.100.7", "bounces@example.org", "out.example.org")
    assert not check(BODY, Dns(SPF), trust, conn).aligned


def test_no_usable_from_address_is_never_aligned() -> None:
    msg = email.message_from_bytes(BODY, policy=policy.compat32)
    verdict = authenticate(BODY, msg, "", OUTSIDE, TRUST, Dns())
    assert verdict == Verdict(False, "no single From: address")

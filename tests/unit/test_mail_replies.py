"""Replies: never to automatic mail, rate-limited per address, marked as auto-replies."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from printwarden.mail.message import parse
from printwarden.mail.replies import RateLimit, confirmation, instructions, summary, suppression
from printwarden.mail.target import Outcome

FROM = "printwarden@print.example.org"


def parsed(**headers: str) -> object:
    msg = EmailMessage()
    msg["From"] = "ann@example.org"
    msg["Subject"] = "my report"
    msg["Message-ID"] = "<m1@example.org>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("hi")
    return parse(msg.as_bytes())


def test_a_plain_message_may_be_answered() -> None:
    assert suppression(parsed(), "ann@example.org") is None  # type: ignore[arg-type]
    assert suppression(parsed(Auto_Submitted="no"), "ann@example.org") is None  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("headers", "mail_from", "why"),
    [
        ({}, "", "null sender"),
        ({"Auto_Submitted": "auto-replied"}, "a@example.org", "Auto-Submitted: auto-replied"),
        (
            {"Auto_Submitted": "auto-generated; x=y"},
            "a@example.org",
            "Auto-Submitted: auto-generated",
        ),
        ({"Precedence": "bulk"}, "a@example.org", "Precedence: bulk"),
        ({"Precedence": "List"}, "a@example.org", "Precedence: list"),
        ({"Precedence": "junk"}, "a@example.org", "Precedence: junk"),
        ({"List_Id": "<news.example.org>"}, "a@example.org", "List-Id"),
    ],
)
def test_automatic_mail_is_never_answered(
    headers: dict[str, str], mail_from: str, why: str
) -> None:
    assert suppression(parsed(**headers), mail_from) == why  # type: ignore[arg-type]


def test_at_most_n_replies_per_address_an_hour() -> None:
    now = [1000.0]
    limit = RateLimit(5, clock=lambda: now[0])
    assert [limit.allow("ann@example.org") for _ in range(6)] == [True] * 5 + [False]
    assert limit.allow("ANN@example.org") is False  # addresses compared without case
    assert limit.allow("bob@example.org") is True
    now[0] += 3599
    assert limit.allow("ann@example.org") is False
    now[0] += 2
    assert limit.allow("ann@example.org") is True


def test_the_summary_lists_held_and_refused_documents() -> None:
    outcomes = [
        Outcome("a.pdf", True, "held for release at Library colour (3 pages, 0.45)"),
        Outcome("b.zip", False, "ZIP archives are not printed"),
    ]
    reply = summary(parsed(), outcomes, FROM)  # type: ignore[arg-type]
    text = reply.get_content()
    assert "a.pdf: held for release at Library colour (3 pages, 0.45)" in text
    assert "Not printed:\n  - b.zip: ZIP archives are not printed" in text
    assert reply["To"] == "ann@example.org"
    assert reply["From"] == FROM
    assert reply["Subject"] == "Re: my report"
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == "<m1@example.org>"
    assert reply["References"] == "<m1@example.org>"


def test_the_confirmation_carries_the_link_and_the_instructions_the_address() -> None:
    mail = confirmation(parsed(), "https://p.example.org/c/TOKEN", 24, FROM)  # type: ignore[arg-type]
    assert "https://p.example.org/c/TOKEN" in mail.get_content()
    assert mail["Auto-Submitted"] == "auto-replied"
    text = instructions(parsed(), "https://p.example.org/me", FROM).get_content()  # type: ignore[arg-type]
    assert "https://p.example.org/me" in text

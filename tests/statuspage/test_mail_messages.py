"""Email building and the SMTP client, without a database: the composed message of each
recipient, SMTP URLs, and sending with and without PIPELINING to a real aiosmtpd server."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest

from statuspage.mail.messages import Composer, MailContext, links
from statuspage.mail.smtp import SmtpSession, SmtpTarget, parse_smtp_url
from statuspage.store.mail_deliveries import MailClaim
from tests.smtp_sink import SmtpSink

AT = datetime(2024, 9, 6, 3, 40, tzinfo=UTC)
PAYLOAD: dict[str, Any] = {"incident": {
    "id": "p8kx", "name": "Pembubuhan gagal — antrean penuh, " + "panjang " * 12,
    "status": "identified", "shortlink_path": "/incidents/p8kx",
    "components": [{"id": "pembubuhan", "name": "Pembubuhan <e-meterai>",
                    "status": "major_outage"}],
    "incident_updates": [{"body": "Penyebab ditemukan → antrean *penuh*.\n\nBaris kedua."}]}}


def claim(n: int, language: str = "id", kind: str = "event") -> MailClaim:
    return MailClaim(n, 1, kind, f"sub{n:05d}", f"user{n}@example.id", language, "nonce",
                     AT, "evt_1", "incident.updated", AT, PAYLOAD)


def parse(data: bytes) -> EmailMessage:
    found = message_from_bytes(data, policy=policy.default)
    assert isinstance(found, EmailMessage)
    return found


def test_each_recipient_gets_its_own_links_from_one_skeleton() -> None:
    ctx = MailContext("Status e-Meterai", "https://status.example.id", "status@example.id",
                      "secret-key")
    composer = Composer(ctx)
    first, second = composer.compose(claim(1)), composer.compose(claim(2))
    assert composer.compose(claim(1)) == first  # a resend carries the same bytes
    for n, data in ((1, first), (2, second)):
        assert b"placeholder" not in data and b"5f3c" not in data
        assert max(len(line) for line in data.split(b"\r\n")) <= 998 and data.isascii()
        message = parse(data)
        own = links(ctx, f"sub{n:05d}", "nonce")
        assert message["To"] == f"user{n}@example.id"
        assert message["Message-ID"] == f"<mail-{n}.sub{n:05d}@status.example.id>"
        assert message["Date"].datetime == AT
        assert message["List-Unsubscribe"] == f"<{own['unsubscribe']}>"
        assert message["Subject"] == PAYLOAD["incident"]["name"].strip()
        text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        assert own["manage"] in text and own["unsubscribe"] in html
        assert "Pembubuhan <e-meterai>: Gangguan total" in text
        assert "Pembubuhan &lt;e-meterai&gt;" in html and "<em>penuh</em>" in html
        assert "→" in text and "\r\nBaris kedua." in text.replace("\n", "\r\n")


def test_confirmation_is_in_the_subscribers_language() -> None:
    ctx = MailContext("Status", "https://status.example.id", "s@example.id", "k")
    english = parse(Composer(ctx).compose(claim(3, "en", "confirm")))
    assert english["Subject"] == "Confirm your subscription to Status"
    assert "/subscribe/email/confirm/sub00003/" in english.get_body(  # type: ignore[union-attr]
        ("plain",)).get_content()


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://relay.example.id", SmtpTarget("relay.example.id", 587)),
    ("smtp://127.0.0.1:2525", SmtpTarget("127.0.0.1", 2525)),
    ("smtps://u%40x:p%3Aw@mail.example.id", SmtpTarget("mail.example.id", 465, True, "u@x",
                                                       "p:w")),
])
def test_smtp_urls(url: str, expected: SmtpTarget) -> None:
    assert parse_smtp_url(url) == expected
    assert "p:w" not in repr(parse_smtp_url(url))


@pytest.mark.parametrize("url", ["http://x", "smtp://", "smtp://host:99999", "smtps:x"])
def test_bad_smtp_urls(url: str) -> None:
    with pytest.raises(ValueError, match="STATUSPAGE_SMTP_URL"):
        parse_smtp_url(url)


@pytest.mark.parametrize("pipelining", [True, False])
def test_one_session_sends_many_and_classifies_refusals(pipelining: bool) -> None:
    sink = SmtpSink().start()
    sink.handler.pipelining = pipelining
    sink.handler.refuse_once["busy@example.id"] = ["451 4.7.1 Try later"]
    sink.handler.refuse_always["gone@example.id"] = "550 5.1.1 No such user"
    try:
        session = SmtpSession(parse_smtp_url(sink.url), timeout_s=5)
        assert session.pipelining is pipelining
        data = b"Subject: x\r\n\r\n.leading dot\r\nbody\r\n"
        outcomes = [session.send("s@example.id", to, data).outcome for to in (
            "a@example.id", "busy@example.id", "gone@example.id", "b@example.id",
            "busy@example.id")]
        session.close()
    finally:
        sink.stop()
    assert outcomes == ["sent", "temporary", "permanent", "sent", "sent"]
    assert sink.handler.connections == 1
    arrived = sink.arrived
    assert [a.recipient for a in arrived] == ["a@example.id", "b@example.id", "busy@example.id"]
    assert arrived[0].message.get_content().startswith(".leading dot")

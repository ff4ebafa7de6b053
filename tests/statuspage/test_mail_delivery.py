"""Email subscriptions end to end against a real SMTP server on loopback (aiosmtpd).

The public form, the confirmation link, an incident delivered in the subscriber's language
and only for the components chosen, the one-click unsubscribe (RFC 8058), a 4xx retried, a
5xx disabling the address. What arrives is parsed with the stdlib ``email`` package.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.mail.loop import MailLoop, MailOptions
from statuspage.mail.messages import MailContext
from statuspage.mail.smtp import parse_smtp_url
from statuspage.models import MailDelivery, MailSubscriber
from statuspage.settings import Settings
from statuspage.store import incidents
from statuspage.store import mail_subscribers as mail
from statuspage.store.audit import Actor
from statuspage.store.deadline_records import create_deadline
from statuspage.store.outbox import emit_event
from tests.smtp_sink import Arrived, SmtpSink

ORIGIN = {"Origin": "http://testserver"}
FAST = MailOptions(sessions=2, batch=20, timeout_s=5, schedule=(0, 0.2, 0.2, 0.2),
                   idle_poll_s=0.05)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    found = SmtpSink().start()
    yield found
    found.stop()


def engine(db: Database, settings: Settings, url: str | None, outbox: Path | None = None,
           options: MailOptions = FAST) -> MailLoop:
    page = settings.config.page
    context = MailContext(page.name, page.url, "status@testserver.example",
                          settings.secret_key)
    return MailLoop(db, context, parse_smtp_url(url) if url else None,
                    outbox or settings.data_dir / "mail" / "outbox", options)


def run_until(db: Database, settings: Settings, url: str | None, done: Callable[[], bool],
              timeout: float = 30.0, outbox: Path | None = None) -> None:
    """Run the email loop until ``done()`` or fail after ``timeout``."""

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(engine(db, settings, url, outbox).run(stop))
        deadline = time.monotonic() + timeout
        try:
            while not await asyncio.to_thread(done):
                assert time.monotonic() < deadline, "timed out waiting for email"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task

    asyncio.run(go())


def idle(db: Database) -> bool:
    """Nothing left to send or fan out."""
    with db.session() as s:
        pending = s.scalar(sa.select(sa.func.count()).select_from(MailDelivery).where(
            MailDelivery.state.in_(("pending", "sending"))))
        return not pending


def form_subscribe(client: TestClient, email: str, language: str,
                   components: list[str] | None = None) -> None:
    page = client.get("/subscribe")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    data: dict[str, object] = {"csrf_token": token.group(1), "email": email,
                               "language": language, "scope": "some" if components else "all",
                               "components": components or []}
    answer = client.post("/subscribe/email", data=data, headers=ORIGIN)
    assert answer.status_code == 200, answer.text
    assert "Check your inbox" in answer.text or "Periksa kotak masuk" in answer.text


def parts(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return str(text.get_content()), str(html.get_content())


def link(text: str, purpose: str) -> str:
    found = re.search(rf"http://testserver(/subscribe/email/{purpose}/\S+)", text)
    assert found is not None, text
    return found.group(1)


def to(arrived: list[Arrived], address: str) -> list[EmailMessage]:
    return [a.message for a in arrived if a.recipient == address]


def open_incident(db: Database, component: str, name: str) -> None:
    with db.session() as s:
        incidents.create_incident(s, name=name, status="investigating", impact="major",
                                  body="Kami **menyelidiki**.", components={
                                      component: "major_outage"}, notify=True,
                                  author="ops@example.id")


def test_opt_in_confirm_deliver_and_one_click_unsubscribe(
        client: TestClient, settings: Settings, db: Database, sink: SmtpSink) -> None:
    form_subscribe(client, "ani@example.id", "en", ["pembubuhan"])
    form_subscribe(client, "budi@example.id", "id", ["situs"])
    open_incident(db, "pembubuhan", "Before anyone confirmed")
    run_until(db, settings, sink.url, lambda: sink.count >= 2 and idle(db))
    arrived = sink.arrived
    assert sorted(a.recipient for a in arrived) == ["ani@example.id", "budi@example.id"]
    (confirm_ani,) = to(arrived, "ani@example.id")
    assert confirm_ani["Subject"] == "Confirm your subscription to Status Uji"
    assert confirm_ani["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, _html = parts(confirm_ani)
    (confirm_budi,) = to(arrived, "budi@example.id")
    assert confirm_budi["Subject"] == "Konfirmasi langganan Anda di Status Uji"

    # following the link: GET shows a button, its POST confirms
    for message in (confirm_ani, confirm_budi):
        path = link(parts(message)[0], "confirm")
        page = client.get(path)
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token is not None
        done = client.post(path, data={"csrf_token": token.group(1)}, headers=ORIGIN)
        assert done.status_code == 200 and "/subscribe/email/manage/" in done.text

    open_incident(db, "pembubuhan", "Stamping fails & queues")
    run_until(db, settings, sink.url, lambda: sink.count >= 3 and idle(db))
    arrived = sink.arrived
    assert len(arrived) == 3, [a.recipient for a in arrived]  # budi chose another component
    update = to(arrived, "ani@example.id")[-1]
    assert update["Subject"] == "Stamping fails & queues"
    assert update["Message-ID"].endswith("@testserver>")
    text, html = parts(update)
    assert "Status: Investigating" in text and "Pembubuhan e-meterai: Major outage" in text
    assert "Kami **menyelidiki**." in text and "<strong>menyelidiki</strong>" in html
    assert "Stamping fails &amp; queues" in html and "<img" not in html
    unsubscribe = update["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("http://testserver/subscribe/email/unsubscribe/")
    assert link(text, "manage")

    # RFC 8058: the provider posts, with no cookie and no CSRF token
    fresh = TestClient(client.app, base_url="http://testserver")
    answer = fresh.post(unsubscribe.removeprefix("http://testserver"),
                        content=b"List-Unsubscribe=One-Click",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200
    with db.session() as s:
        emails = set(s.scalars(sa.select(MailSubscriber.email)))
    assert emails == {"budi@example.id"}
    open_incident(db, "pembubuhan", "After unsubscribing")
    open_incident(db, "situs", "Situs lambat")
    run_until(db, settings, sink.url, lambda: sink.count >= 4 and idle(db))
    last = sink.arrived[-1]
    assert len(sink.arrived) == 4 and last.recipient == "budi@example.id"
    assert last.message["Subject"] == "Situs lambat"
    assert "Status: Sedang diselidiki\r\nKomponen terdampak:\r\n- Situs web: Gangguan total" in (
        parts(last.message)[0])


def subscriber(db: Database, email: str, **choices: object) -> str:
    with db.session() as s:
        sub, _kind = mail.request_subscription(s, mail.MailRequest(email, **choices),  # type: ignore[arg-type]
                                               actor=Actor(None, "test"))
        sub.state = "active"
        s.execute(sa.update(MailDelivery).where(MailDelivery.subscriber_id == sub.id)
                  .values(state="skipped"))
        return sub.id


def test_temporary_refusal_is_retried_and_permanent_disables(
        settings: Settings, db: Database, sink: SmtpSink) -> None:
    later = subscriber(db, "later@example.id")
    gone = subscriber(db, "gone@example.id")
    subscriber(db, "fine@example.id")
    sink.handler.refuse_once["later@example.id"] = ["451 4.7.1 Greylisted, try again",
                                                    "452 4.2.2 Mailbox full"]
    sink.handler.refuse_always["gone@example.id"] = "550 5.1.1 <gone@example.id> no such user"
    open_incident(db, "situs", "Situs lambat")
    run_until(db, settings, sink.url, lambda: sink.count >= 2 and idle(db))
    assert sorted(a.recipient for a in sink.arrived) == ["fine@example.id", "later@example.id"]
    with db.session() as s:
        retried = s.scalars(sa.select(MailDelivery).where(
            MailDelivery.subscriber_id == later, MailDelivery.kind == "event")).one()
        assert (retried.state, retried.attempts) == ("sent", 3)
        refused = s.get(MailSubscriber, gone)
        assert refused is not None and refused.state == "disabled"
        assert refused.disabled_reason == "550 5.1.1 <<address>> no such user"
        counts = mail.mail_counts(s)
    assert counts["subscribers"] == {"active": 2, "disabled": 1}
    assert counts["disabled"][0].disabled_reason.startswith("550")
    open_incident(db, "situs", "Situs lambat lagi")
    run_until(db, settings, sink.url, lambda: sink.count >= 4 and idle(db))
    assert "gone@example.id" not in {a.recipient for a in sink.arrived}


def test_without_smtp_messages_become_eml_files(settings: Settings, db: Database,
                                                tmp_path: Path) -> None:
    subscriber(db, "demo@example.id", language="en", components=["pembelian"])
    open_incident(db, "pembelian", "Purchases fail")
    outbox = tmp_path / "outbox"
    run_until(db, settings, None, lambda: idle(db) and any(outbox.glob("*.eml")),
              outbox=outbox)
    (path,) = outbox.glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert message["To"] == "demo@example.id" and message["Subject"] == "Purchases fail"


def test_deadline_notices_only_to_their_followers(settings: Settings, db: Database,
                                                  sink: SmtpSink) -> None:
    with db.session() as s:
        create_deadline(s, None, {"id": "casn", "agency": "BKN", "name_id": "CASN 2024",
                                  "name_en": "CASN 2024 (en)",
                                  "closes_at": "2024-09-06T23:59:00+07:00",
                                  "components": ["pembubuhan"]})
    subscriber(db, "follows@example.id", language="en", deadlines=["casn"])
    subscriber(db, "ignores@example.id")
    with db.session() as s:
        emit_event(s, "deadline.notice", {"deadline": {
            "id": "casn", "name": "CASN 2024", "name_en": "CASN 2024 (en)",
            "summary": "Perpanjangan 2 hari.", "summary_en": "Extended by 2 days.",
            "path": "/deadlines/casn", "level": "at_risk"}})
    run_until(db, settings, sink.url, lambda: sink.count >= 1 and idle(db))
    (only,) = sink.arrived
    assert only.recipient == "follows@example.id"
    assert only.message["Subject"] == "CASN 2024 (en)"
    assert "Extended by 2 days." in parts(only.message)[0]

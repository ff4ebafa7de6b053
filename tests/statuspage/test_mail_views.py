# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Email subscription pages: CSRF, bad input, rate limits, the management page, the console."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.db import Database
from statuspage.models import MailDelivery, MailSubscriber
from statuspage.models.operators import AuditEntry
from statuspage.settings import Settings
from statuspage.store import mail_subscribers as mail
from statuspage.store.audit import Actor
from statuspage.views.subscribe_email import PER_RECIPIENT
from tests.statuspage.test_admin_support import (  # noqa: F401
    admin,
    reused_postgres,
    settings,
)

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings)


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def token_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found is not None
    return found.group(1)


def post_form(client: TestClient, **values: object) -> object:
    token = token_of(client.get("/subscribe").text)
    return client.post("/subscribe/email", data={"csrf_token": token, **values},
                       headers=ORIGIN)


def deliveries(db: Database) -> list[tuple[str, str]]:
    with db.session() as s:
        return [(k, st) for k, st in s.execute(sa.select(MailDelivery.kind, MailDelivery.state)
                                               .order_by(MailDelivery.id))]


def test_form_needs_csrf_and_refuses_bad_input(anonymous: TestClient, db: Database) -> None:
    page = anonymous.get("/subscribe?lang=en")
    assert 'action="/subscribe/email?lang=en"' in page.text and "Updates by email" in page.text
    forged = anonymous.post("/subscribe/email", data={"email": "a@example.id"}, headers=ORIGIN)
    assert forged.status_code == 403
    for bad in ("not-an-address", "a@b", "x@example.id\r\nBcc: y@example.id",
                "<a@example.id>", "ani@exämple.id"):
        answer = post_form(anonymous, email=bad, language="id")
        assert answer.status_code == 422, bad  # type: ignore[attr-defined]
        assert "Alamat email tidak valid" in answer.text  # type: ignore[attr-defined]
    unknown = post_form(anonymous, email="a@example.id", scope="some", components=["nope"])
    assert unknown.status_code == 422  # type: ignore[attr-defined]
    none_ticked = post_form(anonymous, email="a@example.id", scope="some")
    assert none_ticked.status_code == 422  # type: ignore[attr-defined]
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(MailSubscriber)) == 0


def test_a_recipient_cannot_be_flooded(anonymous: TestClient, db: Database) -> None:
    for _ in range(PER_RECIPIENT):
        assert post_form(anonymous, email="Target@Example.id").status_code == 200  # type: ignore[attr-defined]
    refused = post_form(anonymous, email="target@example.id")
    assert refused.status_code == 429  # type: ignore[attr-defined]
    # a new request voids the older confirmation: one message is owed, never three
    assert deliveries(db) == [("confirm", "skipped")] * (PER_RECIPIENT - 1) + [
        ("confirm", "pending")]
    with db.session() as s:
        (sub,) = s.scalars(sa.select(MailSubscriber)).all()
        assert sub.email == "target@example.id"
        audit = [(a.detail, a.address) for a in s.scalars(sa.select(AuditEntry).where(
            AuditEntry.action == "mail.subscribe"))]
    assert audit and "target@example.id" not in repr(audit)
    assert {address for _detail, address in audit} == {None}  # no client address kept


def test_a_confirmed_address_gets_its_link_and_keeps_its_choices(settings: Settings,
                                                                 db: Database,
                                                                 anonymous: TestClient) -> None:
    with db.session() as s:
        sub, _ = mail.request_subscription(s, mail.MailRequest("ani@example.id", "en",
                                                               ["situs"]),
                                           actor=Actor(None, "test"))
        sid = sub.id
        assert mail.confirm(s, sid, mail.link_token(settings.secret_key, "confirm", sid,
                                                    sub.confirm_nonce),
                            secret_key=settings.secret_key) is not None
    assert post_form(anonymous, email="ani@example.id", language="id").status_code == 200  # type: ignore[attr-defined]
    assert deliveries(db)[-1] == ("already", "pending")
    with db.session() as s:
        kept = s.get(MailSubscriber, sid)
        assert kept is not None and (kept.language, kept.component_ids) == ("en", ["situs"])


def test_management_page_changes_choices_and_deletes_everything(
        settings: Settings, db: Database, anonymous: TestClient) -> None:
    with db.session() as s:
        sub, _ = mail.request_subscription(s, mail.MailRequest("ani@example.id"),
                                           actor=Actor(None, "test"))
        sid = sub.id
    path = f"/subscribe/email/manage/{sid}/{mail.link_token(settings.secret_key, 'manage', sid)}"
    assert anonymous.get(f"/subscribe/email/manage/{sid}/{'0' * 32}").status_code == 404
    page = anonymous.get(path)
    assert page.status_code == 200 and "ani@example.id" in page.text
    token = token_of(page.text)
    assert anonymous.post(path + "/save", data={"language": "en"},
                          headers=ORIGIN).status_code == 403
    saved = anonymous.post(path + "/save", data={
        "csrf_token": token, "language": "en", "scope": "some", "components": ["pembelian"]},
        headers=ORIGIN, follow_redirects=False)
    assert saved.status_code == 303
    with db.session() as s:
        changed = s.get(MailSubscriber, sid)
        assert changed is not None
        assert (changed.language, changed.component_ids) == ("en", ["pembelian"])
    gone = anonymous.post(path + "/delete", data={"csrf_token": token}, headers=ORIGIN)
    assert gone.status_code == 200
    with db.session() as s:
        assert s.get(MailSubscriber, sid) is None
        assert s.scalar(sa.select(sa.func.count()).select_from(MailDelivery)) == 0
    assert anonymous.get(path).status_code == 404


def test_unsubscribe_link_shows_a_button_and_refuses_a_forged_token(
        settings: Settings, db: Database, anonymous: TestClient) -> None:
    with db.session() as s:
        sid = mail.request_subscription(s, mail.MailRequest("ani@example.id"),
                                        actor=Actor(None, "test"))[0].id
    good = f"/subscribe/email/unsubscribe/{sid}/" + mail.link_token(
        settings.secret_key, "unsubscribe", sid)
    assert anonymous.post(f"/subscribe/email/unsubscribe/{sid}/{'f' * 32}").status_code == 404
    page = anonymous.get(good)
    assert page.status_code == 200 and f'action="{good}"' in page.text
    with db.session() as s:
        assert s.get(MailSubscriber, sid) is not None  # a GET changes nothing
    assert anonymous.post(good).status_code == 200
    assert anonymous.post(good).status_code == 200  # a provider may post twice
    with db.session() as s:
        assert s.get(MailSubscriber, sid) is None


def test_console_shows_counts_and_demo_files_not_addresses(
        settings: Settings, db: Database, anonymous: TestClient, admin: TestClient) -> None:
    assert anonymous.get("/admin/mail", follow_redirects=False).status_code in (302, 303)
    with db.session() as s:
        sid = mail.request_subscription(s, mail.MailRequest("ani@example.id"),
                                        actor=Actor(None, "test"))[0].id
        s.get(MailSubscriber, sid).state = "active"  # type: ignore[union-attr]
        mail.disable(s, sid, "550 5.1.1 ani@example.id: no such user")
    outbox = settings.data_dir / "mail" / "outbox"
    outbox.mkdir(parents=True)
    (outbox / "000000001-confirm.eml").write_text("Subject: <b>hi</b>\r\n\r\nbody\r\n")
    page = admin.get("/admin/mail")
    assert page.status_code == 200
    assert "disabled 1" in page.text and "550 5.1.1 &lt;address&gt;: no such user" in page.text
    assert "ani@example.id" not in page.text
    assert "000000001-confirm.eml" in page.text
    shown = admin.get("/admin/mail/outbox/000000001-confirm.eml")
    assert shown.headers["content-type"].startswith("text/plain") and "<b>hi</b>" in shown.text
    assert admin.get("/admin/mail/outbox/..%2Fsecret_key").status_code == 404
    metrics = anonymous.get("/metrics").text
    assert 'email_subscribers{state="disabled"} 1.0' in metrics
    assert 'email_deliveries{state="skipped"} 1.0' in metrics
    assert anonymous.get("/admin/mail/outbox/000000001-confirm.eml",
                         follow_redirects=False).status_code in (302, 303)


def test_unconfirmed_addresses_are_forgotten_after_48_hours(db: Database) -> None:
    from datetime import timedelta

    from statuspage.models import utcnow
    now = utcnow()
    with db.session() as s:
        old = mail.request_subscription(s, mail.MailRequest("old@example.id"),
                                        actor=Actor(None, "test"),
                                        now=now - timedelta(hours=49))[0].id
        young = mail.request_subscription(s, mail.MailRequest("young@example.id"),
                                          actor=Actor(None, "test"),
                                          now=now - timedelta(hours=47))[0].id
        kept = mail.request_subscription(s, mail.MailRequest("kept@example.id"),
                                         actor=Actor(None, "test"),
                                         now=now - timedelta(days=9))[0]
        kept.state = "active"
    with db.session() as s:
        assert mail.expire(s, now) == 1
    with db.session() as s:
        assert s.get(MailSubscriber, old) is None
        assert s.get(MailSubscriber, young) is not None
        assert s.get(MailSubscriber, kept.id) is not None
        assert not s.scalars(sa.select(MailDelivery).where(
            MailDelivery.subscriber_id == old)).all()

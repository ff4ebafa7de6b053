# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Console webhook pages: login and CSRF, add, delivery log escaped, replay, banner, disable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.db import Database
from statuspage.models import WebhookAttempt, WebhookDelivery, WebhookSubscription, utcnow
from statuspage.settings import Settings
from statuspage.store import subscriptions as subs
from statuspage.store.audit import Actor
from statuspage.store.outbox import emit_event
from tests.statuspage.test_admin_support import (  # noqa: F401
    admin,
    form_post,
    reused_postgres,
    settings,
)


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings.with_changes(webhooks_allow_private=True))


@pytest.fixture
def anonymous(app: Starlette) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def active_subscription(db: Database) -> str:
    with db.session() as s:
        sub, _ = subs.create_subscription(
            s, subs.SubscriptionRequest(url="http://127.0.0.1:9/h", contact_email="it@bkn.go.id"),
            actor=Actor("x", "operator"), via="console", allow_private=True)
        subs.activate(s, sub, utcnow())
        return sub.id


def test_console_pages_need_login(anonymous: TestClient, db: Database) -> None:
    sid = active_subscription(db)
    for path in ("/admin/webhooks", f"/admin/webhooks/{sid}"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and "/admin/login" in response.headers["location"]
    posted = anonymous.post(f"/admin/webhooks/{sid}/disable", follow_redirects=False)
    assert posted.status_code == 303
    with db.session() as s:
        assert s.get(WebhookSubscription, sid).state == "active"  # type: ignore[union-attr]


def test_add_needs_csrf_and_shows_link_once(admin: TestClient, db: Database) -> None:
    refused = admin.post("/admin/webhooks", data={"url": "http://127.0.0.1:9/a"},
                         follow_redirects=False)
    assert refused.status_code == 403
    bad = form_post(admin, "/admin/webhooks", "/admin/webhooks", {"url": "ftp://x"})
    assert bad.status_code == 422 and "https://" in bad.text
    ok = form_post(admin, "/admin/webhooks", "/admin/webhooks", {
        "url": "http://127.0.0.1:9/a", "contact_email": "it@bkn.go.id", "format": "slack"})
    assert ok.status_code == 200 and "/subscribe/manage/wsm_" in ok.text and "whsec_" in ok.text
    listing = admin.get("/admin/webhooks")
    assert "http://127.0.0.1:9/a" in listing.text and "wsm_" not in listing.text


def test_log_is_escaped_replay_resends_and_banner_shows_disabled(admin: TestClient,
                                                                 db: Database) -> None:
    sid = active_subscription(db)
    with db.session() as s:
        event = emit_event(s, "deadline.notice", {"deadline": {"id": "d"}})
        s.flush()
        delivery = WebhookDelivery(subscription_id=sid, event_id=event.id, state="delivered",
                                   attempts=1, delivered_at=utcnow())
        s.add(delivery)
        s.flush()
        s.add(WebhookAttempt(delivery_id=delivery.id, subscription_id=sid, attempt=1,
                             status_code=200, latency_ms=12.5, outcome="success",
                             response_excerpt="<script>alert(1)</script>"))
        delivery_id = delivery.id
    page = admin.get(f"/admin/webhooks/{sid}")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    replay = form_post(admin, f"/admin/webhooks/{sid}", f"/admin/webhooks/{sid}/replay",
                       {"delivery_id": str(delivery_id)})
    assert replay.status_code == 303
    with db.session() as s:
        assert s.get(WebhookDelivery, delivery_id).state == "pending"  # type: ignore[union-attr]
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        subs.disable_subscription(s, sub, "every retry failed (last: 500)")
    banner = admin.get("/admin")
    assert "Webhook dinonaktifkan" in banner.text and "it@bkn.go.id" in banner.text
    ack = form_post(admin, f"/admin/webhooks/{sid}", f"/admin/webhooks/{sid}/acknowledge", {})
    assert ack.status_code == 303
    assert "Webhook dinonaktifkan" not in admin.get("/admin").text
    with db.session() as s:
        assert s.scalar(sa.select(WebhookDelivery.state).where(
            WebhookDelivery.id == delivery_id)) == "skipped"


def test_replay_of_unknown_delivery_is_refused(admin: TestClient, db: Database) -> None:
    sid = active_subscription(db)
    response = form_post(admin, f"/admin/webhooks/{sid}", f"/admin/webhooks/{sid}/replay",
                         {"delivery_id": "999999"})
    assert response.status_code == 422 and "tidak ditemukan" in response.text


def test_metrics_show_outcomes_queue_and_age(anonymous: TestClient, db: Database) -> None:
    sid = active_subscription(db)
    with db.session() as s:
        event = emit_event(s, "deadline.notice", {"deadline": {"id": "d"}})
        s.flush()
        s.add(WebhookDelivery(subscription_id=sid, event_id=event.id, state="pending",
                              attempts=0))
    text = anonymous.get("/metrics").text
    assert 'webhook_deliveries_total{outcome="success"} 0.0' in text
    assert "webhook_queue_depth 1.0" in text
    assert 'webhook_subscriptions{state="active"} 1.0' in text
    age = [line for line in text.splitlines()
           if line.startswith("webhook_oldest_undelivered_age_seconds ")]
    assert age and float(age[0].split()[1]) >= 0.0

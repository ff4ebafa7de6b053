"""Delivery rules: answer classes, back-off and the circuit breaker, giving up, expiry,
the Slack confirmation link."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.db import Database
from statuspage.models import (
    WebhookDelivery,
    WebhookEndpoint,
    WebhookSubscription,
    utcnow,
)
from statuspage.models.operators import AuditEntry
from statuspage.settings import Settings
from statuspage.store import deliveries, delivery_outcomes
from statuspage.store import subscriptions as subs
from statuspage.store.outbox import emit_event
from statuspage.webhooks.http import HttpPool
from statuspage.webhooks.sender import post, retry_after_seconds
from tests.statuspage.test_webhooks_delivery import FAST, run_until, state_of, subscribe
from tests.webhook_receiver import Receivers


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    found = Receivers(count=1).start()
    yield found
    found.stop()


@pytest.mark.parametrize("path,outcome,status", [
    ("/ok", "success", 200), ("/redirect", "failure", 302), ("/fail/99", "failure", 500),
    ("/gone", "gone", 410), ("/throttle", "throttled", 429), ("/hang", "timeout", None),
])
def test_answer_classes(receivers: Receivers, path: str, outcome: str,
                        status: int | None) -> None:
    async def go() -> tuple[str, int | None, float | None]:
        pool = HttpPool()
        answer = await post(pool, receivers.url(path), b"{}", {}, timeout_s=1.0,
                            allow_private=True)
        await pool.close()
        return answer.outcome, answer.status_code, answer.retry_after_s

    got = asyncio.run(go())
    assert got[:2] == (outcome, status)
    if outcome == "throttled":
        assert got[2] == 1.0


@pytest.mark.parametrize("header,seconds", [
    ("5", 5.0), ("0", 0.0), ("99999", 3600.0), ("soon", None), ("", None), ("-3", None),
])
def test_retry_after_is_bounded(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(header) == seconds


def outcome(delivery_id: int, sid: str, endpoint: str, result: str, attempt: int = 1,
            **values: object) -> delivery_outcomes.AttemptOutcome:
    return delivery_outcomes.AttemptOutcome(delivery_id, sid, endpoint, attempt, result,
                                            **values)  # type: ignore[arg-type]


def one_delivery(db: Database) -> tuple[str, int, str]:
    sid, _ = subscribe(db, "http://127.0.0.1:9/x", contact_email="it@bkn.go.id")
    with db.session() as s:
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        subs.activate(s, sub, utcnow())
        event = emit_event(s, "deadline.notice", {"deadline": {"id": "d"}})
        s.flush()
        delivery = WebhookDelivery(subscription_id=sid, event_id=event.id, state="sending",
                                   attempts=0)
        s.add(delivery)
        s.flush()
        return sid, delivery.id, sub.endpoint


def test_throttle_pauses_the_endpoint_and_breaker_opens_after_timeouts(db: Database) -> None:
    sid, did, endpoint = one_delivery(db)
    now = utcnow()
    with db.session() as s:
        delivery_outcomes.record_results(s, [outcome(did, sid, endpoint, "throttled",
                                                     status_code=429, retry_after_s=120.0)],
                                         now=now)
    with db.session() as s:
        row = s.get(WebhookEndpoint, endpoint)
        delivery = s.get(WebhookDelivery, did)
        assert row is not None and row.paused_until is not None
        assert row.paused_until >= now + timedelta(seconds=119)
        assert delivery is not None and delivery.state == "pending"
        assert delivery.next_attempt_at >= now + timedelta(seconds=119)
        # a paused endpoint's deliveries are not claimed
        delivery.next_attempt_at = now
        assert deliveries.claim_due(s, now=now, limit=10, lease_s=30) == []
        row.paused_until = None
    for n in range(delivery_outcomes.BREAKER_FAILURES):
        with db.session() as s:
            d = s.get(WebhookDelivery, did)
            assert d is not None
            d.state = "sending"
            delivery_outcomes.record_results(s, [outcome(did, sid, endpoint, "timeout",
                                                         attempt=n + 2)], now=now)
    with db.session() as s:
        row = s.get(WebhookEndpoint, endpoint)
        assert row is not None and row.paused_until is not None and row.paused_until > now
        assert "circuit open" in (row.reason or "")


def test_last_attempt_disables_with_audit_and_skips_the_rest(db: Database) -> None:
    sid, did, endpoint = one_delivery(db)
    with db.session() as s:
        disabled = delivery_outcomes.record_results(
            s, [outcome(did, sid, endpoint, "failure", attempt=2, status_code=500)],
            now=utcnow(), schedule=(0, 1))
    assert disabled == [sid]
    with db.session() as s:
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None and sub.state == "disabled"
        assert "every retry failed" in (sub.disabled_reason or "")
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "webhook.disable")
                          ).one()
        assert entry.detail and entry.detail["contact"] == "it@bkn.go.id"
        assert [a.id for a in subs.disabled_alerts(s)] == [sid]


def test_unconfirmed_subscription_expires_after_24_hours(db: Database) -> None:
    sid, _ = subscribe(db, "http://127.0.0.1:9/x")
    with db.session() as s:
        assert subs.expire_pending(s, utcnow() + timedelta(hours=23)) == 0
        assert subs.expire_pending(s, utcnow() + timedelta(hours=24, seconds=1)) == 1
    assert state_of(db, sid) == "expired"


def test_slack_subscription_is_confirmed_by_the_link_in_its_message(
        settings: Settings, db: Database, receivers: Receivers) -> None:
    sid, _ = subscribe(db, receivers.url("/slack"), format="slack")
    run_until(db, settings, lambda: bool(receivers.confirm_links), FAST)
    [link] = receivers.confirm_links
    path = link.replace("http://testserver", "")
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        page = client.get(path)
        assert page.status_code == 200 and state_of(db, sid) == "pending"  # GET changes nothing
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token
        assert client.post(path, data={}).status_code == 403
        done = client.post(path, data={"csrf_token": token.group(1)},
                           headers={"Origin": "http://testserver"})
        assert done.status_code == 200
    assert state_of(db, sid) == "active"

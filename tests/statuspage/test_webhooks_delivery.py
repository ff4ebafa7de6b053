"""Webhook delivery end to end: real receivers on loopback, the worker's loop, both backends.

Every event type arrives in both formats, signatures verify with the ``standardwebhooks``
package, a retried delivery keeps its ``webhook-id``, a receiver that fails and recovers gets
every event in order, 410 disables, rotation signs with both secrets.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from statuspage.db import Database
from statuspage.models import WebhookDelivery, WebhookSubscription, utcnow
from statuspage.settings import Settings
from statuspage.store import incidents, maintenance
from statuspage.store import subscriptions as subs
from statuspage.store.audit import Actor
from statuspage.store.components import set_measured_status
from statuspage.store.outbox import EVENT_TYPES, emit_event
from statuspage.webhooks.loop import DeliveryLoop, DeliveryOptions
from tests.webhook_receiver import Receivers

FAST = DeliveryOptions(timeout_s=2.0, verify_timeout_s=2.0, allow_private=True,
                       schedule=(0, 0.3, 0.3, 0.3, 0.3, 0.3), idle_poll_s=0.05)
ACTOR = Actor("tester@example.id", "operator")


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    found = Receivers(count=2).start()
    yield found
    found.stop()


def subscribe(db: Database, url: str, **values: object) -> tuple[str, str]:
    with db.session() as s:
        sub, token = subs.create_subscription(
            s, subs.SubscriptionRequest(url=url, **values),  # type: ignore[arg-type]
            actor=ACTOR, via="console", allow_private=True)
        return sub.id, token


def secret_of(db: Database, sid: str) -> str:
    with db.session() as s:
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        return sub.secret


def state_of(db: Database, sid: str) -> str:
    with db.session() as s:
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        return sub.state


def run_until(db: Database, settings: Settings, done: Callable[[], bool],
              options: DeliveryOptions = FAST, timeout: float = 30.0,
              during: Callable[[], None] | None = None) -> None:
    """Run the delivery loop until ``done()`` (checked every 50 ms) or fail after ``timeout``."""

    async def go() -> None:
        stop = asyncio.Event()
        loop = DeliveryLoop(db, settings.config, settings.secret_key, options)
        task = asyncio.create_task(loop.run(stop))
        deadline = time.monotonic() + timeout
        try:
            if during is not None:
                await asyncio.sleep(0.2)
                await asyncio.to_thread(during)
            while not await asyncio.to_thread(done):
                assert time.monotonic() < deadline, "timed out waiting for deliveries"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task

    asyncio.run(go())


def confirm_slack(db: Database, receivers: Receivers) -> None:
    for link in receivers.confirm_links:
        with db.session() as s:
            subs.confirm_by_token(s, link.rsplit("/", 1)[1])


def every_change(db: Database) -> None:
    """One change of each kind: incident, maintenance, measured status, deadline notice."""
    now = utcnow()
    with db.session() as s:
        iid = incidents.create_incident(
            s, name="Pembubuhan gagal <b>", status="investigating", impact="major",
            body="Kami menyelidiki.", components={"pembubuhan": "major_outage"}, notify=True,
            author="ops@example.id").id
    with db.session() as s:
        incidents.post_update(s, iid, status="identified", body="Penyebab ditemukan.",
                              components=None, notify=True, author="ops@example.id")
    with db.session() as s:
        incidents.resolve_incident(s, iid, body="Pulih.", author="ops@example.id")
    with db.session() as s:
        maintenance.create_maintenance(
            s, name="Pemeliharaan", body="Jendela.", scheduled_for=now - timedelta(minutes=1),
            scheduled_until=now + timedelta(hours=1), components=["pembelian"],
            author="ops@example.id")
    with db.session() as s:
        mid = maintenance.list_maintenances(s)[0].id
        incidents.resolve_incident(s, mid, body="Selesai.", author="ops@example.id")
    with db.session() as s:
        set_measured_status(s, "situs", "degraded_performance")
    with db.session() as s:
        emit_event(s, "deadline.notice", {"deadline": {"id": "casn-2024", "name": "CASN 2024",
                                                       "summary": "Perpanjangan 2 hari."}})


def test_every_event_type_in_both_formats_signed(settings: Settings, db: Database,
                                                 receivers: Receivers) -> None:
    plain, _ = subscribe(db, receivers.url("/ok"))
    slack, _ = subscribe(db, receivers.url("/slack", 1), format="slack", language="en")
    run_until(db, settings, lambda: state_of(db, plain) == "active"
              and bool(receivers.confirm_links))
    assert state_of(db, slack) == "pending"  # a Slack endpoint cannot echo: it needs the link
    confirm_slack(db, receivers)
    assert state_of(db, slack) == "active"
    every_change(db)
    run_until(db, settings, lambda: {json.loads(r.body)["event"]["type"]
                                     for r in receivers.events("/ok")} >= set(EVENT_TYPES)
              and len(receivers.events("/slack")) >= len(receivers.events("/ok")))
    verifier = Webhook(secret_of(db, plain))
    types = []
    for r in receivers.events("/ok"):
        body = verifier.verify(r.body, r.headers)
        types.append(body["event"]["type"])
        assert r.headers["webhook-event-type"] == body["event"]["type"]
        assert body["meta"]["unsubscribe"].startswith("http://testserver/subscribe/unsubscribe/")
        assert body["page"]["status_indicator"] in ("none", "minor", "major", "critical",
                                                   "maintenance")
    assert set(types) == set(EVENT_TYPES)
    created = next(json.loads(r.body) for r in receivers.events("/ok")
                   if json.loads(r.body)["event"]["type"] == "incident.created")
    assert created["incident"]["name"] == "Pembubuhan gagal <b>"
    assert created["incident"]["shortlink"].startswith("http://testserver/incidents/")
    slack_texts = [json.loads(r.body) for r in receivers.events("/slack")]
    assert all("blocks" in m and m["text"] for m in slack_texts)
    assert any("Pembubuhan gagal &lt;b&gt;" in m["text"] for m in slack_texts)
    Webhook(secret_of(db, slack)).verify(receivers.events("/slack")[0].body,
                                         receivers.events("/slack")[0].headers)


def test_failing_receiver_recovers_and_gets_every_event_in_order(
        settings: Settings, db: Database, receivers: Receivers) -> None:
    sid, _ = subscribe(db, receivers.url("/fail/3"))
    run_until(db, settings, lambda: state_of(db, sid) == "active")
    for n in range(5):
        with db.session() as s:
            emit_event(s, "deadline.notice", {"deadline": {"id": f"d{n}"}})
    run_until(db, settings, lambda: len({r.headers["webhook-id"] for r in
                                         receivers.events("/fail/3")}) >= 5
              and not any(r.body == b"" for r in receivers.events()), timeout=30)
    got = receivers.events("/fail/3")
    assert len(got) == 5 + 3  # three 500s, each retried with the same webhook-id
    ids = [r.headers["webhook-id"] for r in got]
    assert ids[0] == ids[1] == ids[2] == ids[3]  # the first event waited, retried 3 times
    order = [json.loads(r.body)["deadline"]["id"] for r in got]
    first_seen = list(dict.fromkeys(order))
    assert first_seen == [f"d{n}" for n in range(5)]  # nothing overtook the failing one
    with db.session() as s:
        states = s.scalars(sa.select(WebhookDelivery.state)).all()
    assert set(states) == {"delivered"}


def test_gone_disables_and_skips_the_rest(settings: Settings, db: Database,
                                          receivers: Receivers) -> None:
    sid, _ = subscribe(db, receivers.url("/gone"))
    with db.session() as s:  # confirm directly: /gone cannot echo a challenge
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        subs.activate(s, sub, utcnow())
    for n in range(3):
        with db.session() as s:
            emit_event(s, "deadline.notice", {"deadline": {"id": f"d{n}"}})
    run_until(db, settings, lambda: state_of(db, sid) == "disabled")
    assert len(receivers.events("/gone")) == 1
    with db.session() as s:  # later events were skipped, or never fanned out to it
        states = list(s.scalars(sa.select(WebhookDelivery.state)))
    assert states.count("failed") == 1 and set(states) <= {"failed", "skipped"}


def test_rotation_signs_with_both_secrets(settings: Settings, db: Database,
                                          receivers: Receivers) -> None:
    sid, _ = subscribe(db, receivers.url("/ok"))
    run_until(db, settings, lambda: state_of(db, sid) == "active")
    old = secret_of(db, sid)
    with db.session() as s:
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        new = subs.rotate_secret(s, sub, actor=ACTOR)
        subs.send_test_event(s, sub, actor=ACTOR)
    run_until(db, settings, lambda: len(receivers.events("/ok")) >= 1)
    [delivery] = receivers.events("/ok")
    assert len(delivery.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(delivery.body, delivery.headers)
    Webhook(new).verify(delivery.body, delivery.headers)
    with db.session() as s:  # after the overlap only the new secret signs
        sub = s.get(WebhookSubscription, sid)
        assert sub is not None
        sub.previous_secret_until = utcnow() - timedelta(seconds=1)
        subs.send_test_event(s, sub, actor=ACTOR)
    run_until(db, settings, lambda: len(receivers.events("/ok")) >= 2)
    latest = receivers.events("/ok")[-1]
    assert len(latest.headers["webhook-signature"].split(" ")) == 1
    Webhook(new).verify(latest.body, latest.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook(old).verify(latest.body, latest.headers)


def test_unechoed_challenge_stays_pending(settings: Settings, db: Database,
                                          receivers: Receivers) -> None:
    sid, _ = subscribe(db, receivers.url("/noecho"))
    with db.session() as s:
        emit_event(s, "deadline.notice", {"deadline": {"id": "x"}})
    run_until(db, settings, lambda: len(receivers.requests) >= 1)
    time.sleep(0.3)
    assert state_of(db, sid) == "pending"
    assert receivers.events() == []  # nothing is sent before ownership is proven

"""A deadline a few minutes ahead, the real stamping service driven into failure: the worker's
evaluation drafts the notice, an operator publishes it through the API, the page and the home
banner show it, a subscriber receives the signed ``deadline.notice`` webhook, the PDF validates.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from standardwebhooks import Webhook
from starlette.testclient import TestClient

from statuspage import worker
from statuspage.app import create_app
from statuspage.db import Database
from statuspage.jobs import Intervals
from statuspage.models import WebhookSubscription
from statuspage.settings import Settings
from statuspage.store import subscriptions as subs
from statuspage.store.audit import Actor
from statuspage.store.notices import get_notice
from tests.statuspage.test_admin_support import eventually_contains, make_operator, make_token
from tests.statuspage.test_notice_documents import validate
from tests.statuspage.test_probes_integration import (  # noqa: F401 - fixture
    Stamping,
    set_faults,
    stamping,
)
from tests.webhook_receiver import Receivers

pytestmark = [pytest.mark.slow]

@pytest.fixture
def config_text() -> str:
    """The deadline closes 5 minutes after the test starts (computed now, not at import)."""
    closes = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    at = closes.astimezone(ZoneInfo("Asia/Jakarta")).isoformat()
    return f"""
[page]
name = "Status Uji"
url = "http://testserver"

[[components]]
id = "pembelian"
name = "Pembelian kuota"

[[probes]]
name = "purchase"
kind = "purchase"
component = "pembelian"
interval = 0.5
timeout = 5
latency_budget_ms = 4000

[evaluation]
window_s = 2
failures_to_down = 2
successes_to_recover = 2

# thresholds small enough for a drill of seconds (defaults: 1 hour)
[notices]
at_risk_hours = 0.003
extension_after_hours = 0.003
evaluate_s = 0.5

[[deadlines]]
id = "drill"
name = "Tenggat latihan"
name_en = "Drill deadline"
agency = "Instansi Uji"
at = {at}
components = ["pembelian"]
window_days = 1
"""


@pytest.fixture
def receivers() -> Iterator[Receivers]:
    found = Receivers(count=1).start()
    yield found
    found.stop()


def notice_state(db: Database) -> str | None:
    with db.session() as session:
        notice = get_notice(session, "drill")
        return None if notice is None else notice.state


async def wait_until(check: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):  # type: ignore[arg-type]
            return True
        await asyncio.sleep(0.2)
    return False


def test_failure_before_a_deadline_reaches_the_agency(settings: Settings, db: Database,
                                                      stamping: Stamping,  # noqa: F811
                                                      receivers: Receivers) -> None:
    settings = settings.with_changes(stamping_url=stamping.url, stamping_token=stamping.token,
                                     webhooks_allow_private=True)
    with db.session() as session:
        sub, _ = subs.create_subscription(
            session, subs.SubscriptionRequest(url=receivers.url("/ok"),
                                              components=["pembelian"],
                                              event_types=["deadline.notice"]),
            actor=Actor("tester@example.invalid"), via="console", allow_private=True)
        sub_id = sub.id
    make_operator(settings, "op@example.invalid", "a-long-operator-password")
    token = make_token(settings, "op@example.invalid")
    app = create_app(settings)

    async def scenario() -> None:
        stop = asyncio.Event()
        async with httpx.AsyncClient(timeout=10) as admin:
            await set_faults(admin, stamping.url, {})
            task = asyncio.create_task(worker.worker_main(
                settings, stop=stop,
                intervals=Intervals(evaluate_s=0.25, flush_s=1.0, notices_s=0.5)))
            try:
                await asyncio.sleep(4)  # healthy measurements first
                assert notice_state(db) is None
                await set_faults(admin, stamping.url, {"down": True})
                drafted = await wait_until(lambda: notice_state(db) == "draft", 60)
                assert drafted, "no notice was drafted within 60 s of the failure"
                with TestClient(app) as client:
                    published = client.post(
                        "/api/v1/deadlines/drill/notice/publish",
                        headers={"Authorization": f"Bearer {token}"},
                        json={"statement_id": "Pembelian gagal; kami menanganinya.",
                              "statement_en": "Purchases are failing; we are on it."})
                    assert published.status_code == 200, published.text
                    assert published.json()["figures"]["provisional"] is True
                delivered = await wait_until(lambda: any(
                    json.loads(r.body).get("deadline", {}).get("kind") == "published"
                    for r in receivers.events("/ok")), 30)
                assert delivered, "the deadline.notice webhook did not arrive"
            finally:
                stop.set()
                await set_faults(admin, stamping.url, {})
                await asyncio.wait_for(task, 30)

    asyncio.run(scenario())
    event = next(r for r in receivers.events("/ok")
                 if json.loads(r.body).get("deadline", {}).get("kind") == "published")
    with db.session() as session:
        secret = session.get(WebhookSubscription, sub_id).secret  # type: ignore[union-attr]
    Webhook(secret).verify(event.body, event.headers)  # Standard Webhooks signature
    body = json.loads(event.body)["deadline"]
    assert body["id"] == "drill" and body["figures"]["lost_seconds"] > 10
    assert "Rekomendasi perpanjangan" in body["body"]["id"]
    assert "Recommended extension" in body["body"]["en"]
    with TestClient(app) as client:
        home = eventually_contains(client, "/?lang=en", "Deadline notice")
        assert "Drill deadline" in home.text
        page = client.get("/deadlines/drill?lang=en")
        assert "Purchases are failing; we are on it." in page.text
        assert "provisional" in page.text
        pdf = client.get("/deadlines/drill/notice.pdf?lang=en").content
        cert = client.get("/deadlines/certificate.pem").content
        assert validate(pdf, cert) == (True, True)

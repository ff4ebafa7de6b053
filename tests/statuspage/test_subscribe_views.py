"""Public subscribing: the /subscribe page and form, the JSON API, the subscriber's links."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.testclient import TestClient

from statuspage.app import create_app
from statuspage.db import Database
from statuspage.models import WebhookEvent, WebhookSubscription
from statuspage.models.operators import AuditEntry
from statuspage.settings import Settings
from statuspage.store import subscriptions as subs
from statuspage.views.subscribe import SUBSCRIBE_LIMIT

ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def app(settings: Settings) -> Starlette:
    return create_app(settings.with_changes(webhooks_allow_private=True))


@pytest.fixture
def strict_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="http://testserver") as c:
        yield c


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(WebhookSubscription)) or 0)


def test_page_lists_every_way_to_follow_and_home_links_it(client: TestClient) -> None:
    page = client.get("/subscribe")
    assert page.status_code == 200
    for href in ("/history.rss", "/history.atom", "/components/pembelian/history.rss",
                 "/api/v2/summary.json", 'name="url"', "incident.created", "deadline.notice"):
        assert href in page.text
    assert "<script" not in page.text
    home = client.get("/")
    assert "/subscribe?lang=id" in home.text and "Berlangganan" in home.text
    assert "Subscribe" in client.get("/subscribe?lang=en").text


def test_form_creates_pending_subscription_and_shows_link_once(client: TestClient,
                                                               db: Database) -> None:
    token = csrf(client.get("/subscribe").text)
    done = client.post("/subscribe", headers=ORIGIN, data={
        "csrf_token": token, "url": "http://127.0.0.1:9/hook", "format": "statuspage",
        "language": "en", "components": ["pembelian"], "event_types": ["incident.created"]})
    assert done.status_code == 200, done.text
    manage = re.search(r"(/subscribe/manage/wsm_[A-Za-z0-9_-]+)", done.text)
    assert manage and "whsec_" in done.text
    with db.session() as s:
        [sub] = s.scalars(sa.select(WebhookSubscription)).all()
        assert sub.state == "pending" and sub.component_ids == ["pembelian"]
        assert manage.group(1).rsplit("/", 1)[1] not in repr(vars(sub))  # stored hashed
    page = client.get(manage.group(1))
    assert page.status_code == 200 and "127.0.0.1:9/hook" in page.text


def test_form_refuses_missing_csrf_and_bad_input(client: TestClient, db: Database) -> None:
    client.get("/subscribe")
    assert client.post("/subscribe", headers=ORIGIN, data={"url": "https://x.example/"}
                       ).status_code == 403
    token = csrf(client.get("/subscribe").text)
    bad = client.post("/subscribe", headers=ORIGIN, data={
        "csrf_token": token, "url": "ftp://x.example/", "components": ["nope"]})
    assert bad.status_code == 422
    assert "https://" in bad.text and "nope" in bad.text
    assert count(db) == 0


@pytest.mark.parametrize("body,status", [
    (b"not json", 400),
    (b"[1]", 422),
    (b'{"url": 5}', 422),
    (b'{"url": "https://x.example/", "components": "all"}', 422),
    (b'{"url": "https://x.example/", "format": "email"}', 422),
    (b'{"url": "https://x.example/", "event_types": ["incident.deleted"]}', 422),
    (b'{"url": "https://x.example/", "contact_email": "nobody"}', 422),
    (b'{"url": "https://x.example/' + b"a" * 20000 + b'"}', 413),
])
def test_api_refuses_bad_input_with_a_message(client: TestClient, db: Database, body: bytes,
                                              status: int) -> None:
    response = client.post("/api/v1/subscriptions", content=body,
                           headers={"Content-Type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]
    assert count(db) == 0


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/", "https://127.0.0.1/", "https://[::1]/", "https://[::ffff:127.0.0.1]/",
    "https://10.0.0.1/", "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/",
    "https://2130706433/", "https://user:pw@example.com/",
])
def test_api_refuses_internal_destinations_without_the_setting(
        strict_client: TestClient, db: Database, url: str) -> None:
    response = strict_client.post("/api/v1/subscriptions", json={"url": url})
    assert response.status_code == 422, response.text
    assert "url" in response.json()["errors"]
    assert count(db) == 0


def test_api_creates_and_is_rate_limited_per_address(client: TestClient, db: Database) -> None:
    for n in range(SUBSCRIBE_LIMIT):
        created = client.post("/api/v1/subscriptions",
                              json={"url": f"http://127.0.0.1:9/{n}", "format": "slack"})
        assert created.status_code == 202, created.text
        assert created.json()["secret"].startswith("whsec_")
    refused = client.post("/api/v1/subscriptions", json={"url": "http://127.0.0.1:9/x"})
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert count(db) == SUBSCRIBE_LIMIT


def test_manage_actions_and_unsubscribe_link(client: TestClient, db: Database,
                                             settings: Settings) -> None:
    created = client.post("/api/v1/subscriptions", json={"url": "http://127.0.0.1:9/h"}).json()
    path = created["manage_url"].replace("http://testserver", "")
    token = csrf(client.get(path).text)
    assert client.post(path + "/rotate", headers=ORIGIN, data={}).status_code == 403
    rotated = client.post(path + "/rotate", headers=ORIGIN, data={"csrf_token": token},
                          follow_redirects=False)
    assert rotated.status_code == 303
    with db.session() as s:
        sub = s.get(WebhookSubscription, created["id"])
        assert sub is not None and sub.previous_secret == created["secret"]
    refused = client.post(path + "/test", headers=ORIGIN, data={"csrf_token": token})
    assert refused.status_code == 422  # pending: nothing may be sent yet
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WebhookEvent)) == 0
    link = "/subscribe/unsubscribe/{}/{}".format(
        created["id"], subs.unsubscribe_token(settings.secret_key, created["id"]))
    page = client.get(link)
    assert page.status_code == 200 and "<form" in page.text
    with db.session() as s:  # a GET (a chat app's link preview) changes nothing
        assert s.get(WebhookSubscription, created["id"]).state == "pending"  # type: ignore[union-attr]
    assert client.get(link[:-3] + "abc").status_code == 404
    done = client.post(link, headers=ORIGIN, data={"csrf_token": csrf(page.text)})
    assert done.status_code == 200
    with db.session() as s:
        assert s.get(WebhookSubscription, created["id"]).state == "unsubscribed"  # type: ignore[union-attr]
        actions = set(s.scalars(sa.select(AuditEntry.action)))
    assert {"webhook.subscribe", "webhook.rotate_secret", "webhook.unsubscribe"} <= actions
    assert client.get("/subscribe/manage/wsm_unknown").status_code == 404


def test_cross_origin_post_is_refused(client: TestClient) -> None:
    token = csrf(client.get("/subscribe").text)
    response = client.post("/subscribe", headers={"Origin": "https://evil.example"},
                           data={"csrf_token": token, "url": "http://127.0.0.1:9/"})
    assert response.status_code == 403

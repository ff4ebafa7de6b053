# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Hostile text and JSON at every door (automation API, console forms, store verbs): control
characters, lone surrogates, deep nesting, huge integers and far-off years get a clear 4xx and
change nothing, on both backends; newlines and tabs stay text and the feeds stay valid XML."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import feedparser
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Incident, IncidentUpdate, utcnow
from statuspage.settings import Settings
from statuspage.store import incidents as store
from statuspage.store.refusal import Refused
from tests.statuspage.test_admin_support import (  # noqa: F401 - fixtures
    OPERATOR,
    admin,
    eventually_contains,
    form_post,
    make_operator,
    make_token,
    reused_postgres,
    settings,
)


@pytest.fixture
def api(client: TestClient, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    make_operator(settings, *OPERATOR)
    yield client, {"Authorization": f"Bearer {make_token(settings, OPERATOR[0])}",
                   "Content-Type": "application/json"}


def _count(db: Database) -> int:
    with db.session() as s:
        return int(s.scalar(sa.select(sa.func.count()).select_from(Incident)) or 0)


INCIDENT = {"name": "Pembubuhan gagal", "status": "investigating", "impact": "major",
            "body": "Kami menyelidiki.", "components": {"pembubuhan": "major_outage"}}
SOON = utcnow() + timedelta(days=1)
MAINTENANCE = {"name": "Pemeliharaan", "body": "Basis data.", "components": ["pembelian"],
               "scheduled_for": SOON.isoformat(),
               "scheduled_until": (SOON + timedelta(hours=2)).isoformat()}


def _literal(payload: dict[str, object], key: str, literal: str) -> str:
    """``payload`` as JSON text with ``key``'s value replaced by literal JSON text."""
    return json.dumps({**payload, key: "@@"}).replace('"@@"', literal)


@pytest.mark.parametrize(("path", "payload", "key", "literal"), [
    ("/api/v1/incidents", INCIDENT, "name", '"Gangguan\\u000bpembelian"'),
    ("/api/v1/incidents", INCIDENT, "name", '"Gangguan\\u0000pembelian"'),
    ("/api/v1/incidents", INCIDENT, "body", '"teks \\u001b[31m merah"'),
    ("/api/v1/incidents", INCIDENT, "body", '"\\ud800"'),
    ("/api/v1/incidents", INCIDENT, "name", "[" * 5000 + "]" * 5000),
    ("/api/v1/incidents", INCIDENT, "notify", "9" * 400),
    ("/api/v1/incidents", INCIDENT, "impact", "NaN"),
    ("/api/v1/maintenances", MAINTENANCE, "scheduled_for", '"9999-12-30T00:00:00+00:00"'),
    ("/api/v1/maintenances", MAINTENANCE, "scheduled_until", '"9999-12-31T23:59:59-14:00"'),
    ("/api/v1/maintenances", MAINTENANCE, "scheduled_for", '"0001-01-01T00:00:00+14:00"'),
    ("/api/v1/maintenances", MAINTENANCE, "name", '"Pemeliharaan\\u0007"'),
])
def test_api_refuses_with_a_clear_4xx(api: tuple[TestClient, dict[str, str]], db: Database,
                                      path: str, payload: dict[str, object], key: str,
                                      literal: str) -> None:
    client, headers = api
    response = client.post(path, content=_literal(payload, key, literal), headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["message"]
    assert _count(db) == 0


def test_maintenance_more_than_a_year_ahead_is_refused(api: tuple[TestClient, dict[str, str]],
                                                      db: Database) -> None:
    client, headers = api
    start = utcnow() + timedelta(days=800)
    response = client.post("/api/v1/maintenances", headers=headers, json={
        **MAINTENANCE, "scheduled_for": start.isoformat(),
        "scheduled_until": (start + timedelta(hours=1)).isoformat()})
    assert response.status_code == 422 and "scheduled_for" in response.json()["errors"]
    assert _count(db) == 0


def test_newlines_and_tabs_stay_and_feeds_stay_valid(api: tuple[TestClient, dict[str, str]],
                                                     db: Database) -> None:
    client, headers = api
    response = client.post("/api/v1/incidents", headers=headers, json={
        **INCIDENT, "body": "Baris satu\r\nBaris\tdua"})
    assert response.status_code == 201, response.text
    with db.session() as s:
        assert s.scalars(sa.select(IncidentUpdate.body)).one() == "Baris satu\nBaris\tdua"
    for path in ("/history.rss", "/history.atom"):
        feed = eventually_contains(client, path, "Pembubuhan gagal")
        parsed = feedparser.parse(feed.content)
        assert not parsed.bozo and parsed.entries[0].title.startswith("Pembubuhan gagal")


@pytest.mark.parametrize("char", ["\x0b", "\x00", "\x1b", "\x7f", "\ud800"])
def test_store_verbs_refuse_control_characters(db: Database, char: str) -> None:
    """The CLI, imports and any other caller of the verbs meet the same rule."""
    with db.session() as session, pytest.raises(Refused) as refused:
        store.create_incident(session, name=f"Gangguan{char}", status="investigating",
                              impact="minor", body="Ada.", components={}, notify=False,
                              author=None)
    assert "name" in refused.value.errors
    assert _count(db) == 0


@pytest.mark.parametrize("field", ["name", "body"])
def test_console_form_refuses_control_characters(admin: TestClient, db: Database,
                                                 field: str) -> None:
    form: dict[str, str | list[str]] = {
        "name": "Pembelian lambat", "status": "investigating", "impact": "minor",
        "body": "Kami menyelidiki.", "component.pembelian": "degraded_performance",
        "action": "create"}
    form[field] = "teks\x0bdengan\x00kontrol"
    response = form_post(admin, "/admin/incidents/new", "/admin/incidents/new", form)
    assert response.status_code == 422 and "control characters" in response.text
    assert _count(db) == 0


def test_console_maintenance_in_year_9999_is_a_form_error(admin: TestClient,
                                                         db: Database) -> None:
    response = form_post(admin, "/admin/maintenance", "/admin/maintenance", {
        "name": "Pemeliharaan", "body": "Basis data.", "start": "9999-12-31T22:00",
        "end": "9999-12-31T23:59", "component": ["pembelian"], "action": "schedule"})
    assert response.status_code == 422, response.text
    assert _count(db) == 0

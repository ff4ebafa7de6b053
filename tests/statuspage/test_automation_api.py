# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""The automation JSON API: bearer tokens, Statuspage incident shape, 401/404/422 paths."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import Incident, utcnow
from statuspage.models.operators import ApiToken, AuditEntry
from statuspage.settings import Settings
from tests.statuspage.test_admin_support import (
    OPERATOR,
    make_operator,
    make_token,
    reused_postgres,  # noqa: F401 - fixture
    settings,  # noqa: F401 - fixture
    sqlite_only,
)


@pytest.fixture
def api(client: TestClient, settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A client and the Authorization header of a fresh token."""
    make_operator(settings, *OPERATOR)
    yield client, {"Authorization": f"Bearer {make_token(settings, OPERATOR[0])}"}


INCIDENT = {"name": "Pembubuhan gagal", "status": "investigating", "impact": "major",
            "body": "Kami menyelidiki kegagalan pembubuhan.",
            "components": {"pembubuhan": "major_outage"}, "notify": True}


def test_create_update_resolve(api: tuple[TestClient, dict[str, str]], db: Database) -> None:
    client, auth = api
    created = client.post("/api/v1/incidents", json=INCIDENT, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    for key in ("id", "name", "status", "impact", "created_at", "updated_at", "monitoring_at",
                "resolved_at", "shortlink", "started_at", "incident_updates", "components"):
        assert key in body, key
    assert body["status"] == "investigating" and body["impact"] == "major"
    assert body["shortlink"].endswith(f"/incidents/{body['id']}")
    first = body["incident_updates"][0]
    assert first["affected_components"] == [{
        "code": "pembubuhan", "name": "Pembubuhan e-meterai", "old_status": "operational",
        "new_status": "major_outage"}]
    assert first["deliver_notifications"] is True
    iid = body["id"]
    update = client.post(f"/api/v1/incidents/{iid}/updates", headers=auth, json={
        "status": "monitoring", "body": "Perbaikan dipasang.",
        "components": {"pembubuhan": "degraded_performance"}})
    assert update.status_code == 201
    assert update.json()["status"] == "monitoring"
    assert update.json()["monitoring_at"] is not None
    assert [u["status"] for u in update.json()["incident_updates"]] == ["monitoring",
                                                                         "investigating"]
    resolved = client.post(f"/api/v1/incidents/{iid}/resolve", headers=auth, json={})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    assert resolved.json()["components"] == [{"id": "pembubuhan", "status": "operational"}]
    fetched = client.get(f"/api/v1/incidents/{iid}", headers=auth)
    assert fetched.status_code == 200 and fetched.json()["resolved_at"]
    again = client.post(f"/api/v1/incidents/{iid}/updates", headers=auth,
                        json={"status": "investigating", "body": "Kambuh"})
    assert again.status_code == 422 and "status" in again.json()["errors"]
    reopened = client.post(f"/api/v1/incidents/{iid}/updates", headers=auth, json={
        "status": "investigating", "body": "Kambuh.", "reopen": True})
    assert reopened.status_code == 201 and reopened.json()["resolved_at"] is None
    with db.session() as s:
        entries = list(s.scalars(sa.select(AuditEntry).where(AuditEntry.actor_kind == "token")
                                 .order_by(AuditEntry.id)))
        assert [e.action for e in entries] == ["incident.create", "incident.update",
                                               "incident.resolve", "incident.update"]
        assert all(e.actor == OPERATOR[0] and e.detail and e.detail.get("token_id")
                   for e in entries)
        assert s.scalars(sa.select(ApiToken.last_used_at)).one() is not None


@sqlite_only
def test_statuspage_nested_shape_accepted(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    response = client.post("/api/v1/incidents", headers=auth, json={"incident": {
        "name": "Gangguan login", "status": "identified", "impact_override": "minor",
        "body": "OTP terlambat.", "components": {"akun": "partial_outage"},
        "deliver_notifications": False}})
    # "akun" is not a component of the test config
    assert response.status_code == 422
    assert "Komponen tidak dikenal" in response.json()["errors"]["components"]


BAD_INPUTS: list[tuple[object, set[str]]] = [
    ({}, {"name", "body"}),
    ({**INCIDENT, "name": ""}, {"name"}),
    ({**INCIDENT, "name": 5}, {"name"}),
    ({**INCIDENT, "status": "postmortem"}, {"status"}),
    ({**INCIDENT, "impact": "huge"}, {"impact"}),
    ({**INCIDENT, "body": "x" * 20_001}, {"body"}),
    ({**INCIDENT, "components": ["pembubuhan"]}, {"components"}),
    ({**INCIDENT, "components": {"pembubuhan": "broken"}}, {"components"}),
    ({**INCIDENT, "components": {"nope": "major_outage"}}, {"components"}),
    ({**INCIDENT, "notify": "yes"}, {"notify"}),
    ([1, 2], {"_"}),
]


def test_bad_input_is_422_with_fields(api: tuple[TestClient, dict[str, str]],
                                      db: Database) -> None:
    client, auth = api
    before = db.change_counter()
    for payload, fields in BAD_INPUTS:  # one database for the whole table: fast
        response = client.post("/api/v1/incidents", json=payload, headers=auth)
        assert response.status_code == 422, (payload, response.text)
        assert fields <= set(response.json()["errors"]), (payload, response.json())
    assert db.change_counter() == before
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


@sqlite_only
def test_invalid_json_and_unknown_incident(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    bad = client.post("/api/v1/incidents", content=b"{not json",
                      headers={**auth, "Content-Type": "application/json"})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_json"
    missing = client.post("/api/v1/incidents/doesnotexist/updates", headers=auth,
                          json={"status": "monitoring", "body": "x"})
    assert missing.status_code == 404
    assert client.get("/api/v1/incidents/doesnotexist", headers=auth).status_code == 404


@sqlite_only
def test_wrong_tokens_are_401_json(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    token = auth["Authorization"].split()[1]
    for header in ("", "Bearer", f"Bearer {token}x", f"Token {token}", "Bearer spt_",
                   f"Bearer {token[:-1]}"):
        response = client.post("/api/v1/incidents", json=INCIDENT,
                               headers={"Authorization": header} if header else {})
        assert response.status_code == 401, header
        assert response.headers["content-type"].startswith("application/json")
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"].startswith("Bearer")
    # a bad body with a bad token is still 401, not a parse error
    response = client.post("/api/v1/incidents", content=b"{", headers={
        "Authorization": "Bearer nope", "Content-Type": "application/json"})
    assert response.status_code == 401


def test_maintenance_via_api(api: tuple[TestClient, dict[str, str]], db: Database) -> None:
    client, auth = api
    start = utcnow() + timedelta(hours=2)
    response = client.post("/api/v1/maintenances", headers=auth, json={
        "name": "Peningkatan server", "body": "Pembelian dijeda sebentar.",
        "scheduled_for": start.isoformat(),
        "scheduled_until": (start + timedelta(hours=1)).isoformat().replace("+00:00", "Z"),
        "components": ["pembelian"]})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "scheduled" and body["kind"] == "maintenance"
    assert body["scheduled_for"].endswith("Z")
    assert body["components"] == [{"id": "pembelian", "status": "operational"}]
    bad = client.post("/api/v1/maintenances", headers=auth, json={
        "name": "x", "body": "y", "scheduled_for": "besok", "scheduled_until": "2024-09-03T10:00",
        "components": {"pembelian": "under_maintenance"}})
    assert bad.status_code == 422
    assert {"scheduled_for", "scheduled_until"} <= set(bad.json()["errors"])


@sqlite_only
def test_json_is_html_safe(api: tuple[TestClient, dict[str, str]]) -> None:
    client, auth = api
    response = client.post("/api/v1/incidents", headers=auth, json={
        **INCIDENT, "name": "<script>alert(1)</script>", "body": "<img src=x onerror=alert(1)>"})
    assert response.status_code == 201
    assert b"<script" not in response.content and b"<img" not in response.content
    assert response.json()["name"] == "<script>alert(1)</script>"


def test_deactivated_operator_token_stops_working(api: tuple[TestClient, dict[str, str]],
                                                  db: Database) -> None:
    client, auth = api
    from statuspage.store.operators import update_operator

    with db.session() as s:
        update_operator(s, OPERATOR[0], active=False)
    assert client.post("/api/v1/incidents", json=INCIDENT, headers=auth).status_code == 401

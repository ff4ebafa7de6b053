"""Statuspage v2 compatibility: same paths, field names and vocabularies, read like a client."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.models import utcnow
from statuspage.status import COMPONENT_STATUSES, IMPACTS, INCIDENT_STATUSES
from statuspage.store.public import group_id
from tests.statuspage.test_store_public import add_incident

PAGE = {"id", "name", "url", "time_zone", "updated_at"}
STATUS = {"indicator", "description"}
COMPONENT = {"id", "name", "status", "created_at", "updated_at", "position", "description",
             "showcase", "start_date", "group_id", "page_id", "group",
             "only_show_if_degraded"}
UPDATE = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
          "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"}
INCIDENT = {"id", "name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
            "impact", "shortlink", "started_at", "page_id", "incident_updates", "components"}
MAINTENANCE = INCIDENT | {"scheduled_for", "scheduled_until"}


def timestamp(value: str | None) -> None:
    """ISO 8601, parseable by a client (Statuspage writes a Z suffix)."""
    if value is not None:
        assert datetime.fromisoformat(value.replace("Z", "+00:00")).tzinfo is not None


def check_component(c: dict[str, Any]) -> None:
    assert set(c) == COMPONENT | ({"components"} if c["group"] else set())
    assert c["status"] in COMPONENT_STATUSES
    timestamp(c["created_at"])
    timestamp(c["updated_at"])


def check_incident(i: dict[str, Any], fields: set[str] = INCIDENT) -> None:
    assert set(i) == fields
    assert i["impact"] in (*IMPACTS, "maintenance")
    for key in ("created_at", "updated_at", "monitoring_at", "resolved_at", "started_at"):
        timestamp(i[key])
    for u in i["incident_updates"]:
        assert set(u) == UPDATE and u["incident_id"] == i["id"]
    for c in i["components"]:
        check_component(c)


@pytest.fixture
def incidents(db: Database) -> dict[str, str]:
    now = utcnow()
    return {
        "open": add_incident(db, "Pembelian gagal", impact="critical",
                             components={"pembelian": "major_outage"},
                             updates=[("investigating", "Menyelidiki."),
                                      ("identified", "Ditemukan.")]),
        "done": add_incident(db, "Selesai <b>&</b>", status="resolved", resolved_at=now,
                             started_at=now - timedelta(hours=5)),
        "draft": add_incident(db, "Draf", draft=True),
        "mnt": add_incident(db, "Pemeliharaan", kind="maintenance", status="scheduled",
                            impact="none", components={"pembubuhan": "under_maintenance"},
                            scheduled_for=now + timedelta(days=1),
                            scheduled_until=now + timedelta(days=1, hours=2)),
    }


def check_summary(client: TestClient, incidents: dict[str, str]) -> None:
    r = client.get("/api/v2/summary.json")
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    data = r.json()
    # Statuspage's keys, and one of our own (deadline-impact notices, issue 11)
    assert set(data) == {"page", "components", "incidents", "scheduled_maintenances", "status",
                         "emeterai_deadlines"}
    assert set(data["page"]) == PAGE and data["page"]["time_zone"] == "Asia/Jakarta"
    assert set(data["status"]) == STATUS
    assert data["status"] == {"indicator": "critical", "description": "Major Service Outage"}
    for c in data["components"]:
        check_component(c)
    assert [i["id"] for i in data["incidents"]] == [incidents["open"]]
    check_incident(data["incidents"][0])
    assert [u["body"] for u in data["incidents"][0]["incident_updates"]] == [
        "Ditemukan.", "Menyelidiki."]
    assert [m["id"] for m in data["scheduled_maintenances"]] == [incidents["mnt"]]
    check_incident(data["scheduled_maintenances"][0], MAINTENANCE)
    assert data["scheduled_maintenances"][0]["impact"] == "maintenance"


def check_components_groups(client: TestClient) -> None:
    data = client.get("/api/v2/components.json").json()
    assert set(data) == {"page", "components"}
    by_id = {c["id"]: c for c in data["components"]}
    gid = group_id("Layanan e-Meterai")
    assert by_id[gid]["group"] is True and by_id[gid]["components"] == [
        "pembelian", "pembubuhan"]
    assert by_id["pembelian"]["group_id"] == gid and by_id["situs"]["group_id"] is None
    assert [c["position"] for c in data["components"]] == [1, 2, 3, 4]
    assert len({c["page_id"] for c in data["components"]}) == 1


def test_status_and_incident_lists(client: TestClient, incidents: dict[str, str]) -> None:
    assert set(client.get("/api/v2/status.json").json()) == {"page", "status"}
    raw = client.get("/api/v2/incidents.json")
    assert b"<b>" not in raw.content and b"\\u003cb\\u003e\\u0026" in raw.content
    every = raw.json()
    assert "Selesai <b>&</b>" in [i["name"] for i in every["incidents"]]
    assert set(every) == {"page", "incidents"}
    assert {i["id"] for i in every["incidents"]} == {incidents["open"], incidents["done"]}
    for i in every["incidents"]:
        check_incident(i)
        assert i["status"] in INCIDENT_STATUSES
    unresolved = client.get("/api/v2/incidents/unresolved.json").json()
    assert [i["id"] for i in unresolved["incidents"]] == [incidents["open"]]
    assert unresolved["incidents"][0]["components"][0]["id"] == "pembelian"
    assert unresolved["incidents"][0]["shortlink"].endswith(f"/incidents/{incidents['open']}")
    for path in ("/api/v2/summary.json", "/api/v2/incidents.json",
                 "/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json"):
        assert incidents["draft"] not in client.get(path).text  # drafts never leave the house


MAINTENANCE_LISTS = [
    ("/api/v2/scheduled-maintenances.json", ["mnt"]),
    ("/api/v2/scheduled-maintenances/upcoming.json", ["mnt"]),
    ("/api/v2/scheduled-maintenances/active.json", []),
]


def test_scheduled_maintenances(client: TestClient, incidents: dict[str, str]) -> None:
    for path, expected in MAINTENANCE_LISTS:
        data = client.get(path).json()
        assert set(data) == {"page", "scheduled_maintenances"}
        assert [m["id"] for m in data["scheduled_maintenances"]] == [
            incidents[k] for k in expected]
        for m in data["scheduled_maintenances"]:
            check_incident(m, MAINTENANCE)


def test_summary_and_components(client: TestClient, incidents: dict[str, str]) -> None:
    """One database set-up for several checks (each runs on both backends)."""
    check_summary(client, incidents)
    check_components_groups(client)

# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""The outbox: every change path writes its event in the change's own transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.db import Database
from statuspage.models import WebhookEvent
from statuspage.store import incidents as store
from statuspage.store import maintenance
from statuspage.store.components import set_measured_status
from statuspage.store.outbox import EVENT_TYPES, emit_event
from statuspage.store.refusal import Refused
from tests.statuspage.test_admin_support import reused_postgres, settings  # noqa: F401

T0 = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)


def events(db: Database) -> list[tuple[str, list[str], dict[str, object]]]:
    with db.session() as s:
        rows = s.scalars(sa.select(WebhookEvent).order_by(WebhookEvent.id)).all()
        return [(e.type, e.component_ids, e.payload) for e in rows]


def test_incident_lifecycle_emits_created_updated_resolved(db: Database) -> None:
    with db.session() as s:
        iid = store.create_incident(
            s, name="Pembelian lambat", status="investigating", impact="minor",
            body="Kami menyelidiki.", components={"pembelian": "degraded_performance"},
            notify=True, author="ops@example.id", now=T0).id
    with db.session() as s:
        store.post_update(s, iid, status="identified", body="Penyebab diketahui.",
                          components={"pembubuhan": "partial_outage"}, notify=True,
                          author="ops@example.id", now=T0 + timedelta(minutes=5))
    with db.session() as s:
        store.resolve_incident(s, iid, body="Pulih.", author="ops@example.id",
                               now=T0 + timedelta(minutes=9))
    got = events(db)
    incident_events = [(t, c) for t, c, _p in got if t.startswith("incident.")]
    assert incident_events == [
        ("incident.created", ["pembelian"]),
        ("incident.updated", ["pembelian", "pembubuhan"]),
        ("incident.resolved", ["pembelian", "pembubuhan"]),
    ]
    declared = [(p["component_update"]["component_id"], p["component_update"]["old_status"],  # type: ignore[index]
                 p["component_update"]["new_status"]) for t, _c, p in got  # type: ignore[index]
                if t == "component.status_changed"]
    assert sorted(declared) == sorted([("pembelian", "operational", "degraded_performance"),
                                       ("pembubuhan", "operational", "partial_outage"),
                                       ("pembelian", "degraded_performance", "operational"),
                                       ("pembubuhan", "partial_outage", "operational")])
    last = [p for t, _c, p in got if t == "incident.resolved"][0]["incident"]
    assert last["status"] == "resolved" and last["resolved_at"] == "2024-09-03T08:09:00.000Z"  # type: ignore[index]
    assert [u["status"] for u in last["incident_updates"]] == [  # type: ignore[index]
        "resolved", "identified", "investigating"]


def test_maintenance_emits_scheduled_started_completed(db: Database) -> None:
    with db.session() as s:
        mid = maintenance.create_maintenance(
            s, name="Pemeliharaan basis data", body="Jendela pemeliharaan.",
            scheduled_for=T0 + timedelta(hours=1), scheduled_until=T0 + timedelta(hours=2),
            components=["pembubuhan"], author="ops@example.id", now=T0).id
    with db.session() as s:
        maintenance.advance_maintenances(s, T0 + timedelta(hours=1, minutes=1))
    with db.session() as s:
        maintenance.advance_maintenances(s, T0 + timedelta(hours=2, minutes=1))
    types = [t for t, _c, _p in events(db) if t.startswith("maintenance.")]
    assert types == ["maintenance.scheduled", "maintenance.started", "maintenance.completed"]
    payload = [p for t, _c, p in events(db) if t == "maintenance.scheduled"][0]["incident"]
    assert payload["id"] == mid and payload["impact"] == "maintenance"  # type: ignore[index]
    assert payload["scheduled_for"] == "2024-09-03T09:00:00.000Z"  # type: ignore[index]


def test_measured_status_change_emits_component_event(db: Database) -> None:
    with db.session() as s:
        assert set_measured_status(s, "pembubuhan", "major_outage")
        assert not set_measured_status(s, "pembubuhan", "major_outage")
    [(type_, components, payload)] = events(db)
    assert type_ == "component.status_changed" and components == ["pembubuhan"]
    assert payload["component_update"]["source"] == "measured"  # type: ignore[index]
    assert payload["component"]["status"] == "major_outage"  # type: ignore[index]


def test_publish_draft_emits_created(db: Database) -> None:
    with db.session() as s:
        from statuspage.models import Incident
        draft = Incident(kind="incident", name="Draf", status="investigating", impact="major",
                         is_draft=True, created_by="probes",
                         evidence={"components": {"pembelian": "partial_outage"}})
        s.add(draft)
        s.flush()
        draft_id = draft.id
    assert events(db) == []
    with db.session() as s:
        store.publish_draft(s, draft_id, author="ops@example.id", now=T0)
    assert [t for t, _c, _p in events(db)][0] == "incident.created"


def test_rolled_back_change_leaves_no_event(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        store.create_incident(s, name="X", status="investigating", impact="minor", body="Y",
                              components={}, notify=True, author=None, now=T0)
        raise RuntimeError("the caller fails after the verb")
    assert events(db) == []


def test_refused_input_leaves_no_event(db: Database) -> None:
    with pytest.raises(Refused), db.session() as s:
        store.create_incident(s, name="", status="investigating", impact="minor", body="Y",
                              components={}, notify=True, author=None, now=T0)
    assert events(db) == []


@pytest.mark.parametrize("bad", ["incident.deleted", "", "INCIDENT.CREATED"])
def test_unknown_event_type_is_refused(db: Database, bad: str) -> None:
    with pytest.raises(ValueError), db.session() as s:
        emit_event(s, bad, {})
    assert "deadline.notice" in EVENT_TYPES


def test_oversized_payload_is_refused(db: Database) -> None:
    with pytest.raises(ValueError), db.session() as s:
        emit_event(s, "deadline.notice", {"deadline": "x" * 300_000})

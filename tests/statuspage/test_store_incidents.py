# ruff: noqa: F811 - pytest fixtures are imported from test_admin_support and used as arguments
"""Incident and maintenance write verbs: transitions, declared statuses, edits, drafts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.db import Database
from statuspage.models import ComponentStatusChange, Incident, IncidentComponent
from statuspage.models.operators import AuditEntry
from statuspage.store import incidents as store
from statuspage.store import maintenance
from statuspage.store.audit import Actor
from statuspage.store.refusal import Refused
from tests.statuspage.test_admin_support import reused_postgres, settings  # noqa: F401

T0 = datetime(2024, 9, 3, 8, 0, tzinfo=UTC)


def counter(db: Database) -> int:
    return db.change_counter()


def declared_rows(db: Database, component: str) -> list[str]:
    with db.session() as s:
        return list(s.scalars(sa.select(ComponentStatusChange.status).where(
            ComponentStatusChange.component_id == component,
            ComponentStatusChange.source == "declared").order_by(ComponentStatusChange.id)))


def open_incident(db: Database, **overrides: object) -> str:
    values: dict[str, object] = {
        "name": "Pembelian lambat", "status": "investigating", "impact": "minor",
        "body": "Kami menyelidiki.", "components": {"pembelian": "degraded_performance"},
        "notify": True, "author": "ops@example.id", "now": T0}
    values.update(overrides)
    with db.session() as s:
        return store.create_incident(s, **values).id  # type: ignore[arg-type]


def test_create_update_resolve_cycle(db: Database) -> None:
    start = counter(db)
    iid = open_incident(db)
    assert counter(db) > start
    assert declared_rows(db, "pembelian") == ["degraded_performance"]
    with db.session() as s:
        store.post_update(s, iid, status="monitoring", body="Perbaikan dipasang.",
                          components={"pembelian": "partial_outage", "pembubuhan": "major_outage"},
                          notify=False, author="ops@example.id", now=T0 + timedelta(minutes=5))
    with db.session() as s:
        inc = store.get_incident(s, iid)
        assert inc is not None
        assert inc.status == "monitoring" and inc.monitoring_at is not None
        assert {c.component_id: c.status for c in inc.components} == {
            "pembelian": "partial_outage", "pembubuhan": "major_outage"}
        newest = inc.updates[0]
        assert [a["code"] for a in newest.affected_components] == ["pembelian", "pembubuhan"]
        assert newest.affected_components[0]["old_status"] == "degraded_performance"
    with db.session() as s:
        store.resolve_incident(s, iid, body="Pulih.", author="ops@example.id",
                               now=T0 + timedelta(minutes=30))
    with db.session() as s:
        inc = store.get_incident(s, iid)
        assert inc is not None and inc.status == "resolved" and inc.resolved_at is not None
        assert {c.status for c in inc.components} == {"operational"}
        assert len(inc.updates) == 3
    assert declared_rows(db, "pembelian") == ["degraded_performance", "partial_outage",
                                              "operational"]
    assert declared_rows(db, "pembubuhan") == ["major_outage", "operational"]


def test_declared_status_is_worst_over_open_incidents(db: Database) -> None:
    a = open_incident(db, components={"pembubuhan": "major_outage"})
    open_incident(db, components={"pembubuhan": "degraded_performance"})
    with db.session() as s:
        store.resolve_incident(s, a, body="Pulih.", author=None)
    # the other incident still declares degraded performance
    assert declared_rows(db, "pembubuhan") == ["major_outage", "degraded_performance"]


def test_update_to_resolved_incident_needs_reopen(db: Database) -> None:
    iid = open_incident(db)
    with db.session() as s:
        store.resolve_incident(s, iid, body="Pulih.", author=None)
    before = counter(db)
    with db.session() as s, pytest.raises(Refused, match="sudah selesai"):
        store.post_update(s, iid, status="investigating", body="Kambuh", components=None,
                          notify=False, author=None)
    assert counter(db) == before
    with db.session() as s:
        store.post_update(s, iid, status="investigating", body="Kambuh lagi.",
                          components={"pembelian": "major_outage"}, notify=True, author=None,
                          reopen=True)
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.resolved_at is None and inc.status == "investigating"


BAD_INPUTS: list[tuple[str, dict[str, object], str]] = [
    ("name", {"name": "  "}, "Judul wajib"),
    ("name", {"name": "x" * 301}, "terlalu panjang"),
    ("body", {"body": ""}, "Pesan wajib"),
    ("status", {"status": "postmortem"}, "Status insiden"),
    ("status", {"status": "on_fire"}, "Status insiden"),
    ("impact", {"impact": "catastrophic"}, "Dampak"),
    ("components", {"components": {"nope": "major_outage"}}, "tidak dikenal"),
    ("components", {"components": {"pembelian": "down"}}, "Status komponen"),
]


def test_bad_input_changes_nothing(db: Database) -> None:
    before = counter(db)
    for field, kwargs, message in BAD_INPUTS:  # one database for the table: fast
        with pytest.raises(Refused) as info:
            open_incident(db, **kwargs)
        assert message in info.value.errors[field], (field, kwargs)
    assert counter(db) == before
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Incident)) == 0


def test_edit_update_keeps_history(db: Database) -> None:
    iid = open_incident(db, body="Pembelian lambta.")
    with db.session() as s:
        inc = store.get_incident(s, iid)
        assert inc is not None
        uid = inc.updates[0].id
    with db.session() as s:
        store.edit_update(s, uid, body="Pembelian lambat.", editor="a@example.id")
    with db.session() as s:
        store.edit_update(s, uid, body="Pembelian sangat lambat.", editor="b@example.id")
    with db.session() as s:
        history = store.update_history(s, uid)
        assert [h.previous_body for h in history] == ["Pembelian lambat.", "Pembelian lambta."]
        assert history[0].editor == "b@example.id"
    with db.session() as s, pytest.raises(Refused):
        store.edit_update(s, uid, body=" ", editor=None)


def test_postmortem_only_after_resolution(db: Database) -> None:
    iid = open_incident(db)
    with db.session() as s, pytest.raises(Refused, match="sudah selesai"):
        store.write_postmortem(s, iid, body="Akar masalah", author=None)
    with db.session() as s:
        store.resolve_incident(s, iid, body="Pulih.", author=None)
    with db.session() as s:
        store.write_postmortem(s, iid, body="## Akar masalah\nAntrean.", author=None)
    with db.session() as s:
        inc = s.get(Incident, iid)
        assert inc is not None and inc.postmortem_published_at is not None
        assert inc.status == "resolved"


def make_draft(db: Database) -> str:
    with db.session() as s:
        draft = Incident(kind="incident", name="Pembubuhan gagal (otomatis)",
                         status="investigating", impact="major", is_draft=True, evidence={
                             "probes": ["stamp"], "since": (T0 - timedelta(minutes=4)).isoformat(),
                             "error_classes": {"http_503": 7}, "latency_p95_ms": 2100.0,
                             "suggested_status": "major_outage",
                             "components": {"pembubuhan": "major_outage", "gone": "major_outage"},
                             "summary": "Probe pembubuhan gagal 7 kali sejak 08.56 WIB.",
                             "public_body": "Pembubuhan e-meterai saat ini gagal.",
                             "suggested_resolution": None, "recovered_at": None})
        s.add(draft)
        s.flush()
        s.add(IncidentComponent(incident_id=draft.id, component_id="pembubuhan",
                                status="major_outage"))
        return draft.id


def test_publish_draft_uses_evidence(db: Database) -> None:
    did = make_draft(db)
    with db.session() as s:
        assert [d.id for d in store.list_drafts(s)] == [did]
    assert declared_rows(db, "pembubuhan") == []  # a draft declares nothing
    with db.session() as s:
        store.publish_draft(s, did, author="ops@example.id", now=T0)
    with db.session() as s:
        inc = store.get_incident(s, did)
        assert inc is not None and not inc.is_draft
        assert inc.started_at == T0 - timedelta(minutes=4)
        assert inc.impact == "major"  # the draft's impact, kept up to date by the probes
        # the text written for the public, not the evidence (which stays in the console)
        assert inc.updates[0].body == "Pembubuhan e-meterai saat ini gagal."
        assert {c.component_id: c.status for c in inc.components} == {
            "pembubuhan": "major_outage"}
        assert store.list_drafts(s) == []
    assert declared_rows(db, "pembubuhan") == ["major_outage"]
    with db.session() as s, pytest.raises(Refused):
        store.publish_draft(s, did, author=None)


def test_discard_draft(db: Database) -> None:
    did = make_draft(db)
    with db.session() as s:
        store.discard_draft(s, did, author="ops@example.id")
    with db.session() as s:
        assert store.list_drafts(s) == []
        inc = s.get(Incident, did)
        assert inc is not None and inc.is_draft


def test_maintenance_auto_transitions(db: Database) -> None:
    start, end = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    with db.session() as s:
        mid = maintenance.create_maintenance(
            s, name="Pemeliharaan basis data", body="Peningkatan kapasitas.",
            scheduled_for=start, scheduled_until=end, components=["pembelian"], author=None,
            now=T0).id
    with db.session() as s:
        assert maintenance.advance_maintenances(s, T0 + timedelta(minutes=30)) == 0
    assert declared_rows(db, "pembelian") == []
    with db.session() as s:
        assert maintenance.advance_maintenances(s, start) == 1
    with db.session() as s:
        m = store.get_incident(s, mid)
        assert m is not None and m.status == "in_progress"
        assert [c.status for c in m.components] == ["under_maintenance"]
        assert maintenance.advance_maintenances(s, start + timedelta(minutes=1)) == 0
    with db.session() as s:
        assert maintenance.advance_maintenances(s, end + timedelta(seconds=5)) == 1
    with db.session() as s:
        m = store.get_incident(s, mid)
        assert m is not None and m.status == "completed" and m.resolved_at is not None
        assert [u.status for u in m.updates] == ["completed", "in_progress", "scheduled"]
    assert declared_rows(db, "pembelian") == ["under_maintenance", "operational"]


def test_verifying_is_manual_and_transitions_checked(db: Database) -> None:
    with db.session() as s:
        mid = maintenance.create_maintenance(
            s, name="Migrasi", body="Migrasi server.", scheduled_for=T0,
            scheduled_until=T0 + timedelta(hours=1), components={"pembubuhan": "under_maintenance"},
            author=None, now=T0).id
    with db.session() as s:
        m = s.get(Incident, mid)
        assert m is not None and m.status == "in_progress"  # window already open: started
        store.post_update(s, mid, status="verifying", body="Memeriksa.", components=None,
                          notify=False, author=None)
    with db.session() as s:
        assert maintenance.advance_maintenances(s, T0 + timedelta(hours=2)) == 0
        with pytest.raises(Refused, match="tidak dapat diubah"):
            store.post_update(s, mid, status="scheduled", body="Mundur", components=None,
                              notify=False, author=None)
    with db.session() as s:
        store.resolve_incident(s, mid, body="Selesai.", author=None)
    with db.session() as s, pytest.raises(Refused):
        store.post_update(s, mid, status="in_progress", body="Lagi", components=None,
                          notify=False, author=None)


def test_maintenance_window_validation(db: Database) -> None:
    for offsets in ((2, 1), (1, 24 * 15), (-5, -4)):
        with db.session() as s, pytest.raises(Refused) as info:
            maintenance.create_maintenance(s, name="M", body="B",
                                     scheduled_for=T0 + timedelta(hours=offsets[0]),
                                     scheduled_until=T0 + timedelta(hours=offsets[1]),
                                     components=[], author=None, now=T0)
        assert "scheduled_until" in info.value.errors, offsets


def test_verbs_write_their_audit_entry_in_the_same_transaction(db: Database) -> None:
    """An operator's change is audited by the verb; a refused one leaves no entry."""
    who = Actor("ops@example.id", "operator", "192.0.2.1")
    iid = open_incident(db, actor=who)
    with db.session() as s:
        store.post_update(s, iid, status="monitoring", body="Perbaikan dipasang.",
                          components=None, notify=False, author=who.name, actor=who,
                          now=T0 + timedelta(minutes=5))
        store.resolve_incident(s, iid, body="Pulih.", author=who.name, actor=who,
                               now=T0 + timedelta(minutes=9))
    with pytest.raises(Refused), db.session() as s:
        store.post_update(s, iid, status="identified", body="", components=None,
                          notify=False, author=who.name, actor=who)
    with db.session() as s:
        entries = s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)).all()
        assert [(e.action, e.target, e.actor, e.address) for e in entries] == [
            ("incident.create", iid, who.name, "192.0.2.1"),
            ("incident.update", iid, who.name, "192.0.2.1"),
            ("incident.resolve", iid, who.name, "192.0.2.1")]
        assert entries[0].detail == {"name": "Pembelian lambat", "status": "investigating",
                                     "impact": "minor",
                                     "components": {"pembelian": "degraded_performance"}}
        assert entries[1].detail is not None and entries[1].detail["status"] == "monitoring"

"""Draft incidents from probe evidence: one per episode, recovery notes, maintenance, publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage.config import EvaluationConfig
from statuspage.db import Database
from statuspage.evaluation import ComponentEvaluation, evaluate_component
from statuspage.models import Incident, IncidentComponent
from statuspage.models.operators import IncidentTemplate
from statuspage.store import drafts
from statuspage.store.components import set_measured_status
from statuspage.store.draft_text import choose_template
from statuspage.store.probe_queries import Sample

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
RULES = EvaluationConfig(fast_failures=0)  # the window's statuses (the fast path: elsewhere)


def verdict(component: str, pattern: str, current: str = "operational") -> ComponentEvaluation:
    codes = {"o": ("ok", 100.0), "x": ("failed", 20000.0)}
    samples = [Sample("purchase", "local", NOW - timedelta(seconds=10 * (len(pattern) - i)),
                      codes[c][0], codes[c][1], "timeout" if c == "x" else None)
               for i, c in enumerate(pattern)]
    return evaluate_component(component, current, samples, {"purchase": None}, RULES)


def apply(db: Database, evaluation: ComponentEvaluation, previous: str) -> Incident | None:
    with db.session() as session:
        assert evaluation.status is not None
        set_measured_status(session, evaluation.component_id, evaluation.status)
        return drafts.note_evaluation(session, evaluation, previous, NOW)


def incidents(db: Database) -> list[Incident]:
    with db.session() as session:
        return list(session.scalars(sa.select(Incident).order_by(Incident.created_at)))


def test_outage_opens_one_draft_with_evidence(db: Database) -> None:
    down = verdict("pembelian", "oooxxxxxxxxxx")
    assert down.status == "major_outage"
    created = apply(db, down, "operational")
    assert created is not None
    (draft,) = incidents(db)
    assert (draft.is_draft, draft.status, draft.impact, draft.kind) == (
        True, "investigating", "critical", "incident")
    assert draft.name == "Gangguan pada Pembelian kuota"
    evidence = draft.evidence or {}
    assert evidence["suggested_status"] == "major_outage"
    assert evidence["components"] == {"pembelian": "major_outage"}
    assert evidence["error_classes"] == {"timeout": 10}
    assert evidence["probes"] == ["purchase"]
    assert evidence["latency_p95_ms"] == 100.0
    assert evidence["recovered_at"] is None and evidence["suggested_resolution"] is None
    assert datetime.fromisoformat(evidence["since"]) == NOW - timedelta(seconds=100)
    assert "Pembelian kuota" in evidence["summary"] and "WIB" in evidence["summary"]
    with db.session() as session:
        (row,) = session.scalars(sa.select(IncidentComponent)).all()
        assert (row.component_id, row.status) == ("pembelian", "major_outage")


def test_same_episode_is_not_duplicated_and_other_components_join(db: Database) -> None:
    apply(db, verdict("pembelian", "oooooooxxx"), "operational")
    # partial -> major is the same episode: the draft escalates
    assert apply(db, verdict("pembelian", "xxxxxxxxxx", "partial_outage"),
                 "partial_outage") is None
    assert apply(db, verdict("pembubuhan", "xxxxxxxxxx"), "operational") is None
    (draft,) = incidents(db)
    evidence = draft.evidence or {}
    assert evidence["components"] == {"pembelian": "major_outage", "pembubuhan": "major_outage"}
    assert draft.impact == "critical"
    assert draft.name == "Gangguan pada beberapa layanan e-meterai"


def test_recovery_suggests_a_resolution_once_every_component_is_back(db: Database) -> None:
    apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational")
    apply(db, verdict("pembubuhan", "xxxxxxxxxx"), "operational")
    apply(db, verdict("pembelian", "xxxxxxxxxxoooooooooooooooooooooooooooooooooooooo",
                      "major_outage"), "major_outage")
    (draft,) = incidents(db)
    assert (draft.evidence or {})["recovered_at"] is None  # pembubuhan is still down
    apply(db, verdict("pembubuhan", "xxxxxxxxxxoooooooooooooooooooooooooooooooooooooo",
                      "major_outage"), "major_outage")
    (draft,) = incidents(db)
    evidence = draft.evidence or {}
    assert evidence["recovered_at"] == NOW.isoformat()
    assert "kembali normal" in evidence["suggested_resolution"]
    assert draft.is_draft and draft.resolved_at is None  # the operator decides
    # a new outage after recovery is a new episode
    assert apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational") is not None
    assert len(incidents(db)) == 2


def test_published_incident_gets_a_note_not_a_resolution(db: Database) -> None:
    apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational")
    with db.session() as session:
        incident = session.scalars(sa.select(Incident)).one()
        incident.is_draft = False
        incident.components[0].status = "partial_outage"  # what the operator declared
    apply(db, verdict("pembelian", "x" * 10 + "o" * 40, "major_outage"), "major_outage")
    (incident,) = incidents(db)
    evidence = incident.evidence or {}
    assert evidence["recovered_at"] and "masih terbuka" in evidence["note"]
    assert incident.resolved_at is None and incident.status == "investigating"
    with db.session() as session:
        assert session.scalars(sa.select(IncidentComponent.status)).one() == "partial_outage"


def test_no_draft_inside_a_maintenance_window(db: Database) -> None:
    with db.session() as session:
        session.add(Incident(kind="maintenance", name="Pemeliharaan", status="in_progress",
                             components=[IncidentComponent(component_id="pembelian",
                                                           status="under_maintenance")]))
    assert apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational") is None
    assert [i.kind for i in incidents(db)] == ["maintenance"]


@pytest.mark.parametrize("auto", [False, True])
def test_publish_if_configured(db: Database, auto: bool) -> None:
    created = apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational")
    assert created is not None and created.is_draft
    with db.session() as session:
        published = drafts.publish_if_configured(session, created, auto)
    assert published is auto
    with db.session() as session:
        incident = session.get(Incident, created.id)
        assert incident is not None and incident.is_draft is not auto


def test_draft_speaks_to_the_public_from_the_operators_template(db: Database) -> None:
    """The seeded template "Layanan pembubuhan tidak tersedia" fits a stamping outage: the
    draft takes its title and message; the evidence stays in ``summary`` for operators."""
    down = verdict("pembubuhan", "oooxxxxxxxxxx")
    apply(db, down, "operational")
    (draft,) = incidents(db)
    evidence = draft.evidence or {}
    assert draft.name == "Layanan pembubuhan tidak tersedia"
    assert evidence["public_body"].startswith("Pembubuhan e-meterai saat ini gagal.")
    for evidence_word in ("Probe", "timeout", "%", "p95"):
        assert evidence_word not in evidence["public_body"]
        assert evidence_word not in draft.name
    assert "timeout" in evidence["summary"]  # the operators' view keeps the evidence


@pytest.mark.parametrize(
    ("templates", "status", "expected"),
    [
        ([("slow", {"pembelian": "degraded_performance"})], "major_outage", None),
        ([("slow", {"pembelian": "degraded_performance"})], "degraded_performance", "slow"),
        ([("down", {"pembelian": "major_outage"}), ("part", {"pembelian": "partial_outage"})],
         "partial_outage", "part"),
        ([("down", {"pembelian": "major_outage"})], "partial_outage", "down"),
        ([("other", {"situs": "major_outage"})], "major_outage", None),
        ([("maint", {"pembelian": "under_maintenance"})], "major_outage", None),
    ],
)
def test_template_choice(templates: list[tuple[str, dict[str, str]]], status: str,
                         expected: str | None) -> None:
    rows = [IncidentTemplate(id=name, name=name, body="", components=components)
            for name, components in templates]
    chosen = choose_template(rows, "pembelian", status)
    assert (chosen.name if chosen else None) == expected


def test_multi_component_draft_is_plain_and_public(db: Database) -> None:
    apply(db, verdict("pembelian", "xxxxxxxxxx"), "operational")
    apply(db, verdict("situs", "xxxxxxxxxx"), "operational")
    (draft,) = incidents(db)
    body = (draft.evidence or {})["public_body"]
    assert "Pembelian kuota dan Situs web" in body and "Probe" not in body

"""Config to specs, the one storage path, and evaluation against the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from statuspage.config import ProbeConfig
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.models import Component, ComponentStatusChange, Incident, ProbeResultRow
from statuspage.probing import (
    DatabaseSink,
    ResultRejected,
    build_specs,
    evaluate_components,
    needs_bundled,
    spec_for,
    store_results,
)
from statuspage.settings import Settings
from tests.statuspage.test_probing_support import PROBE_CONFIG, pattern_results, result


@pytest.fixture
def config_text() -> str:
    return PROBE_CONFIG


@pytest.mark.parametrize(
    ("probe", "url", "token", "expected_target", "expected_token"),
    [
        (ProbeConfig("a", "http", "situs", path="/healthz"), "http://127.0.0.1:8001/", None,
         "http://127.0.0.1:8001/healthz", None),
        (ProbeConfig("a", "http", "situs", target="https://x.id", path="status"), None, None,
         "https://x.id/status", None),
        (ProbeConfig("b", "purchase", "pembelian"), "http://127.0.0.1:8001", "tok",
         "http://127.0.0.1:8001", "tok"),
        (ProbeConfig("b", "stamp", "pembelian", token="own"), "http://h:1", "tok",
         "http://h:1", "own"),
        (ProbeConfig("c", "verify", "pembelian", target="https://other.id"), "http://h:1", "tok",
         "https://other.id", None),
    ],
)
def test_spec_for_resolves_targets(probe: ProbeConfig, url: str | None, token: str | None,
                                   expected_target: str, expected_token: str | None) -> None:
    spec = spec_for(probe, bundled_url=url, bundled_token=token)
    assert (spec.target, spec.token, spec.kind, spec.name) == (
        expected_target, expected_token, probe.kind, probe.name)
    assert spec.timeout_s == probe.timeout_s


def test_bundled_target_without_address_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="bundled stamping service"):
        spec_for(ProbeConfig("b", "purchase", "pembelian"))


def test_build_specs_and_needs_bundled() -> None:
    config = parse_config(PROBE_CONFIG, "<test>")
    specs = build_specs(config, bundled_url="http://127.0.0.1:9", bundled_token="t")
    assert [s.name for s in specs] == ["purchase", "stamp", "availability"]
    assert needs_bundled(config)
    assert not needs_bundled(parse_config(PROBE_CONFIG.replace(
        'name = "purchase"', 'name = "purchase"\ntarget = "https://x.id"').replace(
        'name = "stamp"', 'name = "stamp"\ntarget = "https://x.id"'), "<t>"))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (result("nope"), "unknown probe"),
        (result("purchase", kind="stamp"), "kind"),
    ],
)
def test_store_rejects_unknown_or_mismatched(settings: Settings, db: Database, bad: object,
                                             message: str) -> None:
    with pytest.raises(ResultRejected, match=message), db.session() as session:
        store_results(session, settings.config, [result(), bad])  # type: ignore[list-item]
    with db.session() as session:  # all or nothing
        assert session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) == 0


def test_database_sink_stores_and_never_raises(settings: Settings, db: Database) -> None:
    sink = DatabaseSink(db, settings.config)

    async def submit_both() -> None:
        await sink.submit(result())
        await sink.submit(result("unknown-probe"))  # rejected: logged and counted, not raised

    asyncio.run(submit_both())
    assert sink.lost == 1
    with db.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(ProbeResultRow)) == 1


def status_of(db: Database, component_id: str) -> str:
    with db.session() as session:
        row = session.get(Component, component_id)
        assert row is not None
        return row.measured_status


def test_evaluation_goes_down_and_recovers_with_a_draft(settings: Settings, db: Database) -> None:
    with db.session() as session:
        store_results(session, settings.config, pattern_results("oooooooxx"))
    with db.session() as session:
        assert evaluate_components(session, settings.config) == []  # two failures: hold
    assert status_of(db, "pembelian") == "operational"
    before = db.change_counter()
    with db.session() as session:
        store_results(session, settings.config, [result("purchase", "failed")])
        changes = evaluate_components(session, settings.config)
    assert [(c.component_id, c.status) for c in changes] == [("pembelian", "partial_outage")]
    assert status_of(db, "pembelian") == "partial_outage"
    assert db.change_counter() > before  # the status change is announced to the page cache
    with db.session() as session:
        (draft,) = session.scalars(sa.select(Incident)).all()
        assert draft.is_draft and draft.evidence is not None
        assert draft.evidence["components"] == {"pembelian": "partial_outage"}
        assert draft.evidence["probes"] == ["purchase"]
        (change,) = session.scalars(sa.select(ComponentStatusChange)).all()
        assert change.source == "measured" and change.detail is not None
    # clean runs in a row, but the window still holds failures (3 of 40): degraded, no outage
    with db.session() as session:
        store_results(session, settings.config, [result("purchase", at=datetime.now(UTC))
                                                 for _ in range(30)])
        evaluate_components(session, settings.config)
    assert status_of(db, "pembelian") == "degraded_performance"
    with db.session() as session:
        (draft,) = session.scalars(sa.select(Incident)).all()
        assert draft.evidence is not None and draft.evidence["recovered_at"]
        assert "kembali normal" in draft.evidence["suggested_resolution"]


def test_fast_path_records_major_outage_with_a_draft(settings: Settings, db: Database) -> None:
    """Two hard failures at the only location: major_outage at once, the draft says so."""
    config = parse_config(PROBE_CONFIG.replace("fast_failures = 0", "fast_failures = 2"),
                          "<test>")
    with db.session() as session:
        store_results(session, config, pattern_results("ooooooox"))
    with db.session() as session:
        assert evaluate_components(session, config) == []  # one failure: hold
    with db.session() as session:
        store_results(session, config, [result("purchase", "failed")])
        (change,) = evaluate_components(session, config)
    assert (change.status, change.fast) == ("major_outage", True)
    assert status_of(db, "pembelian") == "major_outage"
    with db.session() as session:
        (draft,) = session.scalars(sa.select(Incident)).all()
        assert draft.evidence is not None
        assert draft.evidence["components"] == {"pembelian": "major_outage"}


def test_components_without_results_keep_their_status(settings: Settings, db: Database) -> None:
    with db.session() as session:
        assert evaluate_components(session, settings.config) == []
    assert status_of(db, "pembubuhan") == "operational"


def test_auto_publish_publishes_the_new_draft(settings: Settings, db: Database) -> None:
    pytest.importorskip("statuspage.store.incidents")
    config = parse_config(PROBE_CONFIG.replace("window_s = 300", "window_s = 300\n"
                                               "auto_publish = true"), "<test>")
    with db.session() as session:
        store_results(session, config, pattern_results("xxxxxxxxxx"))
        evaluate_components(session, config)
    with db.session() as session:
        (incident,) = session.scalars(sa.select(Incident)).all()
        assert incident.is_draft is False and incident.created_by == "probes"
        assert [c.component_id for c in incident.components] == ["pembelian"]
        assert incident.updates and "Pembelian kuota" in incident.updates[0].body


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("bundled", "bundled"),
        ("https://emeterai.example/api", "https://emeterai.example/api"),
        ("https://user:secret@emeterai.example/a@b", "https://emeterai.example/a@b"),
    ],
)
def test_public_target_hides_credentials(target: str, shown: str) -> None:
    from statuspage.store.probe_queries import _public_target

    assert _public_target(target) == shown


def test_locations_vote_on_the_component(settings: Settings, db: Database) -> None:
    """Local results and agents' pushed results feed one component status by majority."""
    with db.session() as session:
        store_results(session, settings.config, [
            *pattern_results("oxxxxxxxxx", location="local"),
            *pattern_results("oooooooooo", location="jakarta"),
            *pattern_results("oooooooooo", location="medan"),
        ])
        assert evaluate_components(session, settings.config) == []  # one of three: no
    with db.session() as session:
        store_results(session, settings.config, pattern_results("xxxxx", location="medan",
                                                                step_s=1.0))
        (change,) = evaluate_components(session, settings.config)
    assert change.locations == {"jakarta": "operational", "local": "major_outage",
                                "medan": "partial_outage"}
    assert change.status == "partial_outage"  # two of three agree on at least partial

"""Demo history: a full, clearly labelled page on a fresh database, written once."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.db import Database
from statuspage.demo import DEMO_LOCATION, seed_demo
from statuspage.models import Incident, PageMarker, ProbeRollup
from statuspage.settings import Settings
from tests.statuspage.test_store_public import add_incident


def test_seed_once_and_labelled(settings: Settings, db: Database, client: TestClient) -> None:
    assert seed_demo(settings) is True
    assert seed_demo(settings) is False
    with db.session() as s:
        periods = dict(s.execute(sa.select(ProbeRollup.period, sa.func.count())
                                 .group_by(ProbeRollup.period)).all())
        locations = set(s.scalars(sa.select(ProbeRollup.location).distinct()))
        incidents = s.scalars(sa.select(Incident)).all()
        assert s.get(PageMarker, "sample_data") is not None
        past = [i for i in incidents if i.kind == "incident"]
        assert len(past) == 2 and all(i.status == "resolved" and not i.is_draft for i in past)
        casn = next(i for i in past if i.name.startswith("Pembelian e-meterai gagal"))
        assert [u.status for u in sorted(casn.updates, key=lambda u: u.display_at)] == [
            "investigating", "identified", "monitoring", "resolved"]
        assert {c.component_id for c in casn.components} == {"pembelian", "pembubuhan"}
        assert [i.status for i in incidents if i.kind == "maintenance"] == ["scheduled"]
    assert locations == {DEMO_LOCATION}
    # the test config has three components and no probes: one pretend probe each
    assert periods["day"] == 3 * 90 and periods["minute"] == 3 * 60 and periods["hour"] >= 72
    text = client.get("/").text
    assert "Data contoh" in text and "Pemeliharaan basis data terjadwal" in text
    assert "ketersediaan 9" in text  # every bar has 90 days of data
    assert "(contoh)" in client.get("/api/v2/incidents.json").text


def test_not_on_a_database_with_data(settings: Settings, db: Database) -> None:
    add_incident(db, "Nyata")
    assert seed_demo(settings) is False
    with db.session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(ProbeRollup)) == 0

"""``statuspage evidence import``: all or nothing, errors name the line and field; retention
never erases evidence inside an open deadline window or imported evidence."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from statuspage.cli import main
from statuspage.config import RetentionConfig
from statuspage.config_parser import parse_config
from statuspage.db import Database
from statuspage.models import ProbeResultRow
from statuspage.store.evidence_import import protected_windows
from statuspage.store.probe_results import prune
from tests.statuspage.conftest import TEST_CONFIG

PROBES = """
[[probes]]
name = "beli"
kind = "purchase"
component = "pembelian"

[[probes]]
name = "bubuh"
kind = "stamp"
component = "pembubuhan"

[[deadlines]]
id = "casn-2024"
name = "Pendaftaran CASN 2024"
name_en = "CASN 2024 registration"
agency = "BKN"
at = 2024-09-06T23:59:00+07:00
components = ["pembelian", "pembubuhan"]
"""
DEADLINE = datetime(2024, 9, 6, 16, 59, tzinfo=UTC)


@pytest.fixture
def config_text() -> str:
    return TEST_CONFIG + PROBES


def line(probe: str = "beli", kind: str = "purchase", at: datetime = DEADLINE,
         outcome: str = "ok", **extra: object) -> str:
    return json.dumps({"probe": probe, "kind": kind, "started_at": at.isoformat(),
                       "outcome": outcome, "total_ms": 900.0, "location": "medan", **extra})


def week(outage_hours: float = 0) -> list[str]:
    """Both probes every 5 minutes for the week before the deadline; purchases fail in the
    last ``outage_hours``."""
    out = []
    at = DEADLINE - timedelta(days=7)
    while at < DEADLINE:
        down = at >= DEADLINE - timedelta(hours=outage_hours)
        out.append(line(at=at, outcome="failed" if down else "ok"))
        out.append(line("bubuh", "stamp", at=at))
        at += timedelta(minutes=5)
    return out


def run_import(tmp_path: Path, settings_dir: Path, config: Path, lines: list[str],
               source: str = "bkn-monitor") -> int:
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return main(["evidence", "import", str(path), "--source", source,
                 "--data-dir", str(settings_dir), "--config", str(config)])


@pytest.mark.parametrize(("bad", "words"), [
    ("{not json", "line 3: not JSON"),
    (json.dumps({"probe": "beli", "kind": "purchase", "outcome": "ok", "total_ms": 1}),
     "line 3: missing keys in probe result: started_at"),
    (line(probe="nope"), "line 3: probe: unknown probe 'nope'"),
    (line(kind="stamp"), "line 3: kind: probe 'beli' is of kind 'purchase'"),
    (line(outcome="maybe"), "line 3: outcome must be one of"),
    (line(at=datetime.now(UTC) + timedelta(days=2)), "line 3: started_at: in the future"),
    (line(total_ms="fast"), "line 3: total_ms must be a number"),
])
def test_a_bad_line_names_itself_and_imports_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], bad: str, words: str) -> None:
    config = tmp_path / "statuspage.toml"
    config.write_text(TEST_CONFIG + PROBES)
    data = tmp_path / "data"
    assert run_import(tmp_path, data, config, [line(), line(), bad, line()]) == 1
    err = capsys.readouterr().err
    assert words in err and "nothing imported" in err
    db = Database(f"sqlite:///{data / 'statuspage.sqlite3'}")
    try:
        if (data / "statuspage.sqlite3").exists():
            with db.session() as session:
                assert session.scalar(sa.select(sa.func.count())
                                      .select_from(ProbeResultRow)) == 0
    finally:
        db.dispose()


def test_import_then_the_notice_shows_the_source(tmp_path: Path, settings: object,
                                                 client: TestClient) -> None:
    config = tmp_path / "statuspage.toml"
    config.write_text(TEST_CONFIG + PROBES)
    data = tmp_path / "cli-data"
    assert run_import(tmp_path, data, config, week(outage_hours=3)) == 0
    # the same label twice is refused (no double counting)
    assert run_import(tmp_path, data, config, week(), source="bkn-monitor") == 1
    app_db = f"sqlite:///{data / 'statuspage.sqlite3'}"
    from statuspage.app import create_app
    from statuspage.settings import Settings

    imported = Settings(data_dir=data, database_url=app_db, secret_key="k" * 32,
                        config=parse_config(TEST_CONFIG + PROBES, "<t>"))
    with TestClient(create_app(imported)) as c:
        report = c.get("/api/v1/deadlines/casn-2024/impact.json").json()
        assert report["lost_seconds"] == pytest.approx(3 * 3600)
        assert report["evidence"]["sources"] == ["bkn-monitor"]
        page = c.get("/deadlines/casn-2024?lang=en").text
        assert "Includes measurements imported from: bkn-monitor." in page


def test_retention_keeps_evidence(db: Database) -> None:
    now = DEADLINE + timedelta(days=30)
    with db.session() as session:
        for at, source in ((DEADLINE - timedelta(days=1), None),  # inside the window
                           (DEADLINE - timedelta(days=20), None),  # outside: pruned
                           (DEADLINE - timedelta(days=20), "import")):  # imported: kept
            session.add(ProbeResultRow(probe="beli", kind="purchase", component_id="pembelian",
                                       location="x", started_at=at, outcome="ok",
                                       total_ms=1.0, phases={}, source=source))
    with db.session() as session:
        # no notice and the evaluation long over: the window is no longer protected
        assert protected_windows(session, now) == []
        keep = protected_windows(session, DEADLINE + timedelta(hours=3))
        assert keep == [(DEADLINE - timedelta(days=7), DEADLINE)]
        deleted = prune(session, RetentionConfig(raw_days=7), now=now, keep=keep)
        assert deleted["raw"] == 1
        left = session.scalars(sa.select(ProbeResultRow.started_at)
                               .order_by(ProbeResultRow.started_at)).all()
        assert left == [DEADLINE - timedelta(days=20), DEADLINE - timedelta(days=1)]

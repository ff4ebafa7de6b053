"""The command line acts on the database the flags and environment name."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from statuspage.auth import password_hasher
from statuspage.cli import main
from statuspage.cli.serve import _demo_operator
from statuspage.db import Database
from statuspage.settings import Settings
from statuspage.store.operators import authenticate, list_operators


def test_db_upgrade_creates_and_syncs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0
    assert "is up to date" in capsys.readouterr().out
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'statuspage.sqlite3'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert {"incidents", "components", "probe_rollups", "alembic_version"} <= tables
        names = conn.execute(sa.text("select id from components order by position")).scalars()
        assert list(names) == ["akun", "pembelian", "pembubuhan", "verifikasi", "situs"]
    engine.dispose()
    # running it again is harmless
    assert main(["db", "upgrade", "--data-dir", str(tmp_path)]) == 0


def test_help_lists_the_roles(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "web", "worker", "db"):
        assert command in out


def test_demo_creates_one_admin_once(settings: Settings, db: Database,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _demo_operator(settings)
    email, password = (settings.data_dir / "demo-admin.txt").read_text().split()
    assert email in capsys.readouterr().out
    hasher = password_hasher(settings.argon2_profile)
    with db.session() as session:
        assert authenticate(session, hasher, email, password, address="127.0.0.1").operator
    _demo_operator(settings)  # an operator exists now: nothing new, nothing printed
    assert capsys.readouterr().out == ""
    with db.session() as session:
        assert len(list_operators(session)) == 1

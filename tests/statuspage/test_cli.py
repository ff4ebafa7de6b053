"""The command line acts on the database the flags and environment name."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from statuspage.cli import main


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

"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

The ``backend`` fixture is parametrised over both. PostgreSQL tests get a fresh database of
their own (created on 127.0.0.1:5432, dropped afterwards); when PostgreSQL does not answer they
are skipped on a developer machine and fail under CI, where it must be running.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]

_pg_ok: bool | None = None


def postgres_available() -> bool:
    """Whether the test PostgreSQL answers (checked once per session)."""
    global _pg_ok
    if _pg_ok is None:
        try:
            engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: 'sqlite' or 'postgresql'."""
    if request.param == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must answer at {PG_ADMIN_URL} under CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return str(request.param)


@pytest.fixture
def make_database_url(backend: str, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A factory of fresh, empty database URLs on the current backend.

    ``make_database_url("status")`` gives ``sqlite:///.../status.sqlite3`` on SQLite or the URL
    of a new PostgreSQL database that is dropped when the test ends.
    """
    created: list[str] = []

    def make(name: str = "db") -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / (name + '.sqlite3')}"
        dbname = f"t_{name[:20]}_{uuid.uuid4().hex[:10]}".lower()
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{dbname}"'))
        admin.dispose()
        created.append(dbname)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname

    yield make
    if created:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for dbname in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)'))
        admin.dispose()

"""Shared fixtures: every database-backed test runs on SQLite and on PostgreSQL.

The ``backend`` fixture is parametrised over both. PostgreSQL tests get a fresh database of
their own (created on 127.0.0.1:5432, dropped afterwards); when PostgreSQL does not answer they
are skipped on a developer machine and fail under CI, where it must be running. A test that
needs a migrated database asks for a copy of a migrated template (``tests/databases.py``).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.databases import (
    MIGRATORS,
    PG_ADMIN_URL,
    DatabaseTemplates,
    PostgresPool,
    pg_admin,
    pg_url,
)
from tests.solo import machine_share

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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start real processes or a browser (``slow``, ``e2e``) run first, in their
    usual order, so that under ``make test``'s workers the many quick tests fill the end of
    the run instead of one worker finishing a long test while the others are idle."""
    items.sort(key=lambda item: not any(item.get_closest_marker(name) for name in ("slow", "e2e")))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, object, object]:
    """A ``solo`` test has the machine to itself from setup to teardown (``tests/solo.py``)."""
    with machine_share(solo=item.get_closest_marker("solo") is not None):
        return (yield)


@pytest.fixture(scope="session", autouse=True)
def signing_forkserver() -> None:
    """Start the signing workers' forkserver from the main thread, as ``stamping serve`` does.

    The forkserver dies with the thread that started it (the kernel's parent-death signal
    follows the thread): started by the event loop thread of one test's ``TestClient``, it
    was killed when that client closed, and the next test's pool could connect to it while it
    died (``EOFError: unexpected EOF`` under load).
    """
    from stamping import forkserver

    forkserver.start()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The database backend under test: 'sqlite' or 'postgresql'."""
    if request.param == "postgresql" and not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL must answer at {PG_ADMIN_URL} under CI")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    return str(request.param)


@pytest.fixture(scope="session")
def database_templates(request: pytest.FixtureRequest,
                       tmp_path_factory: pytest.TempPathFactory) -> DatabaseTemplates:
    """Migrated template databases (built once per version of the migrations); kept in
    pytest's cache directory, or for this session only under ``-p no:cacheprovider``."""
    cache = getattr(request.config, "cache", None)
    if cache is None:
        return DatabaseTemplates(tmp_path_factory.mktemp("db-templates"))
    return DatabaseTemplates(cache.mkdir("db-templates"))


@pytest.fixture(scope="session")
def postgres_pool(database_templates: DatabaseTemplates) -> Iterator[PostgresPool]:
    """Migrated PostgreSQL databases reused across the session's tests, reset between them."""
    pool = PostgresPool(database_templates)
    yield pool
    pool.close()


@pytest.fixture
def make_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest
                      ) -> Iterator[Callable[..., str]]:
    """A factory of fresh database URLs on the current backend.

    ``make_database_url("status")`` gives an empty database: ``sqlite:///.../status.sqlite3``
    on SQLite or the URL of a new PostgreSQL database that is dropped when the test ends.
    ``make_database_url("status", migrated="statuspage")`` gives one already migrated to head
    and holding only what the migrations seed, copied from a template (see
    ``tests/databases.py``): the same schema as running every migration, in a fraction of the
    time.
    """
    created: list[str] = []
    give_back: list[Callable[[], None]] = []

    def make(name: str = "db", migrated: str | None = None) -> str:
        if migrated is not None and os.environ.get("TESTS_MIGRATE_EACH") == "1":
            # the way before templates: every migration on an empty database, for the
            # baseline of benchmarks/test_suite_speed.py
            url = make(name)
            MIGRATORS[migrated](url)
            return url
        if backend == "sqlite":
            path = tmp_path / (name + ".sqlite3")
            if migrated is not None:
                templates = request.getfixturevalue("database_templates")
                shutil.copyfile(templates.sqlite(migrated), path)
            return f"sqlite:///{path}"
        if migrated is not None:
            url, release = request.getfixturevalue("postgres_pool").take(migrated)
            give_back.append(release)
            return str(url)
        dbname = f"t_{name[:20]}_{uuid.uuid4().hex[:10]}".lower()
        pg_admin(f'CREATE DATABASE "{dbname}"')
        created.append(dbname)
        return pg_url(dbname)

    yield make
    for release in give_back:
        release()
    if created:
        pg_admin(*(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)' for dbname in created))

"""Test databases: migrated templates, copied per test; reused PostgreSQL databases.

Running every migration for every test cost most of the suite's time. A migrated database is
built once per package, backend and version of the migration files (a *template*), and each
test gets its own copy of it:

- SQLite: a file copy of the template (milliseconds).
- PostgreSQL: creating a database from the template is quick, but dropping one costs one to
  two seconds (the server waits for every backend to let go of the files), so the databases
  are pooled for the session: a test takes one, and the next test to take it gets it emptied
  with one ``TRUNCATE`` and refilled with the rows the migrations seeded.

Templates are named by a hash of the package's migration files, so a new or edited migration
builds a new template on the next run; they persist between runs (PostgreSQL databases
``tpl_<package>_<hash>``, SQLite files in pytest's cache directory). Several test runs may share
the server and the cache directory: a template is built under a private name and renamed into
place in one step, and a run that loses that race drops its copy and uses the winner's.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import sqlite3
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

__all__ = ["MIGRATORS", "PG_ADMIN_URL", "DatabaseTemplates", "PostgresPool", "migrations_hash",
           "pg_admin", "pg_url"]

log = logging.getLogger(__name__)
PG_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ROOT = Path(__file__).resolve().parent.parent


def _migrate_statuspage(url: str) -> None:
    from statuspage.db import migrate

    migrate(url)


def _migrate_stamping(url: str) -> None:
    from stamping.db import create_engine, migrate

    engine = create_engine(url)
    try:
        migrate(engine)
    finally:
        engine.dispose()


#: Package -> how to migrate an empty database of it to head.
MIGRATORS: dict[str, Callable[[str], None]] = {
    "statuspage": _migrate_statuspage, "stamping": _migrate_stamping}


def migrations_hash(package: str) -> str:
    """A short hash of every file under ``<package>/migrations`` (names and contents)."""
    digest = hashlib.sha256()
    base = ROOT / package / "migrations"
    for path in sorted(base.rglob("*.py")):
        if "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def pg_url(dbname: str) -> str:
    """The URL of database ``dbname`` on the test PostgreSQL server."""
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + dbname


def pg_admin(*statements: str) -> None:
    """Run statements (CREATE/DROP DATABASE) outside a transaction on the admin database."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            for statement in statements:
                conn.execute(sa.text(statement))
    finally:
        admin.dispose()


class DatabaseTemplates:
    """Migrated template databases, built at most once per migration hash (see module doc)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self.ready: set[str] = set()

    def sqlite(self, package: str) -> Path:
        """The template file of ``package`` (built when missing)."""
        path = self.cache_dir / f"{package}-{migrations_hash(package)}.sqlite3"
        if not path.exists():
            building = path.with_name(f"{path.stem}.{uuid.uuid4().hex}.building")
            MIGRATORS[package](f"sqlite:///{building}")
            conn = sqlite3.connect(building)
            try:  # everything in the main file, nothing left in a -wal file
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            os.replace(building, path)
        return path

    def postgres(self, package: str) -> str:
        """The name of the template database of ``package`` (built when missing)."""
        name = f"tpl_{package}_{migrations_hash(package)}"
        if name in self.ready:
            return name
        admin = sa.create_engine(PG_ADMIN_URL)
        try:
            with admin.connect() as conn:
                exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                     {"n": name})
        finally:
            admin.dispose()
        if not exists:
            building = f"tpl_building_{uuid.uuid4().hex[:12]}"
            pg_admin(f'CREATE DATABASE "{building}"')
            try:
                MIGRATORS[package](pg_url(building))
                pg_admin(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
            except sa.exc.DBAPIError as exc:  # another run renamed its copy into place first
                if "already exists" not in str(exc):
                    raise
            finally:
                pg_admin(f'DROP DATABASE IF EXISTS "{building}" WITH (FORCE)')
        self.ready.add(name)
        return name


@dataclass
class _Pooled:
    """One pooled database: its name and what a fresh copy of the template holds."""

    name: str
    tables: list[sa.Table] = field(default_factory=list)
    seed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    sequences: dict[str, int | None] = field(default_factory=dict)


class PostgresPool:
    """Migrated PostgreSQL databases of the session, reset between tests (see module doc)."""

    def __init__(self, templates: DatabaseTemplates) -> None:
        self.templates = templates
        self.free: dict[str, list[_Pooled]] = {}
        self.names: list[str] = []

    def take(self, package: str) -> tuple[str, Callable[[], None]]:
        """The URL of an empty, migrated database of ``package``, and how to give it back."""
        free = self.free.setdefault(package, [])
        while free:
            pooled = free.pop()
            try:
                self._reset(pooled)
            except sa.exc.DBAPIError:  # a test left a connection holding locks: retire it
                log.warning("could not reset test database %s; using a new one", pooled.name)
                continue
            return pg_url(pooled.name), functools.partial(free.append, pooled)
        pooled = self._clone(package)
        return pg_url(pooled.name), functools.partial(free.append, pooled)

    def _clone(self, package: str) -> _Pooled:
        pooled = _Pooled(f"t_{package}_{uuid.uuid4().hex[:10]}")
        pg_admin(f'CREATE DATABASE "{pooled.name}" TEMPLATE "{self.templates.postgres(package)}"')
        self.names.append(pooled.name)
        engine = sa.create_engine(pg_url(pooled.name))
        try:
            with engine.connect() as conn:
                metadata = sa.MetaData()
                metadata.reflect(conn)
                pooled.tables = [t for t in metadata.sorted_tables
                                 if t.name != "alembic_version"]
                for table in pooled.tables:
                    rows = [dict(row._mapping) for row in conn.execute(sa.select(table))]
                    if rows:
                        pooled.seed[table.name] = rows
                pooled.sequences = {
                    f"{schema}.{seq}": value for schema, seq, value in conn.execute(sa.text(
                        "SELECT schemaname, sequencename, last_value FROM pg_sequences"))}
        finally:
            engine.dispose()
        return pooled

    def _reset(self, pooled: _Pooled) -> None:
        engine = sa.create_engine(pg_url(pooled.name))
        try:
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL lock_timeout = '5s'"))
                names = ", ".join(f'"{table.name}"' for table in pooled.tables)
                conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                for table in pooled.tables:
                    if table.name in pooled.seed:
                        conn.execute(table.insert(), pooled.seed[table.name])
                for sequence, value in pooled.sequences.items():
                    if value is not None:
                        conn.execute(sa.text("SELECT setval(:s, :v)"),
                                     {"s": sequence, "v": value})
        finally:
            engine.dispose()

    def close(self) -> None:
        """Drop every database the pool made (end of the session)."""
        if self.names:
            pg_admin(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self.names))

"""Engine, sessions and migrations.

SQLite (the default) runs in WAL mode with a busy timeout so the web, worker and CLI processes on
one host can share it; PostgreSQL is used through ``STATUSPAGE_DATABASE_URL`` for scale-out.

On SQLite the driver's legacy transaction mode is off (``isolation_level = None``) and this module
emits ``BEGIN`` itself: pysqlite would otherwise begin only before the first write, so a
read-then-write check (such as "keep one active admin") would not be atomic. ``Database.session``
starts with ``BEGIN IMMEDIATE``, which takes the write lock first and queues on ``busy_timeout``
(a deferred transaction that reads and then writes can fail with "database is locked" without
waiting); ``Database.read`` uses plain ``BEGIN`` and, in WAL mode, never blocks or waits for a
writer. Same scheme as ``stamping/db.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from statuspage.models import ChangeCounter, utcnow

if TYPE_CHECKING:
    from statuspage.settings import Settings

__all__ = ["CHANGES_CHANNEL", "Database", "bump_changes", "libpq_url", "migrate",
           "prepare_database"]

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).with_name("migrations")
_READ_ONLY = "statuspage_read_only"  # execution option: a plain (deferred) BEGIN on SQLite


def create_engine(url: str) -> sa.Engine:
    """An engine with the right settings for SQLite or PostgreSQL."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # BEGIN is emitted below (see module doc)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: sa.Connection) -> None:
            read_only = conn.get_execution_options().get(_READ_ONLY, False)
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10,
                            connect_args={"connect_timeout": 5})


class Database:
    """The engine and session factory; the composition root hands one to every part."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_engine(url)
        self.read_engine = self.engine.execution_options(**{_READ_ONLY: True})
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction: committed on success, rolled back on error.

        On SQLite it holds the write lock from its first statement, so what it reads stays true
        until it commits (``with_for_update`` has no effect there; this is what serialises).
        """
        with self.sessions() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: one consistent snapshot that never waits for a writer.

        Use it only for code that writes nothing (public pages, feeds, JSON); a write inside it
        can fail on SQLite when another process wrote first.
        """
        with self.read_sessions() as session, session.begin():
            yield session

    def change_counter(self) -> int:
        """The current value of the change counter (one cheap indexed read)."""
        with self.read_engine.connect() as conn:
            value = conn.execute(sa.select(ChangeCounter.value).where(ChangeCounter.id == 1))
            return int(value.scalar() or 0)

    def ping(self) -> None:
        """Raise when the database is unreachable."""
        with self.read_engine.connect() as conn:
            conn.execute(sa.text("select 1"))

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


#: The PostgreSQL channel on which every committed change is announced (see ``bump_changes``).
CHANGES_CHANNEL = "statuspage_changes"


def bump_changes(session: Session) -> None:
    """Mark that something a public page shows has changed (call inside the write transaction).

    On PostgreSQL the change is also announced with NOTIFY, which the server delivers only when
    the transaction commits, so every web process listening refreshes at once instead of at its
    next poll (``statuspage.changes``).
    """
    updated = session.execute(
        sa.update(ChangeCounter).where(ChangeCounter.id == 1).values(
            value=ChangeCounter.value + 1, changed_at=utcnow())
    )
    if updated.rowcount == 0:  # type: ignore[attr-defined]
        session.add(ChangeCounter(id=1, value=1))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})


def libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as a plain libpq URL, for connections made with psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the packaged migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str, time_zone: str = "Asia/Jakarta") -> None:
    """Apply every migration (one line, up to ``head``) to the database at ``url``.

    ``time_zone`` is the page's: data migrations that depend on it (day rollups) read it.
    """
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            cfg = alembic_config(url)
            cfg.attributes["connection"] = conn
            cfg.attributes["time_zone"] = time_zone
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()


def prepare_database(settings: Settings) -> None:
    """Apply migrations and bring the components table in step with the config.

    The store verbs are imported here: they import this module (``bump_changes``).
    """
    from statuspage.store.components import sync_components
    from statuspage.store.day_zone import convert_day_rollups
    from statuspage.store.deadline_records import sync_deadlines

    migrate(settings.database_url, settings.config.page.time_zone)
    db = Database(settings.database_url)
    try:
        with db.session() as session:
            # days start at midnight in the page's time zone; a changed zone rebuilds them
            convert_day_rollups(session.connection(), settings.config.page.time_zone)
            sync_components(session, settings.config)
            session.flush()
            sync_deadlines(session, settings.config)
    finally:
        db.dispose()

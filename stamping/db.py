"""Engine, sessions and migrations of the stamping database.

On SQLite every write transaction starts with ``BEGIN IMMEDIATE``: a deferred transaction
that reads and then writes can fail with "database is locked" without waiting, whereas an
immediate one queues on ``busy_timeout``.  Reads use plain ``BEGIN`` and, in WAL mode, never
block writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from starlette.concurrency import run_in_threadpool

__all__ = ["Database", "create_engine", "migrate"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

_MIGRATIONS = Path(__file__).parent / "migrations"


def create_engine(url: str) -> sa.Engine:
    """An engine tuned for the service: WAL + busy timeout on SQLite, a bigger pool on PG."""
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                                  pool_size=20, max_overflow=40)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves (see module doc)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            immediate = conn.get_execution_options().get("stamping_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    # A bounded connect and pool wait: with the database unreachable a request fails in
    # seconds (503) instead of holding a thread for the OS's TCP timeout.
    return sa.create_engine(url, pool_size=20, max_overflow=40, pool_pre_ping=True,
                            pool_timeout=10, connect_args={"connect_timeout": 5})


def migrate(engine: sa.Engine) -> None:
    """Apply the stamping migrations up to head (idempotent)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class Database:
    """Sessions for store verbs: ``await db.write(verb, *args)`` runs the verb in a thread,
    inside one transaction, and commits (or rolls back on an exception)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        write_engine = self.engine.execution_options(stamping_write=True)
        self._write = sessionmaker(write_engine, expire_on_commit=False)

    def migrate(self) -> None:
        """Apply migrations on this database."""
        migrate(self.engine)

    def write_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a write transaction (blocking)."""
        with self._write() as session, session.begin():
            return fn(session, *args)

    def read_sync(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a read transaction (blocking)."""
        with self._read() as session, session.begin():
            return fn(session, *args)

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a write transaction in a worker thread."""
        return await run_in_threadpool(self.write_sync, fn, *args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(session, *args)`` in a read transaction in a worker thread."""
        return await run_in_threadpool(self.read_sync, fn, *args)

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

"""Which worker leads: exactly one worker runs the scheduled jobs, the others stand by.

Any number of ``statuspage worker`` processes may run against one database. The leader holds a
lock that the database itself releases when the leader dies, so no home-made consensus:

- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a dedicated
  connection. A leader killed with SIGKILL closes its socket and the server frees the lock at
  once; a leader cut off from the network is dropped by the server's TCP keepalives (set on the
  session to about 11 s). The leader checks the lock every second and stops its jobs as soon as
  a check fails or takes over 2 s; a new leader waits longer than that (3.5 s) after winning
  the lock before it starts, so the old one has stopped first. Takeover after a SIGKILL takes
  the stand-by's poll (1 s) plus that grace plus the first probe run: 5-12 s measured.
- SQLite (one host): an exclusive ``flock`` on a file beside the database. The kernel frees it
  when the process dies, and it cannot be lost while the process lives, so there is no grace.

Who leads is readable from any process (``current_leader``): the PostgreSQL backend holding the
lock carries the leader's identity as its ``application_name``; the lock file holds it as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from statuspage.db import libpq_url

__all__ = [
    "FileLeaderLock",
    "LeaderLock",
    "PostgresLeaderLock",
    "current_leader",
    "leader_lock",
    "run_as_leader",
    "worker_identity",
]

log = logging.getLogger(__name__)

# The advisory lock key: "STATUSPG" in ASCII, one 64-bit number no other application uses.
ADVISORY_KEY = 0x5354415455535047
_CLASSID, _OBJID = ADVISORY_KEY >> 32, ADVISORY_KEY & 0xFFFFFFFF
APPLICATION_PREFIX = "statuspage-worker "


def worker_identity() -> str:
    """How this worker is named in /readyz and /metrics: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock(Protocol):
    """A lock that at most one worker holds and that dies with its holder."""

    identity: str
    #: whether the lock can be taken away from a living holder (then a winner waits a grace)
    can_be_lost: bool

    def try_acquire(self) -> bool:
        """Take the lock if it is free (blocking I/O; call in a thread)."""

    def still_held(self) -> bool:
        """Whether the lock is still ours; False or an exception means it is lost."""

    def release(self) -> None:
        """Give the lock up (idempotent)."""


class PostgresLeaderLock:
    """A session-level advisory lock on a connection of its own."""

    can_be_lost = True

    def __init__(self, url: str, identity: str) -> None:
        self.url = libpq_url(url)
        self.identity = identity
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg  # the PostgreSQL driver; only needed on this backend

        conn = psycopg.connect(
            self.url, autocommit=True, connect_timeout=5,
            application_name=(APPLICATION_PREFIX + self.identity)[:63],
            keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3)
        # the server drops a leader it cannot reach within ~11 s, which frees the lock
        conn.execute("SET tcp_keepalives_idle = 5")
        conn.execute("SET tcp_keepalives_interval = 2")
        conn.execute("SET tcp_keepalives_count = 3")
        conn.execute("SET statement_timeout = '5s'")
        return conn

    def try_acquire(self) -> bool:
        """Take the advisory lock if no other session holds it."""
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (ADVISORY_KEY,)).fetchone()
        return bool(row and row[0])

    def still_held(self) -> bool:
        """Ask the server whether this session still holds the lock."""
        if self._conn is None or self._conn.closed:
            return False
        row = self._conn.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
            " AND classid = %s AND objid = %s AND objsubid = 1 AND pid = pg_backend_pid()",
            (_CLASSID, _OBJID)).fetchone()
        return bool(row and row[0])

    def release(self) -> None:
        """Unlock and close the connection (closing alone frees it too, a little later)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # at once, not when the backend exits
                conn.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(Exception):
                conn.close()


class FileLeaderLock:
    """An exclusive ``flock`` on a file; the kernel frees it when the holder dies."""

    can_be_lost = False

    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self._file: IO[str] | None = None

    def try_acquire(self) -> bool:
        """Take the file lock if no other process holds it, and write who we are into it."""
        if self._file is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held while leading
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(self.identity)
        handle.flush()
        self._file = handle
        return True

    def still_held(self) -> bool:
        """A held flock cannot be taken away while the process lives."""
        return self._file is not None

    def release(self) -> None:
        """Unlock and close the file."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.seek(0)
                handle.truncate()
                fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()


def _lock_file(database_url: str) -> Path:
    database = make_url(database_url).database or "statuspage.sqlite3"
    return Path(database + ".leader")


def leader_lock(database_url: str, identity: str | None = None) -> LeaderLock:
    """The right lock for the database at ``database_url``."""
    identity = identity or worker_identity()
    if database_url.startswith("sqlite"):
        return FileLeaderLock(_lock_file(database_url), identity)
    return PostgresLeaderLock(database_url, identity)


def current_leader(engine: sa.Engine) -> str | None:
    """The identity of the worker that leads now, or None when no worker leads."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            name = conn.execute(sa.text(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a"
                " ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted"
                " AND l.classid = :c AND l.objid = :o AND l.objsubid = 1"
                # advisory locks are per database: another page's leader is not ours
                " AND l.database = (SELECT oid FROM pg_database"
                " WHERE datname = current_database()) LIMIT 1"),
                {"c": _CLASSID, "o": _OBJID}).scalar()
        if name is None:
            return None
        return str(name).removeprefix(APPLICATION_PREFIX)
    path = _lock_file(engine.url.render_as_string(hide_password=False))
    if not path.exists():
        return None
    with open(path, "a+", encoding="utf-8") as handle:
        try:  # a lock we can take is a lock nobody holds
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            return handle.read().strip() or "unknown"
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


@dataclass
class LeaderTerm:
    """What ``run_as_leader`` reports to its caller (for logs, tests and metrics)."""

    terms: int = 0
    leading: bool = False


LeadFunction = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def run_as_leader(lock: LeaderLock, lead: LeadFunction,
                        stop: asyncio.Event, *, poll_s: float = 1.0, check_s: float = 1.0,
                        check_timeout_s: float = 2.0, term: LeaderTerm | None = None) -> None:
    """Stand by until the lock is won, then run ``lead(lost)`` until ``stop`` or the lock is lost.

    ``lead`` must return promptly once the event it is given is set (it stops its jobs). After
    losing the lock the worker stands by again, so a database that comes back gets a leader.

    A leader learns it lost the lock within ``check_s + check_timeout_s``; a winner of a lock
    that can be lost while its holder lives waits that long (plus a margin) before it leads.
    """
    term = term or LeaderTerm()
    grace_s = check_s + check_timeout_s + 0.5 if lock.can_be_lost else 0.0
    try:
        while not stop.is_set():
            try:
                won = await asyncio.wait_for(asyncio.to_thread(lock.try_acquire), check_timeout_s
                                             + 5)
            except Exception as exc:  # database unreachable: stand by and try again
                log.warning("leader lock unavailable: %r", exc)
                await _release(lock)
                won = False
            if not won:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_s)
                continue
            if grace_s:
                log.info("won the leader lock; waiting %.1f s for any old leader to stop",
                         grace_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), grace_s)
                if stop.is_set():
                    break
            term.terms += 1
            term.leading = True
            log.info("leading as %s (term %d)", lock.identity, term.terms)
            lost = asyncio.Event()
            leader = asyncio.create_task(lead(lost), name="leader-jobs")
            try:
                await _watch(lock, lost, stop, leader, check_s, check_timeout_s)
            finally:
                lost.set()
                with contextlib.suppress(Exception):
                    await leader
                term.leading = False
                await _release(lock)
            if not stop.is_set():
                log.warning("lost the leader lock; jobs stopped, standing by")
                with contextlib.suppress(TimeoutError):  # let a healthy stand-by win first
                    await asyncio.wait_for(stop.wait(), poll_s)
    finally:
        await _release(lock)


async def _release(lock: LeaderLock) -> None:
    """Release in a thread, bounded: closing a connection to a dead server may block."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(asyncio.to_thread(lock.release), 5)


async def _watch(lock: LeaderLock, lost: asyncio.Event, stop: asyncio.Event,
                 leader: asyncio.Task[None], check_s: float, timeout_s: float) -> None:
    """Return when ``stop`` is set, the leader task ends, or the lock is no longer ours."""
    while not stop.is_set() and not leader.done():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), check_s)
        if stop.is_set() or leader.done():
            return
        try:
            held = await asyncio.wait_for(asyncio.to_thread(lock.still_held), timeout_s)
        except Exception as exc:  # a check that fails or hangs means the lock may be gone
            log.warning("leader lock check failed: %r", exc)
            held = False
        if not held:
            lost.set()
            return

"""Change announcements: a commit on PostgreSQL wakes every listening page cache at once."""

from __future__ import annotations

import asyncio
import time

import pytest
import sqlalchemy as sa

from statuspage.cache import PageCache
from statuspage.changes import listen_for_changes
from statuspage.db import Database, bump_changes


def _skip_on_sqlite(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has no notifications; one host polls its own file")


async def _wait_for(condition: object, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.01)
    return False


def _commit_a_change(db: Database) -> None:
    with db.session() as session:
        bump_changes(session)


def test_a_commit_wakes_the_cache_long_before_its_poll(db: Database, backend: str) -> None:
    _skip_on_sqlite(backend)

    async def go() -> None:
        cache = PageCache(db.change_counter, poll_interval=3600)  # only a NOTIFY can explain it
        await cache.start()
        connected = asyncio.Event()

        def on_change() -> None:
            connected.set()
            cache.wake()

        listener = asyncio.create_task(listen_for_changes(db.url, on_change))
        try:
            await asyncio.wait_for(connected.wait(), 10)
            for _ in range(3):
                before = cache.version
                await asyncio.to_thread(_commit_a_change, db)
                assert await _wait_for(lambda b=before: cache.version != b, 5)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await cache.stop()

    asyncio.run(go())


def test_the_listener_reconnects_after_its_connection_is_killed(db: Database,
                                                                backend: str) -> None:
    _skip_on_sqlite(backend)
    admin = sa.create_engine(db.url, isolation_level="AUTOCOMMIT")

    def kill_listener() -> int:
        with admin.connect() as conn:
            return len(conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'statuspage-web listener'"
                " AND datname = current_database()")).all())

    async def go() -> None:
        cache = PageCache(db.change_counter, poll_interval=3600)
        await cache.start()
        connects = 0
        connected = asyncio.Event()

        def on_change() -> None:
            nonlocal connects
            connects += 1
            connected.set()
            cache.wake()

        listener = asyncio.create_task(listen_for_changes(db.url, on_change, max_backoff_s=1))
        try:
            await asyncio.wait_for(connected.wait(), 10)
            assert await asyncio.to_thread(kill_listener) == 1
            assert await _wait_for(lambda: connects >= 2, 10), "the listener did not come back"
            before = cache.version
            await asyncio.to_thread(_commit_a_change, db)
            assert await _wait_for(lambda: cache.version != before, 5)
        finally:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
            await cache.stop()

    try:
        asyncio.run(go())
    finally:
        admin.dispose()


def test_the_app_listens_only_on_postgresql(client: object, backend: str) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    assert (services.listener is not None) == (backend == "postgresql")

"""Leader election: one worker leads, the others stand by and take over when it dies."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from statuspage.leadership import (
    LeaderLock,
    LeaderTerm,
    PostgresLeaderLock,
    current_leader,
    leader_lock,
    run_as_leader,
)


def test_only_one_holds_the_lock_and_everyone_can_see_who(
        make_database_url: Callable[[str], str], backend: str) -> None:
    url = make_database_url("leader")
    first, second = leader_lock(url, "host-a:1"), leader_lock(url, "host-b:2")
    engine = sa.create_engine(url)
    try:
        assert current_leader(engine) is None
        assert first.try_acquire()
        assert not second.try_acquire()
        assert first.still_held()
        assert current_leader(engine) == "host-a:1"
        first.release()
        assert current_leader(engine) is None
        assert second.try_acquire()
        assert current_leader(engine) == "host-b:2"
    finally:
        first.release()
        second.release()
        engine.dispose()


def test_a_terminated_leader_session_loses_the_lock(
        make_database_url: Callable[[str], str], backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("a file lock cannot be taken away from a living process")
    url = make_database_url("leader")
    first = PostgresLeaderLock(url, "a:1")
    second = PostgresLeaderLock(url, "b:2")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        assert first.try_acquire()
        with engine.connect() as conn:  # what a network cut or a server restart amounts to
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'statuspage-worker a:1'"))
        deadline = time.monotonic() + 5
        held = True
        while held and time.monotonic() < deadline:
            try:
                held = first.still_held()
            except Exception:
                held = False
        assert not held
        assert second.try_acquire()
    finally:
        first.release()
        second.release()
        engine.dispose()


async def _contest(lock_a: LeaderLock, lock_b: LeaderLock,
                   kill_leader: Callable[[dict[str, asyncio.Event]], None]
                   ) -> list[tuple[str, str, float]]:
    """Run two candidates; take the lock from whoever leads first; record every term."""
    events: list[tuple[str, str, float]] = []
    stops = {"a": asyncio.Event(), "b": asyncio.Event()}

    def lead_as(name: str) -> Callable[[asyncio.Event], object]:
        async def lead(lost: asyncio.Event) -> None:
            events.append((name, "start", time.monotonic()))
            await lost.wait()
            events.append((name, "stop", time.monotonic()))
        return lead

    terms = {"a": LeaderTerm(), "b": LeaderTerm()}
    tasks = [asyncio.create_task(run_as_leader(lock, lead_as(name), stops[name], poll_s=0.2,  # type: ignore[arg-type]
                                               check_s=0.2, check_timeout_s=1,
                                               term=terms[name]))
             for name, lock in (("a", lock_a), ("b", lock_b))]
    deadline = time.monotonic() + 10
    while not any(t.leading for t in terms.values()) and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    kill_leader(stops)
    while sum(t.terms for t in terms.values()) < 2 and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    for stop in stops.values():
        stop.set()
    await asyncio.gather(*tasks)
    return events


def test_a_stand_by_takes_over_only_after_the_old_leader_stopped(
        make_database_url: Callable[[str], str], backend: str, tmp_path: Path) -> None:
    url = make_database_url("leader")
    if backend == "sqlite":
        lock_a: LeaderLock = leader_lock(url, "a:1")
        lock_b: LeaderLock = leader_lock(url, "b:2")
    else:
        lock_a, lock_b = PostgresLeaderLock(url, "a:1"), PostgresLeaderLock(url, "b:2")
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")

    def kill_leader(stops: dict[str, asyncio.Event]) -> None:
        leader = current_leader(engine)
        assert leader in ("a:1", "b:2")
        if backend == "sqlite":  # a flock is lost only with its holder: the leader goes away
            stops[leader[0]].set()
            return
        with engine.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = :n"), {"n": "statuspage-worker " + leader})

    try:
        events = asyncio.run(_contest(lock_a, lock_b, kill_leader))
    finally:
        engine.dispose()
    starts = [e for e in events if e[1] == "start"]
    stops = [e for e in events if e[1] == "stop"]
    assert len(starts) >= 2 and len(stops) == len(starts), events
    # terms never overlap: each term stopped before the next one (by anyone) started
    for (_, _, stopped), (_, _, started) in zip(stops, starts[1:], strict=False):
        assert stopped <= started, events

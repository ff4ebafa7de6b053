"""Fixed-window request counters in the database, shared by every web process.

``hit`` counts one request of ``scope`` from ``address`` and says whether it is within
``limit`` per ``window_s``. Call it in its own transaction, before the work it guards, so a
refused or failed request still counts (an abuser cannot retry for free). ``take`` counts a
batch (the probe results an agent pushes), all or nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from statuspage.models import RateCounter, utcnow

__all__ = ["Allowance", "hit", "prune_counters", "take"]


def hit(session: Session, scope: str, address: str | None, *, limit: int, window_s: int,
        now: datetime | None = None) -> bool:
    """Count one request; True while the window's count is at most ``limit``."""
    now = now or utcnow()
    start = int(now.timestamp()) // window_s * window_s
    key = f"{scope}:{(address or '-')[:64]}:{start}"[:200]
    expires = datetime.fromtimestamp(start + window_s, tz=now.tzinfo)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(RateCounter).values(key=key, count=1, expires_at=expires)
    session.execute(statement.on_conflict_do_update(
        index_elements=[RateCounter.key], set_={"count": RateCounter.count + 1}))
    count = session.scalar(sa.select(RateCounter.count).where(RateCounter.key == key)) or 0
    return count <= limit


def prune_counters(session: Session, now: datetime | None = None) -> int:
    """Delete counters of windows that are over."""
    result: Any = session.execute(sa.delete(RateCounter).where(
        RateCounter.expires_at < (now or utcnow()) - timedelta(seconds=1)))
    return int(result.rowcount or 0)


@dataclass(frozen=True)
class Allowance:
    """Whether an amount fitted in the window; when not, seconds until the next window."""

    allowed: bool
    retry_after_s: int = 0


def take(session: Session, scope: str, address: str, amount: int, *, limit: int,
         window_s: int, now: datetime | None = None) -> Allowance:
    """Count ``amount`` against ``limit`` per ``window_s``, all or nothing (a refused batch
    takes nothing, so an agent's retry of the same batch fits once the window turns).

    One conditional UPDATE: two processes cannot both take the last places.
    """
    now = now or utcnow()
    epoch = int(now.timestamp())
    start = epoch - epoch % window_s
    key = f"{scope}:{address[:64]}:{start}"[:200]
    expires = datetime.fromtimestamp(start + window_s, tz=now.tzinfo)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(RateCounter).values(key=key, count=0, expires_at=expires)
                    .on_conflict_do_nothing(index_elements=[RateCounter.key]))
    updated: Any = session.execute(
        sa.update(RateCounter).where(RateCounter.key == key,
                                     RateCounter.count + amount <= limit)
        .values(count=RateCounter.count + amount))
    if updated.rowcount:
        return Allowance(True)
    return Allowance(False, max(1, math.ceil(start + window_s - now.timestamp())))

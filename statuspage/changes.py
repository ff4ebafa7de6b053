"""Change announcements: web processes hear of a commit at once instead of at their next poll.

Every write that changes what the public sees calls ``db.bump_changes``, which on PostgreSQL
also sends ``NOTIFY statuspage_changes`` (delivered when the transaction commits). Each web
process keeps one connection that LISTENs and wakes its page cache on every notification, so a
posted incident shows on every host within milliseconds. The cache's one-second poll stays as
the fallback: if the listening connection drops, it reconnects with back-off while the poll
keeps pages fresh within a second, and a (re)connect always wakes the cache once to catch up
with whatever was announced while nobody listened.

SQLite has no notifications; one host polls its own file cheaply, so nothing runs there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from statuspage.db import CHANGES_CHANNEL, libpq_url

__all__ = ["listen_for_changes"]

log = logging.getLogger(__name__)


async def listen_for_changes(database_url: str, on_change: Callable[[], None], *,
                             max_backoff_s: float = 30.0) -> None:
    """LISTEN on the changes channel and call ``on_change`` per notification, forever.

    Runs until cancelled. Never raises: connection failures are logged and retried.
    """
    import psycopg  # the PostgreSQL driver; only needed on this backend

    backoff = 1.0
    while True:
        try:
            conn = await psycopg.AsyncConnection.connect(
                libpq_url(database_url), autocommit=True, connect_timeout=5,
                application_name="statuspage-web listener",
                # a silently dead connection is noticed in ~11 s; the poll covers meanwhile
                keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3)
            async with conn:
                await conn.execute(f"LISTEN {CHANGES_CHANNEL}")
                log.info("listening for changes on PostgreSQL")
                backoff = 1.0
                on_change()  # catch up with anything announced while nobody listened
                async for _ in conn.notifies():
                    on_change()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("change notifications unavailable (polling continues): %r", exc)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, max_backoff_s)

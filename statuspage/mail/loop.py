"""The worker's email engine: fan out, claim, send over reused SMTP sessions, record.

One ``MailLoop`` runs in each worker process, beside the webhook engine, reading the same
outbox. One task fans events out into deliveries, a chunk at a time, and tends leases and
expiries; ``sessions`` sender tasks each lease a batch of due messages, send it over an SMTP
connection in a thread of their own (kept open between batches, pipelining when the server
allows) and record the outcomes in one transaction. Database work runs in one thread of its
own; building messages and SMTP run in the session threads.

Nothing is kept only in memory: a killed worker leaves leases that expire (``lease_s``) and the
messages are sent again with the same ``Message-ID``. On SQLite there is a single worker, so at
start it takes every lease back at once. Without ``STATUSPAGE_SMTP_URL`` messages are written
as ``.eml`` files (``outbox_dir``) instead: the demo shows exactly what would be sent.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from statuspage.db import Database
from statuspage.mail.messages import Composer, MailContext
from statuspage.mail.smtp import EmlWriter, SendOutcome, SmtpSession, SmtpTarget
from statuspage.models import utcnow
from statuspage.store import mail_deliveries as store
from statuspage.store import mail_subscribers

__all__ = ["MailLoop", "MailOptions"]

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class MailOptions:
    """Tuning of the email engine (the defaults are the production values)."""

    sessions: int = 4
    #: Messages a session leases, sends and records at a time.
    batch: int = 50
    timeout_s: float = 30.0
    schedule: tuple[float, ...] = store.RETRY_SCHEDULE_S
    fanout_chunk: int = 1000
    idle_poll_s: float = 0.2
    #: An SMTP connection unused this long is closed.
    idle_close_s: float = 30.0

    @property
    def lease_s(self) -> float:
        """How long claimed messages are ours: a batch's sends plus a margin."""
        return self.timeout_s * 3 + 5.0


@dataclass
class MailLoop:
    """Fan-out and delivery of email for one worker process."""

    db: Database
    context: MailContext
    target: SmtpTarget | None
    outbox_dir: Path
    options: MailOptions = field(default_factory=MailOptions)
    sent: Counter[str] = field(default_factory=Counter, init=False)
    _idle: list[SmtpSession] = field(default_factory=list, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mail-db")
        self._senders = ThreadPoolExecutor(max_workers=self.options.sessions,
                                           thread_name_prefix="mail-smtp")
        self._writer = EmlWriter(self.outbox_dir) if self.target is None else None
        self._composer = Composer(self.context)

    async def _in(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # --- database steps (in the database thread) ---------------------------------------------

    def _fan_out(self) -> int:
        with self.db.session() as session:
            return store.fan_out(session, self.options.fanout_chunk)

    def _claim(self, limit: int) -> list[store.MailClaim]:
        with self.db.session() as session:
            return store.claim_due(session, now=utcnow(), limit=limit,
                                   lease_s=self.options.lease_s)

    def _record(self, results: list[store.MailResult]) -> None:
        with self.db.session() as session:
            disabled = store.record_results(session, results, now=utcnow(),
                                            schedule=self.options.schedule)
        for sid in disabled:
            log.warning("email subscriber %s disabled by its mail server", sid)

    def _housekeeping(self, release_all: bool = False) -> int:
        with self.db.session() as session:
            released = store.release_leases(session, None if release_all else utcnow())
            expired = mail_subscribers.expire(session)
        if released or expired:
            log.info("email: %d leases taken back, %d unconfirmed or disabled addresses "
                     "forgotten", released, expired)
        return released

    def _prune(self) -> None:
        with self.db.session() as session:
            store.prune(session)

    # --- sending (in the session threads) -----------------------------------------------------

    def _session(self) -> SmtpSession:
        assert self.target is not None
        with self._lock:
            while self._idle:
                found = self._idle.pop()
                if time.monotonic() - found.last_used < self.options.idle_close_s:
                    return found
                found.close()
        return SmtpSession(self.target, timeout_s=self.options.timeout_s,
                           local_hostname=self.context.host)

    def _give_back(self, session: SmtpSession) -> None:
        session.last_used = time.monotonic()
        with self._lock:
            self._idle.append(session)

    def close_idle(self, older_than_s: float = 0.0) -> None:
        """Close SMTP connections unused for ``older_than_s``."""
        with self._lock:
            keep = [s for s in self._idle if time.monotonic() - s.last_used < older_than_s]
            gone = [s for s in self._idle if s not in keep]
            self._idle = keep
        for s in gone:
            s.close()

    def send_chunk(self, claims: list[store.MailClaim]) -> list[store.MailResult]:
        """Build and send ``claims`` over one connection; never raises."""
        results: list[store.MailResult] = []

        def add(c: store.MailClaim, outcome: SendOutcome) -> None:
            self.sent[outcome.outcome] += 1
            results.append(store.MailResult(c.delivery_id, c.subscriber_id, c.attempt,
                                            outcome.outcome, outcome.detail))

        session: SmtpSession | None = None
        for n, claim in enumerate(claims):
            try:
                data = self._composer.compose(claim)
            except Exception as exc:  # a bug must not lose the message: it is retried
                log.exception("could not build email %s", claim.delivery_id)
                add(claim, SendOutcome("error", f"internal error: {type(exc).__name__}"))
                continue
            if self._writer is not None:
                add(claim, self._writer.write(f"{claim.delivery_id:09d}-{claim.kind}", data))
                continue
            try:
                session = session or self._session()
                add(claim, session.send(self.context.sender, claim.email, data))
            except (OSError, smtplib.SMTPException) as exc:
                # the connection is gone: this message and the rest wait for a retry
                detail = f"{type(exc).__name__}: {exc}"[:300]
                for rest in claims[n:]:
                    add(rest, SendOutcome("error", detail))
                if session is not None:
                    session.close()
                session = None
                break
        if session is not None:
            self._give_back(session)
        return results

    # --- the cycles -------------------------------------------------------------------------

    async def _wait_for_work(self, stop: asyncio.Event) -> None:
        """Wait for new work (a fan-out chunk wakes the senders), ``stop``, or the poll."""
        self._wake.clear()
        waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())]
        await asyncio.wait(waiters, timeout=self.options.idle_poll_s,
                           return_when=asyncio.FIRST_COMPLETED)
        for w in waiters:
            w.cancel()

    async def _send_round(self) -> int:
        """One session's round: lease a batch, send it, record it."""
        claims = await self._in(self._db_thread, self._claim, self.options.batch)
        if claims:
            results = await self._in(self._senders, self.send_chunk, claims)
            await self._in(self._db_thread, self._record, results)
        return len(claims)

    async def _sender(self, stop: asyncio.Event) -> None:
        # each session claims, sends and records on its own: while one records, the others
        # send, and a kill leaves at most ``sessions * batch`` messages to send again
        while not stop.is_set():
            if not await self._guard(self._send_round()):
                await self._wait_for_work(stop)

    async def _fan_out_and_tend(self, stop: asyncio.Event) -> None:
        last_house = last_prune = time.monotonic()
        while not stop.is_set():
            worked = await self._guard(self._in(self._db_thread, self._fan_out))
            if worked > 1:
                self._wake.set()
            now = time.monotonic()
            if now - last_house > 2.0:
                last_house = now
                await self._guard(self._in(self._db_thread, self._housekeeping))
                await self._in(self._senders, self.close_idle, self.options.idle_close_s)
            if now - last_prune > 3600.0:
                last_prune = now
                await self._guard(self._in(self._db_thread, self._prune))
            if not worked:
                await self._wait_for_work(stop)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop`` is set (the rounds in progress finish)."""
        try:
            await self._guard(self._in(self._db_thread, self._housekeeping,
                                       self.db.url.startswith("sqlite")))
            await asyncio.gather(self._fan_out_and_tend(stop),
                                 *(self._sender(stop) for _ in range(self.options.sessions)))
        finally:
            self.close_idle()
            self._senders.shutdown(wait=False)
            self._db_thread.shutdown(wait=False)

    async def _guard(self, work: Any) -> int:
        try:
            return int(await work or 0)
        except Exception:
            log.exception("email step failed; retrying on the next cycle")
            await asyncio.sleep(1.0)
            return 0

"""The worker's webhook engine: fan out, claim, send, record; and verify new URLs.

One ``DeliveryLoop`` runs in each worker process. Its cycle: fan queued outbox events out into
deliveries, lease due deliveries (at most ``per_endpoint`` in flight per endpoint, at most
``concurrency`` in all), send each on its own task, and record outcomes in batches every few
tens of milliseconds, so a subscription's next event is claimable right after its previous one
is acknowledged. Database work runs in threads; the event loop only does HTTP.

Nothing is kept only in memory: a killed worker loses at most its in-flight sends, whose leases
expire (``lease_s``) and are sent again with the same ``webhook-id``. On SQLite there is a single
worker, so at start it takes every lease back at once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from statuspage.auth import token_digest
from statuspage.config import StatusConfig
from statuspage.db import Database
from statuspage.i18n import Catalog, load_catalogs
from statuspage.models import utcnow
from statuspage.store import deliveries as store
from statuspage.store import delivery_outcomes, ratelimits, subscriptions
from statuspage.store.public import page_data
from statuspage.store.public_views import page_id
from statuspage.webhooks.formats import OutgoingEvent, Recipient, render_body, slack_confirmation
from statuspage.webhooks.http import HttpPool
from statuspage.webhooks.sender import Answer, post
from statuspage.webhooks.signing import signature_headers

__all__ = ["DeliveryLoop", "DeliveryOptions"]

log = logging.getLogger(__name__)
T = TypeVar("T")
#: Stands for a subscription's unsubscribe URL in a body rendered once per event.
_PLACEHOLDER = "https://unsubscribe.invalid/placeholder-5f3c"


@dataclass(frozen=True)
class DeliveryOptions:
    """Tuning of the delivery engine (the defaults are the production values)."""

    timeout_s: float = 15.0
    verify_timeout_s: float = 10.0
    concurrency: int = 200
    per_endpoint: int = 8
    schedule: tuple[float, ...] = delivery_outcomes.RETRY_SCHEDULE_S
    idle_poll_s: float = 0.1
    flush_s: float = 0.05
    allow_private: bool = False

    @property
    def lease_s(self) -> float:
        """How long a claimed delivery is ours: the timeout plus a margin for recording."""
        return self.timeout_s * 2 + 5.0


@dataclass
class DeliveryLoop:
    """Fan-out, delivery and URL verification for one worker process."""

    db: Database
    config: StatusConfig
    secret_key: str
    options: DeliveryOptions = field(default_factory=DeliveryOptions)
    catalogs: dict[str, Catalog] = field(init=False)
    _busy: Counter[str] = field(default_factory=Counter, init=False)
    _results: list[delivery_outcomes.AttemptOutcome] = field(default_factory=list, init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    sent: Counter[str] = field(default_factory=Counter, init=False)
    _bodies: dict[tuple[str, str, str], bytes] = field(default_factory=dict, init=False)
    _last_release: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.catalogs = load_catalogs(("id", "en"))
        # one database thread: claims and records never wait on each other's SQLite write
        # lock (whose busy handler sleeps in coarse steps), and the event loop never blocks
        self._db_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="webhooks-db")

    async def _in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db_thread, fn, *args)

    # --- database steps (run in threads) ---------------------------------------------------

    def _page_status(self, session: Session) -> dict[str, str]:
        data = page_data(session, self.config, utcnow(), history=False)
        return {"indicator": data.indicator, "description": data.description}

    def fan_out_once(self) -> int:
        """Fan out queued events (one transaction)."""
        with self.db.session() as session:
            return store.fan_out(session, self._page_status)

    def _claim(self, limit: int, busy: dict[str, int]) -> list[store.Claimed]:
        with self.db.session() as session:
            return store.claim_due(session, now=utcnow(), limit=limit,
                                   lease_s=self.options.lease_s, busy=busy,
                                   per_endpoint=self.options.per_endpoint)

    def _record(self, batch: list[delivery_outcomes.AttemptOutcome]) -> None:
        with self.db.session() as session:
            disabled = delivery_outcomes.record_results(session, batch, now=utcnow(),
                                                        schedule=self.options.schedule)
        for sid in disabled:
            log.warning("webhook subscription %s disabled", sid)

    # --- one delivery -----------------------------------------------------------------------

    def _links(self, subscription_id: str) -> tuple[str, str]:
        base = self.config.page.url.rstrip("/")
        token = subscriptions.unsubscribe_token(self.secret_key, subscription_id)
        return (f"{base}/subscribe/unsubscribe/{subscription_id}/{token}",
                f"{base}/subscribe#webhooks")

    def _body(self, c: store.Claimed) -> bytes:
        """The body for one subscription: rendered once per event, format and language (with
        a placeholder for the subscription's own unsubscribe link), then filled in."""
        key = (c.event_public_id, c.format, c.language)
        template = self._bodies.get(key)
        if template is None:
            page = self.config.page
            status = c.event_payload.get("_page") or {}
            event = OutgoingEvent(c.event_public_id, c.event_type, c.event_occurred_at,
                                  c.event_payload, page_id(page.url), page.name, page.url,
                                  str(status.get("indicator", "none")),
                                  str(status.get("description", "")))
            _unsubscribe, docs = self._links("")
            recipient = Recipient("", c.format, c.language, _PLACEHOLDER, docs)
            template = render_body(event, recipient,
                                   self.catalogs.get(c.language, self.catalogs["id"]))
            if len(self._bodies) > 64:  # only the events in flight matter
                self._bodies.clear()
            self._bodies[key] = template
        unsubscribe, _docs = self._links(c.subscription_id)
        return template.replace(_PLACEHOLDER.encode(), unsubscribe.encode())

    async def _send(self, client: HttpPool, c: store.Claimed) -> None:
        try:
            body = self._body(c)
            headers = signature_headers(c.secrets, c.message_id, int(time.time()), body)
            headers["webhook-event-type"] = c.event_type
            answer = await post(client, c.url, body, headers, timeout_s=self.options.timeout_s,
                                allow_private=self.options.allow_private)
        except Exception as exc:  # a bug must not lose the delivery: it is retried
            log.exception("webhook delivery %s failed unexpectedly", c.delivery_id)
            answer = Answer("error", None, 0.0, f"internal error: {type(exc).__name__}")
        self.sent[answer.outcome] += 1
        self._results.append(delivery_outcomes.AttemptOutcome(
            c.delivery_id, c.subscription_id, c.endpoint, c.attempt, answer.outcome,
            answer.status_code, answer.latency_ms, answer.error, answer.excerpt,
            answer.retry_after_s, utcnow()))

    # --- URL verification -------------------------------------------------------------------

    async def verify_due(self, client: HttpPool) -> int:
        """Send the ownership check of every pending subscription that is due."""
        now = utcnow()
        due = await self._in_db(self._due_verifications, now)
        if due:
            await asyncio.gather(*(self._verify(client, *row) for row in due))
        return len(due)

    def _due_verifications(self, now: datetime) -> list[tuple[str, str, str, str, str, int]]:
        with self.db.session() as session:
            subscriptions.expire_pending(session, now)
            return subscriptions.due_verifications(session, now)

    async def _verify(self, client: HttpPool, sid: str, url: str, fmt: str,
                      language: str, secret: str, attempts: int) -> None:
        base = self.config.page.url.rstrip("/")
        confirm_digest = None
        if fmt == "slack":
            token = secrets.token_urlsafe(24)
            confirm_digest = token_digest(token)
            body = slack_confirmation(self.config.page.name, f"{base}/subscribe/confirm/{token}",
                                      language)
            headers: dict[str, str] = {}
        else:
            challenge = secrets.token_urlsafe(24)
            body = json.dumps({"type": "url_verification", "challenge": challenge,
                               "subscription_id": sid, "page_url": base},
                              separators=(",", ":")).encode()
            headers = signature_headers([secret], f"msg_verify_{sid}_{attempts + 1}",
                                        int(time.time()), body)
        headers["webhook-event-type"] = "url_verification"
        answer = await post(client, url, body, headers, timeout_s=self.options.verify_timeout_s,
                            allow_private=self.options.allow_private)
        ok = answer.outcome == "success"
        if ok and fmt != "slack":
            ok = _echoed(answer.body, challenge)
        error = None if ok else (answer.error or "the challenge was not echoed")
        await self._in_db(self._record_verification, sid, ok, confirm_digest, error)

    def _record_verification(self, sid: str, ok: bool, digest: str | None,
                             error: str | None) -> None:
        with self.db.session() as session:
            subscriptions.record_verification(session, sid, ok=ok, now=utcnow(),
                                              confirm_digest=digest, error=error)

    # --- the cycle --------------------------------------------------------------------------

    async def _recorder(self, stop: asyncio.Event) -> None:
        while not stop.is_set() or self._results or self._tasks:
            if self._results:
                batch, self._results = self._results, []
                try:
                    await self._in_db(self._record, batch)
                except Exception:
                    log.exception("could not record %d webhook attempts; their leases expire "
                                  "and they are sent again", len(batch))
                for r in batch:
                    self._busy[r.endpoint] -= 1
                    if self._busy[r.endpoint] <= 0:
                        del self._busy[r.endpoint]
                self._wake.set()
            await asyncio.sleep(self.options.flush_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; in-flight sends finish (bounded by the timeout)."""
        if self.db.url.startswith("sqlite"):
            released = await self._in_db(self._release)
            if released:
                log.info("took back %d webhook deliveries leased before a restart", released)
        client = HttpPool(max_idle=self.options.per_endpoint)
        try:
            recorder = asyncio.create_task(self._recorder(stop))
            last_verify = last_prune = 0.0
            try:
                while not stop.is_set():
                    worked = await self._step(client)
                    if time.monotonic() - last_prune > 3600.0:
                        last_prune = time.monotonic()
                        await self._guard(self._in_db(self._prune))
                    if time.monotonic() - last_verify > 1.0:
                        last_verify = time.monotonic()
                        worked += await self._guard(self.verify_due(client))
                    if not worked:
                        self._wake.clear()
                        waiters = [asyncio.ensure_future(stop.wait()),
                                   asyncio.ensure_future(self._wake.wait())]
                        await asyncio.wait(waiters, timeout=self.options.idle_poll_s,
                                           return_when=asyncio.FIRST_COMPLETED)
                        for w in waiters:
                            w.cancel()
            finally:
                if self._tasks:
                    await asyncio.wait(self._tasks, timeout=self.options.timeout_s + 1)
                stop.set()
                await recorder
        finally:
            await client.close()
            self._db_thread.shutdown(wait=False)

    def _prune(self) -> int:
        with self.db.session() as session:
            deleted = store.prune(session)
            deleted["rate_counters"] = ratelimits.prune_counters(session)
        if any(deleted.values()):
            log.info("pruned webhook history: %s", deleted)
        return 0

    def _release_expired(self) -> int:
        """Leases of dead workers back to the queue; and a queue whose head was finished by
        a concurrent fan-out's check-then-insert gets its next delivery promoted."""
        with self.db.session() as session:
            released = store.release_leases(session, utcnow())
            return released + store.promote_next(session)

    def _release(self) -> int:
        with self.db.session() as session:
            return store.release_leases(session)

    async def _guard(self, work: Any) -> int:
        try:
            return int(await work)
        except Exception:
            log.exception("webhook step failed; retrying on the next cycle")
            await asyncio.sleep(1.0)
            return 0

    async def _step(self, client: HttpPool) -> int:
        worked = await self._guard(self._in_db(self.fan_out_once))
        if time.monotonic() - self._last_release > 2.0:
            self._last_release = time.monotonic()
            await self._guard(self._in_db(self._release_expired))
        free = self.options.concurrency - len(self._tasks)
        # claim in batches: a claim scans the queue, so one per freed slot would cost more
        # than the sends themselves
        if free <= 0 or (self._tasks and free < self.options.concurrency // 4):
            return worked
        claimed = await self._guard_claim(free)
        for c in claimed:
            self._busy[c.endpoint] += 1
            task = asyncio.create_task(self._send(client, c))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return worked + len(claimed)

    async def _guard_claim(self, free: int) -> list[store.Claimed]:
        try:
            return await self._in_db(self._claim, free, dict(self._busy))
        except Exception:
            log.exception("could not claim webhook deliveries; retrying")
            await asyncio.sleep(1.0)
            return []


def _echoed(body: bytes, challenge: str) -> bool:
    """Whether a verification answer echoes the challenge (plain text or JSON ``challenge``)."""
    text = body.decode("utf-8", "replace").strip()
    if text == challenge:
        return True
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("challenge") == challenge

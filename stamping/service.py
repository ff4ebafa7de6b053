"""The composition root: one Service per app holds every shared resource."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from babel.dates import format_datetime
from starlette.concurrency import run_in_threadpool

from stamping import ledger, orders, store, throttle, web_sessions
from stamping.admission import Gate
from stamping.db import Database
from stamping.faults import FaultCache
from stamping.metrics import Metrics
from stamping.otp import LogOtpSender, OtpSender
from stamping.pki import PkiPaths, ensure_pki
from stamping.pool import SigningPool
from stamping.rules import hash_token
from stamping.settings import Settings

__all__ = ["Service", "TEMPLATE_DIR"]

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "stamping"
_SWEEP_SECONDS = 30.0
GIL_SWITCH_INTERVAL = 0.001


def now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


JAKARTA = ZoneInfo("Asia/Jakarta")


def format_wib(value: dt.datetime | str | None) -> str:
    """A time for a person in Indonesia: ``27 Nov 2026, 02.09.52 WIB`` (ISO strings accepted)."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:  # stored as UTC
        value = value.replace(tzinfo=dt.UTC)
    text = format_datetime(value.astimezone(JAKARTA), "d MMM y, HH.mm.ss", locale="id")
    return f"{text} WIB"


class Service:
    """Settings, database, signing pool, admission gates, faults, metrics and templates."""

    def __init__(self, settings: Settings, otp_sender: OtpSender | None = None) -> None:
        self.settings = settings
        self.otp_sender: OtpSender = otp_sender or LogOtpSender()
        self.db = Database(settings.effective_database_url)
        self.pki = PkiPaths.in_dir(settings.data_dir)
        self.pool = SigningPool(self.pki, settings.workers, settings.worker_niceness,
                                settings.sign_cpu_seconds, settings.sign_wall_seconds)
        slots = settings.workers * settings.sign_slots_per_worker
        # Initial service-time guesses only seed the Retry-After estimate.
        self.stamp_gate = Gate("stamp", slots, settings.stamp_queue, 0.04,
                               queue_seconds=settings.stamp_queue_seconds)
        self.verify_gate = Gate("verify", settings.verify_slots, settings.verify_queue, 0.03)
        self.purchase_gate = Gate("purchase", settings.purchase_slots, settings.purchase_queue,
                                  0.01)
        self.account_gate = Gate("account", settings.account_slots, settings.account_queue,
                                 0.1)
        self.faults = FaultCache(self.db, settings.fault_cache_seconds)
        self.throttle = throttle.Policy.build(
            settings.throttle_window_seconds, settings.login_per_address,
            settings.login_failures_per_phone, settings.otp_per_phone, settings.otp_per_address)
        self.metrics = Metrics()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)), autoescape=True
        )
        self.templates.filters["wib"] = format_wib
        self.token_cache: dict[str, tuple[float, store.AccountView]] = {}
        self.payment_key = b""
        self.ca_pem = b""
        self._sweeper: asyncio.Task[None] | None = None

    def account_key(self, credential: str) -> str:
        """The fair-share key of a bearer token or session: its account once known.

        The token cache knows the account after the first authenticated request; before
        that (or for an unknown token) the token itself is the key.
        """
        key = hash_token(credential)
        cached = self.token_cache.get(key)
        return f"account:{cached[1].id}" if cached is not None else f"token:{key[:16]}"

    async def injected_capacity(self) -> int | None:
        """The stamping capacity cap set by fault injection, if any."""
        return (await self.faults.current()).capacity

    @property
    def gates(self) -> list[Gate]:
        """All admission gates."""
        return [self.stamp_gate, self.verify_gate, self.purchase_gate, self.account_gate]

    async def start(self) -> None:
        """Create the data directory, PKI and schema, then start the pool and the sweeper."""
        # Database calls run in threads; with the default 5 ms GIL switch interval a busy
        # thread can hold the event loop (and so every 503) for several milliseconds.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await run_in_threadpool(ensure_pki, self.settings.data_dir)
        self.ca_pem = self.pki.ca_cert.read_bytes()
        self.payment_key = await run_in_threadpool(self.settings.payment_key)
        await run_in_threadpool(self.db.migrate)
        await self.sweep()
        await self.pool.start()
        self._sweeper = asyncio.create_task(self._sweep_forever())

    async def stop(self) -> None:
        """Stop the sweeper and the pool; close the database."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await run_in_threadpool(self.pool.shutdown)
        self.db.dispose()

    async def sweep(self) -> None:
        """Expire unpaid orders, release reservations orphaned by a crash, drop old documents."""
        t = now()
        expired = await self.db.write(orders.expire_orders, t)
        stale = t - dt.timedelta(seconds=self.settings.reservation_timeout_seconds)
        released = await self.db.write(ledger.release_stale, stale)
        kept_since = t - dt.timedelta(hours=self.settings.document_retention_hours)
        pruned = await self.db.write(ledger.prune_documents, kept_since)
        await self.db.write(throttle.prune, t - dt.timedelta(days=1))
        await self.db.write(web_sessions.prune, t)
        if expired or released or pruned:
            logger.info("sweep: %d orders expired, %d stale reservations released, "
                        "%d old documents dropped", expired, released, pruned)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(_SWEEP_SECONDS)
            try:
                await self.sweep()
            except Exception:
                logger.exception("sweep failed")

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        """Start and stop around the app's life."""
        await self.start()
        try:
            yield
        finally:
            await self.stop()

"""The worker role: the bundled stamping service, the scheduler, probes and evaluation.

``run_worker`` is what ``statuspage worker`` (and so ``statuspage serve``) runs until SIGTERM.
``worker_main`` is its async core, usable from tests with an ``asyncio.Event`` to stop it, and
``run_probes_once`` runs every probe a single time (for tests and for a first look).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass, replace

import httpx

from probes import HttpResultSink, ProbeMemory, ProbeResult, ProbeSpec, ResultSink, run_probe
from statuspage.bundled import BundledStamping, BundledStampingError
from statuspage.config import StatusConfig
from statuspage.db import Database
from statuspage.jobs import Intervals, JobRunner, agent_jobs, build_scheduler, worker_jobs
from statuspage.leadership import LeaderLock, LeaderTerm, leader_lock, run_as_leader
from statuspage.mail.loop import MailLoop, MailOptions
from statuspage.mail.messages import MailContext
from statuspage.mail.smtp import parse_smtp_url
from statuspage.probing import DatabaseSink, build_specs, needs_bundled
from statuspage.settings import Settings
from statuspage.webhooks.loop import DeliveryLoop, DeliveryOptions

__all__ = [
    "DEFAULT_STAMPING_PORT",
    "agent_main",
    "mail_loop",
    "ProbeTargets",
    "probe_client",
    "resolve_targets",
    "run_probes_once",
    "run_worker",
    "worker_main",
]

log = logging.getLogger(__name__)

DEFAULT_STAMPING_PORT = 8001


@dataclass
class ProbeTargets:
    """Where "bundled" probes go, and the bundled child process when this worker owns one."""

    url: str | None
    token: str | None
    bundled: BundledStamping | None = None


def probe_client() -> httpx.AsyncClient:
    """The HTTP client probes share (each request gets its own timeout from the probe)."""
    return httpx.AsyncClient(follow_redirects=False, trust_env=False,
                             headers={"User-Agent": "statuspage-probe/1"},
                             limits=httpx.Limits(max_connections=50))


async def resolve_targets(settings: Settings, stamping_port: int | None = None,
                          bundled: BundledStamping | None = None) -> ProbeTargets:
    """Start the bundled stamping service when probes need it and no external one is set."""
    if settings.stamping_url or not needs_bundled(settings.config):
        if settings.stamping_url and not settings.stamping_token and any(
                p.target == "bundled" and p.kind != "http" and not p.token
                for p in settings.config.probes):
            log.warning("STATUSPAGE_STAMPING_URL is set without STATUSPAGE_STAMPING_TOKEN: "
                        "purchase/stamp/verify probes will fail to authenticate")
        return ProbeTargets(settings.stamping_url, settings.stamping_token)
    bundled = bundled or BundledStamping(settings.data_dir / "stamping",
                                         stamping_port or DEFAULT_STAMPING_PORT)
    try:
        await asyncio.to_thread(bundled.start)
        token = await asyncio.to_thread(bundled.probe_token)
    except BundledStampingError:
        log.exception("the bundled stamping service did not start; its probes are off")
        await asyncio.to_thread(bundled.stop)
        return ProbeTargets(None, None)
    return ProbeTargets(bundled.url, token, bundled)


def _specs(settings: Settings, targets: ProbeTargets) -> list[ProbeSpec]:
    probes = settings.config.probes
    if targets.url is None:  # bundled service unavailable: run the external probes only
        probes = tuple(p for p in probes if p.target != "bundled")
    return build_specs(replace(settings.config, probes=probes), bundled_url=targets.url,
                       bundled_token=targets.token)


async def run_probes_once(specs: Sequence[ProbeSpec], client: httpx.AsyncClient,
                          sink: ResultSink | None = None, location: str = "local",
                          memory: ProbeMemory | None = None) -> list[ProbeResult]:
    """Run every probe once, concurrently; hand each result to ``sink``; return them.

    The runs share ``memory`` (a fresh one unless the caller keeps one across calls)."""
    memory = memory if memory is not None else ProbeMemory()
    results = await asyncio.gather(*(run_probe(s, client, location=location, memory=memory)
                                     for s in specs))
    if sink is not None:
        for result in results:
            await sink.submit(result)
    return list(results)


async def worker_main(settings: Settings, *, stamping_port: int | None = None,
                      stop: asyncio.Event | None = None,
                      intervals: Intervals = Intervals(),
                      bundled: BundledStamping | None = None,
                      lock: LeaderLock | None = None,
                      term: LeaderTerm | None = None) -> None:
    """Run the worker until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None).

    Only the leader (see ``statuspage.leadership``) starts the bundled stamping service and
    runs the scheduled jobs; every other worker stands by and takes over when the leader dies.
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    db = Database(settings.database_url)
    lock = lock or leader_lock(settings.database_url)

    async def lead(lost: asyncio.Event) -> None:
        await _lead(settings, db, lost, stamping_port=stamping_port, intervals=intervals,
                    bundled=bundled)

    # shared work runs on every worker: deliveries are claimed row by row (SKIP LOCKED)
    webhooks = asyncio.create_task(delivery_loop(settings, db).run(stop))
    mail = asyncio.create_task(mail_loop(settings, db).run(stop))
    try:
        await run_as_leader(lock, lead, stop, term=term)
    finally:
        stop.set()
        await webhooks
        await mail
        db.dispose()
        log.info("worker stopped")


async def _lead(settings: Settings, db: Database, lost: asyncio.Event, *,
                stamping_port: int | None, intervals: Intervals,
                bundled: BundledStamping | None) -> None:
    """The leader's term: bundled service, probes and housekeeping until ``lost`` is set."""
    targets = await resolve_targets(settings, stamping_port, bundled)
    runner = JobRunner()
    try:
        specs = _specs(settings, targets)
        async with probe_client() as client:
            sink = DatabaseSink(db, settings.config)
            watchdog = targets.bundled.ensure_running if targets.bundled else None
            jobs = worker_jobs(settings.config, db, specs, client, sink, intervals, watchdog)
            scheduler = build_scheduler(jobs, runner)
            scheduler.start()
            log.info("leader running %d jobs: %s", len(jobs), ", ".join(j.name for j in jobs))
            try:
                await lost.wait()
            finally:
                scheduler.shutdown(wait=False)
                await runner.cancel_running()
    finally:
        if targets.bundled is not None:
            await asyncio.to_thread(targets.bundled.stop)


async def agent_main(config: StatusConfig, specs: Sequence[ProbeSpec], report_url: str,
                     token: str, location: str, *, stop: asyncio.Event | None = None,
                     intervals: Intervals = Intervals()) -> int:
    """A remote probe agent: run ``specs`` on their schedule, push results to ``report_url``.

    Returns the number of results still unsent at the end (after a final flush).
    """
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    runner = JobRunner()
    async with probe_client() as client:
        sink = HttpResultSink(report_url, token, client)
        jobs = agent_jobs(config, specs, client, sink, location, sink.flush, intervals)
        scheduler = build_scheduler(jobs, runner)
        scheduler.start()
        log.info("probe agent %r running %d probes, reporting to %s", location, len(specs),
                 report_url)
        try:
            await stop.wait()
        finally:
            scheduler.shutdown(wait=False)
            await runner.cancel_running()
            await sink.flush()
    if sink.pending:
        log.warning("%d results could not be delivered", sink.pending)
    return sink.pending


def delivery_loop(settings: Settings, db: Database) -> DeliveryLoop:
    """The webhook engine of this worker (fan-out, delivery, URL verification)."""
    options = DeliveryOptions(timeout_s=settings.webhook_timeout_s,
                              allow_private=settings.webhooks_allow_private)
    return DeliveryLoop(db, settings.config, settings.secret_key, options)


def mail_loop(settings: Settings, db: Database) -> MailLoop:
    """The email engine of this worker (fan-out and delivery to email subscribers)."""
    page = settings.config.page
    context = MailContext(page.name, page.url, settings.mail_from or "", settings.secret_key,
                          page.time_zone, page.time_zone_label)
    context.sender = settings.mail_from or f"noreply@{context.host}"
    target = parse_smtp_url(settings.smtp_url) if settings.smtp_url else None
    return MailLoop(db, context, target, settings.data_dir / "mail" / "outbox",
                    MailOptions(timeout_s=settings.smtp_timeout_s))


def run_worker(settings: Settings, *, stamping_port: int | None = None) -> None:
    """Run the worker role until SIGTERM/SIGINT (``statuspage worker``)."""
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per probe request is noise
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    asyncio.run(worker_main(settings, stamping_port=stamping_port))

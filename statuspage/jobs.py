"""The scheduler's job table: every background job, declared in one place.

Each job is named, runs once at start and then every ``every_s`` seconds with a little jitter,
never overlaps itself (``max_instances=1``), collapses missed runs into one (``coalesce``), is
bounded by a timeout, and never raises: a failure is logged and the next run comes as planned.
Database work runs in threads so it cannot stall the event loop that is timing the probes.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from probes import ProbeMemory, ProbeResult, ProbeSpec, ResultSink, run_probe
from statuspage.config import EvaluationConfig, StatusConfig
from statuspage.db import Database
from statuspage.evaluation import HARD_FAILURES
from statuspage.models import utcnow
from statuspage.probing import evaluate_components
from statuspage.store import probe_results
from statuspage.store.maintenance import advance_maintenances
from statuspage.store.ratelimits import prune_counters

__all__ = [
    "Confirmation",
    "Intervals",
    "Job",
    "JobRunner",
    "RecentLatency",
    "agent_jobs",
    "build_scheduler",
    "probe_jobs",
    "worker_jobs",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One row of the job table."""

    name: str
    func: Callable[[], Awaitable[object]]
    every_s: float
    jitter_s: float = 0.0
    timeout_s: float = 60.0


@dataclass(frozen=True)
class Intervals:
    """How often the worker's housekeeping jobs run (seconds); tests shorten them."""

    evaluate_s: float = 10.0
    flush_s: float = 30.0
    prune_s: float = 3600.0
    maintenance_s: float = 30.0
    agent_flush_s: float = 10.0
    watchdog_s: float = 15.0
    notices_s: float | None = None  # None: the config's [notices] evaluate_s


@dataclass
class JobRunner:
    """Runs jobs guarded: timeout, exception logging, and a record of running tasks."""

    running: set[asyncio.Task[object]] = field(default_factory=set)

    def guarded(self, job: Job) -> Callable[[], Coroutine[Any, Any, None]]:
        """The coroutine function the scheduler calls for ``job``."""

        async def run() -> None:
            task = asyncio.current_task()
            if task is not None:
                self.running.add(task)
            try:
                async with asyncio.timeout(job.timeout_s):
                    await job.func()
            except TimeoutError:
                log.error("job %s timed out after %.0f s", job.name, job.timeout_s)
            except Exception:
                log.exception("job %s failed; it runs again on schedule", job.name)
            finally:
                if task is not None:
                    self.running.discard(task)

        run.__name__ = run.__qualname__ = f"job_{job.name}"
        return run

    async def cancel_running(self, grace_s: float = 5.0) -> None:
        """Give running jobs ``grace_s`` to finish, then cancel them."""
        pending = [t for t in self.running if not t.done()]
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace_s)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)


def build_scheduler(jobs: Sequence[Job], runner: JobRunner,
                    now: datetime | None = None) -> AsyncIOScheduler:
    """An (unstarted) AsyncIOScheduler holding ``jobs``; each first runs at ``now``."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    start = now or datetime.now(UTC)
    for job in jobs:
        scheduler.add_job(
            runner.guarded(job),
            IntervalTrigger(seconds=job.every_s, jitter=job.jitter_s or None, timezone=UTC),
            id=job.name, name=job.name, max_instances=1, coalesce=True,
            misfire_grace_time=max(1, int(job.every_s)), next_run_time=start,
            replace_existing=True,
        )
    return scheduler


#: A failure class that is the service's own word, never noise: it refused the work and
#: said when to come back (a 503 ``overloaded`` with ``Retry-After``). Confirmed like a hard
#: failure, but it moves the status through the hysteresis, not the fast path.
SHEDDING = "overloaded"


@dataclass(frozen=True)
class Confirmation:
    """How a failure is confirmed: runs ``after_s`` apart, instead of a probe interval apart.

    A hard failure gets ``runs`` more runs, then ``on_confirmed`` (evaluate now, or push now)
    when every one of them failed hard too: the evaluation's fast path sees ``fast_failures``
    consecutive hard failures seconds after the first.

    A service that sheds load refuses a share of the requests, not all of them, so one served
    request says little: a refusal starts a sample of up to ``shedding_tries`` more runs that
    ends once ``shedding_runs`` more of them failed (the window then holds the
    ``failures_to_down`` bad runs, the latest among them, that move the status through the
    hysteresis) or once they are spent. In September 2024 the refusals were the outage.
    """

    after_s: float
    runs: int
    on_confirmed: Callable[[], Awaitable[object]] | None = None
    shedding_runs: int = 0
    shedding_tries: int = 0

    @classmethod
    def from_rules(cls, rules: EvaluationConfig,
                   on_confirmed: Callable[[], Awaitable[object]] | None = None
                   ) -> Confirmation | None:
        """The confirmation the evaluation rules call for (None when the fast path is off)."""
        if rules.fast_failures < 2 or rules.confirm_after_s <= 0:
            return None
        needed = rules.failures_to_down - 1
        # a refusal rate of one half finds the failures it needs in these tries 4 times in 5
        return cls(rules.confirm_after_s, rules.fast_failures - 1, on_confirmed,
                   shedding_runs=needed, shedding_tries=2 * needed + 1 if needed else 0)


@dataclass
class RecentLatency:
    """The latency of a probe's last served runs, to tell a sudden slowdown from its usual pace.

    A service that starts to shed load first queues: the requests it still serves take several
    times their usual time while it refuses others. A served run that is ``factor`` times
    slower than the median of the last ``keep`` served runs, and at least ``margin_ms`` slower
    (so a fast probe's jitter is no alarm), is a reason to look closer before the next interval.
    """

    keep: int = 10
    least: int = 5
    factor: float = 3.0
    margin_ms: float = 250.0
    served: deque[float] = field(default_factory=deque)

    def sudden(self, result: ProbeResult) -> bool:
        """Whether ``result`` is a served run far slower than usual; records it either way."""
        if result.outcome == "failed":
            return False
        usual = statistics.median(self.served) if len(self.served) >= self.least else None
        self.served.append(result.total_ms)
        while len(self.served) > self.keep:
            self.served.popleft()
        return usual is not None and result.total_ms >= max(usual * self.factor,
                                                            usual + self.margin_ms)


def _hard(result: ProbeResult) -> bool:
    return result.outcome == "failed" and result.error_class in HARD_FAILURES


def _shedding(result: ProbeResult) -> bool:
    return result.outcome == "failed" and result.error_class == SHEDDING


def probe_jobs(specs: Sequence[ProbeSpec], intervals_s: dict[str, float],
               client: httpx.AsyncClient, sink: ResultSink, location: str,
               confirmation: Confirmation | None = None,
               on_failure: Callable[[], Awaitable[object]] | None = None) -> list[Job]:
    """One job per probe: run it, hand the result to ``sink``; confirm a hard failure.

    ``on_failure`` (evaluate now) runs after every result that is not ``ok``, so a failing
    service moves the status in the probes' own beat, not at the next periodic evaluation
    (which alone added up to its whole interval to the time an outage takes to show).
    A served run that is suddenly much slower than the probe's recent runs (see
    :class:`RecentLatency`) is looked at closer: the probe runs again ``after_s`` apart, up to
    ``shedding_tries`` times while the runs stay slow, and a failure among them is confirmed
    as any other, so the refusals that follow a queue are seen seconds after it forms.
    """

    memory = ProbeMemory()  # CA certificates and stamped documents, for this table's life

    def make(spec: ProbeSpec, every: float) -> Callable[[], Awaitable[None]]:
        # a probe that runs more often than the confirmation delay confirms itself on schedule:
        # waiting would only hold its job (max_instances=1) and delay the next run
        confirm = confirmation if confirmation and confirmation.after_s < every else None
        recent = RecentLatency()

        async def measure() -> ProbeResult:
            result = await run_probe(spec, client, location=location, memory=memory)
            await sink.submit(result)
            return result

        async def react(result: ProbeResult) -> None:
            if on_failure is not None and result.outcome != "ok":
                await on_failure()

        async def confirm_hard(confirm: Confirmation) -> None:
            hard = 1  # consecutive hard failures so far
            for _ in range(confirm.runs):
                await asyncio.sleep(confirm.after_s)
                result = await measure()
                if not _hard(result):
                    await react(result)
                    if _shedding(result):
                        await sample_shedding(confirm)
                    return  # served, or a failure that can be noise: the window decides
                hard += 1
                if hard <= confirm.runs:
                    await react(result)
            log.warning("probe %s: %d consecutive hard failures (%s)", spec.name, hard,
                        result.error_class)
            if confirm.on_confirmed is not None:
                await confirm.on_confirmed()
            else:
                await react(result)

        async def sample_shedding(confirm: Confirmation) -> None:
            failed = 0
            for _ in range(confirm.shedding_tries):
                await asyncio.sleep(confirm.after_s)
                result = await measure()
                await react(result)
                failed += result.outcome == "failed"
                if failed >= confirm.shedding_runs:
                    return

        async def follow(result: ProbeResult, confirm: Confirmation) -> None:
            if _hard(result) and confirm.runs:
                await confirm_hard(confirm)
            elif _shedding(result) and confirm.shedding_runs:
                await sample_shedding(confirm)

        async def look_closer(confirm: Confirmation) -> None:
            for _ in range(confirm.shedding_tries):
                await asyncio.sleep(confirm.after_s)
                result = await measure()
                await react(result)
                if result.outcome == "failed":
                    await follow(result, confirm)
                    return
                if not recent.sudden(result):
                    return  # its usual pace again: the next interval will tell

        async def run() -> None:
            result = await measure()
            await react(result)
            slow = recent.sudden(result)
            if confirm is None:
                return
            await follow(result, confirm)
            if slow and confirm.shedding_tries:
                log.info("probe %s: %.0f ms, far slower than usual; looking closer",
                         spec.name, result.total_ms)
                await look_closer(confirm)

        return run

    jobs = []
    for spec in specs:
        every = intervals_s[spec.name]
        timeout = spec.timeout_s + 15.0
        if confirmation is not None:
            # a closer look may end in a confirmation or a sample of its own
            runs = confirmation.runs + 2 * confirmation.shedding_tries
            timeout += runs * (confirmation.after_s + spec.timeout_s) + 15.0
        # jitter spreads probes that share an interval; small next to the interval itself
        jobs.append(Job(f"probe:{spec.name}", make(spec, every), every,
                        jitter_s=min(every * 0.1, 5.0),
                        timeout_s=timeout))
    return jobs


def worker_jobs(config: StatusConfig, db: Database, specs: Sequence[ProbeSpec],
                client: httpx.AsyncClient, sink: ResultSink,
                intervals: Intervals = Intervals(),
                watchdog: Callable[[], object] | None = None) -> list[Job]:
    """The worker's table: probes, evaluation, rollup flush, pruning, maintenance windows,
    and (when this worker owns the bundled stamping service) a watchdog restarting it."""

    def evaluate() -> int:
        with db.session() as session:
            return len(evaluate_components(session, config))

    def flush() -> bool:
        with db.session() as session:
            return probe_results.flush_rollups(session)

    def prune() -> dict[str, int]:
        from statuspage.store.evidence_import import protected_windows

        with db.session() as session:
            deleted = probe_results.prune(session, config.retention,
                                          keep=protected_windows(session))
            deleted["rate_counters"] = prune_counters(session)
        if any(deleted.values()):
            log.info("pruned probe data: %s", deleted)
        return deleted

    def maintenances() -> int:
        with db.session() as session:
            return advance_maintenances(session, utcnow())

    def deadline_notices() -> int:
        from statuspage.deadline_delivery import notice_hook
        from statuspage.store.notices import evaluate_deadlines

        return evaluate_deadlines(db.session, config, utcnow(), notice_hook(config))

    def threaded(fn: Callable[[], object]) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            return await asyncio.to_thread(fn)

        return run

    # the periodic evaluation and the one a confirmed hard failure triggers never overlap
    # (two evaluations at once could both record the same change and open two drafts)
    evaluating = asyncio.Lock()

    async def evaluate_now() -> object:
        async with evaluating:
            return await asyncio.to_thread(evaluate)

    intervals_s = {p.name: p.interval_s for p in config.probes}
    confirmation = Confirmation.from_rules(config.evaluation, evaluate_now)
    jobs = [
        *probe_jobs(specs, intervals_s, client, sink, "local", confirmation, evaluate_now),
        Job("evaluate", evaluate_now, intervals.evaluate_s, jitter_s=0.0),
        Job("flush-rollups", threaded(flush), intervals.flush_s, jitter_s=1.0),
        Job("prune", threaded(prune), intervals.prune_s, jitter_s=30.0, timeout_s=600.0),
        Job("maintenances", threaded(maintenances), intervals.maintenance_s, jitter_s=1.0),
        # drafts a notice within one interval of a deadline reaching at_risk
        Job("deadline-notices", threaded(deadline_notices),
            intervals.notices_s or config.notices.evaluate_s, jitter_s=1.0, timeout_s=120.0),
    ]
    if watchdog is not None:
        jobs.append(Job("bundled-watchdog", threaded(watchdog), intervals.watchdog_s,
                        jitter_s=1.0, timeout_s=90.0))
    return jobs


def agent_jobs(config: StatusConfig, specs: Sequence[ProbeSpec], client: httpx.AsyncClient,
               sink: ResultSink, location: str, flush: Callable[[], Awaitable[int]],
               intervals: Intervals = Intervals()) -> list[Job]:
    """A remote agent's table: the same probes on the same schedule, and a retrying flush."""
    intervals_s = {p.name: p.interval_s for p in config.probes}
    # a confirmed hard failure is pushed at once: the page's fast path needs it now
    confirmation = Confirmation.from_rules(config.evaluation, flush)
    return [
        *probe_jobs(specs, intervals_s, client, sink, location, confirmation),
        Job("flush-results", flush, intervals.agent_flush_s, jitter_s=1.0, timeout_s=120.0),
    ]

"""The pool of signing worker processes, with a deadline on every job.

Two deadlines bound a job.  Inside the worker a CPU timer stops a job that computes too long
(``signing_worker.run_job``: the document is refused with 422 and the worker carries on).
Here, in the web process, a wall-clock deadline catches what the CPU timer cannot (a worker
stuck in C code, blocked, or stopped): past it every worker of the pool is killed and a new
pool started, because a ``ProcessPoolExecutor`` cannot lose one worker without breaking
(the jobs it shared the pool with get 503 and retry; the unit of each job is given back by
the caller).  ``health()`` feeds ``/readyz``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

from stamping import forkserver, signer, signing_worker, verifier
from stamping.document_error import DocumentError
from stamping.pki import PkiPaths

__all__ = ["PoolHealth", "PoolUnavailable", "SigningPool"]

logger = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds the workers get to finish on shutdown before they are killed.
SHUTDOWN_GRACE_SECONDS = 3.0


class PoolUnavailable(Exception):
    """The signing pool lost a worker and is being restarted."""


@dataclass(frozen=True)
class PoolHealth:
    """Whether the pool can sign now, and why not."""

    ok: bool
    detail: str
    workers: int
    overdue_jobs: int
    restarts: int


class SigningPool:
    """``workers`` processes, each holding the signing key (see :func:`signing_worker.init_worker`).

    Workers come from a forkserver that has already imported pyHanko, so they start fast
    and do not inherit the web process's threads or sockets.  ``cpu_deadline`` bounds each
    job's CPU time inside the worker; ``wall_deadline`` bounds it from here (0 = none).
    """

    def __init__(self, paths: PkiPaths, workers: int, niceness: int = 0,
                 cpu_deadline: float = 0.0, wall_deadline: float = 0.0) -> None:
        self.paths, self.workers, self.niceness = paths, workers, niceness
        self.cpu_deadline, self.wall_deadline = cpu_deadline, wall_deadline
        self._executor: ProcessPoolExecutor | None = None
        self._started: dict[int, float] = {}  # job id -> monotonic start, jobs in flight
        self._ids = itertools.count()
        self._warming: asyncio.Task[None] | None = None
        self.restarts = 0
        self.ready = False

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=forkserver.context(),
            initializer=signing_worker.init_worker,
            initargs=(str(self.paths.signer_cert), str(self.paths.signer_key),
                      str(self.paths.ca_cert), self.niceness, self.cpu_deadline),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has loaded its key."""
        self._executor = self._new_executor()
        await self._warm(self._executor)

    async def _warm(self, executor: ProcessPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        pids = await asyncio.gather(*(loop.run_in_executor(executor, signing_worker.ping)
                                      for _ in range(self.workers * 2)))
        if self._executor is executor:
            self.ready = True
        logger.info("signing pool ready: %d workers (%s)", self.workers,
                    ", ".join(str(p) for p in sorted(set(pids))))

    async def stamp(self, job: signer.StampJob) -> signer.StampOutput:
        """Stamp in a worker; DocumentError propagates for bad input."""
        return await self.run(signer.stamp_document, job)

    async def verify(self, pdf: bytes) -> verifier.VerifyOutput:
        """Verify in a worker; DocumentError propagates for bad input."""
        return await self.run(verifier.verify_document, pdf)

    async def run(self, fn: Callable[[Any], T], arg: Any) -> T:
        """Run ``fn(arg)`` in a worker under the wall-clock deadline.

        Raises DocumentError ``too_complex`` (422) when the job passes the deadline and
        PoolUnavailable (503) when the pool broke under the job or is not running.
        """
        executor = self._executor
        if executor is None:
            raise PoolUnavailable("the signing pool is not started")
        job_id = next(self._ids)
        self._started[job_id] = time.monotonic()
        try:
            future = asyncio.get_running_loop().run_in_executor(
                executor, signing_worker.run_job, fn, arg)
            if self.wall_deadline > 0:
                return await asyncio.wait_for(future, self.wall_deadline)
            return await future
        except TimeoutError:
            logger.error("a signing job passed its %.0f s deadline; killing the workers",
                         self.wall_deadline)
            self._replace(executor)
            raise DocumentError(
                "too_complex", f"the document was not processed within {self.wall_deadline:g} s;"
                               " it is refused (nothing was spent)") from None
        except BrokenProcessPool:
            logger.error("signing worker died; restarting the pool")
            self._replace(executor)
            raise PoolUnavailable("a signing worker failed; retry shortly") from None
        finally:
            self._started.pop(job_id, None)

    def _replace(self, executor: ProcessPoolExecutor) -> None:
        """Kill ``executor``'s workers and start a new pool (once per broken executor)."""
        if self._executor is not executor:
            return
        self.ready = False
        self.restarts += 1
        _kill_workers(executor)
        self._executor = self._new_executor()
        self._warming = asyncio.get_running_loop().create_task(self._rewarm(self._executor))

    async def _rewarm(self, executor: ProcessPoolExecutor) -> None:
        try:
            await self._warm(executor)
        except Exception:  # the next job replaces it again; readiness stays false meanwhile
            logger.exception("the replacement signing pool failed to start")

    def health(self) -> PoolHealth:
        """Can the pool sign?  Not while starting, broken, or with every worker overdue."""
        now = time.monotonic()
        limit = self.wall_deadline or float("inf")
        overdue = sum(1 for t in self._started.values() if now - t > limit / 2)
        executor = self._executor
        detail = "ok"
        if executor is None:
            detail = "not started"
        elif getattr(executor, "_broken", False):
            detail = "broken: a worker died"
        elif not self.ready:
            detail = "starting"
        elif overdue >= self.workers:
            detail = f"all {self.workers} workers are busy past half the job deadline"
        return PoolHealth(detail == "ok", detail, self.workers, overdue, self.restarts)

    def check_can_sign(self) -> None:
        """Raise PoolUnavailable (503) at once when the pool is broken or every worker is
        stuck, instead of queueing a job behind them (a start-up is waited for)."""
        health = self.health()
        if not health.ok and health.detail != "starting":
            raise PoolUnavailable(f"signing is unavailable ({health.detail}); retry shortly")

    def shutdown(self) -> None:
        """Stop the workers: a short grace for jobs in flight, then kill what is left."""
        self.ready = False
        executor, self._executor = self._executor, None
        if executor is None:
            return
        processes = list(getattr(executor, "_processes", {}).values())
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        _kill_workers(executor, processes)
        with contextlib.suppress(Exception):
            executor.shutdown(wait=True)


def _kill_workers(executor: ProcessPoolExecutor, processes: list[Any] | None = None) -> None:
    """SIGKILL every worker of ``executor`` (``_processes`` is the executor's pid table)."""
    for process in processes if processes is not None else list(
            getattr(executor, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            if process.is_alive():
                process.kill()
    with contextlib.suppress(Exception):
        executor.shutdown(wait=False, cancel_futures=True)

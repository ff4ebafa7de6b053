"""The pool of signing worker processes."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from stamping import signer
from stamping.pki import PkiPaths

__all__ = ["PoolUnavailable", "SigningPool"]

logger = logging.getLogger(__name__)
T = TypeVar("T")


class PoolUnavailable(Exception):
    """The signing pool lost a worker and is being restarted."""


class SigningPool:
    """``workers`` processes, each holding the signing key (see :func:`signer.init_worker`).

    Workers come from a forkserver that has already imported pyHanko, so they start fast
    and do not inherit the web process's threads or sockets.
    """

    def __init__(self, paths: PkiPaths, workers: int, niceness: int = 0) -> None:
        self.paths, self.workers, self.niceness = paths, workers, niceness
        self._executor: ProcessPoolExecutor | None = None
        self.ready = False

    def _new_executor(self) -> ProcessPoolExecutor:
        ctx = multiprocessing.get_context("forkserver")
        # "__main__" makes the forkserver import the main module once; otherwise every new
        # worker re-runs the main script (the test runner, a benchmark...) before starting.
        ctx.set_forkserver_preload(["__main__", "stamping.signer"])
        return ProcessPoolExecutor(
            max_workers=self.workers, mp_context=ctx, initializer=signer.init_worker,
            initargs=(str(self.paths.signer_cert), str(self.paths.signer_key),
                      str(self.paths.ca_cert), self.niceness),
        )

    async def start(self) -> None:
        """Start the workers and wait until each has loaded its key."""
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        pids = await asyncio.gather(*(loop.run_in_executor(self._executor, signer.ping)
                                      for _ in range(self.workers * 2)))
        self.ready = True
        logger.info("signing pool ready: %d workers (%s)", self.workers,
                    ", ".join(str(p) for p in sorted(set(pids))))

    async def stamp(self, job: signer.StampJob) -> signer.StampOutput:
        """Stamp in a worker; DocumentError propagates for bad input."""
        return await self._run(signer.stamp_document, job)

    async def verify(self, pdf: bytes) -> signer.VerifyOutput:
        """Verify in a worker; DocumentError propagates for bad input."""
        return await self._run(signer.verify_document, pdf)

    async def _run(self, fn: Callable[[Any], T], arg: Any) -> T:
        executor = self._executor
        if executor is None:
            raise PoolUnavailable("the signing pool is not started")
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, arg)
        except BrokenProcessPool:
            # A worker died (e.g. killed for memory): replace the whole pool once.
            logger.error("signing worker died; restarting the pool")
            if self._executor is executor:
                self._executor = self._new_executor()
                executor.shutdown(wait=False, cancel_futures=True)
            raise PoolUnavailable("a signing worker failed; retry shortly") from None

    def shutdown(self) -> None:
        """Stop the workers."""
        self.ready = False
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

"""Tests marked ``solo`` run with the machine to themselves, even under ``make test``'s workers.

A ``solo`` test measures throughput or latency, so another worker's test running beside it
(a browser, a cluster of real processes) changes what it measures. Every test holds a
shared lock on a file all workers of the run see; a ``solo`` test holds it exclusively, so it
waits for the test running on each other worker to finish, and no other test starts until it
is done. A turnstile lock taken first by every test keeps a waiting ``solo`` test from being
overtaken forever by the other workers' next tests (a writer-preferring lock built from two
``flock`` calls). Without workers there is nobody to wait for and nothing is locked.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["machine_share"]


def _lock_paths(run_id: str) -> tuple[Path, Path]:
    base = Path(tempfile.gettempdir()) / f"pytest-solo-{run_id}"
    return base.with_suffix(".turnstile"), base.with_suffix(".lock")


@contextmanager
def machine_share(solo: bool) -> Iterator[None]:
    """Hold the machine: exclusively when ``solo``, shared with other workers' tests otherwise."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run_id:
        yield
        return
    turnstile_path, lock_path = _lock_paths(run_id)
    with open(turnstile_path, "a") as turnstile, open(lock_path, "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX if solo else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

"""Children die with their parent: nothing ``statuspage serve`` started outlives it.

On Linux, ``prctl(PR_SET_PDEATHSIG, sig)`` asks the kernel to send ``sig`` to a process when the
thread that started it exits, however it ended (SIGKILL included); the setting survives
``exec``. :func:`parent_death_signal` gives a ``preexec_fn`` that sets it in a child before it
runs anything; :func:`die_with_parent` sets it in the running process (uvicorn's extra web
processes, which are spawned by multiprocessing). Elsewhere a daemon thread polls the parent pid.

(``stamping`` has its own copy for its signing workers: the packages never import each other.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["die_with_parent", "parent_death_signal"]

log = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 1.0


def _prctl() -> Any | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return libc.prctl


def parent_death_signal(sig: int = signal.SIGTERM) -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child receive ``sig`` when its starting thread exits.

    Call it in the thread that will start the child and that lives as long as the child should
    (the kernel watches that thread, not the whole process). None off Linux.
    """
    prctl = _prctl()  # loaded before fork: the child only calls a function pointer
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)

    return preexec


def _watch(parent: int, sig: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    os.kill(os.getpid(), sig)


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Arrange for this process to receive ``sig`` when its parent process exits."""
    parent = os.getppid()
    if parent == 1:
        return
    prctl = _prctl()
    if prctl is not None and prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0:
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)
        return
    log.warning("PR_SET_PDEATHSIG unavailable; watching the parent pid instead")
    threading.Thread(target=_watch, args=(parent, sig), name="lifeline", daemon=True).start()

"""Children die with their parent: no orphaned signing workers after the service is killed.

On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill this process when its
parent exits, however the parent ended (SIGKILL included).  Elsewhere a daemon thread polls
the parent pid.  The multiprocessing forkserver already exits when the web process dies
(its "alive" pipe closes); the signing workers it forked call :func:`die_with_parent` at
start-up, so they follow it.

The kernel only watches the parent a process has when it asks.  A worker forked just before
its forkserver was killed may ask after it was already handed to init, and would then live on
as an orphan; so a process that knows which pid forked it passes it, and exits at once when
that parent is gone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

__all__ = ["die_with_parent", "load_libc"]

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 1.0


@functools.cache
def load_libc() -> Any | None:
    """The C library, loaded once: finding it runs ``ldconfig``, so a process that forks
    children (the forkserver) loads it first and its children inherit it."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        logger.warning("libc not loadable; watching the parent pid instead")
        return None


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    os._exit(1)


def die_with_parent(parent: int | None = None) -> None:
    """Arrange for this process to be killed when its parent process exits.

    ``parent`` is the pid this process was forked from, when the caller knows it: if that
    process has already ended, this one exits now.  Without it the current parent is taken,
    and a process whose parent is init (a daemon by design) is left alone.
    """
    if parent is None:
        parent = os.getppid()
        if parent == 1:
            return
    if os.getppid() != parent:
        os._exit(1)
    libc = load_libc()
    if libc is not None:
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            # The parent may have exited before prctl(): check again.
            if os.getppid() != parent:
                os._exit(1)
            return
        logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
    threading.Thread(target=_watch, args=(parent,), name="lifeline", daemon=True).start()

"""Children die with their parent: no orphaned signing workers after the service is killed.

On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the kernel to kill this process when its
parent exits, however the parent ended (SIGKILL included).  Elsewhere a daemon thread polls
the parent pid.  The multiprocessing forkserver already exits when the web process dies
(its "alive" pipe closes); the signing workers it forked call :func:`die_with_parent` at
start-up, so they follow it.
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

__all__ = ["die_with_parent"]

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1
_POLL_SECONDS = 1.0


def _watch(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(_POLL_SECONDS)
    os._exit(1)


def die_with_parent() -> None:
    """Arrange for this process to be killed when its parent process exits."""
    parent = os.getppid()
    if parent == 1:  # the parent is already gone (or we are a daemon by design)
        return
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
                # The parent may have exited between getppid() and prctl(): check again.
                if os.getppid() != parent:
                    os._exit(1)
                return
            logger.warning("prctl(PR_SET_PDEATHSIG) failed: errno %d", ctypes.get_errno())
        except OSError:
            logger.warning("libc not loadable; watching the parent pid instead")
    threading.Thread(target=_watch, args=(parent,), name="lifeline", daemon=True).start()

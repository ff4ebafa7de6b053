"""The multiprocessing forkserver the signing workers are forked from.

The forkserver imports pyHanko once (the preload list) so workers start fast and do not
inherit the web process's threads or sockets.  ``stamping serve`` starts it first thing, so
that its imports overlap the web process's own start-up (a restart is ready sooner).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver
from multiprocessing.context import BaseContext

__all__ = ["PRELOAD", "context", "start"]

#: "__main__" makes the forkserver import the main module once; otherwise every new worker
#: re-runs the main script (the test runner, a benchmark...) before starting.
#: "stamping.forkserver_lifeline" makes the forkserver die with the web process.
PRELOAD = ["__main__", "stamping.forkserver_lifeline", "stamping.signer", "stamping.verifier"]


def context() -> BaseContext:
    """The forkserver context, with the preload list set."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start() -> None:
    """Start the forkserver now (it imports the preload list in the background).

    Call it from the main thread: the forkserver dies with the thread that started it (the
    parent-death signal of ``forkserver_lifeline`` follows the thread, not the process).
    """
    context()
    forkserver.ensure_running()

"""Imported only by the multiprocessing forkserver, through the pool's preload list.

Importing this module makes the importing process die with its parent.  The forkserver is
the parent of every signing worker, and each worker holds the forkserver's "alive" pipe, so
the forkserver would never see the web process go: after ``kill -9`` of ``stamping serve``
the forkserver and its workers lived on.  With this, the kernel kills the forkserver when the
web process ends, and each worker (``signing_worker.init_worker``) when the forkserver ends.
Nothing else may import this module.
"""

from __future__ import annotations

import os

from stamping.lifeline import die_with_parent, load_libc

#: The forkserver's pid, inherited by every worker it forks: the parent they must die with.
FORKSERVER_PID = os.getpid()

load_libc()  # once here, not in every worker
die_with_parent()
